/**
 * Wire bandwidth benchmark (issue 3): bytes per record of the binary codec over a realistic 1 Hz drive
 * (wire-drive.ts), in batches of 10 and as single-record payloads, beside the JSON form and the size of a
 * Teltonika Codec 8 AVL record carrying the same content. Also encode/decode speed as a ratio to JSON.
 * Targets: batch 10 <= 30 B/record, single <= 60 B/payload, both below Codec 8.
 *
 *   npm run bench:wire
 */
import { decodeTelemetry, encodeTelemetry } from "../../protocol/codec.ts";
import { type TelemetryRecord, TelemetryRecordSchema } from "../../protocol/records.ts";
import { compileValidator } from "../../protocol/validate.ts";
import { decodeTelemetryBinary } from "../../protocol/wire-telemetry.ts";
import { simulateDrive } from "./wire-drive.ts";

/**
 * Teltonika Codec 8 AVL data record (Teltonika "Codec 8" protocol documentation): 8 timestamp + 1 priority +
 * 15 GPS element (lon 4, lat 4, alt 2, angle 2, satellites 1, speed 2), then the IO element: event IO id 1,
 * total count 1, and for each size group (1, 2, 4, 8 bytes) a count byte and per element 1 id byte + the value.
 * Value sizes are those of the J1939 signals (what an FMx device forwards from the bus), the smallest honest size.
 */
const CODEC8_IO_BYTES: Record<string, 1 | 2 | 4 | 8> = {
  fix: 1, // IO 69 GNSS status
  hdop: 2, // IO 182 GNSS HDOP
  engineSpeedRpm: 2,
  torquePct: 1,
  wheelSpeedKmh: 2,
  brakeSwitch: 1,
  parkingBrake: 1,
  coolantTempC: 1,
  fuelRateLph: 2,
  fuelLevelPct: 1,
  engineHours: 4,
  runTimeS: 2,
  totalDistanceKm: 4,
  totalFuelL: 4,
  oilPressureKpa: 1,
  ambientTempC: 2,
};
/** A Codec 8 packet around one or more records: preamble 4, data length 4, codec id 1, count 1 ... count 1, CRC 4. */
const CODEC8_PACKET_OVERHEAD = 15;

