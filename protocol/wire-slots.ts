/**
 * Field slots: how one numeric field of a record is delta-coded across the records of a batch. Shared by the
 * telemetry encoder and decoder so both sides run the very same predictor (the decoder can only rebuild a value
 * from a residual if it predicts exactly what the encoder predicted).
 *
 * Each slot holds a state per record: absent (the record does not carry the field), null (carried, not
 * available), or a value (an integer: the field scaled by 10^decimals). Per record the encoder says, with one bit
 * per slot in a "changed" mask, which slots differ from the prediction, and only those cost more bits:
 * - previous state value, new value: the residual `value - prediction` (never 0, since 0 means unchanged) as
 *   Exp-Golomb magnitude with the slot's `kRes`, then a sign bit. Magnitude 0 is the escape for "no longer a
 *   value", followed by one bit: 0 absent, 1 null.
 * - previous state absent or null: one bit names the new state (the other of absent/null, or a value); a value
 *   is then written absolutely with the slot's `kAbs` (a sign bit follows when the slot can be negative).
 */
import type { BitReader, BitWriter } from "./bits.ts";
import { FleetError } from "../common/errors.ts";

export const ABSENT = 0;
export const NULL = 1;
export const VALUE = 2;
export type SlotStateKind = typeof ABSENT | typeof NULL | typeof VALUE;

export interface SlotSpec {
  name: string;
  /** hold: predict the last value; linear: predict last + last step (positions, clocks, odometers). */
  predictor: "hold" | "linear";
  /** Exp-Golomb order for residuals: about log2 of a typical change between two records. */
  kRes: number;
  /** Exp-Golomb order for absolute values: about log2 of a typical value. */
  kAbs: number;
  /** Whether absolute values can be negative (adds a sign bit). */
  signed: boolean;
  /** Values live in [0, wrap) and residuals go the short way round (course: 359.9 -> 0.1 is +0.2, not -359.8). */
  wrap?: number;
}

/** Per-slot coding state, advanced identically by encoder and decoder. */
export class SlotState {
  state: SlotStateKind = ABSENT;
  last = 0;
  step = 0;

  constructor(readonly spec: SlotSpec) {}

  predict(): number {
    return this.spec.predictor === "linear" ? this.last + this.step : this.last;
  }

  /** True when a record with (state, value) costs nothing beyond its 0 bit in the changed mask. */
  unchanged(state: SlotStateKind, value: number): boolean {
    return state === this.state && (state !== VALUE || value === this.predict());
  }

  advance(state: SlotStateKind, value: number): void {
    if (state === VALUE) {
      this.step = this.state === VALUE ? value - this.last : 0;
      this.last = value;
    }
    this.state = state;
  }

  /** `assumeValue`: leaving absent can only mean a value (the writer promised no nulls), so no state bit. */
  write(out: BitWriter, state: SlotStateKind, value: number, assumeValue = false): void {
    const { kRes, kAbs, signed, wrap } = this.spec;
    if (this.state === VALUE) {
      if (state !== VALUE) {
        out.eg(0, kRes);
        out.bit(state === NULL);
      } else {
        let residual = value - this.predict();
        if (wrap !== undefined) residual = shortWay(residual, wrap);
        out.eg(Math.abs(residual), kRes);
        out.bit(residual < 0);
      }
    } else {
      const other = this.state === ABSENT ? NULL : ABSENT;
      if (assumeValue && this.state === ABSENT) {
        if (state !== VALUE) throw slotError(this.spec.name, "null written under the no-nulls promise");
      } else {
        out.bit(state === VALUE);
      }
      if (state === VALUE) writeAbsolute(out, value, kAbs, signed);
      else if (state !== other) throw slotError(this.spec.name, "unchanged state written as changed");
    }
    this.advance(state, value);
  }

  read(input: BitReader, assumeValue = false): void {
    const { kRes, kAbs, signed, wrap } = this.spec;
    if (this.state === VALUE) {
      const magnitude = input.eg(kRes);
      if (magnitude === 0) {
        this.advance(input.bit() === 1 ? NULL : ABSENT, 0);
        return;
      }
      const residual = input.bit() === 1 ? -magnitude : magnitude;
      let value = this.predict() + residual;
      if (wrap !== undefined) value = ((value % wrap) + wrap) % wrap;
      this.advance(VALUE, value);
    } else if ((assumeValue && this.state === ABSENT) || input.bit() === 1) {
      this.advance(VALUE, signed ? input.signed(kAbs) : input.eg(kAbs));
    } else {
      this.advance(this.state === ABSENT ? NULL : ABSENT, 0);
    }
  }

  /** The state a record carries when its mask bit is 0: same state, predicted value. */
  repeat(): void {
    this.advance(this.state, this.predict());
  }
}

/**
 * The writer broke the slot's own state rules: a codec bug, not bad input (records are validated before encoding).
 * Typed like every encoder refusal, so the agent's drain sends the batch as JSON for the bridge to dead-letter.
 */
function slotError(slot: string, what: string): FleetError {
  return new FleetError("FLEET_PAYLOAD_INVALID", `slot ${slot}: ${what}`, { details: { slot } });
}

function writeAbsolute(out: BitWriter, value: number, k: number, signed: boolean): void {
  if (signed) out.signed(value, k);
  else out.eg(value, k);
}

function shortWay(residual: number, wrap: number): number {
  let r = residual % wrap;
  if (r >= wrap / 2) r -= wrap;
  if (r < -wrap / 2) r += wrap;
  return r;
}
