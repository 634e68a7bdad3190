/** Shared parts for the agent's integration tests: a real Aedes broker over TCP that records what it accepted. */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aedes } from "aedes";
import { createOutbox, OutboxConfigSchema, type TelemetryBody } from "../../../agent/outbox/index.ts";
import {
  decodeEvents,
  decodeTelemetry,
  type EventRecord,
  parseTopic,
  roundTo,
  type TelemetryRecord,
} from "../../../protocol/index.ts";

export interface Received {
  telemetry: TelemetryRecord[];
  events: EventRecord[];
  status: string[];
  invalid: number;
}

export interface TestBroker {
  port: number;
  received: Received;
  /** Stops accepting and drops every connection (the broker "goes down"); start() brings it back on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real Aedes broker on a TCP port. Records are decoded in authorizePublish, the hook Aedes runs before it sends
 * the PUBACK (so "received" here means "acknowledged to the truck"). `delayMs` slows every acknowledgement.
 */
export async function startBroker(options: { port?: number; delayMs?: number } = {}): Promise<TestBroker> {
  const received: Received = { telemetry: [], events: [], status: [], invalid: 0 };
  let aedes: Aedes | undefined;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = options.port ?? 0;

  async function up(): Promise<void> {
    aedes = await Aedes.createBroker({
      authorizePublish(_client, packet, callback) {
        const topic = parseTopic(packet.topic);
        const payload = packet.payload as Buffer;
        if (topic?.kind === "telemetry") {
          const r = decodeTelemetry(topic.truckId, payload);
          if (r.ok) received.telemetry.push(...r.records);
          else received.invalid++;
        } else if (topic?.kind === "events") {
          const r = decodeEvents(topic.truckId, payload);
          if (r.ok) received.events.push(...r.records);
          else received.invalid++;
        } else if (topic?.kind === "status") {
          received.status.push(payload.toString());
        }
        if (options.delayMs) setTimeout(() => callback(null), options.delayMs);
        else callback(null);
      },
    });
    const a = aedes;
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      a.handle(socket);
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
  }

  async function down(): Promise<void> {
    const s = server;
    const a = aedes;
    server = undefined;
    aedes = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    if (a) await new Promise<void>((resolve) => a.close(() => resolve()));
  }

  await up();
  return {
    get port() {
      return port;
    },
    received,
    down,
    up,
    close: down,
  };
}

export async function tempDir(prefix = "fleetsync-agent-"): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function telemetryBody(i: number): TelemetryBody {
  return {
    ts: new Date(Date.UTC(2026, 10, 21, 5, 0, 0) + i * 1000).toISOString(),
    timeSource: "gnss",
    gps: {
      fix: "3d",
      lat: roundTo(52.5 + i * 1e-5, 7),
      lon: 13.4,
      altM: 40,
      speedKmh: 50,
      courseDeg: 90,
      sats: 9,
      hdop: 0.9,
    },
    engine: { engineSpeedRpm: 1200 + (i % 100), coolantTempC: 85 },
  };
}

/** Fills an outbox store on disk with `count` telemetry records, as an agent would have before a backlog drain. */
export async function prefillOutbox(dir: string, truckId: string, count: number): Promise<string> {
  const outbox = createOutbox(OutboxConfigSchema.parse({ dir, sync: false }), { truckId });
  await outbox.start();
  for (let i = 0; i < count; i += 2000) {
    await Promise.all(
      Array.from({ length: Math.min(2000, count - i) }, (_, j) => outbox.append("telemetry", telemetryBody(i + j))),
    );
  }
  const stream = outbox.stream;
  await outbox.stop();
  return stream;
}

/** The consumer's view: duplicates dropped, and true when what is left rises by one from `from` without a hole. */
export function dedupeSeqs(records: { seq: number }[]): number[] {
  const out: number[] = [];
  let last = -1;
  for (const r of records) {
    if (r.seq > last) {
      out.push(r.seq);
      last = r.seq;
    }
  }
  return out;
}

export function range(from: number, toExclusive: number): number[] {
  return Array.from({ length: Math.max(0, toExclusive - from) }, (_, i) => from + i);
}
