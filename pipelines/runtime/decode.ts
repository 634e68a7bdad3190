/**
 * A Kafka record's value -> a typed record (types from protocol/), checked against the JSON Schema protocol/
 * publishes for backend teams (generated from the same zod schemas the bridge validates with), so a record another
 * producer wrote (wrong shape, not JSON, a tombstone) becomes a FleetError instead of reaching a handler.
 *
 * Why the published schema through ajv and not zod's parse: it is the consumers' contract, open content included
 * (fields a newer producer adds are ignored, as docs/kafka-contract.md promises), and ajv's compiled validator is
 * an order of magnitude faster than zod's safeParse on a telemetry record (about 0.3-0.6 µs against 4-5 µs here),
 * which was most of the map's cost per record in `npm run bench:map`. What it does not check are the bridge-side
 * rules zod refines (decimal places, a gap's count), which a consumer does not rely on.
 *
 * Why ajv's draft-07 class for a draft 2020-12 schema: Ajv2020 always supports `unevaluatedProperties`, so every
 * `anyOf` it compiles tries all its branches to learn what they evaluated. A nullable number is `anyOf: [number,
 * null]`, so each of the twenty-odd numbers of a telemetry record failed its `null` branch and allocated an error
 * object: a third of the map's allocations in `npm run bench:map`, and most of its garbage collection. The schema
 * uses no keyword whose meaning differs between the drafts (decode.test.ts checks both decide alike), and strict
 * mode refuses to compile a keyword the draft-07 class does not know, so a 2020-only keyword cannot be ignored.
 */
import { Ajv, type ValidateFunction } from "ajv";
import { FleetError } from "../../common/errors.ts";
import { buildJsonSchema, type PublishedSchemaFile } from "../../protocol/schema.ts";
import type { RecordKind, RecordOf } from "./types.ts";

const FILES: Record<RecordKind, PublishedSchemaFile> = {
  telemetry: "telemetry.v1.schema.json",
  events: "event.v1.schema.json",
  status: "status.v1.schema.json",
  alerts: "alert.v1.schema.json",
  latest: "latest.v1.schema.json",
};

// validateFormats off: the schema's own `pattern` already pins the timestamp format (ISO 8601 UTC, milliseconds).
// validateSchema off: this class does not carry the 2020-12 meta-schema the schema names in `$schema`.
// allowUnionTypes: the alert schema's evidence values are `type: [number, string, boolean, null]`, which strict mode
// otherwise refuses to compile.
const ajv = new Ajv({ strict: true, allowUnionTypes: true, validateFormats: false, validateSchema: false });
const validators = new Map<RecordKind, ValidateFunction>();

function validatorFor(kind: RecordKind): ValidateFunction {
  let validate = validators.get(kind);
  if (!validate) {
    const { $schema: _draft, ...schema } = buildJsonSchema(FILES[kind]);
    validate = ajv.compile(schema);
    validators.set(kind, validate);
  }
  return validate;
}

export type DecodeOutcome<K extends RecordKind> = { ok: true; record: RecordOf[K] } | { ok: false; error: FleetError };

export function decodeKafkaValue<K extends RecordKind>(kind: K, value: Buffer | null): DecodeOutcome<K> {
  return decodeKafkaText(kind, value === null ? null : value.toString("utf8"));
}

/** The same from the value's UTF-8 text (null: a tombstone), which the runner reads without a Buffer per record. */
export function decodeKafkaText<K extends RecordKind>(kind: K, text: string | null): DecodeOutcome<K> {
  if (text === null) return invalid(kind, "the value is empty (a tombstone)");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return invalid(kind, `the value is not JSON: ${(error as Error).message}`);
  }
  const validate = validatorFor(kind);
  if (!validate(json)) {
    const first = validate.errors?.[0];
    return invalid(kind, first ? `${first.instancePath || "(root)"}: ${first.message ?? "invalid"}` : "invalid");
  }
  return { ok: true, record: json as RecordOf[K] };
}

function invalid(kind: RecordKind, reason: string): { ok: false; error: FleetError } {
  return { ok: false, error: new FleetError("FLEET_RECORD_INVALID", `not a valid ${kind} record: ${reason}`) };
}
