/** `npm run schema`: writes the published JSON Schemas (protocol/schema.ts) into this folder. */
import { writeFile } from "node:fs/promises";
import { buildJsonSchemas } from "../schema.ts";

const folder = new URL("./", import.meta.url);
for (const [file, schema] of Object.entries(buildJsonSchemas())) {
  await writeFile(new URL(file, folder), `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote protocol/schema/${file}\n`);
}
