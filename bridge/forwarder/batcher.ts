/**
 * Micro-batching across trucks (KafkaJS has no linger, so the bridge batches itself) with one batch in flight.
 *
 * Why only one: kafkajs' idempotent producer takes a lock per broker around each produce request and assigns the
 * partition sequence numbers inside it, so a second sendBatch would only wait behind the first; and if the first
 * failed after the second had been sent, the second could land first and reorder a truck's records.
 *
 * Order: publishes enter one FIFO in the order Aedes handed them over; batches are cut from its head; only one
 * batch is in flight and a failed batch is retried, unchanged, until Kafka takes it. So no later batch can
 * overtake an earlier one, and each truck's records reach Kafka in the order they arrived (design, promise 2).
 * With the idempotent producer a retried batch that had in fact landed is dropped by the broker as a duplicate.
 *
 * Bound (design, promise 3): at most `maxPendingRecords` records are admitted (queued or in flight). A publish
 * that would go over waits un-admitted in the `waiting` FIFO without its acknowledgement; meanwhile Aedes reads
 * nothing more from that truck's socket (it reads a connection's next bytes only after every packet of the
 * previous read was handled), so the `waiting` FIFO holds at most one socket read per connection. When full:
 * never drop, never acknowledge early; admission resumes by itself as batches complete.
 *
 * A topic Kafka cannot take (it was deleted and the bridge may not create it: the sink fails with
 * FLEET_KAFKA_TOPIC) must not hold every other topic's records behind it (issue 13). Its publishes are *parked*:
 * set apart in their own FIFO, in order, and retried on their own backoff, while the other topics' batches go on.
 * A later publish for a parked topic joins the end of that FIFO, so per-(truck, topic) order holds. Parked records
 * count against `maxPendingRecords` but may take at most half of it, so the other topics keep room to flow; a
 * publish for a parked topic beyond that waits unadmitted (its truck's socket unread) and lets later publishes for
 * other topics pass it in the admission queue (order across topics is no promise: each topic is its own log).
 */
import { FleetError, isFleetError } from "../../common/errors.ts";
import { deliveredEach } from "../../common/kafka/offsets.ts";
import type { Delivery, KafkaSink, OutMessage } from "../kafka-sink/index.ts";
import { Fifo } from "./fifo.ts";

export interface BatcherOptions {
  maxBatchRecords: number;
  maxBatchBytes: number;
  lingerMs: number;
  maxPendingRecords: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface BatcherHooks {
  onBatch?(records: number, seconds: number, ok: boolean, error?: unknown): void;
  onPending?(admittedRecords: number, waitingPublishes: number): void;
  onParked?(topics: number): void;
}

interface Entry {
  /** Every message of one publish goes to the same topic. */
  topic: string;
  messages: OutMessage[];
  bytes: number;
  resolve(deliveries: Delivery[]): void;
  reject(error: unknown): void;
}

interface Parked {
  entries: Entry[];
  delay: number;
  dueAt: number;
}

/** The topics a failure is limited to (FLEET_KAFKA_TOPIC), or none when it concerns Kafka as a whole. */
function failedTopics(error: unknown): string[] {
  if (!isFleetError(error, "FLEET_KAFKA_TOPIC")) return [];
  const topics = error.details?.topics;
  return Array.isArray(topics) ? topics.filter((t): t is string => typeof t === "string") : [];
}

const recordsOf = (entries: Entry[]) => entries.reduce((sum, entry) => sum + entry.messages.length, 0);

function sizeOf(message: OutMessage): number {
  let bytes = message.key.length + (typeof message.value === "string" ? message.value.length : message.value.length);
  for (const name in message.headers) bytes += name.length + (message.headers[name]?.length ?? 0);
  return bytes + 70; // Kafka record overhead (KIP-98 record format v2), roughly
}

export class Batcher {
  private readonly queue = new Fifo<Entry>();
  private readonly waiting = new Fifo<Entry>();
  private queuedRecords = 0;
  private queuedBytes = 0;
  private admitted = 0;
  private inFlight = false;
  private linger: NodeJS.Timeout | undefined;
  private backoff: { timer: NodeJS.Timeout; wake(): void } | undefined;
  private stopping = false;
  private aborted = false;
  private idleWaiters: (() => void)[] = [];
  private readonly parked = new Map<string, Parked>();
  private parkedRecords = 0;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sink: Pick<KafkaSink, "send">,
    private readonly options: BatcherOptions,
    private readonly hooks: BatcherHooks = {},
  ) {}

