import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

/** Linux's id of this boot: tells "the agent restarted" from "the Pi rebooted". */
export function readBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim().slice(0, 64);
  } catch {
    return randomBytes(16).toString("hex");
  }
}
