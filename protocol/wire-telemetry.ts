/** PROVISIONAL binary telemetry v1 (format byte + JSON body) until the bit-packed layout lands. */
import type { TelemetryRecord } from "./records.ts";
import { FORMAT_TELEMETRY_V1 } from "./wire-format.ts";

export function encodeTelemetryV1(records: TelemetryRecord[]): Buffer {
  const body = Buffer.from(JSON.stringify(records.map(({ truckId: _, ...rest }) => rest)), "utf8");
  return Buffer.concat([Buffer.from([FORMAT_TELEMETRY_V1]), body]);
}

export function decodeTelemetryV1(truckId: string, bytes: Uint8Array): unknown[] {
  const list = JSON.parse(Buffer.from(bytes.subarray(1)).toString("utf8")) as object[];
  return list.map((r) => ({ truckId, ...r }));
}
