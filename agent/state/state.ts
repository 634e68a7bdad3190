/**
 * The vehicle's latest known state: the last GPS fix, the last value of every engine signal (with its age), the
 * active trouble codes and the ignition. Events that must not wait for the sampler (ignition on/off, a trouble code
 * raised or cleared) are emitted at once through onEvent.
 *
 * Ignition is inferred from the bus: ECUs broadcast while the key is on and fall silent when it is off, and a
 * listen-only gateway has no ignition wire to read. So: the first CAN message after silence = on; no message for
 * `ignitionOffAfterMs` = off (checked by tick()).
 */
import type { Engine, Gps, J1939Dtc, TimeSource } from "../../protocol/index.ts";
import type { EventBody } from "../outbox/index.ts";
import type { CanMessage, EngineSignals, GpsFix } from "../sources/types.ts";
import type { Clock } from "./clock.ts";
import type { StateConfig } from "./config.ts";
import { toEngineValue, toGps } from "./rounding.ts";

export interface VehicleState {
  applyFix(fix: GpsFix): void;
  applyMessage(message: CanMessage): void;
  /** Checks timers (ignition off after silence). Call about once a second. */
  tick(): void;
  /**
   * The best timestamp for the monotonic instant `atMonoMs` (default: now): the last GNSS time plus the monotonic
   * time elapsed since its epoch when known and recent, else the system clock.
   */
  now(atMonoMs?: number): { ts: string; timeSource: TimeSource };
  /** The monotonic instant the latest fix was applied at (its epoch); undefined before the first fix. */
  epochMonoMs(): number | undefined;
  /** The fix for a record, or undefined when there is none or it is stale. */
  gps(): Gps | undefined;
  /** Fresh engine values, rounded to the record's resolution; undefined when none. */
  engine(): Engine | undefined;
  dtcs(): J1939Dtc[] | undefined;
  obdDtcs(): string[] | undefined;
  ignition(): boolean;
  /** Speed for the sampler: GPS speed over ground, else wheel speed; null when unknown. */
  speedKmh(): number | null;
}

export interface VehicleStateDeps {
  clock: Clock;
  onEvent(event: EventBody): void;
}

type EngineKey = keyof Engine;

export function createVehicleState(config: StateConfig, deps: VehicleStateDeps): VehicleState {
  const { clock } = deps;
  let fix: GpsFix | undefined;
  let fixAt = Number.NEGATIVE_INFINITY;
  let gnssAnchor: { wallMs: number; monoMs: number } | undefined;
  const engine = new Map<EngineKey, { value: number | boolean | null; at: number }>();
  let dtcs: J1939Dtc[] | undefined;
  let obdDtcs: string[] | undefined;
  let lastCanAt = Number.NEGATIVE_INFINITY;
  let ignitionOn = false;

  function now(mono = clock.monoMs()): { ts: string; timeSource: TimeSource } {
    if (gnssAnchor && mono - gnssAnchor.monoMs <= config.gnssTimeMaxAgeMs) {
      return { ts: new Date(gnssAnchor.wallMs + (mono - gnssAnchor.monoMs)).toISOString(), timeSource: "gnss" };
    }
    return { ts: new Date(clock.wallMs()).toISOString(), timeSource: "system" };
  }

  function gps(): Gps | undefined {
    if (!fix || clock.monoMs() - fixAt > config.fixStaleMs) return undefined;
    return toGps(fix);
  }

  function emit(body: Record<string, unknown>): void {
    const g = gps();
    deps.onEvent({ ...now(), ...(g ? { gps: g } : {}), ...body } as EventBody);
  }

  function dtcKey(d: J1939Dtc): string {
    return `${d.spn}/${d.fmi}`;
  }

  function updateDtcs(next: J1939Dtc[]): void {
    const before = new Map((dtcs ?? []).map((d) => [dtcKey(d), d]));
    const after = new Map(next.map((d) => [dtcKey(d), d]));
    for (const [k, d] of after) if (!before.has(k)) emit({ type: "dtc", change: "raised", dtc: { j1939: d } });
    for (const [k, d] of before) if (!after.has(k)) emit({ type: "dtc", change: "cleared", dtc: { j1939: d } });
    dtcs = next;
  }

  function updateObdDtcs(next: string[]): void {
    const before = new Set(obdDtcs ?? []);
    const after = new Set(next);
    for (const d of after) if (!before.has(d)) emit({ type: "dtc", change: "raised", dtc: { obd: d } });
    for (const d of before) if (!after.has(d)) emit({ type: "dtc", change: "cleared", dtc: { obd: d } });
    obdDtcs = next;
  }

  return {
    applyFix(next) {
      fix = next;
      fixAt = clock.monoMs();
      if (next.time !== null) {
        const wall = Date.parse(next.time);
        if (Number.isFinite(wall)) gnssAnchor = { wallMs: wall, monoMs: fixAt };
      }
    },
    applyMessage(message) {
      const at = clock.monoMs();
      lastCanAt = at;
      if (!ignitionOn) {
        ignitionOn = true;
        emit({ type: "ignition", on: true });
      }
      const signals: EngineSignals = message.signals;
      for (const [key, value] of Object.entries(signals)) {
        if (key === "dtcs") updateDtcs(value as J1939Dtc[]);
        else if (key === "obdDtcs") updateObdDtcs(value as string[]);
        else if (value !== undefined) engine.set(key as EngineKey, { value: value as number | boolean | null, at });
      }
    },
    tick() {
      if (ignitionOn && clock.monoMs() - lastCanAt > config.ignitionOffAfterMs) {
        ignitionOn = false;
        emit({ type: "ignition", on: false });
      }
    },
    now,
    epochMonoMs: () => (fix ? fixAt : undefined),
    gps,
    engine() {
      const mono = clock.monoMs();
      const out: Record<string, number | boolean | null> = {};
      let any = false;
      for (const [key, { value, at }] of engine) {
        if (mono - at > config.engineStaleMs) continue;
        out[key] = toEngineValue(key, value);
        any = true;
      }
      return any ? (out as Engine) : undefined;
    },
    dtcs: () => (ignitionOn ? dtcs : undefined),
    obdDtcs: () => (ignitionOn ? obdDtcs : undefined),
    ignition: () => ignitionOn,
    speedKmh() {
      const g = gps();
      if (g?.speedKmh != null) return g.speedKmh;
      const wheel = engine.get("wheelSpeedKmh");
      if (wheel && typeof wheel.value === "number" && clock.monoMs() - wheel.at <= config.engineStaleMs) {
        return wheel.value;
      }
      return null;
    },
  };
}
