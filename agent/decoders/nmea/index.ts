/** NMEA 0183 decoding without I/O: sentence checking and the epoch assembler. */
export { createNmeaAssembler, type NmeaAssembler, type NmeaCounters, parseTimeOfDay } from "./epoch.ts";
export { NMEA_MAX_SENTENCE, parseSentence, type SentenceResult } from "./sentence.ts";
