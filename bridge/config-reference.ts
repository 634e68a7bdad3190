/**
 * Renders docs/bridge-config.md from the bridge's configuration schema (bridge/config.ts and each component's
 * config.ts), so the reference is the schema's own field docs and defaults and cannot drift
 * (config-reference.test.ts fails when the file is stale).
 * Regenerate: npx tsx bridge/config-reference.ts > docs/bridge-config.md
 */
import { pathToFileURL } from "node:url";
import { renderFieldTable } from "../common/config-reference.ts";
import { BridgeConfigSchema, parseBridgeConfig } from "./config.ts";

export function renderBridgeConfigReference(): string {
  const table = renderFieldTable(BridgeConfigSchema);
  // The example is the schema's defaults, filled in from the least a file must say.
  const example = parseBridgeConfig({
    id: "bridge-a",
    listener: {
      tcp: {},
      tls: { certFile: "server.pem", keyFile: "server.key", caFile: "fleet-ca.pem" },
    },
    auth: { credentialsFile: "credentials.json" },
    kafka: { brokers: ["kafka-1:9092"] },
    http: {},
  });
  return `# Bridge configuration reference

<!-- Generated from bridge/config.ts by bridge/config-reference.ts; edit the schema, then regenerate:
     npx tsx bridge/config-reference.ts > docs/bridge-config.md -->

The bridge (\`fleetsync bridge --config FILE\`) reads one JSON file. It is validated at start; an error names the file
and the field, and the bridge does not start. Unknown fields are refused. Relative paths are relative to the file.
Only \`listener\` (at least one of \`tcp\`, \`tls\`) and \`kafka.brokers\` must be given; this is a file with every
other value at its default (and a TLS listener, a credentials file and the metrics endpoint turned on):

\`\`\`json
${JSON.stringify(example, null, 2)}
\`\`\`

## Fields

${table.join("\n")}
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.stdout.write(renderBridgeConfigReference());
