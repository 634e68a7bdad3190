/**
 * Active J1939 trouble codes per (source address, SPN, FMI). Each ECU sends its own DM1 (J1939-73 §5.7.1: once a
 * second, and on change), an empty one when it has no active code; so an empty DM1 from SA 3 says nothing about
 * SA 0's codes. A code is raised once its ECU has listed it for `dtcDebounceMs`, and cleared once its ECU has stopped
 * listing it for as long: a code that comes and goes within that time (one DM1 on change, then gone) makes no
 * raise/clear pair. Checked on every DM1 and on the state's tick.
 */
import type { J1939Dtc } from "../../protocol/index.ts";
import type { StateConfig } from "./config.ts";

interface Track {
  dtc: J1939Dtc;
  firstAt: number;
  /** When its ECU's DM1 first stopped listing it; undefined while listed. */
  absentSince: number | undefined;
  raised: boolean;
}

export interface DtcTrackerDeps {
  onChange(change: "raised" | "cleared", dtc: J1939Dtc): void;
}

export function createDtcTracker(config: Pick<StateConfig, "dtcDebounceMs" | "engineStaleMs">, deps: DtcTrackerDeps) {
  const bySource = new Map<number, { at: number; codes: Map<string, Track> }>();

  function settle(mono: number): void {
    for (const { codes } of bySource.values()) {
      for (const [key, track] of codes) {
        if (track.absentSince === undefined) {
          if (!track.raised && mono - track.firstAt >= config.dtcDebounceMs) {
            track.raised = true;
            deps.onChange("raised", track.dtc);
          }
        } else if (!track.raised) {
          codes.delete(key); // came and went within the debounce time: never announced, so nothing to clear
        } else if (mono - track.absentSince >= config.dtcDebounceMs) {
          codes.delete(key);
          deps.onChange("cleared", track.dtc);
        }
      }
    }
  }

  return {
    /** A DM1 from `sa`: the complete list of that ECU's active codes. */
    apply(sa: number, list: readonly J1939Dtc[], at: number): void {
      let entry = bySource.get(sa);
      if (!entry) {
        entry = { at, codes: new Map() };
        bySource.set(sa, entry);
      }
      entry.at = at;
      const listed = new Set<string>();
      for (const d of list) {
        const key = `${d.spn}/${d.fmi}`;
        listed.add(key);
        const dtc = { sa, spn: d.spn, fmi: d.fmi, oc: d.oc };
        const track = entry.codes.get(key);
        if (track) {
          track.dtc = dtc;
          track.absentSince = undefined;
        } else entry.codes.set(key, { dtc, firstAt: at, absentSince: undefined, raised: false });
      }
      for (const [key, track] of entry.codes) if (!listed.has(key)) track.absentSince ??= at;
      settle(at);
    },
    settle,
    /** The raised codes of every ECU still sending DM1, by source address, SPN, FMI. */
    active(mono: number): J1939Dtc[] {
      const out: J1939Dtc[] = [];
      for (const { at, codes } of bySource.values()) {
        if (mono - at > config.engineStaleMs) continue;
        for (const t of codes.values()) if (t.raised) out.push(t.dtc);
      }
      return out.sort((a, b) => a.sa! - b.sa! || a.spn - b.spn || a.fmi - b.fmi);
    },
  };
}
