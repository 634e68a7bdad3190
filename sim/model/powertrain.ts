/**
 * A heavy truck's powertrain in closed form: a 12-speed gearbox, a final drive and the road loads. Engine speed is
 * a pure function of road speed and gear (above the clutch speed), so tests can check the simulated engine speed
 * against the simulated wheel speed exactly. Figures are typical of a 40 t European tractor (13 l, 330 kW).
 */
export const GEAR_RATIOS = [14.94, 11.73, 9.04, 7.09, 5.54, 4.35, 3.44, 2.7, 2.08, 1.63, 1.27, 1.0] as const;
export const AXLE_RATIO = 2.64;
/** Dynamic rolling radius of a 315/80 R22.5 tyre, metres. */
export const TYRE_RADIUS_M = 0.51;
export const IDLE_RPM = 600;
/** Engine speed while the clutch slips as the truck pulls away in first gear. */
export const CLUTCH_SLIP_RPM = 900;
export const MAX_RPM = 1900;
const UPSHIFT_RPM = 1450;
const DOWNSHIFT_RPM = 950;
/** Reference engine torque (J1939-71 SPN 544): torque percentages are relative to it. */
export const REFERENCE_TORQUE_NM = 2600;
export const MAX_POWER_W = 330_000;
const DRIVELINE_EFFICIENCY = 0.9;
const ROLLING_RESISTANCE = 0.006;
const AIR_DENSITY = 1.2;
/** Drag coefficient times frontal area of a tractor-trailer, m^2. */
const DRAG_AREA_M2 = 6;
const G = 9.81;
/** Diesel: about 210 g/kWh at the crankshaft, 835 g/l. */
const LITRES_PER_KWH = 210 / 835;
const IDLE_FUEL_LPH = 1.8;

/** Engine speed in a gear at a road speed (no clutch slip). */
export function engineRpmInGear(gear: number, speedMps: number): number {
  const ratio = GEAR_RATIOS[gear - 1];
  if (ratio === undefined) return 0;
  const wheelRpm = (speedMps / (2 * Math.PI * TYRE_RADIUS_M)) * 60;
  return wheelRpm * ratio * AXLE_RATIO;
}

/** The gear after one shift decision: at most one shift per step, like a real automated manual gearbox. */
export function nextGear(gear: number, speedMps: number, accelerating: boolean): number {
  if (speedMps < 0.2) return accelerating ? 1 : 0;
  const current = Math.max(gear, 1);
  const rpm = engineRpmInGear(current, speedMps);
  const upshiftAt = accelerating ? UPSHIFT_RPM : UPSHIFT_RPM - 150;
  if (rpm > upshiftAt && current < GEAR_RATIOS.length) return current + 1;
  if (rpm < DOWNSHIFT_RPM && current > 1) return current - 1;
  return current;
}

/** Engine speed for a running engine: idle in neutral, clutch slip below first gear's idle speed, else the gear's. */
export function engineRpm(gear: number, speedMps: number, accelerating: boolean): number {
  if (gear === 0) return IDLE_RPM;
  const inGear = engineRpmInGear(gear, speedMps);
  if (inGear < IDLE_RPM) return accelerating ? CLUTCH_SLIP_RPM : IDLE_RPM;
  return Math.min(inGear, MAX_RPM);
}

/** Force at the wheels needed for an acceleration on a grade (rise/run), newtons. */
export function tractiveForceN(massKg: number, speedMps: number, accelMps2: number, grade: number): number {
  const rolling = speedMps > 0.05 ? ROLLING_RESISTANCE * massKg * G : 0;
  const aero = 0.5 * AIR_DENSITY * DRAG_AREA_M2 * speedMps * speedMps;
  return massKg * accelMps2 + rolling + aero + massKg * G * grade;
}

/** The highest acceleration the engine can give in this gear at this speed (power and torque limits). */
export function maxAccelMps2(massKg: number, speedMps: number, gear: number, grade: number): number {
  const resist = tractiveForceN(massKg, speedMps, 0, grade);
  const ratio = GEAR_RATIOS[Math.max(gear, 1) - 1] ?? 1;
  const torqueLimitedN = (REFERENCE_TORQUE_NM * ratio * AXLE_RATIO * DRIVELINE_EFFICIENCY) / TYRE_RADIUS_M;
  const powerLimitedN = speedMps > 1 ? (MAX_POWER_W * DRIVELINE_EFFICIENCY) / speedMps : Number.POSITIVE_INFINITY;
  return (Math.min(torqueLimitedN, powerLimitedN) - resist) / massKg;
}

/** Actual engine torque in percent of the reference torque (J1939-71 SPN 513), from the force at the wheels. */
export function torquePercent(forceN: number, gear: number, running: boolean): number {
  if (!running) return 0;
  if (gear === 0) return 4; // idling against the engine's own friction and accessories
  const ratio = GEAR_RATIOS[gear - 1] ?? 1;
  const torqueNm = (forceN * TYRE_RADIUS_M) / (ratio * AXLE_RATIO * DRIVELINE_EFFICIENCY);
  // Overrun: the engine is motored (fuel cut), friction torque shows as a small negative value.
  const pct = torqueNm < 0 ? -8 : (torqueNm / REFERENCE_TORQUE_NM) * 100 + 4;
  return Math.max(-125, Math.min(125, Math.round(pct)));
}

/** Fuel rate in l/h from the power at the wheels; fuel is cut on overrun above walking speed. */
export function fuelRateLph(forceN: number, speedMps: number, running: boolean): number {
  if (!running) return 0;
  if (forceN < 0 && speedMps > 2) return 0;
  const engineKw = Math.max(0, forceN * speedMps) / DRIVELINE_EFFICIENCY / 1000;
  return IDLE_FUEL_LPH + engineKw * LITRES_PER_KWH;
}
