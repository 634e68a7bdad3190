/**
 * CAN network interfaces as iproute2 reports them (`ip -details -json link show`): a Pi CAN HAT (MCP2515: PiCAN2/3,
 * Waveshare), a candleLight/gs_usb stick, or a virtual vcan. The JSON keys are those of iproute2's ip/iplink_can.c:
 * `linkinfo.info_kind` ("can", "vcan"), `linkinfo.info_data.ctrlmode` (an array of mode names such as
 * "LISTEN-ONLY", absent when no mode flag is set), `info_data.state` (ERROR-ACTIVE, ERROR-WARNING, ERROR-PASSIVE,
 * BUS-OFF, STOPPED), `info_data.bittiming.bitrate`, and the top-level `flags` (UP) and `operstate`.
 */
import { execFile } from "node:child_process";
import { FleetError } from "../../../common/errors.ts";

export interface CanInterface {
  name: string;
  kind: "can" | "vcan";
  /** Administratively up (`ip link set can0 up`). */
  up: boolean;
  operstate: string;
  /** The controller's state, e.g. ERROR-ACTIVE; null for vcan or when not reported. */
  state: string | null;
  bitrate: number | null;
  /** Listen-only: the controller never acknowledges a frame nor sends an error frame (a vcan has no bus at all). */
  listenOnly: boolean;
  ctrlmode: string[];
}

interface IpLink {
  ifname?: string;
  flags?: string[];
  operstate?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { ctrlmode?: string[]; state?: string; bittiming?: { bitrate?: number } };
  };
}

/** The CAN interfaces in `ip -details -json link show` output (other link kinds are left out). */
export function parseIpLinks(json: string): CanInterface[] {
  let links: IpLink[];
  try {
    links = JSON.parse(json) as IpLink[];
  } catch (error) {
    throw new FleetError("FLEET_CAN_INTERFACE", "ip printed something that is not JSON", { cause: error });
  }
  if (!Array.isArray(links)) return [];
  const out: CanInterface[] = [];
  for (const l of links) {
    const kind = l.linkinfo?.info_kind;
    if ((kind !== "can" && kind !== "vcan") || !l.ifname) continue;
    const data = l.linkinfo?.info_data;
    const ctrlmode = Array.isArray(data?.ctrlmode) ? data.ctrlmode : [];
    out.push({
      name: l.ifname,
      kind,
      up: (l.flags ?? []).includes("UP"),
      operstate: l.operstate ?? "UNKNOWN",
      state: data?.state ?? null,
      bitrate: data?.bittiming?.bitrate ?? null,
      listenOnly: kind === "vcan" || ctrlmode.includes("LISTEN-ONLY"),
      ctrlmode,
    });
  }
  return out;
}

function ip(ipPath: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ipPath, ["-details", "-json", "link", "show", ...args], { timeout: 5000 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr: String(stderr).trim() }));
      else resolve(stdout);
    });
  });
}

/** Every CAN interface of this machine ([] when there is none). */
export async function listCanInterfaces(ipPath = "ip"): Promise<CanInterface[]> {
  try {
    return parseIpLinks(await ip(ipPath, []));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new FleetError("FLEET_CAN_INTERFACE", `${ipPath} not found: install iproute2`, { cause: error });
    throw error;
  }
}

/** One interface, or undefined when it does not exist (a USB stick unplugged, a HAT whose overlay is not loaded). */
export async function readCanInterface(name: string, ipPath = "ip"): Promise<CanInterface | undefined> {
  try {
    return parseIpLinks(await ip(ipPath, ["dev", name])).find((i) => i.name === name);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT")
      throw new FleetError("FLEET_CAN_INTERFACE", `${ipPath} not found: install iproute2`, { cause: error });
    if (/does not exist/i.test(e.stderr ?? "")) return undefined;
    throw new FleetError("FLEET_CAN_INTERFACE", `ip link show ${name} failed: ${e.stderr || e.message}`, {
      cause: error,
    });
  }
}

/** The command that puts an interface up listen-only at a bitrate, for messages and docs. */
export function listenOnlyCommand(name: string, bitrate: number): string {
  return `sudo ip link set ${name} down && sudo ip link set ${name} up type can bitrate ${bitrate} listen-only on`;
}
