/**
 * A fast validator compiled from the zod record schemas, for the bridge's decode path (issue 21).
 *
 * Why: zod's `safeParse` was about 7 % of the bridge's CPU under fleet-shaped load (one record per publish): it
 * allocates a `{ value, issues: [] }` payload per field and runs every check through its generic machinery. The
 * rules here are not written a second time: `compileValidator` walks the zod schema's definition once, at start-up,
 * and writes one plain JavaScript function with the same rules (types, ranges, integer formats, patterns, lengths,
 * enums, strict objects, discriminated unions), which calls the schema's own refinement functions (decimal places,
 * well-formed text, a gap's count). zod stays the source of truth: records.ts is still the only place a rule is
 * written, and validate.test.ts checks that both decide alike on valid, invalid and fuzzed records.
 *
 * Why generated code and not a closure per node (the first version): a tree of closures calls a different function
 * from the same call site for every field, which V8 cannot inline; that version was only 2.5x faster than zod, the
 * generated function is one straight-line body (as ajv and zod's own object fast path do).
 *
 * What it returns is what zod's `safeParse(...).data` is: a copy with the object keys in the schema's order (so the
 * Kafka value, `JSON.stringify` of the record, is byte for byte what it was with zod). It does not explain a
 * refusal: the caller asks zod for that (a rejected payload is rare and goes to the dead-letter topic), so the error
 * messages stay zod's.
 *
 * It reads zod's definition objects (`_zod.def` of schemas and checks): a zod upgrade could change them. Anything
 * this file does not know (a schema type, a check, a string format) makes `compileValidator` throw, and the codec
 * compiles its validators when it is imported, so the bridge refuses to start rather than check less than zod would.
 */
import { z } from "zod";

/** Returned for a value the schema refuses. */
export const INVALID: unique symbol = Symbol("invalid");

/** The parsed value (a copy, like zod's output), or INVALID. */
export type Validator<T> = (value: unknown) => T | typeof INVALID;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- zod's definition objects, read untyped on purpose
type AnyDef = any;

const SUPPORTED_ZOD_MAJOR = 4;

export function compileValidator<T>(schema: z.ZodType<T>): Validator<T> {
  if (z.core.version.major !== SUPPORTED_ZOD_MAJOR) {
    throw new Error(
      `protocol/validate.ts reads zod ${SUPPORTED_ZOD_MAJOR}'s schema definitions; this is zod ${z.core.version.major}`,
    );
  }
  const gen = new Generator();
  const out = gen.node(schema, "input", "(root)");
  const body = `"use strict";\n${gen.code.join("\n")}\nreturn ${out};`;
  // The generated text holds no value from outside: keys and literals are JSON-quoted, everything else (patterns,
  // sets, refinement functions) is passed in through `refs`.
  const fn = new Function("refs", "INVALID", "codePoints", `return function validate(input) {\n${body}\n};`);
  return fn(gen.refs, INVALID, codePoints) as Validator<T>;
}

/**
 * Writes the statements for each schema node; every statement that finds a fault returns INVALID at once. A node's
 * code is pushed while it is generated, so a caller pushes what comes before a child, then generates the child.
 */
class Generator {
  readonly code: string[] = [];
  readonly refs: unknown[] = [];
  private names = 0;

  /** Emits code that checks `x` against `schema` and returns the name of a variable holding the output. */
  node(schema: z.ZodType, x: string, path: string): string {
    const def: AnyDef = (schema as AnyDef)._zod.def;
    const out = this.fresh();
    switch (def.type) {
      case "string":
        this.fail(`typeof ${x} !== "string"`);
        // z.iso.datetime() and friends are string schemas that carry their own format check in the definition.
        if (def.check === "string_format") this.stringFormat(def, x, path);
        this.code.push(`const ${out} = ${x};`);
        break;
      case "number":
        // zod's number refuses NaN and ±Infinity before any check runs.
        this.fail(`typeof ${x} !== "number" || !Number.isFinite(${x})`);
        this.code.push(`const ${out} = ${x};`);
        break;
      case "boolean":
        this.fail(`typeof ${x} !== "boolean"`);
        this.code.push(`const ${out} = ${x};`);
        break;
      case "enum":
        this.oneOf(Object.values(def.entries), x);
        this.code.push(`const ${out} = ${x};`);
        break;
      case "literal":
        this.oneOf(def.values, x);
        this.code.push(`const ${out} = ${x};`);
        break;
      case "nullable":
      case "optional": {
        const empty = def.type === "nullable" ? "null" : "undefined";
        this.code.push(`let ${out};`, `if (${x} === ${empty}) ${out} = ${empty};`, "else {");
        const inner = this.node(def.innerType, x, path);
        this.code.push(`${out} = ${inner};`, "}");
        break;
      }
      case "array":
        this.array(def, x, out, path);
        break;
      case "object":
        this.object(def, x, out, path);
        break;
      case "union":
        this.discriminatedUnion(def, x, out, path);
        break;
      default:
        throw unsupported(path, `schema type ${String(def.type)}`);
    }
    for (const check of def.checks ?? []) this.check(check._zod.def, def.type, out, path);
    return out;
  }

  private array(def: AnyDef, x: string, out: string, path: string): void {
    const i = this.fresh();
    const item = this.fresh();
    this.fail(`!Array.isArray(${x})`);
    this.code.push(`const ${out} = new Array(${x}.length);`);
    this.code.push(`for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {`, `const ${item} = ${x}[${i}];`);
    const element = this.node(def.element, item, `${path}[]`);
    this.code.push(`${out}[${i}] = ${element};`, "}");
  }

