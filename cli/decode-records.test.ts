/**
 * `fleetsync decode records` (issue 15): real captures and the simulator's multi-ECU bus through the agent's own
 * state and sampler. What a fleet would see on day one: an odometer that never goes back or flips between ECUs, one
 * DTC event per distinct active code (with its source address), no record stamped before the capture's real date.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { nmeaChecksum } from "../sim/nmea/writer.ts";
import { candumpLine } from "../sim/lines/encoders.ts";
import { createTruckSim } from "../sim/truck-sim.ts";
import { main } from "./main.ts";

const FIX = fileURLToPath(new URL("../../shared/fixtures/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "fleetsync-records-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Line {
  kind: "telemetry" | "event";
  ts: string;
  timeSource: string;
  type?: string;
  change?: string;
  dtc?: { j1939?: { sa?: number; spn: number; fmi: number } };
  engine?: { totalDistanceKm?: number | null };
  gps?: { lat: number | null };
}

async function records(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((c) => out.push(String(c)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((c) => err.push(String(c)) > 0);
  const code = await main(["decode", "records", ...args]);
  vi.restoreAllMocks();
  const lines = out
    .join("")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
  const summary = JSON.parse(
    err
      .join("")
      .split("\n")
      .find((l) => l.startsWith("{"))!,
  ) as Record<string, unknown>;
  return { code, lines, summary };
}

function config(over: Record<string, unknown>): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(over));
  return file;
}

const odometer = (lines: Line[]) =>
  lines.flatMap((l) =>
    l.kind === "telemetry" && typeof l.engine?.totalDistanceKm === "number" ? [l.engine.totalDistanceKm] : [],
  );
const dtcEvents = (lines: Line[]) =>
  lines.flatMap((l) =>
    l.type === "dtc" ? [`${l.change}:${l.dtc?.j1939?.sa}:${l.dtc?.j1939?.spn}/${l.dtc?.j1939?.fmi}`] : [],
  );

describe("fleetsync decode records", () => {
  afterEach(() => vi.restoreAllMocks());

  it("the CSS heavy-truck capture: a non-decreasing odometer, each active code raised once, no clears", async () => {
    const { code, lines, summary } = await records([
      "--can",
      `${FIX}can/css-electronics/j1939_truck_11111111_00000001.candump.log`,
      "--config",
      config({ sampler: { parkedPeriodMs: 5000 } }),
    ]);
    expect(code).toBe(0);
    const odo = odometer(lines);
    expect(odo.length).toBeGreaterThan(20);
    for (let i = 1; i < odo.length; i++) expect(odo[i]!).toBeGreaterThanOrEqual(odo[i - 1]!);
    expect(dtcEvents(lines).sort()).toEqual([
      "raised:0:3216/20",
      "raised:0:609/12",
      "raised:0:609/9",
      "raised:0:980/9",
    ]);
    for (const l of lines) expect(Date.parse(l.ts)).toBeGreaterThanOrEqual(Date.UTC(2021, 9, 25));
    expect(summary).toMatchObject({
      canFormat: "candump",
      refused: 0,
      sources: { totalDistanceKm: 0, engineSpeedRpm: 0 },
    });
    expect((summary.odometerKm as { backwards: number }).backwards).toBe(0);
  });

  it("the simulator's multi-ECU bus: the cluster's odometer only, DTCs from the engine only, no flips", async () => {
    const start = Date.UTC(2026, 10, 30, 6, 0, 0);
    const sim = createTruckSim({
      seed: "multi-1",
      startTimeMs: start,
      ecus: "multi",
      faults: [
        { spn: 110, fmi: 0, oc: 1 },
        { spn: 100, fmi: 1, oc: 1 },
        { spn: 3226, fmi: 4, oc: 2 },
      ],
    });
    const out = sim.advanceTo(60_000);
    const file = join(dir, "multi.candump.log");
    writeFileSync(file, out.can.map((f) => candumpLine(f.frame, (start + f.tMs) / 1000, "can1")).join("\n"));
    const engineKm = out.state.totalDistanceKm;
    const { code, lines, summary } = await records([
      "--can",
      file,
      "--config",
      config({ sampler: { parkedPeriodMs: 1000, movingPeriodMs: 1000 } }),
    ]);
    expect(code).toBe(0);
    const odo = odometer(lines);
    expect(odo.length).toBeGreaterThan(40);
    for (let i = 1; i < odo.length; i++) expect(odo[i]!).toBeGreaterThanOrEqual(odo[i - 1]!);
    // SA 23 (the dashboard's) is 7.5 km ahead of the engine's: every record took it, none the engine's.
    expect(odo.at(-1)!).toBeGreaterThan(engineKm + 7);
    expect(lines.filter((l) => l.type === "source")).toEqual([]);
    expect(dtcEvents(lines).sort()).toEqual(["raised:0:100/1", "raised:0:110/0", "raised:0:3226/4"]);
    expect(summary).toMatchObject({ sources: { totalDistanceKm: 23, engineSpeedRpm: 0 } });
  });

  it("a GPS cold start that prints 1999-08-22 on epochs without a fix stamps no record before the real date", async () => {
    const log = readFileSync(`${FIX}nmea/gpsd/bu353s4.log`, "latin1")
      .split(/\r?\n/)
      .filter((l) => l.startsWith("$"));
    const sentence = (body: string) => `$${body}*${nmeaChecksum(body)}`;
    // Before the real fixes (2014-12-31), a receiver without a fix yet: status V, GGA quality 0, a garbage date.
    const coldStart = Array.from({ length: 5 }, (_, i) => [
      sentence(`GPRMC,00000${i}.000,V,,,,,,,220899,,,N`),
      sentence(`GPGGA,00000${i}.000,,,,,0,00,99.9,,M,,M,,`),
    ]).flat();
    const file = join(dir, "cold-start.nmea");
    writeFileSync(file, [...coldStart, ...log].join("\r\n"));
    const { code, lines, summary } = await records([
      "--gps",
      file,
      "--config",
      config({ sampler: { parkedPeriodMs: 1000 }, state: { gnssNotBefore: "2010-01-01T00:00:00Z" } }),
    ]);
    expect(code).toBe(0);
    const gnss = lines.filter((l) => l.timeSource === "gnss");
    expect(gnss.length).toBeGreaterThan(5);
    for (const l of gnss) expect(Date.parse(l.ts)).toBeGreaterThanOrEqual(Date.UTC(2014, 11, 31));
    expect(lines.some((l) => l.ts.startsWith("1999"))).toBe(false);
    expect(summary).toMatchObject({ gnssTime: { refused: { "no-fix": 5 } } });
  });
});
