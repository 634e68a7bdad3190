import type { J1939Dtc } from "../../protocol/index.ts";
import type { Prng } from "./prng.ts";

/** Trouble codes real trucks raise, by SPN and FMI (J1939-73). The model reacts to the first two. */
export const FAULT_CATALOG: readonly { spn: number; fmi: number; what: string }[] = [
  { spn: 110, fmi: 0, what: "engine coolant temperature above normal" },
  { spn: 100, fmi: 1, what: "engine oil pressure below normal" },
  { spn: 3226, fmi: 2, what: "aftertreatment outlet NOx sensor erratic" },
  { spn: 1761, fmi: 18, what: "DEF tank level low" },
  { spn: 94, fmi: 18, what: "fuel delivery pressure low" },
  { spn: 168, fmi: 4, what: "battery potential below normal" },
  { spn: 639, fmi: 14, what: "J1939 network #1 special instructions" },
];

/** Mean time a random fault stays active before the ECU clears it, seconds. */
const MEAN_ACTIVE_S = 300;

/** Random trouble codes that come and go, plus fixed ones from the options; occurrence counts rise per raise. */
export function createFaultProcess(prng: Prng, faultsPerHour: number, fixed: J1939Dtc[]) {
  const active = new Map<string, J1939Dtc>();
  const occurrences = new Map<string, number>();
  for (const dtc of fixed) active.set(`${dtc.spn}/${dtc.fmi}`, { ...dtc });
  const fixedKeys = new Set(active.keys());

  return {
    step(dtS: number): void {
      for (const [key] of active) {
        if (!fixedKeys.has(key) && prng.chance(dtS / MEAN_ACTIVE_S)) active.delete(key);
      }
      if (faultsPerHour > 0 && prng.chance((faultsPerHour * dtS) / 3600)) {
        const candidate = prng.pick(FAULT_CATALOG);
        const key = `${candidate.spn}/${candidate.fmi}`;
        if (!active.has(key)) {
          const oc = Math.min(126, (occurrences.get(key) ?? 0) + 1);
          occurrences.set(key, oc);
          active.set(key, { spn: candidate.spn, fmi: candidate.fmi, oc });
        }
      }
    },
    has(spn: number, fmi: number): boolean {
      return active.has(`${spn}/${fmi}`);
    },
    list(): J1939Dtc[] {
      return [...active.values()].map((d) => ({ ...d }));
    },
  };
}
