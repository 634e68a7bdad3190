import { describe, expect, it } from "vitest";
import { parseAgentConfig } from "../config.ts";
import { mergeOverlay } from "./merge.ts";

const local = parseAgentConfig({
  truckId: "TRK-1",
  broker: { url: "mqtt://127.0.0.1:1883", password: "secret-secret" },
  outbox: { dir: "/var/lib/fleetsync/outbox", maxBytes: 100 * 1024 * 1024 },
  sampler: { movingPeriodMs: 4_000, distanceM: 150 },
  state: { sources: { engineSpeedRpm: [0, 1] } },
});

describe("effective config = local file + remote overlay", () => {
  it("replaces only the fields the overlay names", () => {
    const merged = mergeOverlay(local, {
      truckId: "TRK-1",
      version: 2,
      sampler: { movingPeriodMs: 2_000 },
      state: { sources: { totalDistanceKm: [238] } },
      outbox: { maxBytes: 50 * 1024 * 1024 },
    });
    expect(merged.ok).toBe(true);
    if (!merged.ok) return;
    expect(merged.config.sampler).toMatchObject({ movingPeriodMs: 2_000, distanceM: 150 });
    expect(merged.config.state.sources).toEqual({ engineSpeedRpm: [0, 1], totalDistanceKm: [238] });
    expect(merged.config.outbox).toMatchObject({ maxBytes: 50 * 1024 * 1024, dir: local.outbox.dir });
    expect(merged.config.broker).toEqual(local.broker);
    expect(local.sampler.movingPeriodMs).toBe(4_000); // the local config is not touched
  });

  it("no overlay: the local file as it is", () => {
    expect(mergeOverlay(local, undefined)).toEqual({ ok: true, config: local });
  });

  it("refuses an outbox budget above the local maximum", () => {
    const merged = mergeOverlay(local, { truckId: "TRK-1", version: 3, outbox: { maxBytes: 200 * 1024 * 1024 } });
    expect(merged).toEqual({ ok: false, reason: expect.stringMatching(/^outbox\.maxBytes: .* above the local/) });
  });
});
