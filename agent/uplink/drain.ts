/**
 * The drain pump: per channel, in seq order, it reads committed records from the head of the outbox, publishes them
 * in batches at QoS 1 with at most `inflightBatches` unacknowledged, and acknowledges them to the outbox only when
 * the PUBACK came back (MQTT.js calls a QoS 1 publish's callback at PUBACK), in order: a later batch's PUBACK waits
 * for the earlier ones, so the outbox's acknowledged prefix never has a hole. With `drainBytesPerSecond` set, a batch
 * goes out only while the pace allows (pace.ts); the pump then comes back on a timer.
 */
import type { Logger } from "../../common/log.ts";
import {
  type Channel,
  type ChannelRecord,
  encodeEvents,
  encodeTelemetry,
  MAX_PAYLOAD_BYTES,
  topicFor,
} from "../../protocol/index.ts";
import type { Outbox } from "../outbox/index.ts";
import type { UplinkConfig } from "./config.ts";
import type { Session } from "./connection.ts";
import { createPace } from "./pace.ts";
import type { UplinkStats } from "./types.ts";

export const CHANNELS: Channel[] = ["telemetry", "events"];

interface Batch {
  generation: number;
  lastSeq: number;
  count: number;
  done: boolean;
}

interface ChannelFlow {
  /** The next seq to read. */
  cursor: number;
  /** Everything up to here was PUBACKed and handed to outbox.ack(). */
  ackedUpTo: number;
  /** Published, oldest first. */
  inflight: Batch[];
  pumping: boolean;
  again: boolean;
}

export interface DrainDeps {
  truckId: string;
  outbox: Outbox;
  log: Logger;
  stats: UplinkStats;
  /** The live session to publish on (undefined: hold). */
  session(): Session | undefined;
  /** The current generation: a PUBACK for a batch of another one is stale. */
  generation(): number;
  /** A publish failed: the session is dropped and the next one starts from the outbox head. */
  fail(): void;
  /** A telemetry batch went out: its newest record (for the latest lane). */
  publishedTelemetry?(record: ChannelRecord["telemetry"]): void;
}

export interface Drain {
  /** A new session: forget positions in flight and start every channel from the outbox head. */
  restart(): void;
  /** The session is gone: every in-flight batch is forgotten (its records are still in the outbox). */
  forget(): void;
  /** New records may be readable: publish what the window allows. */
  pumpAll(): void;
  /** Resolves when no batch is in flight, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void>;
  /** Committed records of the channel not published yet on this session (the backlog still to go). */
  behind(channel: Channel): number;
  /** Clears the pacing timer. */
  stop(): void;
}

