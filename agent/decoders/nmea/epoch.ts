/**
 * The NMEA epoch assembler: sentences in, one GpsFix per receiver epoch out. Pure (no I/O, no clock), so the serial
 * source, `fleetsync decode nmea`, the benchmark and `doctor` share it.
 *
 * Where an epoch ends: a receiver sends a burst of sentences per fix (RMC, GGA, GSA, GSV..., in an order of its
 * own), all carrying the same UTC time where they carry one. A new epoch starts when a timed sentence brings a
 * different time, or, while the receiver has no time yet, when a sentence repeats. That boundary is only seen when
 * the next burst starts, so the assembler also learns the receiver's last sentence of a burst (the "cycle ender",
 * as gpsd calls it): once two epochs in a row ended on the same sentence, that sentence closes the epoch at once.
 */
import { DefaultPacketFactory, type Packet } from "nmea-simple";
import type { GpsFix } from "../types.ts";
import { parseSentence } from "./sentence.ts";

export interface NmeaCounters {
  /** Sentences with a good checksum that fed a fix (GGA, RMC, GSA, VTG, GSV, GLL, ZDA, GNS). */
  sentences: number;
  badChecksum: number;
  /** Manufacturer sentences ($P...), skipped. */
  proprietary: number;
  /** Standard sentences this decoder does not use (TXT, RMB, BOD, GST...), skipped. */
  unknown: number;
  /** Good checksum, but a field could not be parsed. */
  invalid: number;
  /** Lines that are not NMEA sentences at all. */
  notNmea: number;
  fixes: number;
  /** Sentences in the epoch still open (0 once flushed). */
  pending: number;
}

export interface NmeaAssembler {
  /** Feeds one line; returns the fixes it completed (usually none, sometimes one, rarely two). */
  feed(line: string): readonly GpsFix[];
  /** Ends the current epoch (end of file, or the receiver went quiet): returns its fix if it had any sentence. */
  flush(): readonly GpsFix[];
  counters(): NmeaCounters;
}

const NONE: readonly GpsFix[] = Object.freeze([]);
const KNOTS_TO_KMH = 1.852;
const DAY_MS = 86_400_000;
const USED = new Set(["GGA", "RMC", "GSA", "VTG", "GSV", "GLL", "ZDA", "GNS"]);
const TIMED = new Set(["GGA", "RMC", "GLL", "ZDA", "GNS"]);

interface Epoch {
  /** Milliseconds since UTC midnight; null while no sentence of the epoch carried a time. */
  dayMs: number | null;
  /** Days since the Unix epoch, from RMC or ZDA in this epoch. */
  day: number | null;
  /** talker+type of each sentence seen, with how often (a repeat means a new epoch when time is unknown). */
  seen: Map<string, number>;
  lastKey: string;
  count: number;
  gsaMode: number | null;
  ggaQuality: number | null;
  ggaHasAlt: boolean;
  /** RMC/GLL status: true = valid (A), false = void (V), null = not sent. */
  statusValid: boolean | null;
  lat: number | null;
  lon: number | null;
  altM: number | null;
  speedKmh: number | null;
  courseDeg: number | null;
  sats: number | null;
  gsaSats: number;
  hdop: number | null;
  pdop: number | null;
}

function newEpoch(): Epoch {
  return {
    dayMs: null,
    day: null,
    seen: new Map(),
    lastKey: "",
    count: 0,
    gsaMode: null,
    ggaQuality: null,
    ggaHasAlt: false,
    statusValid: null,
    lat: null,
    lon: null,
    altM: null,
    speedKmh: null,
    courseDeg: null,
    sats: null,
    gsaSats: 0,
    hdop: null,
    pdop: null,
  };
}

