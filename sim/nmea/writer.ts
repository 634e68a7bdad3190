/**
 * NMEA 0183 sentences from a truck state, the way a GNSS receiver writes them: GGA, RMC, GSA and VTG each epoch,
 * with the checksum of NMEA 0183 §5.2.1 (XOR of every character between `$` and `*`, two upper-case hex digits).
 * Lines are returned without the trailing CR LF; the device writer adds it.
 */
import type { TruckState } from "../model/state.ts";

export type Talker = "GP" | "GN" | "GL" | "GA" | "BD";

export interface NmeaOptions {
  /** Talker id: GP (GPS only) by default; GN for a multi-constellation receiver. */
  talker?: Talker;
}

const KNOTS_PER_KMH = 1 / 1.852;
/** Geoid separation near the North Sea, metres (GGA field 11). */
const GEOID_SEPARATION_M = 46.9;

export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum.toString(16).toUpperCase().padStart(2, "0");
}

/** Wraps a sentence body (without `$` and `*hh`) into a full sentence. */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

/** ddmm.mmmmm / dddmm.mmmmm with the hemisphere letter; rounding happens on the minutes so 59.999995 carries. */
function coordinate(value: number, degreeDigits: 2 | 3, positive: string, negative: string): [string, string] {
  const totalMinutes = Math.round(Math.abs(value) * 60 * 100_000) / 100_000;
  const degrees = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes - degrees * 60;
  const text = `${String(degrees).padStart(degreeDigits, "0")}${minutes.toFixed(5).padStart(8, "0")}`;
  return [text, value < 0 ? negative : positive];
}

function utcParts(timeMs: number): { time: string; date: string } {
  const d = new Date(timeMs);
  const two = (n: number) => String(n).padStart(2, "0");
  const centis = two(Math.floor(d.getUTCMilliseconds() / 10));
  return {
    time: `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}.${centis}`,
    date: `${two(d.getUTCDate())}${two(d.getUTCMonth() + 1)}${two(d.getUTCFullYear() % 100)}`,
  };
}

/** One epoch's sentences, in the order receivers usually send them. */
export function nmeaSentences(state: TruckState, options: NmeaOptions = {}): string[] {
  const talker = options.talker ?? "GP";
  const { time, date } = utcParts(state.timeMs);
  const [lat, ns] = coordinate(state.lat, 2, "N", "S");
  const [lon, ew] = coordinate(state.lon, 3, "E", "W");
  const g = state.gnss;
  const fixed = g.fix !== "none";
  const knots = (state.speedKmh * KNOTS_PER_KMH).toFixed(2);
  const course = state.courseDeg.toFixed(1);
  const prns = Array.from({ length: 12 }, (_, i) =>
    g.prns[i] === undefined ? "" : String(g.prns[i]).padStart(2, "0"),
  );
  const quality = fixed ? "1" : "0";
  const mode = fixed ? "A" : "N";
  return [
    nmeaSentence(
      [
        `${talker}GGA`,
        time,
        fixed ? lat : "",
        fixed ? ns : "",
        fixed ? lon : "",
        fixed ? ew : "",
        quality,
        String(g.sats).padStart(2, "0"),
        g.hdop.toFixed(1),
        fixed ? state.altM.toFixed(1) : "",
        "M",
        GEOID_SEPARATION_M.toFixed(1),
        "M",
        "",
        "",
      ].join(","),
    ),
    nmeaSentence(
      [
        `${talker}RMC`,
        time,
        fixed ? "A" : "V",
        fixed ? lat : "",
        fixed ? ns : "",
        fixed ? lon : "",
        fixed ? ew : "",
        knots,
        course,
        date,
        "",
        "",
        mode,
      ].join(","),
    ),
    nmeaSentence(
      [
        `${talker}GSA`,
        "A",
        g.fix === "3d" ? "3" : g.fix === "2d" ? "2" : "1",
        ...prns,
        g.pdop.toFixed(1),
        g.hdop.toFixed(1),
        g.vdop.toFixed(1),
      ].join(","),
    ),
    nmeaSentence([`${talker}VTG`, course, "T", "", "M", knots, "N", state.speedKmh.toFixed(2), "K", mode].join(",")),
  ];
}
