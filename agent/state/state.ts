/**
 * The vehicle's latest known state: the last GPS fix, the last value of every engine signal (with its age), the
 * active trouble codes and the ignition. Events that must not wait for the sampler (ignition on/off, a trouble code
 * raised or cleared) are emitted at once through onEvent.
 *
 * Ignition is inferred from the bus: ECUs broadcast while the key is on and fall silent when it is off, and a
 * listen-only gateway has no ignition wire to read. So: the first CAN message after silence = on; no message for
 * `ignitionOffAfterMs` = off (checked by tick()).
 *
 * A truck's bus carries several ECUs, and the same signal (the odometer, DM1) comes from more than one source address
 * with different values. So every value is held per (signal, source), and a record takes each signal from one chosen
 * source (sources.ts); trouble codes are tracked per (source address, SPN, FMI) (dtcs.ts).
 */
import type { Engine, Gps, J1939Dtc, TimeSource } from "../../protocol/index.ts";
import type { EventBody } from "../../protocol/index.ts";
import type { CanMessage, EngineSignals, GpsFix } from "../decoders/types.ts";
import type { Clock } from "./clock.ts";
import type { StateConfig } from "./config.ts";
import { createDtcTracker } from "./dtcs.ts";
import { AGENT_NOT_BEFORE_MS, createGnssClock, type GnssTimeCounters } from "./gnss-time.ts";
import { toEngineValue, toGps } from "./rounding.ts";
import { createSourceSelector } from "./sources.ts";

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
  /** GNSS times taken and refused (gnss-time.ts), for the metrics and logs. */
  gnssTime(): GnssTimeCounters;
  /** Which source (J1939 SA, OBD-II reply id) each engine field is taken from. */
  sources(): Partial<Record<keyof Engine, number>>;
}

export interface VehicleStateDeps {
  clock: Clock;
  onEvent(event: EventBody): void;
}

export function createVehicleState(config: StateConfig, deps: VehicleStateDeps): VehicleState {
  const { clock } = deps;
  let fix: GpsFix | undefined;
  let fixAt = Number.NEGATIVE_INFINITY;
  const gnssClock = createGnssClock({
    notBeforeMs: config.gnssNotBefore === undefined ? AGENT_NOT_BEFORE_MS : Date.parse(config.gnssNotBefore),
    maxJumpMs: config.gnssMaxJumpMs,
  });
  let obdDtcs: string[] | undefined;
  let lastCanAt = Number.NEGATIVE_INFINITY;
  let ignitionOn = false;

  function now(mono = clock.monoMs()): { ts: string; timeSource: TimeSource } {
    const gnssAnchor = gnssClock.anchor();
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

  const signals = createSourceSelector(config, {
    onChange: (signal, from, to) => emit({ type: "source", signal, from, to }),
  });
  const dtcs = createDtcTracker(config, {
    onChange: (change, dtc) => emit({ type: "dtc", change, dtc: { j1939: dtc } }),
  });

  function updateObdDtcs(next: string[]): void {
    const before = new Set(obdDtcs ?? []);
    const after = new Set(next);
    for (const d of after) if (!before.has(d)) emit({ type: "dtc", change: "raised", dtc: { obd: d } });
    for (const d of before) if (!after.has(d)) emit({ type: "dtc", change: "cleared", dtc: { obd: d } });
    obdDtcs = next;
  }

  return {
    applyFix(next) {
      const at = clock.monoMs();
      gnssClock.offer(next, at);
      // A fix without a position (no fix yet, or a fragment of an epoch) never replaces a position still fresh.
      const keepPosition =
        (next.lat === null || next.lon === null) && fix?.lat != null && at - fixAt <= config.fixStaleMs;
      if (keepPosition) return;
      fix = next;
      fixAt = at;
    },
    applyMessage(message) {
      const at = clock.monoMs();
      lastCanAt = at;
      if (!ignitionOn) {
        ignitionOn = true;
        emit({ type: "ignition", on: true });
      }
      // J1939: the source address; OBD-II: the reply id (0x7E8 engine, 0x7E9 transmission...).
      const source = message.kind === "j1939" ? message.sa : message.id;
      // VDHR (SPN 917, 5 m/bit) outranks VD (SPN 245, 125 m/bit) when an ECU sends both: same odometer, finer.
      const precision = message.kind === "j1939" && message.name === "VDHR" ? 1 : 0;
      const carried: EngineSignals = message.signals;
      for (const [key, value] of Object.entries(carried)) {
        if (key === "dtcs") dtcs.apply(source, value as J1939Dtc[], at);
        else if (key === "obdDtcs") updateObdDtcs(value as string[]);
        else if (value !== undefined)
          signals.apply(key as keyof Engine, source, value as number | boolean | null, at, precision);
      }
    },
    tick() {
      dtcs.settle(clock.monoMs());
      if (ignitionOn && clock.monoMs() - lastCanAt > config.ignitionOffAfterMs) {
        ignitionOn = false;
        emit({ type: "ignition", on: false });
      }
    },
    now,
    epochMonoMs: () => (fix ? fixAt : undefined),
    gps,
    engine() {
      const out: Record<string, number | boolean | null> = {};
      let any = false;
      for (const [key, value] of signals.current(clock.monoMs())) {
        out[key] = toEngineValue(key, value);
        any = true;
      }
      return any ? (out as Engine) : undefined;
    },
    dtcs: () => (ignitionOn ? dtcs.active(clock.monoMs()) : undefined),
    obdDtcs: () => (ignitionOn ? obdDtcs : undefined),
    ignition: () => ignitionOn,
    gnssTime: () => gnssClock.counters(),
    sources: () => signals.chosen(),
    speedKmh() {
      const g = gps();
      if (g?.speedKmh != null) return g.speedKmh;
      const wheel = signals.value("wheelSpeedKmh", clock.monoMs());
      return typeof wheel === "number" ? wheel : null;
    },
  };
}
