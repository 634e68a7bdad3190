/**
 * A live count of what a telemetry topic holds per truck and stream, read the way a backend consumer reads it (a
 * kafkajs consumer from the beginning, a throw-away group that commits nothing). The demo's view shows it: records
 * in Kafka, the last seq seen, the latest position and engine speed.
 */
import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { deleteConsumerGroup } from "../../common/kafka/read-to-end.ts";

export interface LatestRecord {
  seq: number;
  ts?: string;
  gps?: { lat?: number | null; lon?: number | null; speedKmh?: number | null };
  engine?: { engineSpeedRpm?: number | null; wheelSpeedKmh?: number | null };
}

export interface StreamView {
  /** Records read (duplicates included: this is what the topic holds). */
  records: number;
  /** Highest seq seen. */
  lastSeq: number;
  latest: LatestRecord | undefined;
}

export interface TopicWatch {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What was read for one truck's stream (or all its streams summed when stream is omitted). */
  view(truckId: string, stream?: string): StreamView;
  /** Messages that were not FleetSync records (not JSON, no truckId/stream/seq). */
  invalid(): number;
}

export function watchTopic(options: { brokers: string[]; topic: string }): TopicWatch {
  const kafka = new Kafka({ brokers: options.brokers, clientId: "fleetsync-demo-view", logLevel: logLevel.NOTHING });
  const groupId = `fleetsync-view-${randomBytes(6).toString("hex")}`;
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  const streams = new Map<string, Map<string, StreamView>>();
  let invalid = 0;
  let started = false;
  let stopping: Promise<void> | undefined;

  function parse(value: Buffer | null): ({ truckId: string; stream: string } & LatestRecord) | undefined {
    try {
      const r = value ? (JSON.parse(value.toString("utf8")) as Record<string, unknown>) : undefined;
      if (r && typeof r.truckId === "string" && typeof r.stream === "string" && Number.isSafeInteger(r.seq)) {
        return r as unknown as { truckId: string; stream: string } & LatestRecord;
      }
    } catch {}
    return undefined;
  }

  function add(value: Buffer | null): void {
    const record = parse(value);
    if (!record) {
      invalid++;
      return;
    }
    let byStream = streams.get(record.truckId);
    if (!byStream) streams.set(record.truckId, (byStream = new Map()));
    let view = byStream.get(record.stream);
    if (!view) byStream.set(record.stream, (view = { records: 0, lastSeq: -1, latest: undefined }));
    view.records++;
    if (record.seq > view.lastSeq) {
      view.lastSeq = record.seq;
      view.latest = record;
    }
  }

  return {
    async start() {
      started = true;
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) add(m.value);
        },
      });
    },
    stop() {
      stopping ??= (async () => {
        if (!started) return;
        await consumer.disconnect();
        await deleteConsumerGroup(kafka, groupId);
      })();
      return stopping;
    },
    view(truckId, stream) {
      const byStream = streams.get(truckId);
      const views = stream === undefined ? [...(byStream?.values() ?? [])] : [byStream?.get(stream)];
      const out: StreamView = { records: 0, lastSeq: -1, latest: undefined };
      for (const v of views) {
        if (!v) continue;
        out.records += v.records;
        if (v.lastSeq > out.lastSeq) {
          out.lastSeq = v.lastSeq;
          out.latest = v.latest;
        }
      }
      return out;
    },
    invalid: () => invalid,
  };
}
