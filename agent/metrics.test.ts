import { describe, expect, it } from "vitest";
import { isFleetError } from "../common/errors.ts";
import { createAgentMetrics } from "./metrics.ts";
import type { Outbox } from "./outbox/index.ts";
import type { Uplink } from "./uplink/index.ts";

const channel = (n: number) => ({
  stored: n,
  pending: 1,
  bytes: 100 * n,
  firstSeq: 0,
  nextSeq: n + 1,
  appended: n + 1,
  acked: 7,
  dropped: 0,
  thinned: 40 * n,
  refused: 0,
  lost: 0,
});
const outbox = {
  stats: () => ({
    stream: "s",
    whenFull: "thin-then-drop",
    commits: 1,
    commitErrors: 2,
    reopens: 0,
    lostAtStop: 0,
    diskFreeBytes: 5_000_000,
    channels: { telemetry: channel(3), events: channel(0) },
  }),
  // Telemetry holds seqs 0..2, the oldest taken 90 s ago; events hold none.
  firstSeq: () => 0,
  committedNext: (c: string) => (c === "telemetry" ? 3 : 0),
  read: async (c: string) => (c === "telemetry" ? [{ ts: new Date(Date.now() - 90_000).toISOString() }] : []),
} as unknown as Outbox;
const uplink = {
  stats: () => ({
    connected: true,
    connects: 2,
    disconnects: 1,
    recordsPublished: 9,
    bytesPublished: 50,
    publishErrors: 0,
  }),
} as unknown as Uplink;

describe("agent metrics (Prometheus text)", () => {
  it("renders every sample line as name{labels} number, each family with HELP and TYPE once", async () => {
    const text = await createAgentMetrics(outbox, uplink).render();
    const lines = text.trimEnd().split("\n");
    const families = new Set<string>();
    for (const line of lines) {
      if (line.startsWith("# TYPE ")) {
        const [, , name, type] = line.split(" ");
        expect(families.has(name!)).toBe(false);
        families.add(name!);
        expect(["gauge", "counter"]).toContain(type);
      } else if (!line.startsWith("# HELP ")) {
        expect(line).toMatch(/^fleetsync_agent_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+|NaN)$/);
      }
    }
    expect(text).toMatch(/^fleetsync_agent_outbox_records\{channel="telemetry"\} 3$/m);
    expect(text).toMatch(/^fleetsync_agent_outbox_acked_total\{channel="events"\} 7$/m);
    expect(text).toMatch(/^fleetsync_agent_mqtt_connected 1$/m);
    expect(text).toMatch(/^fleetsync_agent_mqtt_disconnects_total 1$/m);
    expect(text).toMatch(/^fleetsync_agent_outbox_disk_free_bytes 5000000$/m);
    expect(text).toMatch(/^fleetsync_agent_outbox_thinned_total\{channel="telemetry"\} 120$/m);
    expect(text).toMatch(/^fleetsync_agent_outbox_when_full_info\{policy="thin-then-drop"\} 1$/m);
    expect(text).toMatch(/^fleetsync_agent_outbox_commit_errors_total 2$/m);
    // The backlog's age: from the oldest waiting record's own time.
    const age = Number(/^fleetsync_agent_outbox_backlog_age_seconds\{channel="telemetry"\} (\S+)$/m.exec(text)?.[1]);
    expect(age).toBeGreaterThanOrEqual(90);
    expect(age).toBeLessThan(120);
    expect(text).toMatch(/^fleetsync_agent_outbox_backlog_age_seconds\{channel="events"\} 0$/m);
    // Process metrics: a real RSS and heap, and the event loop's lag.
    expect(Number(/^fleetsync_agent_process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(1e6);
    expect(Number(/^fleetsync_agent_nodejs_heap_size_used_bytes (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(1e5);
    expect(text).toMatch(/^fleetsync_agent_nodejs_eventloop_lag_seconds [0-9.e-]+$/m);
  });

  it("counts refused records per channel and reason, and escapes label values", async () => {
    const metrics = createAgentMetrics(outbox, uplink);
    metrics.recordsRefused.inc({ channel: "telemetry", reason: "busy" });
    metrics.recordsRefused.inc({ channel: "telemetry", reason: "busy" });
    metrics.recordsRefused.inc({ channel: "events", reason: 'a"b\\c\nd' });
    const text = await metrics.render();
    expect(text).toMatch(/^fleetsync_agent_records_refused_total\{channel="telemetry",reason="busy"\} 2$/m);
    expect(text).toContain('fleetsync_agent_records_refused_total{channel="events",reason="a\\"b\\\\c\\nd"} 1\n');
  });

  it("exports each serial port's open state, errors and bytes, labelled by source and path", async () => {
    const port = (open: boolean, counters: Record<string, number>) => ({
      isOpen: () => open,
      counters: () => counters,
    });
    const metrics = createAgentMetrics(outbox, uplink, {
      ports: () => [
        { source: "gps", path: "/dev/nonexistent", port: port(false, { errors: 12, opens: 0 }) },
        { source: "can", path: "/dev/ttyUSB1", port: port(true, { opens: 1, bytes: 4096, lines: 80 }) },
      ],
    });
    const text = await metrics.render();
    expect(text).toMatch(/^fleetsync_agent_serial_port_open\{source="gps",path="\/dev\/nonexistent"\} 0$/m);
    expect(text).toMatch(/^fleetsync_agent_serial_errors_total\{source="gps",path="\/dev\/nonexistent"\} 12$/m);
    expect(text).toMatch(/^fleetsync_agent_serial_port_open\{source="can",path="\/dev\/ttyUSB1"\} 1$/m);
    expect(text).toMatch(/^fleetsync_agent_serial_bytes_total\{source="can",path="\/dev\/ttyUSB1"\} 4096$/m);
  });

  it("shows the GNSS times refused as the clock, by reason", async () => {
    const gnss = { accepted: 7, rolloversCorrected: 1, refused: { "no-fix": 3, "implausible-date": 0, jump: 2 } };
    const text = await createAgentMetrics(outbox, uplink, { gnssTime: () => gnss }).render();
    expect(text).toMatch(/^fleetsync_agent_gnss_time_refused_total\{reason="no-fix"\} 3$/m);
    expect(text).toMatch(/^fleetsync_agent_gnss_time_refused_total\{reason="jump"\} 2$/m);
    expect(text).toMatch(/^fleetsync_agent_gnss_time_accepted_total 7$/m);
  });

  it("serves /metrics over HTTP with the text content type, and 404 elsewhere", async () => {
    const metrics = createAgentMetrics(outbox, uplink);
    const port = await metrics.listen("127.0.0.1", 0);
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      expect(await ok.text()).toMatch(/^fleetsync_agent_outbox_next_seq\{channel="telemetry"\} 4$/m);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await metrics.close();
    }
    await metrics.close(); // idempotent
  });

  it("a metrics port in use is a FLEET_CONFIG_INVALID naming metrics.port, not a crash with Node's bare error", async () => {
    const holder = createAgentMetrics(outbox, uplink);
    const port = await holder.listen("127.0.0.1", 0);
    const second = createAgentMetrics(outbox, uplink);
    try {
      const error = await second.listen("127.0.0.1", port).catch((e: unknown) => e);
      expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
      expect((error as Error).message).toBe(
        `metrics.port: 127.0.0.1:${port} is in use (EADDRINUSE): another program (another agent?) holds it; choose another port or set metrics.enabled false`,
      );
    } finally {
      await second.close();
      await holder.close();
    }
  });
});
