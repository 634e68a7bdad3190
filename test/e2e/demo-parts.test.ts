/** The demo's small pure parts: Java version parsing for the prerequisite check, the view, the agent gauges. */
import { describe, expect, it } from "vitest";
import { javaMajor, planDebianInstall } from "../demo/prereqs.ts";
import { renderTable, type TruckRow } from "../demo/view.ts";
import { parseAgentMetrics } from "./agents.ts";

describe("demo parts", () => {
  it("reads Java's major version from both version schemes", () => {
    expect(javaMajor('openjdk version "17.0.9" 2023-10-17')).toBe(17);
    expect(javaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(javaMajor('java version "1.8.0_392"')).toBe(8);
    expect(javaMajor("command not found")).toBeUndefined();
  });

  it("installs missing Debian packages itself only as root with apt-get, else names the command", () => {
    const socat = { what: "socat", why: "ptys", fix: "apt-get install socat", debianPackage: "socat" };
    const java = { what: "Java", why: "Kafka", fix: "install a JRE" };
    expect(planDebianInstall([socat, java], { root: true, aptGet: true })).toEqual({
      action: "install",
      packages: ["socat"],
    });
    expect(planDebianInstall([socat], { root: false, aptGet: true })).toEqual({
      action: "tell",
      command: "sudo apt-get install -y socat",
    });
    expect(planDebianInstall([socat], { root: true, aptGet: false }).action).toBe("tell");
    expect(planDebianInstall([java], { root: true, aptGet: true })).toEqual({ action: "none" });
  });

  it("renders one aligned row per truck, with '-' for what is not known yet", () => {
    const row: TruckRow = {
      truckId: "DEMO-1",
      adapter: "SLCAN",
      phase: "cruising",
      lat: 51.88637,
      lon: -4.5022,
      speedKmh: 62.34,
      engineSpeedRpm: 1450,
      lastSeq: 41,
      inKafka: 40,
      kafkaSeq: 39,
      lag: 2,
      inDatabase: 38,
      online: true,
    };
    const text = renderTable({ uptimeS: 75, bridgeUrl: "mqtt://127.0.0.1:1883", brokers: ["k:9092"], topic: "t" }, [
      row,
      {
        ...row,
        truckId: "DEMO-2",
        lat: null,
        lon: null,
        speedKmh: null,
        lastSeq: null,
        lag: null,
        inDatabase: null,
        online: false,
      },
    ]);
    const lines = text.split("\n");
    expect(lines[0]).toContain("up 01:15");
    const one = lines.find((l) => l.startsWith("DEMO-1"))!;
    const two = lines.find((l) => l.startsWith("DEMO-2"))!;
    expect(one).toContain("51.88637N 4.50220W");
    expect(one).toContain("62.3 km/h");
    expect(one).toContain("1450 rpm");
    expect(one).toMatch(/ 41 +40 +2 +38 online/);
    expect(two).toMatch(/ - +40 +- +- offline/);
    expect(two).toContain("no fix yet");
    expect(two).toContain("offline");
    expect(one.length).toBe(two.length);
  });

  it("reads the agent's outbox and connection gauges from its Prometheus text", () => {
    const text = [
      'fleetsync_agent_outbox_records{channel="telemetry"} 5',
      'fleetsync_agent_outbox_records{channel="events"} 0',
      'fleetsync_agent_outbox_pending_records{channel="telemetry"} 2',
      'fleetsync_agent_outbox_pending_records{channel="events"} 1',
      'fleetsync_agent_outbox_next_seq{channel="telemetry"} 120',
      'fleetsync_agent_outbox_next_seq{channel="events"} 3',
      'fleetsync_agent_outbox_acked_total{channel="telemetry"} 113',
      'fleetsync_agent_outbox_acked_total{channel="events"} 2',
      'fleetsync_agent_outbox_dropped_total{channel="telemetry"} 0',
      'fleetsync_agent_outbox_dropped_total{channel="events"} 0',
      'fleetsync_agent_outbox_thinned_total{channel="telemetry"} 40',
      'fleetsync_agent_outbox_thinned_total{channel="events"} 0',
      "fleetsync_agent_mqtt_connected 1",
    ].join("\n");
    expect(parseAgentMetrics(text)).toEqual({
      next: { telemetry: 120, events: 3 },
      acked: { telemetry: 113, events: 2 },
      waiting: { telemetry: 7, events: 1 },
      dropped: { telemetry: 0, events: 0 },
      thinned: { telemetry: 40, events: 0 },
      connected: true,
    });
  });
});
