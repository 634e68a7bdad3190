import { z } from "zod";
import { FleetError } from "../common/errors.ts";

/** Design contract: a truck id is 1-64 characters of A-Z a-z 0-9 _ -. It is the MQTT client id, username and Kafka key. */
export const TRUCK_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const TruckIdSchema = z
  .string()
  .regex(TRUCK_ID_PATTERN)
  .describe("Truck id: 1-64 characters of A-Z a-z 0-9 _ -. MQTT client id, MQTT username and Kafka record key.");

export function isTruckId(value: unknown): value is string {
  return typeof value === "string" && TRUCK_ID_PATTERN.test(value);
}

export function assertTruckId(value: unknown, what = "truck id"): string {
  if (isTruckId(value)) return value;
  throw new FleetError(
    "FLEET_TRUCK_ID_INVALID",
    `${what} ${JSON.stringify(value)} is not valid: use 1-64 characters of A-Z a-z 0-9 _ -`,
  );
}