export function codec8RecordBytes(record: TelemetryRecord): number {
  const groups = { 1: 0, 2: 0, 4: 0, 8: 0 };
  const count = (name: string, value: unknown) => {
    const size = CODEC8_IO_BYTES[name];
    if (size !== undefined && value !== undefined && value !== null) groups[size] += 1;
  };
  if (record.gps) {
    count("fix", record.gps.fix);
    count("hdop", record.gps.hdop);
  }
  for (const [name, value] of Object.entries(record.engine ?? {})) count(name, value);
  const io = 2 + 4 + groups[1] * 2 + groups[2] * 3 + groups[4] * 5 + groups[8] * 9;
  return 8 + 1 + 15 + io;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function bytesPerRecord(records: TelemetryRecord[], batch: number, format: "binary" | "json"): number {
  let bytes = 0;
  for (const chunk of chunks(records, batch)) bytes += encodeTelemetry(chunk, { format }).length;
  return bytes / records.length;
}

function timeIt(label: string, run: () => void, minMs = 400): number {
  run();
  let rounds = 0;
  const began = performance.now();
  while (performance.now() - began < minMs) {
    run();
    rounds += 1;
  }
  const perRound = (performance.now() - began) / rounds;
  process.stdout.write(`  ${label.padEnd(44)} ${perRound.toFixed(2)} ms per round\n`);
  return perRound;
}

function main(): void {
  const records = simulateDrive();
  const truckId = records[0]!.truckId;
  const minutes = records.length / 60;
  const batch10 = bytesPerRecord(records, 10, "binary");
  const single = bytesPerRecord(records, 1, "binary");
  const batch100 = bytesPerRecord(records, 100, "binary");
  const json10 = bytesPerRecord(records, 10, "json");
  const codec8 = records.reduce((sum, r) => sum + codec8RecordBytes(r), 0) / records.length;
  const codec8Batch10 = codec8 + CODEC8_PACKET_OVERHEAD / 10;
  const codec8Single = codec8 + CODEC8_PACKET_OVERHEAD;
  const singleSizes = records.map((r) => encodeTelemetry([r]).length);

  const out = process.stdout;
  out.write(
    `wire benchmark: ${records.length} records, a ${minutes.toFixed(0)}-minute 1 Hz drive (GPS + 13 J1939 signals)\n`,
  );
  out.write(`  binary, batches of 10:     ${batch10.toFixed(1)} bytes/record   (target <= 30)\n`);
  out.write(
    `  binary, single record:     ${single.toFixed(1)} bytes/payload  (target <= 60; max ${Math.max(...singleSizes)})\n`,
  );
  out.write(`  binary, batches of 100:    ${batch100.toFixed(1)} bytes/record   (backlog drain)\n`);
  out.write(`  JSON form, batches of 10:  ${json10.toFixed(1)} bytes/record   (debugging form, reference)\n`);
  out.write(`  Teltonika Codec 8 record:  ${codec8.toFixed(1)} bytes/record   (8 ts + 1 prio + 15 GPS + IO)\n`);
  out.write(
    `    in a 10-record packet:   ${codec8Batch10.toFixed(1)} bytes/record; single-record packet ${codec8Single.toFixed(1)} bytes\n`,
  );
  out.write(
    `  ratio binary/Codec 8: batch 10 ${(batch10 / codec8).toFixed(2)}, single ${(single / codec8).toFixed(2)}\n`,
  );

  // Speed, as ratios to JSON.stringify/JSON.parse of the same batches on the same machine in the same run.
  out.write("speed (batches of 10, whole drive per round):\n");
  const batches = chunks(records, 10);
  const binaryPayloads = batches.map((b) => encodeTelemetry(b));
  const jsonTexts = batches.map((b) => JSON.stringify(b));
  const encodeMs = timeIt("encodeTelemetry (validate + binary)", () => {
    for (const b of batches) encodeTelemetry(b);
  });
  const decodeMs = timeIt("decodeTelemetry (binary + validate)", () => {
    for (const p of binaryPayloads) decodeTelemetry(truckId, p);
  });
  const stringifyMs = timeIt("reference: JSON.stringify", () => {
    for (const b of batches) JSON.stringify(b);
  });
  const parseMs = timeIt("reference: JSON.parse", () => {
    for (const t of jsonTexts) JSON.parse(t);
  });
  // Validation per record on the bridge's decode path (issue 21): the compiled validator it runs against zod's
  // safeParse, which it ran before, on the same decoded records in the same run.
  const decoded = binaryPayloads.flatMap((p) => decodeTelemetryBinary(truckId, p, p[0] === 0x01 ? 1 : 2));
  const validate = compileValidator(TelemetryRecordSchema);
  // Alternating rounds, best of each: on a shared machine a burst of other work then hits both alike.
  let compiledMs = Number.POSITIVE_INFINITY;
  let zodMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    compiledMs = Math.min(
      compiledMs,
      timeIt(
        "validate: compiled from zod (protocol/validate)",
        () => {
          for (const r of decoded) validate(r);
        },
        200,
      ),
    );
    zodMs = Math.min(
      zodMs,
      timeIt(
        "reference: zod safeParse",
        () => {
          for (const r of decoded) TelemetryRecordSchema.safeParse(r);
        },
        200,
      ),
    );
  }
  const singlePayloads = records.map((r) => encodeTelemetry([r]));
  const singleDecodeMs = timeIt("decodeTelemetry, one record per payload", () => {
    for (const p of singlePayloads) decodeTelemetry(truckId, p);
  });
  const usPerRecord = (ms: number) => ((ms * 1000) / records.length).toFixed(2);
  out.write(
    `  validation: ${usPerRecord(compiledMs)} µs/record compiled, ${usPerRecord(zodMs)} µs/record zod ` +
      `(${(zodMs / compiledMs).toFixed(1)}x); one-record payload decoded in ${usPerRecord(singleDecodeMs)} µs\n`,
  );
  const decodeRecordsPerSecond = records.length / (decodeMs / 1000);
  out.write(
    `  encode ${(encodeMs / stringifyMs).toFixed(1)}x JSON.stringify, decode ${(decodeMs / parseMs).toFixed(1)}x JSON.parse`,
  );
  out.write(` (${Math.round(decodeRecordsPerSecond)} records/s decoded on this machine)\n`);

  const ok = batch10 <= 30 && single <= 60 && batch10 < codec8 && single < codec8;
  out.write(`targets ${ok ? "met" : "NOT met"}\n`);
  out.write(
    `${JSON.stringify({
      "wire.bytesPerRecordBatch10": round(batch10),
      "wire.bytesPerRecordSingle": round(single),
      "wire.bytesPerRecordBatch100": round(batch100),
      "wire.jsonBytesPerRecordBatch10": round(json10),
      "wire.codec8BytesPerRecord": round(codec8),
      "wire.codec8BytesSinglePacket": round(codec8Single),
      "wire.encodeVsJsonStringify": round(encodeMs / stringifyMs),
      "wire.decodeVsJsonParse": round(decodeMs / parseMs),
      "wire.validateUsPerRecord": round((compiledMs * 1000) / records.length),
      "reference.zodValidateUsPerRecord": round((zodMs * 1000) / records.length),
      "wire.targetsMet": ok,
    })}\n`,
  );
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

main();
