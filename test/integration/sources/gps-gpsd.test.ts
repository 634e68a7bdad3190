/**
 * Done-when of issue 4: every gpsd log, replayed through a real pseudo-terminal into the GPS source, yields fixes that
 * agree with gpsd's own TPV reports (mode, lat/lon within 1e-6°, speed within 0.1 km/h; see gpsd-reference.ts for the
 * named exceptions), and every bad-checksum sentence is rejected and counted. One socat pair serves all 22 logs;
 * each log gets a fresh source (a fresh receiver), opened on the same device path.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGpsSource } from "../../../agent/sources/gps/index.ts";
import type { GpsFix } from "../../../agent/sources/types.ts";
import { waitFor } from "../../support/wait.ts";
import { compareWithGpsd } from "./gpsd-reference.ts";
import { createPty, type Pty } from "./pty.ts";

const DIR = fileURLToPath(new URL("../../../../shared/fixtures/nmea/gpsd/", import.meta.url));
const LOGS = readdirSync(DIR)
  .filter((f) => f.endsWith(".log"))
  .sort();

/** The log without its `#` header, byte for byte; plus what gpsd rejected (sentences absent from its .chk). */
function load(name: string) {
  const raw = readFileSync(DIR + name, "latin1");
  const body = raw
    .split(/(?<=\n)/)
    .filter((l) => !l.startsWith("#"))
    .join("");
  const accepted = new Set(readFileSync(`${DIR}${name}.chk`, "latin1").split(/\r?\n/));
  const lines = body.split(/\r?\n/).filter((l) => l.length > 0);
  // gpsd drops a sentence whose checksum is wrong or missing; it still echoes proprietary ones without a checksum.
  const rejected = lines.filter((l) => l.startsWith("$") && !accepted.has(l) && !l.startsWith("$P")).length;
  return { body, lineCount: lines.length, rejected };
}

describe("GPS source over a pseudo-terminal, against gpsd", () => {
  let pty: Pty;
  beforeAll(async () => {
    pty = await createPty();
    await pty.start();
  });
  afterAll(async () => {
    await pty.dispose();
  });

  it("has all 22 gpsd logs", () => {
    expect(LOGS).toHaveLength(22);
  });

  it.each(LOGS)("%s agrees with gpsd", async (name) => {
    const { body, lineCount, rejected } = load(name);
    const fixes: GpsFix[] = [];
    const source = createGpsSource(
      { path: pty.device, baudRate: 115200, epochIdleMs: 40 },
      { onFix: (f) => fixes.push(f) },
    );
    await source.start();
    try {
      await waitFor(() => source.counters().opens === 1, "port open", { timeoutMs: 5_000 });
      await pty.write(body);
      await waitFor(() => (source.counters().lines ?? 0) >= lineCount, `${lineCount} lines`, { timeoutMs: 10_000 });
      // The last epoch is flushed once the line has been idle for epochIdleMs.
      await waitFor(() => source.counters().pending === 0, "last epoch flushed", { timeoutMs: 5_000 });
    } finally {
      await source.stop();
    }
    const counters = source.counters();
    expect(counters.lines).toBe(lineCount);
    expect(counters.tooLong).toBe(0);
    expect(counters.badChecksum).toBe(rejected);
    const result = compareWithGpsd(fixes, `${DIR}${name}.chk`);
    expect(result.problems).toEqual([]);
    expect(result.compared).toBeGreaterThan(0);
  });
});
