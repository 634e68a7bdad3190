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
 */
import { FleetError } from "../../common/errors.ts";
import type { Delivery, KafkaSink, OutMessage } from "../kafka-sink/sink.ts";
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
}

interface Entry {
  messages: OutMessage[];
  bytes: number;
  resolve(deliveries: Delivery[]): void;
  reject(error: unknown): void;
}

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
    return new Promise<Delivery[]>((resolve, reject) => {
      let bytes = 0;
      for (const message of messages) bytes += sizeOf(message);
      const entry: Entry = { messages, bytes, resolve, reject };
      if (this.waiting.length === 0 && this.fits(messages.length)) this.admit(entry);
      else this.waiting.push(entry);
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
    const error = new FleetError("FLEET_CLOSED", "the bridge stopped before Kafka took this publish");
    for (const entry of [...this.waiting.drain(), ...this.queue.drain()]) entry.reject(error);
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.report();
  }

  private fits(records: number): boolean {
    return this.admitted === 0 || this.admitted + records <= this.options.maxPendingRecords;
  }

  private admit(entry: Entry): void {
    this.queue.push(entry);
    this.admitted += entry.messages.length;
    this.queuedRecords += entry.messages.length;
    this.queuedBytes += entry.bytes;
  }

  private admitWaiting(): void {
    for (let next = this.waiting.peek(); next && this.fits(next.messages.length); next = this.waiting.peek()) {
      this.admit(this.waiting.shift()!);
    }
  }

  private isIdle(): boolean {
    return !this.inFlight && this.queue.length === 0 && this.waiting.length === 0;
  }

  /**
   * Group commit: whatever queued up while a batch was in flight goes out as soon as that batch completes (it has
   * waited long enough, and under load this is what makes batches big). `lingerMs` only applies to a batcher that
   * was idle: it may hold the first records a little for company.
   */
  private schedule(afterBatch = false): void {
    if (this.inFlight || this.queue.length === 0 || this.aborted) return;
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

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.cutBatch();
    const messages = batch.flatMap((entry) => entry.messages);
    let delay = this.options.retryInitialMs;
    for (;;) {
      const began = performance.now();
      try {
        const deliveries = await this.sink.send(messages);
        this.hooks.onBatch?.(messages.length, (performance.now() - began) / 1000, true);
        let at = 0;
        for (const entry of batch) {
          entry.resolve(deliveries.slice(at, at + entry.messages.length));
          at += entry.messages.length;
        }
        break;
      } catch (error) {
        this.hooks.onBatch?.(messages.length, (performance.now() - began) / 1000, false, error);
        if (this.aborted) {
          const closed = new FleetError("FLEET_CLOSED", "the bridge stopped before Kafka took this publish", {
            cause: error,
          });
          for (const entry of batch) entry.reject(closed);
          break;
        }
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.options.retryMaxMs);
        if (this.aborted) {
          const closed = new FleetError("FLEET_CLOSED", "the bridge stopped before Kafka took this publish");
          for (const entry of batch) entry.reject(closed);
          break;
        }
      }
    }
    this.admitted -= messages.length;
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
  }
}
