/**
 * `fleetsync decode records [--can FILE] [--gps FILE] [--format F] [--config FILE]`: what a truck would send. The
 * captures run through the agent's own vehicle state and sampler, driven by the captures' timestamps instead of the
 * clock, and every record and event comes out as one JSON line in the Kafka value shape (plus `kind`), as the agent
 * would store it; a summary on stderr. Installers and backend teams use it to preview a truck before it drives.
 *
 * Time: candump carries absolute timestamps, which drive the monotonic clock and stand in for the gateway's system
 * clock. NMEA carries only GNSS time, which may be garbage on epochs without a fix: epochs are spaced by their time
 * of day when it advances plausibly (0-10 s), else by one second. When both are given they start together: two
 * captures are rarely from the same drive, so no finer alignment is attempted.
 */
import { readFile } from "node:fs/promises";
import { type CanFormat, type CanMessage, createNmeaAssembler, type GpsFix } from "../agent/decoders/index.ts";
import { createSampler, SamplerConfigSchema } from "../agent/sampler/index.ts";
import { createVehicleState, StateConfigSchema } from "../agent/state/index.ts";
import { FleetError } from "../common/errors.ts";
import { type EventBody, EventRecordSchema, type TelemetryBody, TelemetryRecordSchema } from "../protocol/index.ts";
import { parseCommandArgs } from "./commands.ts";
import { createCanLineFeed, createWriter, eachLine, openInput } from "./decode-io.ts";

export const RECORDS_USAGE = `Usage:
  fleetsync decode records [--can FILE] [--gps FILE] [--format slcan|elm327|candump] [--config FILE] [--truck-id ID]

Runs a CAN and/or NMEA capture through the agent's vehicle state and sampler, driven by the captures' own
timestamps, and prints one JSON line per telemetry record and event as the agent would store them (the Kafka value
shape plus "kind": "telemetry" | "event"); a summary on stderr. --config takes the sampler and state settings of an
agent configuration file (e.g. state.sources).
`;

type Item = { monoMs: number; wallMs: number | null; apply(): void; fix: boolean };

const PLAUSIBLE_EPOCH_GAP_MS = 10_000;
const DAY_MS = 86_400_000;

async function canItems(file: string, format: CanFormat | undefined, onItem: (m: CanMessage) => void) {
  const feed = createCanLineFeed(format, onItem);
  await eachLine(openInput(file), (line) => feed.line(line));
  return feed.end();
}