export function createDrain(config: UplinkConfig, deps: DrainDeps): Drain {
  const { outbox, truckId, log, stats } = deps;
  const flows = {} as Record<Channel, ChannelFlow>;
  for (const c of CHANNELS) flows[c] = { cursor: 0, ackedUpTo: -1, inflight: [], pumping: false, again: false };
  let idleWaiters: Array<() => void> = [];
  const pace = createPace(config.drainBytesPerSecond);
  /**
   * False from a lost session until restart(): the new session first sends its latest record (latest.ts), and a
   * commit in between must not pump from the old session's cursors (records before them were never acknowledged).
   */
  let started = false;
  let paceTimer: NodeJS.Timeout | undefined;

  /** False when the pace holds the drain back; a timer then pumps every channel again. */
  function paced(): boolean {
    const wait = pace.waitMs();
    if (wait === 0) return true;
    stats.drainPacedWaits++;
    if (!paceTimer) {
      paceTimer = setTimeout(() => {
        paceTimer = undefined;
        for (const ch of CHANNELS) void pump(ch);
      }, wait);
      paceTimer.unref();
    }
    return false;
  }

  function encode(channel: Channel, records: ChannelRecord[Channel][]): Buffer {
    const format = { format: config.format };
    try {
      return channel === "telemetry"
        ? encodeTelemetry(records as ChannelRecord["telemetry"][], format)
        : encodeEvents(records as ChannelRecord["events"][], format);
    } catch (error) {
      // A record the codec refuses must not block the queue forever: send the batch as raw JSON, which the bridge
      // dead-letters with its reason and acknowledges (design promise 6). Counted and logged, never silent.
      stats.recordsUnencodable += records.length;
      log.error({ err: error, channel, firstSeq: records[0]?.seq }, "uplink: codec refused records; sending raw JSON");
      return Buffer.from(JSON.stringify(records.map(({ truckId: _, ...rest }) => rest)));
    }
  }

  async function pump(channel: Channel): Promise<void> {
    const f = flows[channel];
    if (f.pumping) {
      f.again = true;
      return;
    }
    f.pumping = true;
    try {
      do {
        f.again = false;
        for (let s = deps.session(); s && f.inflight.length < config.inflightBatches; s = deps.session()) {
          if (!started || !paced()) break;
          let records = await outbox.read(channel, f.cursor, config.maxBatchRecords);
          if (s.generation !== deps.generation() || records.length === 0) break;
          let payload = encode(channel, records);
          while (payload.length > MAX_PAYLOAD_BYTES && records.length > 1) {
            records = records.slice(0, Math.ceil(records.length / 2));
            payload = encode(channel, records);
          }
          const batch: Batch = {
            generation: s.generation,
            lastSeq: records.at(-1)!.seq,
            count: records.length,
            done: false,
          };
          f.inflight.push(batch);
          f.cursor = batch.lastSeq + 1;
          stats.batchesPublished++;
          stats.recordsPublished += records.length;
          stats.bytesPublished += payload.length;
          pace.take(payload.length);
          if (channel === "telemetry") deps.publishedTelemetry?.(records.at(-1) as ChannelRecord["telemetry"]);
          s.client.publish(topicFor(truckId, channel), payload, { qos: 1 }, (err) => acked(channel, batch, err));
        }
      } while (f.again);
    } catch (error) {
      log.error({ err: error, channel }, "uplink: reading the outbox failed");
    } finally {
      f.pumping = false;
    }
  }

  function acked(channel: Channel, batch: Batch, err: Error | undefined): void {
    if (batch.generation !== deps.generation()) return;
    const f = flows[channel];
    if (err) {
      // A refused publish (MQTT 5 PUBACK reason >= 0x80) or a broken client: start over from the outbox head on a
      // fresh connection, after the backoff.
      stats.publishErrors++;
      log.warn({ err: { message: err.message }, channel, lastSeq: batch.lastSeq }, "uplink: publish failed");
      deps.fail();
      return;
    }
    batch.done = true;
    let upTo = -1;
    while (f.inflight[0]?.done) {
      const head = f.inflight.shift()!;
      upTo = head.lastSeq;
      stats.recordsAcked += head.count;
    }
    if (upTo >= 0) {
      f.ackedUpTo = upTo;
      void outbox.ack(channel, upTo);
    }
    if (f.inflight.length === 0) notifyIdle();
    void pump(channel);
  }

  function idle(): boolean {
    return CHANNELS.every((c) => flows[c].inflight.length === 0);
  }

  function notifyIdle(): void {
    if (!idle()) return;
    for (const w of idleWaiters) w();
    idleWaiters = [];
  }

  return {
    restart() {
      started = true;
      for (const ch of CHANNELS) {
        const f = flows[ch];
        f.inflight = [];
        f.cursor = Math.max(outbox.firstSeq(ch), f.ackedUpTo + 1);
        void pump(ch);
      }
    },
    forget() {
      started = false;
      for (const ch of CHANNELS) flows[ch].inflight = [];
      notifyIdle();
    },
    pumpAll() {
      for (const ch of CHANNELS) void pump(ch);
    },
    behind: (channel) => Math.max(0, outbox.committedNext(channel) - flows[channel].cursor),
    stop() {
      if (paceTimer) clearTimeout(paceTimer);
      paceTimer = undefined;
    },
    whenIdle(timeoutMs) {
      if (idle()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        t.unref();
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
