/**
 * J1939-21 transport protocol, broadcast form (BAM): one TP.CM announce frame, then ceil(size/7) TP.DT frames of
 * 7 bytes each, sent 50 to 200 ms apart (J1939-21 §5.10.3.3; receivers time out after 750 ms).
 */
import { type CanFrame, GLOBAL_ADDRESS, j1939Frame } from "./frame.ts";
import { PGN } from "./pgns.ts";
import { FleetError } from "../../common/errors.ts";

const BAM_CONTROL = 32;
const TP_PRIORITY = 7;
export const BAM_PACKET_GAP_MS = 50;

export function bamFrames(pgn: number, payload: Uint8Array, sa: number): CanFrame[] {
  // J1939-21: BAM carries 9..1785 bytes (255 packets of 7); 8 or fewer fit one frame and take no transport.
  if (payload.length > 1785) {
    throw new FleetError("FLEET_PAYLOAD_TOO_LARGE", `BAM carries at most 1785 bytes, got ${payload.length}`);
  }
  if (payload.length < 9) {
    throw new FleetError(
      "FLEET_PAYLOAD_INVALID",
      `BAM carries 9..1785 bytes (8 or fewer: one frame), got ${payload.length}`,
    );
  }
  const packets = Math.ceil(payload.length / 7);
  const cm = new Uint8Array([
    BAM_CONTROL,
    payload.length & 0xff,
    payload.length >> 8,
    packets,
    0xff,
    pgn & 0xff,
    (pgn >> 8) & 0xff,
    (pgn >> 16) & 0xff,
  ]);
  const frames = [j1939Frame(TP_PRIORITY, PGN.TP_CM, sa, cm, GLOBAL_ADDRESS)];
  for (let i = 0; i < packets; i++) {
    const dt = new Uint8Array(8).fill(0xff);
    dt[0] = i + 1;
    dt.set(payload.subarray(i * 7, i * 7 + 7), 1);
    frames.push(j1939Frame(TP_PRIORITY, PGN.TP_DT, sa, dt, GLOBAL_ADDRESS));
  }
  return frames;
}
