/**
 * `fleetsync provision`: writes a truck's agent configuration from flags. Everything is validated against the same
 * schema the agent loads (agent/config.ts) before a byte is written, and errors name the flag.
 */
import { access, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AgentConfigSchema } from "../agent/config.ts";
import { FleetError } from "../common/errors.ts";
import { parseCommandArgs } from "./commands.ts";

const HELP = `Usage: fleetsync provision --truck-id ID --broker URL [options]

Writes the agent's configuration file for one truck.
  --truck-id ID          the truck id (1-64 of A-Z a-z 0-9 _ -); also the MQTT client id and username
  --broker URL           mqtts://host:8883 (TLS) or mqtt://host:1883
  --password SECRET      the truck's MQTT password (or --password-file FILE)
  --password-file FILE   read the password from a file (keeps it out of shell history)
  --ca FILE              PEM file of the fleet CA that signed the broker's certificate
  --gps PATH             GPS serial port, e.g. /dev/serial/by-id/usb-u-blox...   --gps-baud N (default 9600)
  --can PATH             CAN adapter serial port                                  --can-baud N (default 115200)
  --can-format F         slcan | elm327 | candump (default slcan)                 --can-bitrate N (default 250000)
  --can-interface NAME   a SocketCAN interface instead of --can (a Pi CAN HAT, a candleLight stick), e.g. can0;
                         read with can-utils' candump; it must be up and listen-only (docs/installer-guide.md)
  --can-allow-active     accept an interface that is not listen-only (only on purpose: it acknowledges frames)
  --data-dir DIR         outbox folder (default /var/lib/fleetsync/outbox)
  --outbox-max-mb N      outbox disk budget in MiB (default 256)
  --mqtt-version 5|4     MQTT 5 (default) or 3.1.1
  --out FILE             where to write (default /etc/fleetsync/agent.json); --force to overwrite
Find the ports with \`fleetsync doctor\` first.
`;

/** Which flag set which config field, so a schema error can name the flag the installer typed. */
const FLAG_OF: Record<string, string> = {
  truckId: "--truck-id",
  "broker.url": "--broker",
  "broker.password": "--password",
  "broker.caFile": "--ca",
  "broker.protocolVersion": "--mqtt-version",
  "gps.path": "--gps",
  "gps.baudRate": "--gps-baud",
  "can.path": "--can",
  "can.baudRate": "--can-baud",
  "can.format": "--can-format",
  "can.bitrate": "--can-bitrate",
  "can.interface": "--can-interface",
  "outbox.dir": "--data-dir",
  "outbox.maxBytes": "--outbox-max-mb",
};

function usage(message: string): FleetError {
  return new FleetError("FLEET_USAGE", `${message} (see fleetsync provision --help)`);
}

