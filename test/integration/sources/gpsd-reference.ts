/**
 * gpsd's own reports as the reference for the NMEA fixtures: each `NAME.log.chk` interleaves the input sentences with
 * the JSON reports gpsd produced while reading them. gpsd reports as sentences arrive, so it may send several TPVs
 * per epoch; the last one of an epoch is its settled opinion. gpsd's test harness shifts dates, so epochs are keyed by
 * the UTC time of day of the sentences (fixtures README).
 *
 * Where gpsd and a per-epoch decoder legitimately differ, the comparison says so by name and counts it:
 * - reports triggered by Garmin's proprietary $PGRM* sentences are not used (we skip proprietary sentences by design;
 *   gpsd applies $PGRMZ altitude and then calls even a receiver in simulator mode "3D");
 * - when gpsd's last report of an epoch came before the rest of that epoch's sentences (its cycle ender is early in
 *   the burst), its mode is stale, so the mode is not compared there (positions and speed still are);
 * - when the receiver itself marks the epoch invalid (GGA quality 0, RMC/GLL status V) gpsd may still report the
 *   position; we must report no fix;
 * - epochs before the receiver sent any date cannot be timestamped (our fix has time null): counted, not keyed;
 * - the last epoch of a capture may be cut short: its mode is not compared;
 * - gpsd derives a speed from successive positions when an epoch carried none; we report only the receiver's.
 */
import { readFileSync } from "node:fs";
import type { GpsFix } from "../../../agent/sources/types.ts";

export interface GpsdTpv {
  mode: number;
  lat?: number;
  lon?: number;
  /** m/s */
  speed?: number;
}

export interface GpsdEpoch {
  tpv: GpsdTpv;
  /** gpsd's last report came before more standard sentences of the same epoch. */
  premature: boolean;
  /** The receiver flagged the epoch invalid and nothing in it said valid. */
  receiverInvalid: boolean;
  /** No date had been seen yet in the capture. */
  undated: boolean;
  last: boolean;
}

const TIME_FIELD: Record<string, number> = { GGA: 1, RMC: 1, GNS: 1, ZDA: 1, GLL: 5 };
const STANDARD = new Set(["GGA", "RMC", "GNS", "ZDA", "GLL", "GSA", "VTG"]);

/** "hhmmss[.ss]" → ms since midnight. */
function dayMsOf(text: string | undefined): number | null {
  if (!text || text.length < 6) return null;
  const h = Number(text.slice(0, 2));
  const m = Number(text.slice(2, 4));
  const s = Number(text.slice(4));
  return Number.isFinite(h + m + s) ? Math.round(((h * 60 + m) * 60 + s) * 1000) : null;
}

interface Scan {
  valid: boolean;
  invalid: boolean;
  undated: boolean;
  tpv?: GpsdTpv;
  sentencesAfterTpv: number;
}

/** gpsd's epochs in order of appearance, keyed by time of day (ms since midnight). */
export function gpsdEpochs(chkPath: string): Map<number, GpsdEpoch> {
  const scans = new Map<number, Scan>();
  let current: Scan | undefined;
  let dated = false;
  let afterGarmin = false;
  for (const line of readFileSync(chkPath, "latin1").split("\n")) {
    if (line.startsWith("$")) {
      afterGarmin = line.startsWith("$PGRM");
      const fields = line.split("*")[0]!.split(",");
      const type = fields[0]!.slice(3);
      if ((type === "RMC" && fields[9]) || (type === "ZDA" && fields[4])) dated = true;
      const index = TIME_FIELD[type];
      const dayMs = index === undefined || line.startsWith("$P") ? null : dayMsOf(fields[index]);
      if (dayMs !== null) {
        let scan = scans.get(dayMs);
        if (!scan) {
          scan = { valid: false, invalid: false, undated: !dated, sentencesAfterTpv: 0 };
          scans.set(dayMs, scan);
        }
        current = scan;
      }
      if (!current || line.startsWith("$P")) continue;
      if (STANDARD.has(type) && current.tpv) current.sentencesAfterTpv++;
      const status = type === "RMC" ? fields[2] : type === "GLL" ? fields[6] : undefined;
      if (type === "GGA") {
        const q = Number(fields[6]);
        if (q >= 1 && q <= 6) current.valid = true;
        else current.invalid = true;
      }
      if (status === "A") current.valid = true;
      if (status === "V") current.invalid = true;
      continue;
    }
    if (!line.startsWith('{"class":"TPV"') || !current || afterGarmin) continue;
    current.tpv = JSON.parse(line) as GpsdTpv;
    current.sentencesAfterTpv = 0;
  }
  const out = new Map<number, GpsdEpoch>();
  const keys = [...scans.keys()];
  for (const [dayMs, scan] of scans) {
    if (!scan.tpv) continue;
    out.set(dayMs, {
      tpv: scan.tpv,
      premature: scan.sentencesAfterTpv > 0,
      receiverInvalid: scan.invalid && !scan.valid,
      undated: scan.undated,
      last: dayMs === keys[keys.length - 1],
    });
  }
  return out;
}

