/**
 * For remote-config-store.test.ts: writes the applied remote overlay again and again with the agent's own
 * saveOverlay (temp file, fsync, rename, folder fsync), one version after the other, and says so on stdout after
 * each, until it is killed.
 */
import { saveOverlay } from "../../../agent/remote-config/store.ts";

const [file, truckId] = process.argv.slice(2) as [string, string];
const sources = Object.fromEntries(
  ["engineSpeedRpm", "torquePct", "coolantTempC", "fuelRateLph", "engineHours", "totalFuelL", "oilPressureKpa"].map(
    (field, i) => [field, Array.from({ length: 16 }, (_, j) => (i * 16 + j) % 256)],
  ),
);
for (let version = 1; ; version += 1) {
  await saveOverlay(file, {
    truckId,
    version,
    sampler: { movingPeriodMs: 1_000 + version, parkedPeriodMs: 60_000 },
    state: { sources },
    logLevel: version % 2 === 0 ? "debug" : "info",
  });
  process.stdout.write(`${version}\n`);
}
