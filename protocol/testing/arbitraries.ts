/**
 * fast-check arbitraries for valid records and batches, at the resolutions records.ts states. For property tests
 * of the codec, the Kafka mapping and the in-order filter (and for other parts that handle records). Test-only:
 * runtime code never imports this file.
 */
import fc from "fast-check";
import { EngineSchema, type EventRecord, type Gps, type J1939Dtc, type TelemetryRecord } from "../records.ts";

/** A number in [min, max] with at most `decimals` places, as the codec carries it. */
export function fixedArb(decimals: number, min: number, max: number): fc.Arbitrary<number> {
  const scale = 10 ** decimals;
  return fc.integer({ min: Math.round(min * scale), max: Math.round(max * scale) }).map((n) => n / scale);
}

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 5 });

export const truckIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
export const streamArb = fc.stringMatching(/^[0-9a-f]{16}$/);

const MIN_TS = Date.parse("0001-01-01T00:00:00.000Z");
const MAX_TS = Date.parse("9999-12-31T23:59:59.999Z");

/** Milliseconds since 1970: mostly recent, sometimes anywhere in years 1-9999; half of them whole seconds. */
export const tsMsArb = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: Date.parse("2024-01-01"), max: Date.parse("2040-01-01") }) },
      { weight: 1, arbitrary: fc.integer({ min: MIN_TS, max: MAX_TS }) },
    ),
    fc.boolean(),
  )
  .map(([ms, whole]) => (whole ? ms - (((ms % 1000) + 1000) % 1000) : ms))
  .filter((ms) => ms >= MIN_TS);

export const gpsArb: fc.Arbitrary<Gps> = fc.record({
  fix: fc.constantFrom("none", "2d", "3d"),
  lat: nullable(fixedArb(7, -90, 90)),
  lon: nullable(fixedArb(7, -180, 180)),
  altM: nullable(fixedArb(1, -1000, 20000)),
  speedKmh: nullable(fixedArb(1, 0, 400)),
  courseDeg: nullable(fixedArb(1, 0, 359.9)),
  sats: nullable(fc.integer({ min: 0, max: 255 })),
  hdop: nullable(fixedArb(1, 0, 99.9)),
});

const engineField = <T>(arb: fc.Arbitrary<T>) => nullable(arb);

export const engineArb = fc.record(
  {
    engineSpeedRpm: engineField(fc.integer({ min: 0, max: 8032 })),
    torquePct: engineField(fc.integer({ min: -125, max: 125 })),
    wheelSpeedKmh: engineField(fixedArb(1, 0, 251)),
    brakeSwitch: engineField(fc.boolean()),
    parkingBrake: engineField(fc.boolean()),
    coolantTempC: engineField(fc.integer({ min: -40, max: 210 })),
    fuelRateLph: engineField(fixedArb(2, 0, 3212.75)),
    fuelLevelPct: engineField(fixedArb(1, 0, 100)),
    engineHours: engineField(fixedArb(2, 0, 210554060.75)),
    runTimeS: engineField(fc.integer({ min: 0, max: 65535 })),
    totalDistanceKm: engineField(fixedArb(3, 0, 21055406)),
    totalFuelL: engineField(fixedArb(1, 0, 2105540608)),
    oilPressureKpa: engineField(fc.integer({ min: 0, max: 1000 })),
    ambientTempC: engineField(fixedArb(1, -273, 1735)),
  },
  { requiredKeys: [] },
);

export const j1939DtcArb: fc.Arbitrary<J1939Dtc> = fc.record(
  {
    spn: fc.integer({ min: 0, max: 524287 }),
    fmi: fc.integer({ min: 0, max: 31 }),
    oc: fc.integer({ min: 0, max: 127 }),
    sa: fc.integer({ min: 0, max: 255 }),
  },
  { requiredKeys: ["spn", "fmi", "oc"] },
);

export const obdDtcArb = fc.stringMatching(/^[PCBU][0-3][0-9A-F]{3}$/);

/** The parts of a telemetry record that vary from record to record. */
const telemetryBodyArb = fc.record(
  {
    timeSource: fc.constantFrom("gnss", "system") as fc.Arbitrary<"gnss" | "system">,
    gps: gpsArb,
    engine: engineArb,
    dtcs: fc.array(j1939DtcArb, { maxLength: 4 }),
    obdDtcs: fc.array(obdDtcArb, { maxLength: 4 }),
  },
  { requiredKeys: ["timeSource"] },
);

type TelemetryBody = Omit<TelemetryRecord, "truckId" | "stream" | "seq" | "ts">;

/**
 * Seqs for a batch: usually contiguous from a start, sometimes with arbitrary jumps (after a gap). Always rising:
 * a payload whose seqs do not rise is invalid (codec.ts, validateDecoded).
 */
export function seqsArb(length: number): fc.Arbitrary<number[]> {
  return fc.oneof(
    fc.integer({ min: 0, max: 2 ** 40 }).map((start) => Array.from({ length }, (_, i) => start + i)),
    fc
      .uniqueArray(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: length, maxLength: length })
      .map((seqs) => seqs.sort((a, b) => a - b)),
  );
}

