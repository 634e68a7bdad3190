/** `npm run schema`: writes the published JSON Schemas (protocol/schema.ts) into this folder, Biome-formatted. */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
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
const biome = fileURLToPath(new URL("../../node_modules/.bin/biome", import.meta.url));
execFileSync(biome, ["format", "--write", ...written], { stdio: "ignore" });
