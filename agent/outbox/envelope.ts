/**
 * Reading records back: the outbox stores each record's body as JSON text under a key that carries its seq, and a
 * read puts the envelope (`truckId`, `stream`, `seq`: protocol/bodies.ts) in front of the body. The envelope is
 * spliced into the stored text and parsed once: one object per record, in the same key order as spreading the body
 * behind the envelope, without a second copy of every record to collect (a backlog drains 1000-record batches back to
 * back, and each short-lived copy pushes V8's heap and the agent's RSS up).
 */
import type { Channel, ChannelRecord } from "../../protocol/index.ts";
import { seqOfKey } from "./keys.ts";

/** Turns stored rows of one stream into records. */
export function envelopeReader(truckId: string, stream: string) {
  const head = `{"truckId":${JSON.stringify(truckId)},"stream":${JSON.stringify(stream)},"seq":`;
  return <C extends Channel>(rows: Array<[string, string]>): ChannelRecord[C][] =>
    rows.map(
      ([key, value]) =>
        JSON.parse(`${head}${seqOfKey(key)}${value.length > 2 ? "," : ""}${value.slice(1)}`) as ChannelRecord[C],
    );
}
