/** PROVISIONAL binary events v1 (format byte + JSON body) until the bit-packed layout lands. */
import type { EventRecord } from "./records.ts";
import { FORMAT_EVENTS_V1 } from "./wire-format.ts";

export function encodeEventsV1(records: EventRecord[]): Buffer {
  const body = Buffer.from(JSON.stringify(records.map(({ truckId: _, ...rest }) => rest)), "utf8");
  return Buffer.concat([Buffer.from([FORMAT_EVENTS_V1]), body]);
}

export function decodeEventsV1(truckId: string, bytes: Uint8Array): unknown[] {
  const list = JSON.parse(Buffer.from(bytes.subarray(1)).toString("utf8")) as object[];
  return list.map((r) => ({ truckId, ...r }));
}
