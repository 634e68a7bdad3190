import type { CanDecoder } from "../../decoders/can-decoder.ts";

/** The decoder's counters, flat, as every CAN source (serial or SocketCAN) reports them. */
export function decoderCounters(decoder: CanDecoder): Record<string, number> {
  const d = decoder.counters();
  return {
    frames: d.frames,
    invalid: d.invalid,
    adapterErrors: d.adapterErrors,
    ignored: d.ignored,
    skipped: d.skipped,
    j1939Messages: d.j1939.messages,
    j1939OtherPgn: d.j1939.otherPgn,
    bamCompleted: d.j1939.transport.completed,
    bamTimeouts: d.j1939.transport.timeouts,
    bamSequenceErrors: d.j1939.transport.sequenceErrors,
    obdMessages: d.obd2.messages,
  };
}
