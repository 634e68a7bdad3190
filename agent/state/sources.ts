/**
 * One value per (signal, source) and the choice of which source feeds the record. Several ECUs send the same
 * signal with different values (an engine and an instrument cluster both send VD, and their odometers differ), so
 * mixing them would make the odometer jump back and forth. The rules:
 * - each signal has a preference list (config `sources`, else DEFAULT_SOURCE_PREFERENCE); unlisted sources rank
 *   after the listed ones, first heard first;
 * - the choice sticks: it changes only when a better-ranked source is heard, or the chosen one falls silent
 *   (`engineStaleMs`) while another is fresh; every change is announced (onChange → a `source` event) before a
 *   record carries the new source's value;
 * - the first choice waits up to `sourceSettleMs` for the best-ranked source, so a record does not start on
 *   whichever ECU happened to speak first and switch a moment later;
 * - "not available" (null) from one source never hides a value from another.
 */
import type { Engine } from "../../protocol/index.ts";
import { DEFAULT_SOURCE_PREFERENCE, type StateConfig } from "./config.ts";

type Signal = keyof Engine;
type Value = number | boolean | null;

interface Reading {
  value: Value;
  at: number;
  firstAt: number;
  /** Higher = finer: a fresh finer reading from the same source is not overwritten by a coarser one. */
  precision: number;
}

export interface SourceSelectorDeps {
  onChange(signal: Signal, from: number, to: number): void;
}

export function createSourceSelector(
  config: Pick<StateConfig, "sources" | "engineStaleMs" | "sourceSettleMs">,
  deps: SourceSelectorDeps,
) {
  const readings = new Map<Signal, Map<number, Reading>>();
  const chosen = new Map<Signal, number>();
  const heardAt = new Map<Signal, number>();

  function rank(signal: Signal, source: number): number {
    const list = config.sources[signal] ?? DEFAULT_SOURCE_PREFERENCE[signal] ?? [];
    const i = list.indexOf(source);
    return i < 0 ? list.length : i;
  }

  function better(signal: Signal, a: [number, Reading], b: [number, Reading]): boolean {
    const ra = rank(signal, a[0]);
    const rb = rank(signal, b[0]);
    return ra !== rb ? ra < rb : a[1].firstAt < b[1].firstAt;
  }

  /** The reading a record takes for `signal` now (after moving the choice if the rules say so), or undefined. */
  function pick(signal: Signal, mono: number): Reading | undefined {
    const bySource = readings.get(signal);
    if (!bySource) return undefined;
    const fresh = [...bySource].filter(([, r]) => mono - r.at <= config.engineStaleMs);
    const current = chosen.get(signal);
    const mine = current === undefined ? undefined : fresh.find(([s]) => s === current);
    const candidates = fresh.filter(([, r]) => r.value !== null);
    if (candidates.length === 0) return mine?.[1] ?? fresh[0]?.[1]; // only "not available": no source to choose
    let best = candidates[0]!;
    for (const c of candidates) if (better(signal, c, best)) best = c;
    if (mine && mine[1].value !== null && !better(signal, best, mine)) return mine[1];
    if (current === undefined) {
      const settled = rank(signal, best[0]) === 0 || mono - heardAt.get(signal)! >= config.sourceSettleMs;
      if (!settled) return undefined;
    } else if (best[0] !== current) {
      deps.onChange(signal, current, best[0]);
    }
    chosen.set(signal, best[0]);
    return best[1];
  }

  return {
    /**
     * `precision` ranks PGNs that carry the same signal from one ECU (VDHR's 5 m odometer over VD's 125 m one):
     * alternating between them would move the odometer back and forth by up to 125 m.
     */
    apply(signal: Signal, source: number, value: Value, at: number, precision = 0): void {
      let bySource = readings.get(signal);
      if (!bySource) {
        bySource = new Map();
        readings.set(signal, bySource);
        heardAt.set(signal, at);
      }
      const before = bySource.get(source);
      const finerStillFresh =
        before !== undefined && before.precision > precision && at - before.at <= config.engineStaleMs;
      if (finerStillFresh && value !== null) return;
      bySource.set(source, { value, at, firstAt: before?.firstAt ?? at, precision });
    },
    value(signal: Signal, mono: number): Value | undefined {
      return pick(signal, mono)?.value;
    },
    /** The source each signal is taken from now (after the settle time), for previews and logs. */
    chosen: (): Partial<Record<Signal, number>> => Object.fromEntries(chosen),
    /** Every signal with a fresh value from its chosen source. */
    *current(mono: number): Generator<[Signal, Value]> {
      for (const signal of readings.keys()) {
        const r = pick(signal, mono);
        if (r) yield [signal, r.value];
      }
    },
  };
}
