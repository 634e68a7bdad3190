import { describe, expect, it } from "vitest";
import { backlogStep } from "./doctor-agent-ports.ts";

describe("doctor: the running agent's backlog", () => {
  const text = (dropped: number) =>
    [
      'fleetsync_agent_outbox_records{channel="telemetry"} 7200',
      'fleetsync_agent_outbox_pending_records{channel="telemetry"} 3',
      'fleetsync_agent_outbox_records{channel="events"} 4',
      'fleetsync_agent_outbox_pending_records{channel="events"} 0',
      'fleetsync_agent_outbox_backlog_age_seconds{channel="telemetry"} 7201.6',
      'fleetsync_agent_outbox_backlog_age_seconds{channel="events"} 0',
      `fleetsync_agent_outbox_dropped_total{channel="telemetry"} ${dropped}`,
      'fleetsync_agent_outbox_dropped_total{channel="events"} 0',
      "fleetsync_agent_mqtt_connected 0",
      "fleetsync_agent_mqtt_published_bytes_total 123",
      "fleetsync_agent_uplink_drain_paced_waits_total 5",
      "fleetsync_agent_uplink_latest_published_total 2",
    ].join("\n");

  it("says what waits and how old it is, and warns when records were dropped", () => {
    const ok = backlogStep(text(0));
    expect(ok.status).toBe("pass");
    expect(ok.detail).toContain("7203 telemetry records waiting (oldest 7202 s)");
    expect(ok.detail).toContain("NOT connected");
    expect(ok.data).toMatchObject({ telemetry: { waiting: 7203, dropped: 0 }, pacedWaits: 5, latestSent: 2 });
    expect(backlogStep(text(12)).status).toBe("warn");
    // An agent without the thin-then-drop metrics can only drop.
    expect(ok.detail).toContain("when full: drop-oldest, thinned 0 telemetry");
  });

  it("names the when-full policy and the records thinned (announced, so no warning)", () => {
    const thinning = backlogStep(
      [
        text(0),
        'fleetsync_agent_outbox_when_full_info{policy="thin-then-drop"} 1',
        'fleetsync_agent_outbox_thinned_total{channel="telemetry"} 6840',
      ].join("\n"),
    );
    expect(thinning.status).toBe("pass");
    expect(thinning.detail).toContain("when full: thin-then-drop, thinned 6840 telemetry");
    expect(thinning.data).toMatchObject({ policy: "thin-then-drop", telemetry: { thinned: 6840 } });
  });
});
