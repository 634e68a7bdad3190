/**
 * A Kafka record's value -> a typed record, validated with the same zod schemas the bridge writes with, so a record
 * another producer wrote (wrong shape, not JSON, a tombstone) becomes a FleetError instead of reaching a handler.
 */
import { FleetError } from "../../common/errors.ts";
import { describeIssues } from "../../protocol/codec.ts";
import { EventRecordSchema, StatusRecordSchema, TelemetryRecordSchema } from "../../protocol/records.ts";
import type { RecordKind, RecordOf } from "./types.ts";

const SCHEMAS = { telemetry: TelemetryRecordSchema, events: EventRecordSchema, status: StatusRecordSchema } as const;

export type DecodeOutcome<K extends RecordKind> = { ok: true; record: RecordOf[K] } | { ok: false; error: FleetError };

export function decodeKafkaValue<K extends RecordKind>(kind: K, value: Buffer | null): DecodeOutcome<K> {
  if (value === null) return invalid(kind, "the value is empty (a tombstone)");
  let json: unknown;
  try {
    json = JSON.parse(value.toString("utf8"));
  } catch (error) {
    return invalid(kind, `the value is not JSON: ${(error as Error).message}`);
  }
  const parsed = SCHEMAS[kind].safeParse(json);
  if (!parsed.success) return invalid(kind, describeIssues(parsed.error));
  return { ok: true, record: parsed.data as RecordOf[K] };
}

function invalid(kind: RecordKind, reason: string): { ok: false; error: FleetError } {
  return { ok: false, error: new FleetError("FLEET_RECORD_INVALID", `not a valid ${kind} record: ${reason}`) };
}