  private object(def: AnyDef, x: string, out: string, path: string): void {
    const catchall = def.catchall?._zod.def.type;
    // strict(): unknown keys are refused; plain object(): dropped from the output. Nothing else is supported.
    if (catchall !== undefined && catchall !== "never") throw unsupported(path, `an object catchall of ${catchall}`);
    const keys = Object.keys(def.shape);
    if (Object.getOwnPropertySymbols(def.shape).length > 0 || keys.includes("__proto__")) {
      throw unsupported(path, "symbol or __proto__ keys");
    }
    this.fail(`typeof ${x} !== "object" || ${x} === null || Array.isArray(${x})`);
    this.code.push(`const ${out} = {};`);
    for (const key of keys) {
      const field: AnyDef = def.shape[key];
      const k = JSON.stringify(key);
      const value = this.fresh();
      this.code.push(`const ${value} = ${x}[${k}];`, `if (${value} === undefined) {`);
      // zod keeps a key that is present with the value undefined, and leaves out an absent one.
      if (field._zod.def.type === "optional") this.code.push(`if (${k} in ${x}) ${out}[${k}] = undefined;`);
      else this.code.push("return INVALID;");
      this.code.push("} else {");
      const parsed = this.node(field, value, `${path}.${key}`);
      this.code.push(`${out}[${k}] = ${parsed};`, "}");
    }
    if (catchall === "never") {
      // zod walks the input with for...in too (inherited enumerable keys count as unknown).
      const key = this.fresh();
      const known = keys.map((k) => `case ${JSON.stringify(k)}:`).join(" ");
      this.code.push(`for (const ${key} in ${x}) switch (${key}) { ${known} break; default: return INVALID; }`);
    }
  }

  private discriminatedUnion(def: AnyDef, x: string, out: string, path: string): void {
    const discriminator: unknown = def.discriminator;
    if (typeof discriminator !== "string") throw unsupported(path, "a union without a discriminator");
    if (def.unionFallback) throw unsupported(path, "a discriminated union with unionFallback");
    this.fail(`typeof ${x} !== "object" || ${x} === null || Array.isArray(${x})`);
    this.code.push(`let ${out};`, `switch (${x}[${JSON.stringify(discriminator)}]) {`);
    const seen = new Set<unknown>();
    for (const option of def.options as z.ZodType[]) {
      const optionDef: AnyDef = (option as AnyDef)._zod.def;
      const tag = optionDef.type === "object" ? optionDef.shape[discriminator]?._zod.def : undefined;
      if (tag?.type !== "literal") throw unsupported(path, `a union option whose ${discriminator} is not a literal`);
      for (const value of tag.values) {
        if (typeof value !== "string" || seen.has(value)) {
          throw unsupported(path, `the union's ${discriminator} ${String(value)} (not a string, or not unique)`);
        }
        seen.add(value);
        this.code.push(`case ${JSON.stringify(value)}:`);
      }
      this.code.push("{");
      const parsed = this.node(option, x, `${path}<${String(tag.values[0])}>`);
      this.code.push(`${out} = ${parsed};`, "break;", "}");
    }
    this.code.push("default: return INVALID;", "}");
  }

  /** One zod check on a node's output, with the semantics of zod 4's checks.js. */
  private check(def: AnyDef, type: string, x: string, path: string): void {
    switch (def.check) {
      case "greater_than":
        this.fail(`!(${x} ${def.inclusive ? ">=" : ">"} ${this.number(def.value, path)})`);
        break;
      case "less_than":
        this.fail(`!(${x} ${def.inclusive ? "<=" : "<"} ${this.number(def.value, path)})`);
        break;
      case "number_format":
        if (def.format !== "safeint") throw unsupported(path, `number format ${String(def.format)}`);
        this.fail(`!Number.isSafeInteger(${x})`);
        break;
      case "max_length": {
        const max = this.number(def.maximum, path);
        // zod 4.6 counts a string's code points once its UTF-16 length is over the limit (a pair is one).
        this.fail(type === "string" ? `${x}.length > ${max} && codePoints(${x}) > ${max}` : `${x}.length > ${max}`);
        break;
      }
      case "min_length":
        this.fail(`${x}.length < ${this.number(def.minimum, path)}`);
        break;
      case "string_format":
        this.stringFormat(def, x, path);
        break;
      case "custom":
        // The schema's own refinement (records.ts), called as zod calls it: on the output, truthy passes.
        this.fail(`!${this.ref(def.fn)}(${x})`);
        break;
      default:
        throw unsupported(path, `check ${String(def.check)}`);
    }
  }

  private stringFormat(def: AnyDef, x: string, path: string): void {
    // Only formats that are a pattern and nothing more (zod's url, jwt, ... run their own code).
    if (def.format !== "regex" && def.format !== "datetime") throw unsupported(path, `string format ${def.format}`);
    const pattern = def.pattern as RegExp;
    const ref = this.ref(pattern);
    if (pattern.global || pattern.sticky) this.code.push(`${ref}.lastIndex = 0;`);
    this.fail(`!${ref}.test(${x})`);
  }

  private oneOf(values: unknown[], x: string): void {
    if (values.every((v) => typeof v === "string")) {
      this.fail(values.map((v) => `${x} !== ${JSON.stringify(v)}`).join(" && ") || "true");
    } else {
      this.fail(`!${this.ref(new Set(values))}.has(${x})`);
    }
  }

  private number(value: unknown, path: string): string {
    if (typeof value !== "number" || !Number.isFinite(value)) throw unsupported(path, `a bound of ${String(value)}`);
    return Object.is(value, -0) ? "-0" : String(value);
  }

  private fail(condition: string): void {
    this.code.push(`if (${condition}) return INVALID;`);
  }

  private ref(value: unknown): string {
    this.refs.push(value);
    return `refs[${this.refs.length - 1}]`;
  }

  private fresh(): string {
    this.names += 1;
    return `v${this.names}`;
  }
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