/** Epoch `late` merged over `base`: fields `late` knows win, counts add up. */
function combine(base: Epoch, late: Epoch): Epoch {
  const seen = new Map(base.seen);
  for (const [k, n] of late.seen) seen.set(k, (seen.get(k) ?? 0) + n);
  const merged: Epoch = { ...base, seen };
  for (const k of Object.keys(late) as (keyof Epoch)[]) {
    const v = late[k];
    if (k === "seen" || k === "lastKey" || k === "count" || k === "gsaSats" || k === "ggaHasAlt") continue;
    if (v !== null) (merged as unknown as Record<string, unknown>)[k] = v;
  }
  merged.count = base.count + late.count;
  merged.gsaSats = base.gsaSats + late.gsaSats;
  merged.ggaHasAlt = base.ggaHasAlt || late.ggaHasAlt;
  merged.lastKey = late.lastKey;
  return merged;
}

/** "hhmmss[.sss]" → ms since midnight, or null when empty or malformed. */
export function parseTimeOfDay(text: string | undefined): number | null {
  if (!text || text.length < 6) return null;
  const h = Number(text.slice(0, 2));
  const m = Number(text.slice(2, 4));
  const s = Number(text.slice(4));
  if (!Number.isFinite(h) || !Number.isFinite(m) || !Number.isFinite(s) || h > 23 || m > 59 || s >= 61) return null;
  return Math.round(((h * 60 + m) * 60 + s) * 1000);
}

function daysFromCivil(year: number, month: number, day: number): number | null {
  if (!(year >= 1980 && month >= 1 && month <= 12 && day >= 1 && day <= 31)) return null;
  return Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
}