function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw usage(`${flag} must be a whole number, not ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * A port is often provisioned before its adapter is plugged in, so a missing one is a warning, not an error: the
 * agent keeps retrying the path. But a typo would otherwise go unnoticed until nobody sees data.
 */
async function warnIfNotADevice(flag: string, path: string): Promise<void> {
  const found = await stat(path).catch(() => undefined);
  if (!found) {
    process.stderr.write(
      `warning: ${flag} ${path} does not exist now: the agent will keep retrying it; plug the device in, or find the right path with \`fleetsync doctor\`\n`,
    );
  } else if (!found.isCharacterDevice()) {
    process.stderr.write(`warning: ${flag} ${path} is not a serial device (not a character device)\n`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseCommandArgs(argv, {
    options: {
      "truck-id": { type: "string" },
      broker: { type: "string" },
      password: { type: "string" },
      "password-file": { type: "string" },
      ca: { type: "string" },
      gps: { type: "string" },
      "gps-baud": { type: "string" },
      can: { type: "string" },
      "can-baud": { type: "string" },
      "can-format": { type: "string" },
      "can-bitrate": { type: "string" },
      "can-interface": { type: "string" },
      "can-allow-active": { type: "boolean" },
      "data-dir": { type: "string" },
      "outbox-max-mb": { type: "string" },
      "mqtt-version": { type: "string" },
      out: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!v["truck-id"]) throw usage("--truck-id is required");
  if (!v.broker) throw usage("--broker is required");
  if (v.password && v["password-file"]) throw usage("give --password or --password-file, not both");
  let password = v.password;
  if (v["password-file"]) {
    password = (
      await readFile(v["password-file"], "utf8").catch((e: Error) => {
        throw usage(`--password-file ${v["password-file"]}: ${e.message}`);
      })
    ).trim();
    if (!password) throw usage(`--password-file ${v["password-file"]} is empty`);
  }
  if (v.ca) {
    const pem = await readFile(v.ca, "utf8").catch((e: Error) => {
      throw usage(`--ca ${v.ca}: ${e.message}`);
    });
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw usage(`--ca ${v.ca} is not a PEM certificate file`);
  }
  if (v.broker.startsWith("mqtt://") && password) {
    process.stderr.write("warning: --broker is plain mqtt://: the password will cross the network unencrypted\n");
  }
  const iface = v["can-interface"];
  if (iface !== undefined && (v.can !== undefined || v["can-format"] !== undefined || v["can-baud"] !== undefined))
    throw usage("--can-interface reads a SocketCAN interface: give it without --can, --can-format and --can-baud");
  if (v["can-allow-active"] && iface === undefined) throw usage("--can-allow-active goes with --can-interface");
  const canFormat = iface !== undefined ? "socketcan" : (v["can-format"] ?? "slcan");
  if (!["slcan", "elm327", "candump", "socketcan"].includes(canFormat) || (canFormat === "socketcan" && !iface)) {
    throw usage(`--can-format must be slcan, elm327 or candump, not ${JSON.stringify(canFormat)}`);
  }
  const mqttVersion = integer("--mqtt-version", v["mqtt-version"], 5);
  const config = {
    truckId: v["truck-id"],
    ...(v.gps ? { gps: { path: v.gps, baudRate: integer("--gps-baud", v["gps-baud"], 9600) } } : {}),
    ...(v.can
      ? {
          can: {
            path: v.can,
            baudRate: integer("--can-baud", v["can-baud"], 115200),
            format: canFormat,
            bitrate: integer("--can-bitrate", v["can-bitrate"], 250000),
          },
        }
      : {}),
    ...(iface !== undefined
      ? {
          can: {
            format: "socketcan",
            interface: iface,
            bitrate: integer("--can-bitrate", v["can-bitrate"], 250000),
            ...(v["can-allow-active"] ? { allowActiveInterface: true } : {}),
          },
        }
      : {}),
    broker: {
      url: v.broker,
      ...(password ? { password } : {}),
      ...(v.ca ? { caFile: v.ca } : {}),
      protocolVersion: mqttVersion,
    },
    outbox: {
      dir: v["data-dir"] ?? "/var/lib/fleetsync/outbox",
      maxBytes: integer("--outbox-max-mb", v["outbox-max-mb"], 256) * 1024 * 1024,
    },
  };
  if (!v.gps && !v.can && !iface)
    process.stderr.write("warning: neither --gps nor --can given: the agent will record nothing\n");
  for (const [flag, path] of [
    ["--gps", v.gps],
    ["--can", v.can],
  ] as const) {
    if (path) await warnIfNotADevice(flag, path);
  }
  const checked = AgentConfigSchema.safeParse(config);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const path = issue.path.map(String).join(".");
    const shown =
      path === "broker.password"
        ? "(hidden)"
        : JSON.stringify(
            path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], config),
          );
    throw usage(`${FLAG_OF[path] ?? path} ${shown}: ${issue.message}`);
  }
  const out = v.out ?? "/etc/fleetsync/agent.json";
  const exists = await access(out).then(
    () => true,
    () => false,
  );
  if (exists && !v.force) throw usage(`${out} exists; add --force to overwrite it`);
  await mkdir(dirname(out), { recursive: true });
  // Written whole then renamed, so the agent never reads half a file; 0600 because it holds the password.
  const tmp = join(dirname(out), `.agent.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, out);
  process.stdout.write(
    `wrote ${out}: truck ${config.truckId}, broker ${config.broker.url}` +
      `${config.gps ? `, GPS ${config.gps.path}` : ""}${v.can ? `, CAN ${v.can} (${canFormat})` : ""}${iface ? `, CAN interface ${iface} (SocketCAN)` : ""}\n`,
  );
  return 0;
}
