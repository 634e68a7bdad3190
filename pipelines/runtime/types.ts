/** What a pipeline sees: typed records from protocol/, in batches, one topic partition at a time. */
import type { TruckPosition } from "../../protocol/in-order.ts";
import type { Alert } from "../../protocol/alerts.ts";
import type { EventRecord, StatusRecord, TelemetryRecord } from "../../protocol/records.ts";

/**
 * alerts: fleet.alerts, written by the detect pipeline (not sequenced per truck, like status). latest: fleet.latest,
 * each truck's current state (compacted, not sequenced: it runs ahead of the truck's telemetry after an outage).
 */
export type RecordKind = "telemetry" | "events" | "status" | "alerts" | "latest";

export interface RecordOf {
  telemetry: TelemetryRecord;
  events: EventRecord;
  status: StatusRecord;
  alerts: Alert;
  latest: TelemetryRecord;
}

/** One Kafka record that passed validation and (telemetry, events) the in-order filter. */
export interface Delivered<T> {
  record: T;
  offset: string;
  /** The Kafka record's timestamp (ms since the epoch): when the bridge produced it. */
  kafkaTimestamp: number;
  /** The bridge's `fleet-received-at` header (ISO 8601), when the record has it: when the broker got the payload. */
  receivedAt?: string;
  /** Set when the in-order filter found records missing just before this one (real loss on the truck). */
  gap?: { fromSeq: number; toSeq: number; count: number };
}

/** Where a pipeline with its own offset store resumes: store it atomically with the batch's output. */
export interface StoredPosition {
  /** The offset of the next record to read. */
  nextOffset: string;
  /** The in-order filter's state after this batch (absent for the status topic, which is not sequenced). */
  filter?: Record<string, TruckPosition>;
}

interface BatchOf<K extends RecordKind, Records = Delivered<RecordOf[K]>[]> {
  kind: K;
  topic: string;
  partition: number;
  /** Kept records in partition order; may be empty when every record was filtered or invalid. */
  records: Records;
  /**
   * The position after this batch, for pipelines that store their own offsets (exactly once). `trucks`: the filter
   * positions of just these trucks (a pipeline storing each truck's position beside its state needs no others).
   */
  position(trucks?: Iterable<string>): StoredPosition;
}

export type RecordBatch =
  BatchOf<"telemetry"> | BatchOf<"events"> | BatchOf<"status"> | BatchOf<"alerts"> | BatchOf<"latest">;

/**
 * A batch for a streaming handler (`PipelineHandler.streaming`): its records are decoded, validated and filtered
 * while the handler reads them, once, in order, and `position()` answers only after they were read to the end.
 */
type StreamedOf<K extends RecordKind> = BatchOf<K, Iterable<Delivered<RecordOf[K]>>>;
export type StreamedRecordBatch =
  StreamedOf<"telemetry"> | StreamedOf<"events"> | StreamedOf<"status"> | StreamedOf<"alerts"> | StreamedOf<"latest">;

export interface TopicPartition {
  topic: string;
  partition: number;
}

/**
 * A pipeline's own offset store (exactly once): the handler writes its output and `batch.position()` in one
 * transaction; on assignment the runner loads the position, seeks there and restores the in-order filter, so
 * nothing is applied twice whatever Kafka's committed offset says.
 */
export interface OffsetStore {
  load(topic: string, partition: number): Promise<StoredPosition | undefined>;
  /**
   * The store commits the group's offsets itself, in the transaction that stores its output (detect). The runner
   * then commits none of its own: nothing orders a plain commit of an older offset against the store's next
   * transaction (another connection), and one arriving after it sets the group's offset back behind the stored
   * position, which the next owner of the partition takes for a replay (state dropped, a batch's alerts written
   * again). So the handler also gets the batches whose records were all filtered, to store the position past them.
   */
  commitsGroupOffsets?: boolean;
}

interface HandlerHooks {
  /** Partitions taken away by a rebalance: release their state (another member reads them now). */
  revoked?(partitions: TopicPartition[]): Promise<void> | void;
  /** Partitions given by a rebalance (after any seek). */
  assigned?(partitions: TopicPartition[]): Promise<void> | void;
}

/** Called with each batch; the batch's offsets are committed only after `handle` resolves. A throw retries it. */
export type PipelineHandler =
  | (HandlerHooks & { streaming?: false; handle(batch: RecordBatch): Promise<void> | void })
  | (HandlerHooks & {
      /**
       * Records decoded as they are read, and every batch handed over (even one whose records were all filtered):
       * a handler that holds a whole fetch's batches before it reads them (detect's group commit) then holds the
       * fetched bytes, not the parsed records, which the young generation's collections copied and promoted.
       */
      streaming: true;
      handle(batch: StreamedRecordBatch): Promise<void> | void;
    });