function num(text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

export function createNmeaAssembler(): NmeaAssembler {
  const counts: NmeaCounters = {
    sentences: 0,
    badChecksum: 0,
    proprietary: 0,
    unknown: 0,
    invalid: 0,
    notNmea: 0,
    fixes: 0,
    pending: 0,
  };
  let epoch = newEpoch();
  let lastDay: number | null = null;
  let lastDayMs: number | null = null;
  let previousEnder: string | null = null;
  let ender: string | null = null;
  /** The epoch last closed by the learned ender, kept so a straggler of the same time can reopen it. */
  let lastClosed: Epoch | null = null;

  function finish(out: GpsFix[]): void {
    if (epoch.count === 0) return;
    out.push(toFix(epoch));
    counts.fixes++;
    epoch = newEpoch();
  }

  function toFix(e: Epoch): GpsFix {
    // Fix type as gpsd reports it, so our fixes agree with gpsd's on the same input: GGA decides when present
    // (quality 0 = no fix; an altitude means 3D, which is what "3D" buys the record), else GSA's mode, else the
    // RMC/GLL status. GGA quality 7 (manual input) and 8 (simulator) are not positions (NMEA 0183 v4.10 GGA field 6).
    let fix: GpsFix["fix"] = "none";
    if (e.ggaQuality !== null) {
      const fixed = e.ggaQuality >= 1 && e.ggaQuality <= 6;
      fix = !fixed ? "none" : e.ggaHasAlt ? "3d" : "2d";
    } else if (e.gsaMode !== null) fix = e.gsaMode >= 3 ? "3d" : e.gsaMode === 2 ? "2d" : "none";
    else if (e.statusValid === true) fix = "2d";
    const hasPosition = fix !== "none" && e.lat !== null && e.lon !== null;
    let time: string | null = null;
    if (e.dayMs !== null) {
      let day = e.day ?? lastDay;
      // Carried date across UTC midnight: a time of day far below the last one means the next day.
      if (e.day === null && day !== null && lastDayMs !== null && e.dayMs < lastDayMs - DAY_MS / 2) day += 1;
      if (day !== null) {
        time = new Date(day * DAY_MS + e.dayMs).toISOString();
        lastDay = day;
      }
      lastDayMs = e.dayMs;
    }
    const sats = e.sats ?? (e.gsaSats > 0 ? e.gsaSats : null);
    return {
      time,
      fix,
      lat: hasPosition ? e.lat : null,
      lon: hasPosition ? e.lon : null,
      altM: fix === "3d" ? e.altM : null,
      speedKmh: fix === "none" ? null : e.speedKmh,
      courseDeg: fix === "none" ? null : e.courseDeg,
      sats,
      hdop: e.hdop,
      pdop: e.pdop,
    };
  }

  /** Merges one parsed sentence into the epoch. Values from nmea-simple are used only where the field is not empty. */
  function merge(type: string, f: string[], packet: Packet): void {
    const e = epoch;
    switch (packet.sentenceId) {
      case "GGA":
      case "GNS": {
        const latRaw = f[2];
        if (latRaw && f[4]) {
          e.lat = packet.latitude;
          e.lon = packet.longitude;
        }
        if (packet.sentenceId === "GGA") {
          const q = num(f[6]);
          if (q !== null) e.ggaQuality = e.ggaQuality === null ? q : Math.max(e.ggaQuality, q);
        } else {
          // GNS mode indicator: one letter per constellation, N = no fix (NMEA 0183 v4.10 GNS field 6).
          const modes = f[6] ?? "";
          const fixed = /[ADPRFEMS]/.test(modes) ? 1 : modes === "" ? null : 0;
          if (fixed !== null) e.ggaQuality = Math.max(e.ggaQuality ?? 0, fixed);
        }
        const alt = num(f[9]);
        if (alt !== null) {
          e.altM = alt;
          e.ggaHasAlt = true;
        }
        const sats = num(f[7]);
        if (sats !== null) e.sats = sats;
        const hdop = num(f[8]);
        if (hdop !== null && e.hdop === null) e.hdop = hdop;
        return;
      }
      case "RMC": {
        if (f[2] === "A" || f[2] === "V") e.statusValid = (e.statusValid ?? false) || f[2] === "A";
        if (f[3] && f[5] && e.lat === null) {
          e.lat = packet.latitude;
          e.lon = packet.longitude;
        }
        const knots = num(f[7]);
        if (knots !== null && e.speedKmh === null) e.speedKmh = knots * KNOTS_TO_KMH;
        const course = num(f[8]);
        if (course !== null && e.courseDeg === null) e.courseDeg = course;
        const date = f[9];
        if (date && date.length === 6) {
          const yy = Number(date.slice(4, 6));
          e.day = daysFromCivil(yy < 80 ? 2000 + yy : 1900 + yy, Number(date.slice(2, 4)), Number(date.slice(0, 2)));
        }
        return;
      }
      case "GLL": {
        if (f[6] === "A" || f[6] === "V") e.statusValid = (e.statusValid ?? false) || f[6] === "A";
        if (f[1] && f[3] && e.lat === null) {
          e.lat = packet.latitude;
          e.lon = packet.longitude;
        }
        return;
      }
      case "VTG": {
        // VTG: course true in field 1; speed in km/h in field 7, in knots in field 5 (NMEA 0183 v2.3+ layout).
        const kmh = num(f[7]);
        const knots = num(f[5]);
        if (kmh !== null) e.speedKmh = kmh;
        else if (knots !== null && e.speedKmh === null) e.speedKmh = knots * KNOTS_TO_KMH;
        const course = num(f[1]);
        if (course !== null && e.courseDeg === null) e.courseDeg = course;
        return;
      }
      case "GSA": {
        const mode = num(f[2]);
        if (mode !== null) e.gsaMode = Math.max(e.gsaMode ?? 0, mode);
        e.gsaSats += packet.satellites.length;
        const pdop = num(f[15]);
        const hdop = num(f[16]);
        if (pdop !== null) e.pdop = pdop;
        if (hdop !== null) e.hdop = hdop;
        return;
      }
      case "ZDA": {
        const day = daysFromCivil(Number(f[4]), Number(f[3]), Number(f[2]));
        if (day !== null) e.day = day;
        return;
      }
      default:
        void type;
    }
  }

  function feed(line: string): readonly GpsFix[] {
    if (line.length === 0 || line === "\r") return NONE;
    // A sentence cut short by the next one ("$GPGGA,0301$GPGLL,...*41"): the cut one has no checksum, so it counts
    // as bad; parseSentence then resyncs on the last "$".
    const first = line.indexOf("$");
    if (first >= 0 && line.indexOf("$", first + 1) > 0) counts.badChecksum++;
    const s = parseSentence(line);
    if (s.kind !== "ok") {
      if (s.kind === "badChecksum") counts.badChecksum++;
      else if (s.kind === "proprietary") counts.proprietary++;
      else counts.notNmea++;
      return NONE;
    }
    const { type, fields } = s;
    if (!USED.has(type)) {
      counts.unknown++;
      return NONE;
    }
    let packet: Packet;
    try {
      const stub = { talkerId: s.talker, sentenceId: type, chxOk: true as const };
      packet = DefaultPacketFactory.getParser(stub)(stub, fields);
    } catch {
      counts.invalid++;
      return NONE;
    }
    counts.sentences++;
    const key = s.talker + type;
    const dayMs = TIMED.has(type) ? parseTimeOfDay(type === "GLL" ? fields[5] : fields[1]) : null;
    let out: GpsFix[] | undefined;
    const timeChanged = dayMs !== null && epoch.dayMs !== null && dayMs !== epoch.dayMs;
    const repeated =
      epoch.seen.has(key) && (dayMs === null || epoch.dayMs === null) && type !== "GSV" && type !== "GSA";
    // A GSV set restarting (part 1 again) also means a new epoch when time cannot tell.
    const gsvRestart = type === "GSV" && fields[2] === "1" && epoch.seen.has(key) && epoch.dayMs === null;
    if (timeChanged || repeated || gsvRestart) {
      out = [];
      learnEnder(epoch.lastKey);
      finish(out);
    } else if (dayMs !== null && epoch.dayMs === null && lastClosed?.dayMs === dayMs) {
      // The learned ender was wrong (this sentence still belongs to the closed epoch): unlearn it and reopen that
      // epoch, so the next fix carries the whole epoch again rather than a fragment.
      ender = null;
      previousEnder = null;
      epoch = combine(lastClosed, epoch);
    }
    lastClosed = null;
    const e = epoch;
    if (dayMs !== null && e.dayMs === null) e.dayMs = dayMs;
    merge(type, fields, packet);
    const nth = (e.seen.get(key) ?? 0) + 1;
    e.seen.set(key, nth);
    e.count++;
    // A multi-part GSV ends the burst only with its last part. A sentence a burst carries more than once (one
    // $GNGSA per constellation) is told apart by its count, so the ender learned is "the second GNGSA" and the
    // first one does not close the epoch (that split one fix into two: the second without a position).
    const closing = type === "GSV" ? fields[1] === fields[2] : true;
    e.lastKey = !closing ? `${key}#part` : nth > 1 && type !== "GSV" ? `${key}#${nth}` : key;
    if (ender !== null && e.lastKey === ender) {
      out ??= [];
      finish(out);
      lastClosed = e;
    }
    return out ?? NONE;
  }

  function learnEnder(lastKey: string): void {
    if (lastKey === "") return;
    // A boundary found the slow way: confirm the ender when two bursts in a row ended on the same sentence.
    ender = previousEnder === lastKey ? lastKey : null;
    previousEnder = lastKey;
  }

  return {
    feed,
    flush() {
      const out: GpsFix[] = [];
      // A straggler of the flushed epoch (the receiver paused mid-burst) reopens it, as after a wrong ender.
      const flushed = epoch;
      finish(out);
      if (out.length > 0) lastClosed = flushed;
      return out.length === 0 ? NONE : out;
    },
    counters: () => ({ ...counts, pending: epoch.count }),
  };
}
