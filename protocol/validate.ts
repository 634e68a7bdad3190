/**
 * A fast validator compiled from the zod record schemas, for the bridge's decode path (issue 21).
 *
 * Why: zod's `safeParse` was about 7 % of the bridge's CPU under fleet-shaped load (one record per publish): it
 * allocates a `{ value, issues: [] }` payload per field and runs every check through its generic machinery. The
 * rules here are not written a second time: `compileValidator` walks the zod schema's definition once, at start-up,
 * and turns each node into a small closure with the same rules (types, ranges, integer formats, patterns, lengths,
 * enums, strict objects, discriminated unions), calling the schema's own refinement functions (decimal places,
 * well-formed text, a gap's count). zod stays the source of truth: records.ts is still the only place a rule is
 * written, and validate.test.ts checks that both decide alike on valid, invalid and fuzzed records.
 *
 * What it returns is what zod's `safeParse(...).data` is: a copy with the object keys in the schema's order (so the
 * Kafka value, `JSON.stringify` of the record, is byte for byte what it was with zod). It does not explain a
 * refusal: the caller asks zod for that (a rejected payload is rare and goes to the dead-letter topic), so the error
 * messages stay zod's.
 *
 * It reads zod's definition objects (`schema.def`, `check._zod.def`): a zod upgrade could change them. Anything this
 * file does not know (a schema type, a check, a string format) makes `compileValidator` throw, and the codec compiles
 * its validators when it is imported, so the bridge refuses to start rather than check less than zod would.
 */
import { z } from "zod";

/** Returned for a value the schema refuses. */
export const INVALID: unique symbol = Symbol("invalid");

/** The parsed value (a copy, like zod's output), or INVALID. */
export type Validator<T> = (value: unknown) => T | typeof INVALID;

type Node = (value: unknown) => unknown;
type Predicate = (value: never) => boolean;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- zod's definition objects, read untyped on purpose
type AnyDef = any;

const SUPPORTED_ZOD_MAJOR = 4;

export function compileValidator<T>(schema: z.ZodType<T>): Validator<T> {
  if (z.core.version.major !== SUPPORTED_ZOD_MAJOR) {
    throw new Error(
      `protocol/validate.ts reads zod ${SUPPORTED_ZOD_MAJOR}'s schema definitions; this is zod ${z.core.version.major}`,
    );
  }
  return compile(schema, "(root)") as Validator<T>;
}

function compile(schema: z.ZodType, path: string): Node {
  const def: AnyDef = (schema as AnyDef)._zod.def;
  switch (def.type) {
    case "string":
      return compileString(def, path);
    case "number":
      return compileNumber(def, path);
    case "boolean":
      return withChecks((v) => (typeof v === "boolean" ? v : INVALID), def, path);
    case "enum": {
      const values = new Set<unknown>(Object.values(def.entries));
      return withChecks((v) => (values.has(v) ? v : INVALID), def, path);
    }
    case "literal": {
      const values = new Set<unknown>(def.values);
      return withChecks((v) => (values.has(v) ? v : INVALID), def, path);
    }
    case "nullable": {
      const inner = compile(def.innerType, path);
      return withChecks((v) => (v === null ? null : inner(v)), def, path);
    }
    case "optional": {
      const inner = compile(def.innerType, path);
      return withChecks((v) => (v === undefined ? undefined : inner(v)), def, path);
    }
    case "array":
      return compileArray(def, path);
    case "object":
      return compileObject(def, path);
    case "union":
      return compileDiscriminatedUnion(def, path);
    default:
      throw unsupported(path, `schema type ${String(def.type)}`);
  }
}

function compileString(def: AnyDef, path: string): Node {
  // z.iso.datetime() and friends are string schemas that carry their own format check in the definition.
  const own = def.check === "string_format" ? [stringFormat(def, path)] : [];
  return withChecks((v) => (typeof v === "string" ? v : INVALID), def, path, own);
}

function compileNumber(def: AnyDef, path: string): Node {
  // zod's number refuses NaN and ±Infinity before any check runs.
  return withChecks((v) => (typeof v === "number" && Number.isFinite(v) ? v : INVALID), def, path);
}

function compileArray(def: AnyDef, path: string): Node {
  const element = compile(def.element, `${path}[]`);
  return withChecks(
    (v) => {
      if (!Array.isArray(v)) return INVALID;
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        const item = element(v[i]);
        if (item === INVALID) return INVALID;
        out[i] = item;
      }
      return out;
    },
    def,
    path,
  );
}

