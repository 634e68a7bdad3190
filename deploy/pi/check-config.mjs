#!/usr/bin/env node
// Validates an agent configuration file with the agent's own schema (agent/config.ts, compiled into dist/),
// exactly as `fleetsync agent` will load it. The first-boot provisioning runs it before installing a file from
// the boot partition. Installed as /usr/lib/fleetsync/check-config.mjs, beside dist/.
//   node check-config.mjs FILE
// Valid: exit 0, stdout line 1 the truck id, line 2 broker.caFile (empty when the system CAs are used).
// Invalid: exit 1, stderr names the field (FLEET_CONFIG_INVALID message).
import { loadAgentConfig } from "./dist/agent/config.js";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: check-config.mjs FILE\n");
  process.exit(2);
}
try {
  const config = await loadAgentConfig(file);
  process.stdout.write(`${config.truckId}\n${config.broker.caFile ?? ""}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