export async function runRecords(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: {
      can: { type: "string" },
      gps: { type: "string" },
      format: { type: "string" },
      config: { type: "string" },
      "truck-id": { type: "string" },
    },
  });
  if (!values.can && !values.gps)
    throw new FleetError("FLEET_USAGE", `give --can FILE, --gps FILE or both\n${RECORDS_USAGE}`);
  const format = values.format;
  if (format !== undefined && !["slcan", "elm327", "candump"].includes(format)) {
    throw new FleetError("FLEET_USAGE", `--format must be slcan, elm327 or candump\n${RECORDS_USAGE}`);
  }
  const agentConfig = values.config
    ? (JSON.parse(await readFile(values.config, "utf8")) as { sampler?: unknown; state?: unknown })
    : {};
  const samplerConfig = SamplerConfigSchema.parse(agentConfig.sampler ?? {});
  const stateConfig = StateConfigSchema.parse(agentConfig.state ?? {});

  // 1. Both captures into items on one monotonic timeline.
  const items: Item[] = [];
  let canFirstS: number | undefined;
  let canLastS = 0;
  let untimed = 0;
  const can = values.can
    ? await canItems(values.can, format as CanFormat | undefined, (m) => {
        if (m.ts === null) untimed++;
        const ts = m.ts ?? canLastS;
        canFirstS ??= ts;
        canLastS = ts;
        items.push({
          monoMs: (ts - canFirstS) * 1000,
          wallMs: ts * 1000,
          fix: false,
          apply: () => state.applyMessage(m),
        });
      })
    : undefined;
  let fixes = 0;
  if (values.gps) {
    const nmea = createNmeaAssembler();
    let mono = 0;
    let lastDayMs: number | null = null;
    const onFix = (f: GpsFix) => {
      const dayMs = f.time === null ? null : Date.parse(f.time) % DAY_MS;
      const gap = dayMs !== null && lastDayMs !== null ? (dayMs - lastDayMs + DAY_MS) % DAY_MS : null;
      if (fixes > 0) mono += gap !== null && gap > 0 && gap <= PLAUSIBLE_EPOCH_GAP_MS ? gap : 1000;
      if (dayMs !== null) lastDayMs = dayMs;
      fixes++;
      items.push({ monoMs: mono, wallMs: null, fix: true, apply: () => state.applyFix(f) });
    };
    await eachLine(openInput(values.gps), (line) => {
      for (const f of nmea.feed(line)) onFix(f);
    });
    for (const f of nmea.flush()) onFix(f);
  }
  items.sort((a, b) => a.monoMs - b.monoMs); // stable: each capture keeps its own order

  // 2. The agent's state and sampler on a clock the items move.
  let mono = 0;
  const wallBase = canFirstS !== undefined ? canFirstS * 1000 : 0;
  const clock = { monoMs: () => mono, wallMs: () => wallBase + mono };
  const out = createWriter();
  const truckId = values["truck-id"] ?? "PREVIEW";
  const stream = "0000000000000000";
  const seq = { telemetry: 0, events: 0 };
  const counts = { telemetry: 0, events: 0, refused: 0, eventsByType: {} as Record<string, number> };
  const odometer = { first: null as number | null, last: null as number | null, backwards: 0 };
  const emit = (kind: "telemetry" | "event", body: TelemetryBody | EventBody) => {
    const channel = kind === "telemetry" ? "telemetry" : "events";
    const record = { truckId, stream, seq: seq[channel], ...body };
    const schema = kind === "telemetry" ? TelemetryRecordSchema : EventRecordSchema;
    if (!schema.safeParse(record).success) {
      counts.refused++; // the agent refuses these too (agent.ts), so they would never be sent
      return;
    }
    seq[channel]++;
    if (kind === "telemetry") {
      counts.telemetry++;
      const km = (body as TelemetryBody).engine?.totalDistanceKm;
      if (typeof km === "number") {
        if (odometer.last !== null && km < odometer.last) odometer.backwards++;
        odometer.first ??= km;
        odometer.last = km;
      }
    } else {
      counts.events++;
      const type = (body as EventBody).type;
      counts.eventsByType[type] = (counts.eventsByType[type] ?? 0) + 1;
    }
    out.line(JSON.stringify({ kind, ...record }));
  };
  const state = createVehicleState(stateConfig, { clock, onEvent: (e) => emit("event", e) });
  const sampler = createSampler(samplerConfig, { state, clock, onRecord: (r) => emit("telemetry", r) });
  let nextTick = samplerConfig.tickMs;
  for (const item of items) {
    // The agent's sampler also runs on a timer: the ticks that fell between two items.
    while (nextTick <= item.monoMs) {
      mono = nextTick;
      sampler.evaluate();
      nextTick += samplerConfig.tickMs;
    }
    mono = item.monoMs;
    item.apply();
    if (item.fix) sampler.evaluate();
  }
  await out.end();
  process.stderr.write(
    `${JSON.stringify({
      summary: "records",
      ...(can ? { canFormat: can.decoder?.format ?? null, canFormatWhy: can.why, untimedCanMessages: untimed } : {}),
      ...(values.gps ? { fixes } : {}),
      telemetry: counts.telemetry,
      events: counts.events,
      eventsByType: counts.eventsByType,
      refused: counts.refused,
      sources: state.sources(),
      odometerKm: odometer,
      gnssTime: state.gnssTime(),
      spanS: Math.round(mono / 1000),
    })}\n`,
  );
  const nothing = counts.telemetry + counts.events === 0;
  if (nothing) process.stderr.write("fleetsync decode records: these captures give no record at all\n");
  return nothing ? 1 : 0;
}
