import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.ts";

const FIX = fileURLToPath(new URL("../../shared/fixtures/", import.meta.url));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  const lines = () => out.join("").split("\n").filter(Boolean);
  return { json: () => lines().map((l) => JSON.parse(l) as Record<string, unknown>), err: () => err.join("") };
}

describe("fleetsync decode", () => {
  afterEach(() => vi.restoreAllMocks());

  it("nmea: one JSON line per epoch with the issue's fields, counts on stderr", async () => {
    const io = capture();
    expect(await main(["decode", "nmea", `${FIX}nmea/gpsd/firefly-II.log`])).toBe(0);
    const fixes = io.json();
    expect(fixes).toHaveLength(23);
    expect(Object.keys(fixes[0]!)).toEqual([
      "time",
      "fix",
      "lat",
      "lon",
      "altM",
      "speedKmh",
      "courseDeg",
      "sats",
      "hdop",
    ]);
    expect(fixes[0]).toMatchObject({ fix: "2d", lat: 37.261026667, lon: -121.961181667 });
    const summary = JSON.parse(io.err()) as Record<string, number>;
    expect(summary).toMatchObject({ sentences: 46, badChecksum: 23 });
  });

  it("can: detects candump and prints J1939 messages with DM1 trouble codes", async () => {
    const io = capture();
    expect(await main(["decode", "can", `${FIX}can/pretty_j1939/test_dm1.log`])).toBe(0);
    expect(io.json()).toEqual([
      { ts: 1612543138, id: "18FECA00", pgn: 65226, sa: 0, name: "DM1", signals: { dtcs: [] } },
      {
        ts: 1612543138.001,
        id: "18FECA00",
        pgn: 65226,
        sa: 0,
        name: "DM1",
        signals: { dtcs: [{ spn: 91, fmi: 3, oc: 1 }] },
      },
    ]);
    expect(io.err()).toContain('"format":"candump"');
  });

  it("can: prints OBD-II replies with mode and pid", async () => {
    const io = capture();
    expect(
      await main([
        "decode",
        "can",
        "--format",
        "candump",
        `${FIX}can/css-electronics/obd2_pid_polling_7512BE4D_can1.candump.log`,
      ]),
    ).toBe(0);
    const first = io.json().find((m) => m.pid === 5);
    expect(first).toMatchObject({ id: "7E8", mode: 1, pid: 5, signals: { coolantTempC: 21 } });
  });

  it("refuses an unknown flag with exit code 2", async () => {
    const io = capture();
    expect(await main(["decode", "can", "--bogus"])).toBe(2);
    expect(io.err()).toContain("--bogus");
  });
});