const MODE = { none: 1, "2d": 2, "3d": 3 } as const;

export interface Comparison {
  /** Epochs compared (all of position, speed, and mode unless a named exception applies). */
  compared: number;
  modeCompared: number;
  modeSkippedPremature: number;
  receiverInvalid: number;
  undated: number;
  speedCompared: number;
  speedDerivedByGpsd: number;
  problems: string[];
}

/** Compares our fixes with gpsd's per-epoch TPVs: mode, lat/lon within 1e-6 degrees, speed within 0.1 km/h. */
export function compareWithGpsd(fixes: readonly GpsFix[], chkPath: string): Comparison {
  const ours = new Map<number, GpsFix>();
  for (const fix of fixes) if (fix.time) ours.set(new Date(fix.time).getTime() % 86_400_000, fix);
  const undatedFixes = fixes.filter((f) => f.time === null).length;
  const c: Comparison = {
    compared: 0,
    modeCompared: 0,
    modeSkippedPremature: 0,
    receiverInvalid: 0,
    undated: 0,
    speedCompared: 0,
    speedDerivedByGpsd: 0,
    problems: [],
  };
  for (const [dayMs, epoch] of gpsdEpochs(chkPath)) {
    const { tpv } = epoch;
    const at = new Date(dayMs).toISOString().slice(11, 23);
    const fix = ours.get(dayMs);
    if (!fix) {
      if (epoch.undated && undatedFixes > 0) c.undated++;
      else c.problems.push(`${at}: no fix for gpsd TPV ${JSON.stringify(tpv)}`);
      continue;
    }
    c.compared++;
    if (epoch.receiverInvalid) {
      c.receiverInvalid++;
      if (fix.fix !== "none" || fix.lat !== null) c.problems.push(`${at}: receiver says invalid, we said ${fix.fix}`);
      continue;
    }
    if (MODE[fix.fix] !== tpv.mode) {
      if (epoch.premature) c.modeSkippedPremature++;
      else if (!epoch.last) c.problems.push(`${at}: mode ${fix.fix} vs gpsd ${tpv.mode}`);
    } else c.modeCompared++;
    if (tpv.lat !== undefined && (fix.lat === null || Math.abs(fix.lat - tpv.lat) > 1e-6))
      c.problems.push(`${at}: lat ${fix.lat} vs gpsd ${tpv.lat}`);
    if (tpv.lon !== undefined && (fix.lon === null || Math.abs(fix.lon - tpv.lon) > 1e-6))
      c.problems.push(`${at}: lon ${fix.lon} vs gpsd ${tpv.lon}`);
    if (tpv.speed === undefined) continue;
    if (fix.speedKmh === null) c.speedDerivedByGpsd++;
    else {
      c.speedCompared++;
      if (Math.abs(fix.speedKmh - tpv.speed * 3.6) > 0.1)
        c.problems.push(`${at}: speed ${fix.speedKmh} km/h vs gpsd ${tpv.speed * 3.6}`);
    }
  }
  return c;
}
