/**
 * `npm run schema`: writes the published JSON Schemas (protocol/schema.ts) into this folder, Biome-formatted, and
 * refreshes the sample messages in docs/kafka-contract.md from the real encoder and mapping.
 */
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { fillSamples } from "../examples/samples.ts";
import { buildJsonSchemas } from "../schema.ts";

const folder = new URL("./", import.meta.url);
const written: string[] = [];
for (const [file, schema] of Object.entries(buildJsonSchemas())) {
  const url = new URL(file, folder);
  await writeFile(url, `${JSON.stringify(schema, null, 2)}\n`);
  written.push(fileURLToPath(url));
  process.stdout.write(`wrote protocol/schema/${file}\n`);
}
// Format as `npm run lint` expects, so regenerating never leaves a lint error behind.
const prettier = fileURLToPath(new URL("../../node_modules/.bin/prettier", import.meta.url));
execFileSync(prettier, ["--write", ...written], { stdio: "ignore" });

const doc = new URL("../../docs/kafka-contract.md", import.meta.url);
await writeFile(doc, fillSamples(await readFile(doc, "utf8")));
process.stdout.write("refreshed the samples in docs/kafka-contract.md\n");
