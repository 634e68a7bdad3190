/**
 * The sampler decides when the vehicle state becomes a telemetry record: on a period (one while moving, another
 * while parked), on distance travelled, on heading change and on speed change, never faster than minIntervalMs.
 * It is evaluated on every GPS fix and on a tick, so a truck with no GPS (or a dead receiver) still reports its
 * engine on the parked period.
 */
import type { TelemetryBody } from "../../protocol/index.ts";
import type { Clock, VehicleState } from "../state/index.ts";
import type { SamplerConfig } from "./config.ts";

export interface Sampler {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Checks the triggers now (the agent calls it on every fix). */
  evaluate(): void;
  /** Why the last record was taken, for logs and tests. */
  lastReason(): string | undefined;
  /** New triggers from the next evaluation on (remote config, applied live); the tick period stays. */
  reconfigure(next: SamplerConfig): void;
}

export interface SamplerDeps {
  state: VehicleState;
  clock: Clock;
  onRecord(record: TelemetryBody): void;
}

const EARTH_RADIUS_M = 6_371_000;

/** Great-circle distance (haversine); plenty for "has the truck gone 200 m". */
export function distanceM(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function headingChange(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}

export function createSampler(initial: SamplerConfig, deps: SamplerDeps): Sampler {
  const { state, clock } = deps;
  let config = initial;
  let last:
    { at: number; lat: number | null; lon: number | null; course: number | null; speed: number | null } | undefined;
  let reason: string | undefined;
  // The epoch the previous evaluation saw: an evaluation that finds a newer one samples at that epoch.
  let seenEpoch: number | undefined;
  let timer: NodeJS.Timeout | undefined;

  function trigger(now: number): string | undefined {
    const gps = state.gps();
    const engine = state.engine();
    if (!gps && !engine) return undefined; // nothing to report
    if (!last) return "first";
    const elapsed = now - last.at;
    if (elapsed < config.minIntervalMs) return undefined;
    const speed = state.speedKmh();
    const moving = speed !== null && speed >= config.movingSpeedKmh;
    if (elapsed >= (moving ? config.movingPeriodMs : config.parkedPeriodMs))
      return moving ? "moving-period" : "parked-period";
    if (
      config.speedDeltaKmh > 0 &&
      speed !== null &&
      last.speed !== null &&
      Math.abs(speed - last.speed) >= config.speedDeltaKmh
    ) {
      return "speed-change";
    }
    if (!moving || !gps || gps.lat === null || gps.lon === null) return undefined;
    if (
      config.distanceM > 0 &&
      last.lat !== null &&
      last.lon !== null &&
      distanceM(last.lat, last.lon, gps.lat, gps.lon) >= config.distanceM
    ) {
      return "distance";
    }
    if (
      config.headingDeg > 0 &&
      gps.courseDeg !== null &&
      last.course !== null &&
      headingChange(gps.courseDeg, last.course) >= config.headingDeg
    ) {
      return "heading";
    }
    return undefined;
  }

  /**
   * The instant this evaluation samples. The first evaluation after a fix samples at that fix's epoch, so the record
   * carries the epoch's GNSS time exactly, however long the machine took between reading the fix and getting here
   * (a busy Pi: a GC pause, another process). Any other evaluation (the tick) samples now: the last epoch's time
   * plus the monotonic time since it.
   */
  function sampleInstant(): number {
    const epoch = state.epochMonoMs();
    const fresh = epoch !== undefined && epoch !== seenEpoch;
    seenEpoch = epoch;
    return fresh ? epoch : clock.monoMs();
  }

  function evaluate(): void {
    state.tick();
    const at = sampleInstant();
    const why = trigger(at);
    if (!why) return;
    const gps = state.gps();
    const engine = state.engine();
    const dtcs = state.dtcs();
    const obdDtcs = state.obdDtcs();
    const record: TelemetryBody = {
      ...state.now(at),
      ...(gps ? { gps } : {}),
      ...(engine ? { engine } : {}),
      ...(dtcs && dtcs.length > 0 ? { dtcs: dtcs.slice(0, 64) } : {}),
      ...(obdDtcs && obdDtcs.length > 0 ? { obdDtcs: obdDtcs.slice(0, 64) } : {}),
    };
    last = {
      at,
      lat: gps?.lat ?? null,
      lon: gps?.lon ?? null,
      course: gps?.courseDeg ?? null,
      speed: state.speedKmh(),
    };
    reason = why;
    deps.onRecord(record);
  }

  return {
    async start() {
      if (timer) return;
      timer = setInterval(evaluate, config.tickMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    evaluate,
    lastReason: () => reason,
    reconfigure(next) {
      config = { ...next, tickMs: config.tickMs };
    },
  };
}
