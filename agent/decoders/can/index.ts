/** CAN adapter line formats behind one interface: line → frame | ignore | adapterError | invalid. */
export { encodeCandumpLine, parseCandumpLine } from "./candump.ts";
export { CAN_LINE_PARSERS, createFormatScores, detectCanFormat } from "./detect.ts";
export { ELM_PROTOCOLS, elmInitCommands, encodeElmLine, parseElmLine } from "./elm327.ts";
export { bytesToHex, type CanFormat, type CanFrame, type CanLineResult, toHex } from "./frame.ts";
export { encodeSlcanLine, parseSlcanLine, SLCAN_BITRATES, slcanInitCommands } from "./slcan.ts";
