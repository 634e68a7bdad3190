/**
 * The field table of a configuration reference, rendered from a zod schema's own field docs (conventions, 5: the
 * schema's field docs are the configuration reference). Used by agent/config-reference.ts and
 * bridge/config-reference.ts; each has a test that its docs file is current.
 */
import { z } from "zod";

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (s.anyOf) return s.anyOf.map((a) => (a.const !== undefined ? JSON.stringify(a.const) : typeOf(a))).join(" \\| ");
  const range: string[] = [];
  if (s.minimum !== undefined) range.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER) range.push(`≤ ${s.maximum}`);
  return `${s.type ?? "any"}${range.length ? ` (${range.join(", ")})` : ""}`;
}

function rows(prefix: string, schema: JsonSchema, out: string[]): void {
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (field.type === "object" && field.properties) {
      out.push(
        `| **\`${path}\`** | object | ${schema.required?.includes(name) ? "required" : "optional"} | ${field.description ?? ""} |`,
      );
      rows(path, field, out);
      continue;
    }
    const required = schema.required?.includes(name) && field.default === undefined;
    const dflt = field.default !== undefined ? `\`${JSON.stringify(field.default)}\`` : required ? "required" : "—";
    const doc = (field.description ?? "").replaceAll("|", "\\|");
    out.push(
      `| \`${path}\` | ${typeOf(field)} | ${dflt} | ${doc}${field.pattern ? ` Pattern \`${field.pattern}\`.` : ""} |`,
    );
  }
}

/** `| field | type | default | meaning |` rows for every field, nested objects as dotted paths. */
export function renderFieldTable(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const table: string[] = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"];
  rows("", json, table);
  return table;
}
