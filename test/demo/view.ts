/**
 * The demo's live view: one row per truck. In a terminal the screen is redrawn in place about once a second; when
 * stdout is not a terminal (a test, a pipe, CI) each refresh is one JSON line, so a program can read it.
 */

export interface TruckRow {
  truckId: string;
  adapter: string;
  /** The simulated truck's driving phase (from the simulator). */
  phase: string;
  /** From the newest record in Kafka: what a backend sees. */
  lat: number | null;
  lon: number | null;
  speedKmh: number | null;
  engineSpeedRpm: number | null;
  /** Last seq the agent gave a telemetry record (its outbox's next seq - 1); null before the agent answers. */
  lastSeq: number | null;
  /** Records of this agent's stream read from the Kafka topic. */
  inKafka: number;
  /** Last seq seen in Kafka. */
  kafkaSeq: number;
  /** lastSeq - kafkaSeq: records made but not yet in Kafka. */
  lag: number | null;
  /** Telemetry rows of this truck in the history database (PostgreSQL); null when the view cannot tell. */
  inDatabase: number | null;
  /** The agent's MQTT connection is up. */
  online: boolean;
}

export interface ViewHeader {
  uptimeS: number;
  bridgeUrl: string;
  brokers: string[];
  topic: string;
  /** The live map's page, shown first so it is easy to find. */
  mapUrl?: string;
  /** The history database the demo fills. */
  databaseUrl?: string;
}

const COLUMNS = [
  ["truck", 9],
  ["adapter", 8],
  ["phase", 12],
  ["position", 22],
  ["speed", 11],
  ["engine", 10],
  ["last seq", 9],
  ["in Kafka", 9],
  ["lag", 5],
  ["in DB", 7],
  ["link", 7],
] as const;

function cell(text: string, width: number, right = false): string {
  const t = text.length > width ? text.slice(0, width) : text;
  return right ? t.padStart(width) : t.padEnd(width);
}

function position(lat: number | null, lon: number | null): string {
  if (lat === null || lon === null) return "no fix yet";
  const ns = lat >= 0 ? "N" : "S";
  const ew = lon >= 0 ? "E" : "W";
  return `${Math.abs(lat).toFixed(5)}${ns} ${Math.abs(lon).toFixed(5)}${ew}`;
}

const num = (v: number | null, unit: string, digits = 0) => (v === null ? "-" : `${v.toFixed(digits)} ${unit}`);

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** The terminal frame: header, one row per truck, footer. */
export function renderTable(header: ViewHeader, rows: TruckRow[]): string {
  const head = COLUMNS.map(([name, w], i) => cell(name, w, i >= 4 && i <= 9)).join(" ");
  const lines = rows.map((r) =>
    [
      cell(r.truckId, 9),
      cell(r.adapter, 8),
      cell(r.phase, 12),
      cell(position(r.lat, r.lon), 22),
      cell(num(r.speedKmh, "km/h", 1), 11, true),
      cell(num(r.engineSpeedRpm, "rpm"), 10, true),
      cell(r.lastSeq === null ? "-" : String(r.lastSeq), 9, true),
      cell(String(r.inKafka), 9, true),
      cell(r.lag === null ? "-" : String(r.lag), 5, true),
      cell(r.inDatabase === null ? "-" : String(r.inDatabase), 7, true),
      cell(r.online ? "online" : "offline", 7),
    ].join(" "),
  );
  return [
    `FleetSync demo   up ${clock(header.uptimeS)}${header.mapUrl ? `   live map: ${header.mapUrl}` : ""}`,
    `trucks (sim, ptys) -> agents -> bridge ${header.bridgeUrl} -> Kafka ${header.brokers.join(",")} topic ${header.topic}`,
    ...(header.databaseUrl ? [`history (fleetsync history) -> PostgreSQL ${header.databaseUrl}`] : []),
    "",
    head,
    "-".repeat(head.length),
    ...lines,
    "",
    "speed, engine and position: the newest record in Kafka; last seq: the agent's; lag = last seq - last seq in Kafka;",
    "in DB: the truck's rows in the history table telemetry (psql: SELECT * FROM truck_daily_summary)",
    "Ctrl-C stops everything (agents, map, history, bridge, simulated devices, PostgreSQL, Kafka).",
  ].join("\n");
}

export interface View {
  update(header: ViewHeader, rows: TruckRow[]): void;
  /** Leaves the terminal as it was (cursor shown). */
  close(): void;
  message(text: string): void;
}

export function createView(options: { tty: boolean; out?: NodeJS.WriteStream }): View {
  const out = options.out ?? process.stdout;
  let drawn = false;
  return {
    update(header, rows) {
      if (!options.tty) {
        out.write(`${JSON.stringify({ t: Math.round(header.uptimeS * 10) / 10, trucks: rows })}\n`);
        return;
      }
      // Home, clear to the end of the screen, draw; the cursor hides while the view runs.
      out.write(`${drawn ? "" : "\x1b[?25l"}\x1b[H\x1b[J${renderTable(header, rows)}\n`);
      drawn = true;
    },
    close() {
      if (options.tty && drawn) out.write("\x1b[?25h");
      drawn = false;
    },
    message(text) {
      if (options.tty) out.write(`${text}\n`);
      else out.write(`${JSON.stringify({ message: text })}\n`);
    },
  };
}