/**
 * A batch of valid telemetry records of one truck and stream. Records often repeat parts of the previous one and
 * move time forward steadily, as real batches do, so the delta paths of the codec are exercised, not only the
 * absolute ones.
 */
export function telemetryBatchArb(maxLength = 12): fc.Arbitrary<TelemetryRecord[]> {
  return fc
    .record({
      truckId: truckIdArb,
      stream: streamArb,
      bodies: fc.array(fc.tuple(telemetryBodyArb, fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength }),
      ts0: tsMsArb,
      steps: fc.array(fc.oneof(fc.constant(1000), fc.integer({ min: -5000, max: 60_000 })), {
        minLength: maxLength,
        maxLength,
      }),
    })
    .chain(({ truckId, stream, bodies, ts0, steps }) =>
      seqsArb(bodies.length).map((seqs) => {
        let ts = ts0;
        let prev: TelemetryBody | undefined;
        return bodies.map(([body, keep], i): TelemetryRecord => {
          if (i > 0) ts = Math.min(Math.max(ts + steps[i]!, MIN_TS), MAX_TS);
          // keep: bit 0 keeps the previous gps, bit 1 the previous engine, bit 2 the previous trouble codes.
          const merged: TelemetryBody = { ...body };
          if (prev && keep & 1) assign(merged, "gps", prev.gps);
          if (prev && keep & 2) assign(merged, "engine", prev.engine);
          if (prev && keep & 4) {
            assign(merged, "dtcs", prev.dtcs);
            assign(merged, "obdDtcs", prev.obdDtcs);
          }
          prev = merged;
          return { truckId, stream, seq: seqs[i]!, ts: new Date(ts).toISOString(), ...merged };
        });
      }),
    );
}

function assign<K extends keyof TelemetryBody>(target: TelemetryBody, key: K, value: TelemetryBody[K]): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}

const wellFormedText = (max: number) =>
  fc.string({ unit: "grapheme", maxLength: max }).filter((s) => s.length <= max && !LONE_SURROGATE.test(s));
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const eventBodyArb = fc.oneof(
  fc.record({ type: fc.constant("ignition" as const), on: fc.boolean() }),
  fc.record({
    type: fc.constant("dtc" as const),
    change: fc.constantFrom("raised", "cleared") as fc.Arbitrary<"raised" | "cleared">,
    dtc: fc.record({ j1939: j1939DtcArb, obd: obdDtcArb }, { requiredKeys: [] }),
  }),
  fc
    .record({
      type: fc.constant("gap" as const),
      channel: fc.constantFrom("telemetry", "events") as fc.Arbitrary<"telemetry" | "events">,
      fromSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      count: fc.integer({ min: 1, max: 1_000_000 }),
      reason: fc.constantFrom("outbox-full", "disk-full", "recovery") as fc.Arbitrary<
        "outbox-full" | "disk-full" | "recovery"
      >,
    })
    .map((g) => {
      const fromSeq = Math.min(g.fromSeq, Number.MAX_SAFE_INTEGER - g.count + 1);
      return { ...g, fromSeq, toSeq: fromSeq + g.count - 1 };
    }),
  fc.record({ type: fc.constant("start" as const), agentVersion: wellFormedText(32), bootId: wellFormedText(64) }),
  fc
    .record({
      type: fc.constant("thinned" as const),
      channel: fc.constant("telemetry" as const),
      fromSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      span: fc.integer({ min: 1, max: 1_000_000 }),
      removed: fc.integer({ min: 1, max: 1_000_000 }),
      keptEveryS: fc.integer({ min: 1, max: 86_400 }),
    })
    .map(({ span, removed, ...t }) => {
      const fromSeq = Math.min(t.fromSeq, Number.MAX_SAFE_INTEGER - span + 1);
      return { ...t, fromSeq, toSeq: fromSeq + span - 1, count: Math.min(removed, span) };
    }),
  fc.record({
    type: fc.constant("source" as const),
    signal: fc.constantFrom(...EngineSchema.keyof().options),
    from: fc.integer({ min: 0, max: 2047 }),
    to: fc.integer({ min: 0, max: 2047 }),
  }),
);

export function eventBatchArb(maxLength = 8): fc.Arbitrary<EventRecord[]> {
  return fc
    .record({
      truckId: truckIdArb,
      stream: streamArb,
      bodies: fc.array(
        fc.record(
          {
            body: eventBodyArb,
            gps: gpsArb,
            timeSource: fc.constantFrom("gnss", "system") as fc.Arbitrary<"gnss" | "system">,
            ts: tsMsArb,
          },
          { requiredKeys: ["body", "timeSource", "ts"] },
        ),
        { minLength: 1, maxLength },
      ),
    })
    .chain(({ truckId, stream, bodies }) =>
      seqsArb(bodies.length).map((seqs) =>
        bodies.map(
          ({ body, gps, timeSource, ts }, i) =>
            ({
              truckId,
              stream,
              seq: seqs[i]!,
              ts: new Date(ts).toISOString(),
              timeSource,
              ...(gps ? { gps } : {}),
              ...body,
            }) as EventRecord,
        ),
      ),
    );
}