function compileObject(def: AnyDef, path: string): Node {
  const catchall = def.catchall?._zod.def.type;
  // strict(): unknown keys are refused; plain object(): dropped from the output. Nothing else is supported.
  if (catchall !== undefined && catchall !== "never") throw unsupported(path, `an object catchall of ${catchall}`);
  const strict = catchall === "never";
  const keys = Object.keys(def.shape);
  if (Object.getOwnPropertySymbols(def.shape).length > 0 || keys.includes("__proto__")) {
    throw unsupported(path, "symbol or __proto__ keys");
  }
  const keySet = new Set(keys);
  const nodes = keys.map((key) => compile(def.shape[key], `${path}.${key}`));
  const optional = keys.map((key) => def.shape[key]._zod.def.type === "optional");
  return withChecks(
    (v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return INVALID;
      const input = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const value = input[key];
        if (value === undefined) {
          if (!optional[i]) return INVALID;
          // zod keeps a key that is present with the value undefined, and leaves out an absent one.
          if (key in input) out[key] = undefined;
          continue;
        }
        const parsed = nodes[i]!(value);
        if (parsed === INVALID) return INVALID;
        out[key] = parsed;
      }
      if (strict) {
        // zod walks the input with for...in too (inherited enumerable keys count as unknown).
        for (const key in input) if (!keySet.has(key)) return INVALID;
      }
      return out;
    },
    def,
    path,
  );
}

function compileDiscriminatedUnion(def: AnyDef, path: string): Node {
  const discriminator: unknown = def.discriminator;
  if (typeof discriminator !== "string") throw unsupported(path, "a union without a discriminator");
  if (def.unionFallback) throw unsupported(path, "a discriminated union with unionFallback");
  const byValue = new Map<unknown, Node>();
  for (const option of def.options as z.ZodType[]) {
    const optionDef: AnyDef = (option as AnyDef)._zod.def;
    const tag = optionDef.type === "object" ? optionDef.shape[discriminator]?._zod.def : undefined;
    if (tag?.type !== "literal") throw unsupported(path, `a union option whose ${discriminator} is not a literal`);
    const node = compile(option, `${path}<${String(tag.values[0])}>`);
    for (const value of tag.values) {
      if (byValue.has(value)) throw unsupported(path, `two union options with ${discriminator} ${String(value)}`);
      byValue.set(value, node);
    }
  }
  return withChecks(
    (v) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return INVALID;
      const option = byValue.get((v as Record<string, unknown>)[discriminator]);
      return option ? option(v) : INVALID;
    },
    def,
    path,
  );
}

/** Wraps a node with the checks of its definition (`.min()`, `.regex()`, `.refine()`, ...), run on its output. */
function withChecks(node: Node, def: AnyDef, path: string, own: Predicate[] = []): Node {
  const predicates = [...own, ...((def.checks ?? []) as AnyDef[]).map((check) => compileCheck(check, path))];
  if (predicates.length === 0) return node;
  const checks = predicates as ((value: unknown) => boolean)[];
  return (v) => {
    const out = node(v);
    if (out === INVALID) return INVALID;
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(out)) return INVALID;
    return out;
  };
}

/** One zod check as a predicate, with the semantics of zod 4's checks.js. */
function compileCheck(check: AnyDef, path: string): Predicate {
  const def: AnyDef = check._zod.def;
  switch (def.check) {
    case "greater_than": {
      const min = def.value as number;
      return def.inclusive ? (v: number) => v >= min : (v: number) => v > min;
    }
    case "less_than": {
      const max = def.value as number;
      return def.inclusive ? (v: number) => v <= max : (v: number) => v < max;
    }
    case "number_format":
      if (def.format !== "safeint") throw unsupported(path, `number format ${String(def.format)}`);
      return (v: number) => Number.isSafeInteger(v);
    case "max_length": {
      const max = def.maximum as number;
      // zod 4.6 counts a string's code points once its UTF-16 length is over the limit (a pair is one).
      return (v: string | unknown[]) => v.length <= max || (typeof v === "string" && codePoints(v) <= max);
    }
    case "min_length": {
      const min = def.minimum as number;
      return (v: string | unknown[]) => v.length >= min;
    }
    case "string_format":
      return stringFormat(def, path);
    case "custom": {
      const fn = def.fn as (value: unknown) => unknown;
      return (v: unknown) => Boolean(fn(v));
    }
    default:
      throw unsupported(path, `check ${String(def.check)}`);
  }
}

function stringFormat(def: AnyDef, path: string): Predicate {
  // Only formats that are a pattern and nothing more (zod's url, jwt, ... run their own code).
  if (def.format !== "regex" && def.format !== "datetime") throw unsupported(path, `string format ${def.format}`);
  const pattern = def.pattern as RegExp;
  return (v: string) => {
    pattern.lastIndex = 0;
    return pattern.test(v);
  };
}

function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if ((text.charCodeAt(i) & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

function unsupported(path: string, what: string): Error {
  return new Error(`protocol/validate.ts cannot compile ${what} at ${path}: extend it, or validate with zod there`);
}
