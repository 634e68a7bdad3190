/**
 * Detector 4, trouble codes: a `dtc raised` event for a code that is not open yet opens an alert; `cleared`
 * closes it. Codes are keyed by (source address, SPN, FMI), as the design says real trucks need (several ECUs
 * report the same SPN); OBD-II codes by their text. A code raised again while open (an agent restart announces
 * its active codes anew) is not alerted again.
 */
import type { Alert } from "../../protocol/alerts.ts";
import type { EventRecord } from "../../protocol/records.ts";
import { changeAlert, type Moment, type OpenAlert, openAlert } from "./alert.ts";

/** Open codes of one truck, by key. */
export type DtcState = Record<string, OpenAlert>;

/** At most this many open codes per truck (DM1 lists at most 64 in our contract); more are counted, not kept. */
export const MAX_OPEN_DTCS = 64;

/** J1939-71 names of SPNs a fleet sees often; others are shown by number. */
const SPN_NAMES: Record<number, string> = {
  84: "wheel-based vehicle speed",
  94: "fuel delivery pressure",
  96: "fuel level",
  100: "engine oil pressure",
  110: "engine coolant temperature",
  168: "battery potential",
  190: "engine speed",
  639: "J1939 network #1",
  1761: "DEF tank level",
  3216: "aftertreatment intake NOx",
  3226: "aftertreatment outlet NOx",
};

/** J1939-73 failure mode identifiers. */
const FMI_NAMES: Record<number, string> = {
  0: "above normal (most severe)",
  1: "below normal (most severe)",
  2: "erratic or incorrect",
  3: "voltage above normal",
  4: "voltage below normal",
  5: "current below normal",
  6: "current above normal",
  7: "mechanical system not responding",
  8: "abnormal frequency",
  9: "abnormal update rate",
  11: "root cause not known",
  12: "bad intelligent device",
  13: "out of calibration",
  14: "special instructions",
  15: "above normal (least severe)",
  16: "above normal (moderately severe)",
  17: "below normal (least severe)",
  18: "below normal (moderately severe)",
  31: "condition exists",
};

export function describeDtc(spn: number, fmi: number): string {
  return `${SPN_NAMES[spn] ?? `SPN ${spn}`}: ${FMI_NAMES[fmi] ?? `FMI ${fmi}`}`;
}

type DtcEvent = Extract<EventRecord, { type: "dtc" }>;

function keyOf(e: DtcEvent): { key: string; evidence: Alert["evidence"]; text: string } | undefined {
  if (e.dtc.j1939) {
    const { spn, fmi, oc, sa = 0 } = e.dtc.j1939;
    return { key: `j1939/${sa}/${spn}/${fmi}`, evidence: { sa, spn, fmi, oc }, text: describeDtc(spn, fmi) };
  }
  if (e.dtc.obd) return { key: `obd/${e.dtc.obd}`, evidence: { obd: e.dtc.obd }, text: e.dtc.obd };
  return undefined;
}

/** Returns false when a new code could not be kept (the truck already has MAX_OPEN_DTCS open). */
export function detectDtc(state: DtcState, e: DtcEvent, moment: Moment, out: Alert[]): boolean {
  const code = keyOf(e);
  if (!code) return true;
  const open = state[code.key];
  if (e.change === "raised") {
    if (open) return true;
    if (Object.keys(state).length >= MAX_OPEN_DTCS) return false;
    const opened = openAlert(
      moment,
      "dtc",
      { message: `trouble code: ${code.text}`, evidence: { ...code.evidence, description: code.text }, thresholds: {} },
      { subject: code.key },
    );
    state[code.key] = opened.open;
    out.push(opened.alert);
    return true;
  }
  if (open) {
    out.push(
      changeAlert(open, moment, "closed", {
        message: `trouble code cleared: ${code.text}`,
        evidence: { ...code.evidence, description: code.text },
        thresholds: {},
      }),
    );
    delete state[code.key];
  }
  return true;
}
