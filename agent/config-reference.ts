/**
 * Renders docs/agent-config.md from the agent's configuration schema, so the reference is the schema's own field
 * docs and cannot drift (config-reference.test.ts fails when the file is stale).
 * Regenerate: npx tsx agent/config-reference.ts > docs/agent-config.md
 */
import { pathToFileURL } from "node:url";
import { renderFieldTable } from "../common/config-reference.ts";
import { AgentConfigSchema } from "./config.ts";

export function renderAgentConfigReference(): string {
  const table = renderFieldTable(AgentConfigSchema);
  const example = {
    truckId: "TRK-0042",
    gps: { path: "/dev/serial/by-id/usb-u-blox_AG_-_www.u-blox.com_u-blox_7_-_GPS_GNSS_Receiver-if00", baudRate: 9600 },
    can: { path: "/dev/serial/by-id/usb-CANtact_CANtact_dev_00000000-if00", format: "slcan", bitrate: 250000 },
    broker: { url: "mqtts://fleet.example.com:8883", password: "…", caFile: "/etc/fleetsync/fleet-ca.pem" },
    outbox: { dir: "/var/lib/fleetsync/outbox" },
  };
  return `# Agent configuration reference

<!-- Generated from agent/config.ts by agent/config-reference.ts; edit the schema, then regenerate:
     npx tsx agent/config-reference.ts > docs/agent-config.md -->

The agent (\`fleetsync agent --config FILE\`, default \`/etc/fleetsync/agent.json\`) reads one JSON file, written by
\`fleetsync provision\`. It is validated at start; an error names the field and the file, and the agent does not
start. Unknown fields are refused (a typo must not silently fall back to a default).

A minimal file (everything else has a default fit for a truck):

\`\`\`json
${JSON.stringify(example, null, 2)}
\`\`\`

## What is bounded, and what happens when full

- **Outbox disk budget** (\`outbox.maxBytes\`), policy \`outbox.whenFull\`:
  - \`drop-oldest\` (the default): the oldest telemetry records are dropped first, then the oldest events; a \`gap\`
    event on the events channel names the lost \`seq\` range (\`fromSeq\`..\`toSeq\`, \`count\`), the agent logs it and
    counts it (\`fleetsync_agent_outbox_dropped_total\`).
  - \`thin-then-drop\`: first the oldest telemetry is thinned, one \`outbox.thinWindowS\` window (an hour) at a time,
    keeping one record per \`outbox.thinKeepEveryS\` (30 s) and both sides of every state change (engine off/on/running,
    trouble codes, moving/stopped, parking brake); each window is announced by a \`thinned\` event (range, count
    removed, interval kept) and counted (\`fleetsync_agent_outbox_thinned_total\`). Events are never thinned, and
    nothing is dropped while telemetry can still be thinned; once only the newest (still open) window is left, the
    oldest records are dropped as with \`drop-oldest\`. For a day of driving at 1 Hz (483 B per full J1939 record
    stored) 64 MB keeps 3.9 days with \`drop-oldest\` and 88 days thinned (\`npm run bench:thinning\`). It stays off
    by default because the \`thinned\` event needs bridges of v1.2 or later: update the bridges first.
- **Outbox write buffer** (\`outbox.maxPendingRecords\`): records not yet committed to disk; when full, new records
  are refused, logged and counted (\`fleetsync_agent_records_refused_total{reason="busy"}\`).
- **In-flight window** (\`broker.inflightBatches\` × \`broker.maxBatchRecords\`): the rest of a backlog waits on disk.
- Serial lines longer than the source's \`maxLineBytes\` are cut and counted (agent/sources).

## Delivery

Records leave the outbox only after the broker's PUBACK (QoS 1). A record counts as written once its group commit
is on disk (\`outbox.commitIntervalMs\`, \`outbox.sync\`). Each channel (telemetry, events) has its own \`seq\` within
the store's \`stream\`; a store created afresh starts a new random \`stream\`. Reconnects wait
\`broker.reconnectMinMs\` doubling up to \`broker.reconnectMaxMs\`, each with 0.5×–1.5× jitter. On connect the agent
publishes its retained \`status\` (online, version, boot id, outbox depth); the will says offline.

## Fields

${table.join("\n")}

## Metrics

Prometheus text at \`http://127.0.0.1:9108/metrics\` (\`metrics.*\`): outbox records, bytes, appended, acknowledged,
dropped, thinned and next seq per channel, the when-full policy; MQTT connected, connects, disconnects, published
records and bytes, publish errors; records refused; and the process metrics (RSS, heap, event-loop lag) under \`fleetsync_agent_\`.

## Memory

V8's defaults are sized for servers. The systemd unit (\`deploy/pi/fleetsync-agent.service\`) runs the agent as
\`node --no-opt --no-maglev --optimize-for-size\` (no optimising compiler: the agent's load is small) with
\`NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size=64"\` and \`MALLOC_ARENA_MAX=2\`; run it the same way on
any small device. Measured by \`npm run bench:agent\` while draining a backlog and recording, the agent then peaks at
about 71-73 MB RSS, against 81-86 MB without the node flags and about 120 MB with none of these settings.
`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) process.stdout.write(renderAgentConfigReference());
