import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeElmLine, parseCandumpLine } from "../agent/decoders/can/index.ts";
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

  describe("format detection from enough input (issue 15.5)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetsync-decode-"));
    afterEach(() => vi.restoreAllMocks());
    const truckFrames = () =>
      readFileSync(`${FIX}can/css-electronics/j1939_truck_11111111_00000001.candump.log`, "utf8")
        .split("\n")
        .slice(0, 300)
        .map(parseCandumpLine)
        .flatMap((r) => (r.kind === "frame" ? [r.frame] : []));

    it("an ELM327 log whose command preamble is longer than 64 lines still decodes as elm327, and says why", async () => {
      // A terminal session: the user typed commands and read replies before AT MA (ELM327 with echo on).
      const preamble: string[] = ["ELM327 v1.5", ">"];
      for (let i = 0; i < 40; i++) preamble.push("AT RV", "12.6V", "", ">");
      const lines = [...preamble, "AT MA", ...truckFrames().map((f) => encodeElmLine(f, { j1939Headers: true }))];
      const file = join(dir, "elm.log");
      writeFileSync(file, lines.join("\r\n"));
      const io = capture();
      expect(await main(["decode", "can", file])).toBe(0);
      expect(io.json().length).toBeGreaterThan(100);
      expect(io.err()).toMatch(/format elm327 \(detected:/);
      expect(io.err()).toContain('"format":"elm327"');
    });

    it("exits non-zero when a non-empty input gave no frame at all, and says so", async () => {
      const file = join(dir, "noise.log");
      writeFileSync(file, Array.from({ length: 200 }, (_, i) => `hello ${i}`).join("\n"));
      const io = capture();
      expect(await main(["decode", "can", "--format", "candump", file])).toBe(1);
      expect(io.err()).toMatch(/no CAN frame/);
      expect(io.err()).toContain('"not a candump line":200');
    });

    it("reads the candump variants users paste: -tA dates, -a ASCII, [08] lengths; CAN FD is counted as skipped", async () => {
      const file = join(dir, "variants.log");
      writeFileSync(
        file,
        [
          " (2026-11-30 07:00:00.123456)  can0  18FEF100   [8]  F7 00 00 04 00 00 00 FF",
          "  can0  18FEF100   [8]  F7 00 00 04 00 00 00 FF   '........'",
          "  can0  0CF00400  [08]  F0 7D 84 48 14 00 F0 84",
          "(1635188455.020850) can1 123##1001122334455667788AABBCCDDEEFF",
          "  can0  123  [16]  00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF",
        ].join("\n"),
      );
      const io = capture();
      expect(await main(["decode", "can", file])).toBe(0);
      const messages = io.json();
      expect(messages.map((m) => m.name)).toEqual(["CCVS1", "CCVS1", "EEC1"]);
      // candump -tA prints local time (localtime(3)), so it is read as local time.
      expect(messages[0]!.ts).toBe(new Date(2026, 10, 30, 7, 0, 0).getTime() / 1000 + 0.123456);
      const summary = JSON.parse(
        io
          .err()
          .split("\n")
          .find((l) => l.startsWith("{"))!,
      ) as Record<string, unknown>;
      expect(summary).toMatchObject({ frames: 3, skipped: 2, skippedByReason: { "CAN FD": 2 } });
    });

    it("decode | head -1 exits quietly (EPIPE), like other Unix tools", () => {
      const repo = fileURLToPath(new URL("..", import.meta.url));
      const result = spawnSync(
        "bash",
        [
          "-c",
          `set -o pipefail; node --import tsx cli/fleetsync.ts decode can "${FIX}can/css-electronics/j1939_truck_11111111_00000001.candump.log" | head -1`,
        ],
        { cwd: repo, encoding: "utf8" },
      );
      expect(result.stderr).not.toMatch(/EPIPE|Error:|\n\s+at /); // no stack trace
      expect(result.stdout.split("\n").filter(Boolean)).toHaveLength(1);
      expect(result.status).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    });
  });
});
