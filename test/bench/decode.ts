/**
 * Decode throughput on one core (issue 4): CAN lines → J1939/OBD-II messages and NMEA sentences → fixes, with the
 * same decoders the agent runs. Beside each figure, a reference measured in the same run on the same data: JSON.parse
 * of an equivalent JSON line per frame/sentence, so the ratio holds across machines (2-core CI is noisy).
 * Targets: >= 200,000 CAN frames/s (a 500 kbit/s bus at 100 % load carries about 4,000 8-byte
 * extended frames per second) and >= 100,000 NMEA sentences/s. Ends with one JSON line for `npm run bench`.
 * Run: npm run bench:decode
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CanFormat, CanFrame } from "../../agent/decoders/can/frame.ts";
import { encodeElmLine, encodeSlcanLine, parseCandumpLine } from "../../agent/decoders/can/index.ts";
import { createCanDecoder } from "../../agent/decoders/can-decoder.ts";
import { createNmeaAssembler } from "../../agent/decoders/nmea/index.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

/** Runs `pass` (which handles `count` items) repeatedly for about SECONDS; returns items per second (best of 3). */
function measure(count: number, pass: () => void): number {
  for (let i = 0; i < 3; i++) pass(); // warm-up: let the JIT settle
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let items = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < (SECONDS * 1e9) / 3) {
      pass();
      items += count;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    best = Math.max(best, items / (elapsed / 1e9));
  }
  return best;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(11);

// CAN: the busy truck capture (57,849 frames), as written by each adapter format.
const canText = readFileSync(`${FIXTURES}can/css-electronics/j1939_truck_11111111_00000001.candump.log`, "utf8");
const candumpLines = canText.split("\n").filter(Boolean);
const frames: CanFrame[] = [];
for (const l of candumpLines) {
  const r = parseCandumpLine(l);
  if (r.kind === "frame") frames.push(r.frame);
}
const linesByFormat: Record<CanFormat, string[]> = {
  candump: candumpLines,
  slcan: frames.map((f) => encodeSlcanLine(f)),
  elm327: frames.map((f) => encodeElmLine(f)),
};
const canJson = frames.map((f) => JSON.stringify({ ts: f.ts, id: f.id, data: Buffer.from(f.data).toString("hex") }));

const canReference = measure(canJson.length, () => {
  for (const l of canJson) JSON.parse(l);
});
console.log(`CAN (${frames.length} frames of a J1939 truck capture, one core)`);
console.log(`  reference JSON.parse of one small JSON line per frame: ${fmt(canReference)} /s`);
const canRates: Record<string, number> = {};
for (const format of ["candump", "slcan", "elm327"] as const) {
  const lines = linesByFormat[format];
  let ts = 0;
  const rate = measure(lines.length, () => {
    const decoder = createCanDecoder(format);
    for (const l of lines) {
      ts += 0.0001; // a receive clock for the formats without timestamps (BAM timeouts need one)
      decoder.feed(l, ts);
    }
  });
  canRates[format] = rate;
  console.log(
    `  ${format.padEnd(8)} line → message: ${fmt(rate)} frames/s  (${(rate / canReference).toFixed(2)}x reference)`,
  );
}

// NMEA: every sentence of the 22 gpsd logs, in order.
const dir = `${FIXTURES}nmea/gpsd/`;
const nmeaLines = readdirSync(dir)
  .filter((f) => f.endsWith(".log"))
  .flatMap((f) => readFileSync(dir + f, "latin1").split(/\r?\n/))
  .filter((l) => l.startsWith("$"));
const nmeaJson = nmeaLines.map((l) => JSON.stringify(l.split("*")[0]!.split(",")));
const nmeaReference = measure(nmeaJson.length, () => {
  for (const l of nmeaJson) JSON.parse(l);
});
const nmeaRate = measure(nmeaLines.length, () => {
  const nmea = createNmeaAssembler();
  for (const l of nmeaLines) nmea.feed(l);
  nmea.flush();
});
console.log(`NMEA (${nmeaLines.length} sentences from 22 receivers, one core)`);
console.log(`  reference JSON.parse of the sentence's fields as a JSON array: ${fmt(nmeaReference)} /s`);
console.log(
  `  sentence → fix (checksum, nmea-simple, epoch merge): ${fmt(nmeaRate)} sentences/s  (${(nmeaRate / nmeaReference).toFixed(2)}x reference)`,
);

const canFramesPerSec = Math.min(...Object.values(canRates));
console.log(
  `targets: CAN >= 200,000 frames/s (slowest format ${fmt(canFramesPerSec).trim()}): ${canFramesPerSec >= 200_000 ? "met" : "MISSED"}; ` +
    `NMEA >= 100,000 sentences/s: ${nmeaRate >= 100_000 ? "met" : "MISSED"}`,
);
console.log(
  JSON.stringify({
    "agent.canFramesPerSec": Math.round(canFramesPerSec),
    "agent.nmeaSentencesPerSec": Math.round(nmeaRate),
    "agent.canVsJsonParse": Number((canFramesPerSec / canReference).toFixed(3)),
    "agent.nmeaVsJsonParse": Number((nmeaRate / nmeaReference).toFixed(3)),
  }),
);
