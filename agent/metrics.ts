/**
 * The agent's metrics: a prom-client registry of its own (not the global one, so two agents in one test process
 * do not collide), filled at scrape time from the components' counters, served as Prometheus text on loopback.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Outbox } from "./outbox/index.ts";
import type { Uplink } from "./uplink/index.ts";

export interface AgentMetrics {
  registry: Registry;
  /** Counts records the agent could not put into the outbox, by reason (busy, invalid). */
  recordsRefused: Counter<"channel" | "reason">;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export function createAgentMetrics(outbox: Outbox, uplink: Uplink): AgentMetrics {
  const registry = new Registry();
  // Process metrics (RSS, heap, event-loop lag, open handles): a Pi has little memory and an SD card to spare.
  collectDefaultMetrics({ register: registry, prefix: "fleetsync_agent_" });
  const perChannel = (
    name: string,
    help: string,
    pick: (s: ReturnType<Outbox["stats"]>["channels"]["telemetry"]) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ["channel"],
      registers: [registry],
      collect() {
        const s = outbox.stats();
        for (const c of ["telemetry", "events"] as const) this.set({ channel: c }, pick(s.channels[c]));
      },
    });
  perChannel(
    "fleetsync_agent_outbox_records",
    "Records in the outbox waiting for PUBACK (committed).",
    (s) => s.stored,
  );
  perChannel("fleetsync_agent_outbox_pending_records", "Records appended, not yet committed.", (s) => s.pending);
  perChannel("fleetsync_agent_outbox_bytes", "Bytes of records stored in the outbox (budget units).", (s) => s.bytes);
  perChannel("fleetsync_agent_outbox_appended_total", "Records appended since start.", (s) => s.appended);
  perChannel("fleetsync_agent_outbox_acked_total", "Records acknowledged by the broker and removed.", (s) => s.acked);
  perChannel(
    "fleetsync_agent_outbox_dropped_total",
    "Records dropped because the disk budget was full.",
    (s) => s.dropped,
  );
  perChannel("fleetsync_agent_outbox_next_seq", "The next seq of the channel.", (s) => s.nextSeq);
  const uplinkGauge = (name: string, help: string, pick: (s: ReturnType<Uplink["stats"]>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(pick(uplink.stats()));
      },
    });
  uplinkGauge("fleetsync_agent_mqtt_connected", "1 while connected to the broker.", (s) => (s.connected ? 1 : 0));
  uplinkGauge("fleetsync_agent_mqtt_connects_total", "Successful connections.", (s) => s.connects);
  uplinkGauge("fleetsync_agent_mqtt_disconnects_total", "Connections lost.", (s) => s.disconnects);
  uplinkGauge(
    "fleetsync_agent_mqtt_published_records_total",
    "Records published (incl. resends).",
    (s) => s.recordsPublished,
  );
  uplinkGauge("fleetsync_agent_mqtt_published_bytes_total", "Payload bytes published.", (s) => s.bytesPublished);
  uplinkGauge("fleetsync_agent_mqtt_publish_errors_total", "Publishes refused or lost.", (s) => s.publishErrors);
  const recordsRefused = new Counter({
    name: "fleetsync_agent_records_refused_total",
    help: "Records the agent could not put into the outbox.",
    labelNames: ["channel", "reason"],
    registers: [registry],
  });
  let server: Server | undefined;
  return {
    registry,
    recordsRefused,
    async listen(host, port) {
      server = createServer((req, res) => {
        if (req.url !== "/metrics") {
          res.writeHead(404).end();
          return;
        }
        registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
          (error: unknown) => res.writeHead(500).end(String(error)),
        );
      });
      await new Promise<void>((resolve, reject) => {
        server!.once("error", reject);
        server!.listen(port, host, () => resolve());
      });
      server.unref();
      return (server.address() as AddressInfo).port;
    },
    async close() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
