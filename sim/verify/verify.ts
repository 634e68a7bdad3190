/**
 * `fleetsync verify` as a library: reads a FleetSync topic from Kafka, runs every record through protocol/'s
 * in-order filter (what a backend consumer does), and accounts per truck for completeness against an expected
 * count, order, duplicates and gaps. Gap events on the events topic (outbox overflow) turn a gap into an announced
 * loss, reported apart from unexplained loss; thinned events (thin-then-drop) turn the holes of their ranges into
 * thinned records, announced and never counted as lost (kept + thinned + dropped = produced). ok is true only with no unexplained loss, no reordering, no invalid
 * record and every truck on one partition; duplicates are reported but allowed (delivery is at least once).
 */
import type { Kafka } from "kafkajs";
import { createKafkaClient } from "../../common/kafka/connection.ts";
import type { KafkaSecurity } from "../../common/kafka/security.ts";
import { createInOrderFilter, type InOrderStats } from "../../protocol/index.ts";
import { type CheckerSummary, createChecker } from "./checker.ts";
import { type ReadMessage, readTopicUntil } from "./kafka-read.ts";

export interface VerifyOptions {
  brokers: string[];
  /** TLS and SASL settings of the connection (common/kafka); brokers come from `brokers`. */
  security?: KafkaSecurity;
  topic: string;
  /** Expected records per truck: one count for every truck seen, or a map truck id -> count. */
  expect?: number | Readonly<Record<string, number>>;
  /** Topic with gap and thinned events (fleet.events): announced losses and thinned ranges. */
  eventsTopic?: string;
  /** Which channel the topic carries (gap events name one); default: from the records (events have a `type`). */
  channel?: "telemetry" | "events";
  timeoutMs: number;
}

export interface VerifySummary extends CheckerSummary {
  topic: string;
  eventsTopic: string | null;
  channel: "telemetry" | "events";
  timedOut: boolean;
  elapsedMs: number;
  messagesRead: number;
  announcedGaps: number;
  announcedThinned: number;
  filter: InOrderStats;
}

interface Parsed {
  truckId: string;
  stream: string;
  seq: number;
  type?: unknown;
  channel?: unknown;
  fromSeq?: unknown;
  toSeq?: unknown;
  count?: unknown;
}

function parse(message: ReadMessage): Parsed | string {
  if (!message.value) return "empty value";
  let value: unknown;
  try {
    value = JSON.parse(message.value.toString("utf8"));
  } catch {
    return "value is not JSON";
  }
  const v = value as Partial<Parsed> | null;
  if (!v || typeof v.truckId !== "string" || typeof v.stream !== "string" || !Number.isSafeInteger(v.seq)) {
    return "value lacks truckId, stream or seq";
  }
  if (message.key !== null && message.key.toString("utf8") !== v.truckId) return "key differs from truckId";
  return v as Parsed;
}

export async function runVerify(options: VerifyOptions, deps: { kafka?: Kafka } = {}): Promise<VerifySummary> {
  const began = Date.now();
  const kafka =
    deps.kafka ?? createKafkaClient({ ...options.security, brokers: options.brokers, clientId: "fleetsync-verify" });
  const filter = createInOrderFilter();
  const checker = createChecker({
    ...(options.expect === undefined ? {} : { expect: options.expect }),
    filter: { keep: (r) => filter.accept(r).keep },
  });
  let channel = options.channel;
  const seenGaps = new Set<string>();
  let thinnedSeen = 0;
  const pendingGaps: Parsed[] = [];

  const readGaps = async () => {
    if (!options.eventsTopic) return;
    await readTopicUntil({
      kafka,
      topic: options.eventsTopic,
      timeoutMs: options.timeoutMs,
      onMessage: (m) => {
        const p = parse(m);
        if (typeof p !== "string" && (p.type === "gap" || p.type === "thinned")) pendingGaps.push(p);
      },
    });
  };
  const applyGaps = () => {
    for (const g of pendingGaps.splice(0)) {
      if (g.channel !== (channel ?? "telemetry")) continue;
      if (!Number.isSafeInteger(g.fromSeq) || !Number.isSafeInteger(g.toSeq)) continue;
      const key = `${g.type}/${g.truckId}/${g.stream}/${g.fromSeq}/${g.toSeq}`;
      if (seenGaps.has(key)) continue; // the events topic is read again after a timeout; events may be duplicated
      seenGaps.add(key);
      const range = { truckId: g.truckId, stream: g.stream, fromSeq: g.fromSeq as number, toSeq: g.toSeq as number };
      if (g.type === "gap") checker.addGap(range);
      else if (Number.isSafeInteger(g.count)) {
        thinnedSeen++;
        checker.addThinned({ ...range, count: g.count as number });
      }
    }
  };

  await readGaps();
  let lastCheck = 0;
  let lastSatisfied = false;
  const result = await readTopicUntil({
    kafka,
    topic: options.topic,
    timeoutMs: options.timeoutMs,
    onMessage: (m) => {
      const p = parse(m);
      if (typeof p === "string") return checker.addInvalid(p);
      channel ??= p.type === undefined ? "telemetry" : "events";
      applyGaps();
      checker.add({ truckId: p.truckId, stream: p.stream, seq: p.seq, partition: m.partition });
    },
    ...(options.expect === undefined
      ? {}
      : {
          done: () => {
            // Summing up every truck costs a sort per stream: at most a few times a second.
            if (Date.now() - lastCheck < 250) return lastSatisfied;
            lastCheck = Date.now();
            lastSatisfied = checker.satisfied();
            return lastSatisfied;
          },
        }),
  });
  if (result.timedOut) await readGaps(); // announcements may have arrived while we waited
  applyGaps();
  const summary = checker.summary();
  if (result.timedOut && options.expect !== undefined)
    summary.failures.push("timed out before every truck was complete");
  return {
    ...summary,
    ok: summary.ok && !(result.timedOut && options.expect !== undefined),
    topic: options.topic,
    eventsTopic: options.eventsTopic ?? null,
    channel: channel ?? "telemetry",
    timedOut: result.timedOut,
    elapsedMs: Date.now() - began,
    messagesRead: result.messages,
    announcedGaps: seenGaps.size - thinnedSeen,
    announcedThinned: thinnedSeen,
    filter: filter.stats(),
  };
}