  get pendingRecords(): number {
    return this.admitted;
  }

  get waitingPublishes(): number {
    return this.waiting.length;
  }

  /** Resolves once every message is in Kafka (acks=all), with each message's topic, partition and offset. */
  submit(messages: OutMessage[]): Promise<Delivery[]> {
    if (this.aborted) return Promise.reject(new FleetError("FLEET_CLOSED", "the bridge is stopping"));
    if (messages.length === 0) return Promise.resolve([]);
    return new Promise<Delivery[]>((resolve, reject) => {
      let bytes = 0;
      for (const message of messages) bytes += sizeOf(message);
      const entry: Entry = { topic: messages[0]!.topic, messages, bytes, resolve, reject };
      if (this.waiting.length === 0 && this.fits(entry)) this.admit(entry);
      else {
        this.waiting.push(entry);
        if (this.parked.size > 0) this.admitWaiting();
      }
      this.report();
      this.schedule();
    });
  }

  /** Flushes at once and waits until everything submitted so far is in Kafka, or the deadline passes. */
  async drain(deadlineMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.linger);
    this.linger = undefined;
    this.schedule();
    if (this.isIdle()) return;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
      timer.unref();
    });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
  }

  /**
   * drain(), then fails whatever is left with FLEET_CLOSED (those publishes stay unacknowledged, so the trucks
   * send them again: to this bridge after a restart or to another one). Later submits fail at once.
   */
  async stop(deadlineMs: number): Promise<void> {
    await this.drain(deadlineMs);
    this.aborted = true;
    this.backoff?.wake();
    clearTimeout(this.probeTimer);
    const error = new FleetError("FLEET_CLOSED", "the bridge stopped before Kafka took this publish");
    const parked = [...this.parked.values()].flatMap((p) => p.entries);
    this.parked.clear();
    this.parkedRecords = 0;
    for (const entry of [...this.waiting.drain(), ...this.queue.drain(), ...parked]) entry.reject(error);
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.report();
  }

  private fits(entry: Entry): boolean {
    const records = entry.messages.length;
    const max = this.options.maxPendingRecords;
    if (this.parked.has(entry.topic) && this.parkedRecords > 0 && this.parkedRecords + records > max / 2) return false;
    return this.admitted === 0 || this.admitted + records <= max;
  }

  private admit(entry: Entry): void {
    this.queue.push(entry);
    this.admitted += entry.messages.length;
    this.queuedRecords += entry.messages.length;
    this.queuedBytes += entry.bytes;
  }

  private admitWaiting(): void {
    if (this.parked.size === 0) {
      for (let next = this.waiting.peek(); next && this.fits(next); next = this.waiting.peek()) {
        this.admit(this.waiting.shift()!);
      }
      return;
    }
    // A topic whose first waiting publish does not fit keeps all its later ones waiting too (order per topic).
    const held = new Set<string>();
    for (const entry of this.waiting.drain()) {
      if (!held.has(entry.topic) && this.fits(entry)) this.admit(entry);
      else {
        held.add(entry.topic);
        this.waiting.push(entry);
      }
    }
  }

  private isIdle(): boolean {
    return !this.inFlight && this.queue.length === 0 && this.waiting.length === 0 && this.parked.size === 0;
  }

  /** Sets entries apart under their topic, ahead of what that topic already has parked (they came first). */
  private park(topic: string, entries: Entry[]): void {
    const existing = this.parked.get(topic);
    if (existing) {
      existing.entries = [...entries, ...existing.entries];
      existing.delay = Math.min(existing.delay * 2, this.options.retryMaxMs);
      existing.dueAt = Date.now() + existing.delay;
    } else {
      const delay = this.options.retryInitialMs;
      this.parked.set(topic, { entries, delay, dueAt: Date.now() + delay });
    }
    this.parkedRecords += recordsOf(entries);
  }

  /**
   * Parked records above half the bound go back to the admission queue, newest first, ahead of what waits there
   * (they are older than any later publish of their topic): publishes admitted before their topic was found
   * missing must not take the room the other topics need. Still unacknowledged, so nothing is lost.
   */
  private unadmitExcessParked(): void {
    const half = this.options.maxPendingRecords / 2;
    if (this.parkedRecords <= half) return;
    const back: Entry[] = [];
    for (const parked of this.parked.values()) {
      while (this.parkedRecords > half && parked.entries.length > 1) {
        const entry = parked.entries.pop()!;
        this.parkedRecords -= entry.messages.length;
        this.admitted -= entry.messages.length;
        back.unshift(entry);
      }
    }
    if (back.length === 0) return;
    const rest = this.waiting.drain();
    for (const entry of [...back, ...rest]) this.waiting.push(entry);
  }

  /** The parked topic whose retry is due first, if any is due now. */
  private dueParked(): [string, Parked] | undefined {
    let due: [string, Parked] | undefined;
    const now = Date.now();
    for (const item of this.parked) if (item[1].dueAt <= now && (!due || item[1].dueAt < due[1].dueAt)) due = item;
    return due;
  }

  private armProbe(): void {
    if (this.probeTimer || this.parked.size === 0 || this.aborted) return;
    const next = Math.min(...[...this.parked.values()].map((p) => p.dueAt));
    this.probeTimer = setTimeout(
      () => {
        this.probeTimer = undefined;
        void this.flush();
      },
      Math.max(0, next - Date.now()),
    );
    this.probeTimer.unref();
  }

  /**
   * Group commit: whatever queued up while a batch was in flight goes out as soon as that batch completes (it has
   * waited long enough, and under load this is what makes batches big). `lingerMs` only applies to a batcher that
   * was idle: it may hold the first records a little for company.
   */
  private schedule(afterBatch = false): void {
    if (this.inFlight || this.aborted) return;
    if (this.queue.length === 0) return this.armProbe();
    const full = this.queuedRecords >= this.options.maxBatchRecords || this.queuedBytes >= this.options.maxBatchBytes;
    // Also flush at once when publishes wait for admission: the bound is reached, lingering only adds latency.
    if (afterBatch || full || this.stopping || this.waiting.length > 0 || this.options.lingerMs === 0) {
      clearTimeout(this.linger);
      this.linger = undefined;
      void this.flush();
    } else if (!this.linger) {
      this.linger = setTimeout(() => {
        this.linger = undefined;
        void this.flush();
      }, this.options.lingerMs);
      this.linger.unref();
    }
  }

  private cutBatch(): Entry[] {
    const batch: Entry[] = [];
    let records = 0;
    let bytes = 0;
    for (let next = this.queue.peek(); next; next = this.queue.peek()) {
      const parked = this.parked.get(next.topic);
      if (parked) {
        // Behind a parked publish of the same topic: it joins that FIFO, in order.
        this.queue.shift();
        this.queuedRecords -= next.messages.length;
        this.queuedBytes -= next.bytes;
        parked.entries.push(next);
        this.parkedRecords += next.messages.length;
        continue;
      }
      const fitsBatch =
        records + next.messages.length <= this.options.maxBatchRecords &&
        bytes + next.bytes <= this.options.maxBatchBytes;
      // A publish is never split across batches; one larger than a batch goes alone.
      if (batch.length > 0 && !fitsBatch) break;
      batch.push(this.queue.shift()!);
      records += next.messages.length;
      bytes += next.bytes;
    }
    this.queuedRecords -= records;
    this.queuedBytes -= bytes;
    return batch;
  }

  /** A parked topic's next batch: from the head of its FIFO, within the batch limits. */
  private cutParked(parked: Parked): Entry[] {
    let records = 0;
    let bytes = 0;
    let count = 0;
    for (const entry of parked.entries) {
      const fitsBatch =
        records + entry.messages.length <= this.options.maxBatchRecords &&
        bytes + entry.bytes <= this.options.maxBatchBytes;
      if (count > 0 && !fitsBatch) break;
      records += entry.messages.length;
      bytes += entry.bytes;
      count += 1;
    }
    this.parkedRecords -= records;
    return parked.entries.splice(0, count);
  }

  private async flush(): Promise<void> {
    if (this.inFlight) return;
    const due = this.dueParked();
    let batch = due ? this.cutParked(due[1]) : this.queue.length > 0 ? this.cutBatch() : [];
    this.unadmitExcessParked();
    if (batch.length === 0) {
      if (due) this.parked.delete(due[0]);
      return this.armProbe();
    }
    this.inFlight = true;
    let finished = 0;
    let delay = this.options.retryInitialMs;
    for (;;) {
      const messages = batch.flatMap((entry) => entry.messages);
      const began = performance.now();
      try {
        const deliveries = await this.sink.send(messages);
        // The one rule of promise 1: no acknowledgement without Kafka's (partition, offset) for every record.
        if (!deliveredEach(deliveries, messages.length)) {
          throw new FleetError("FLEET_KAFKA", "Kafka did not name a partition and offset for every record");
        }
        this.hooks.onBatch?.(messages.length, (performance.now() - began) / 1000, true);
        let at = 0;
        for (const entry of batch) {
          entry.resolve(deliveries.slice(at, at + entry.messages.length));
          at += entry.messages.length;
        }
        finished += messages.length;
        if (due) {
          // The parked topic is writable again: send the rest of its FIFO without waiting, then unpark it.
          if (due[1].entries.length === 0) this.parked.delete(due[0]);
          else due[1].dueAt = Date.now();
          due[1].delay = this.options.retryInitialMs;
        }
        break;
      } catch (error) {
        this.hooks.onBatch?.(messages.length, (performance.now() - began) / 1000, false, error);
        if (!this.aborted && isFleetError(error) && !error.retriable) {
          // Retrying cannot help (FleetError.retriable: e.g. the sink was stopped): the publishes fail now and stay
          // unacknowledged, so their trucks send them again, instead of this loop retrying until the drain deadline.
          for (const entry of batch) entry.reject(error);
          finished += recordsOf(batch);
          if (due && due[1].entries.length === 0) this.parked.delete(due[0]);
          break;
        }
        if (!this.aborted) {
          const topics = failedTopics(error);
          if (topics.length > 0) {
            // Only these topics cannot be written: park their publishes, send the rest at once.
            const stays = batch.filter((entry) => !topics.includes(entry.topic));
            for (const topic of topics) {
              const entries = batch.filter((entry) => entry.topic === topic);
              if (entries.length > 0 || this.parked.has(topic)) this.park(topic, entries);
            }
            this.unadmitExcessParked();
            batch = stays;
            if (batch.length === 0) break;
            continue;
          }
          if (due) {
            // A parked topic's retry failed for another reason: back to its FIFO, the other topics go on.
            this.park(due[0], batch);
            break;
          }
          await this.sleep(delay);
          delay = Math.min(delay * 2, this.options.retryMaxMs);
        }
        if (this.aborted) {
          const closed = new FleetError("FLEET_CLOSED", "the bridge stopped before Kafka took this publish", {
            cause: error,
          });
          for (const entry of batch) entry.reject(closed);
          finished += recordsOf(batch);
          break;
        }
      }
    }
    this.admitted -= finished;
    this.inFlight = false;
    this.admitWaiting();
    this.report();
    if (this.isIdle()) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
    this.schedule(true);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.backoff = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.backoff = { timer, wake };
    });
  }

  private report(): void {
    this.hooks.onPending?.(this.admitted, this.waiting.length);
    this.hooks.onParked?.(this.parked.size);
  }
}
