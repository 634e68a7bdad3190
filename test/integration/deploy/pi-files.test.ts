/**
 * The Pi's system files and the server units under deploy/pipelines/, checked with the real tools where this machine
 * has them: `systemd-analyze verify` for the units (it names every unknown or misspelt setting), `sh -n` for the
 * scripts, and the udev rules parsed strictly and evaluated against the adapters the installer guide promises to name.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateUdevRules, parseUdevRules, type UdevDevice } from "./udev.ts";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");
const pi = join(repoRoot, "deploy/pi");
const UNITS = ["fleetsync-agent.service", "fleetsync-firstboot.service", "fleetsync-socketcan.service"];
/** Units for a server, not in the Pi's package, verified with the Pi's. */
const SERVER_UNITS = [join(repoRoot, "deploy/pipelines/fleetsync-map.service")];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "fleetsync-pi-files-"));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** `Key=value` settings of a unit file, in order (a key may repeat, e.g. DeviceAllow). */
async function settings(unit: string): Promise<[string, string][]> {
  const text = await readFile(join(pi, unit), "utf8");
  return text
    .split("\n")
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]);
}

describe("systemd units", () => {
  it("pass `systemd-analyze verify` without a single warning", async () => {
    // verify also checks that each ExecStart program exists; the package's programs are not installed here
    // (deb-install.test.ts verifies the installed units), and node may live elsewhere on a development machine,
    // so point those at /bin/true in a copy.
    const files = [...UNITS.map((u) => join(pi, u)), ...SERVER_UNITS];
    for (const file of files) {
      const text = (await readFile(file, "utf8"))
        .replace("/usr/bin/fleetsync", "/bin/true")
        .replace("ExecStart=/usr/bin/node ", "ExecStart=/bin/true ")
        .replace("/usr/lib/fleetsync/firstboot", "/bin/true");
      await writeFile(join(work, basename(file)), text);
    }
    const { stderr } = await run("systemd-analyze", ["verify", ...files.map((f) => join(work, basename(f)))]);
    expect(stderr.trim()).toBe("");
  });

  it("the agent runs as its own user in dialout, restarts on failure, and is hardened", async () => {
    const s = await settings("fleetsync-agent.service");
    const get = (key: string) => s.filter(([k]) => k === key).map(([, v]) => v);
    // node itself (not the /usr/bin/fleetsync wrapper): V8 refuses --no-opt in NODE_OPTIONS. The script is the
    // one the wrapper runs (deploy/deb/stage.ts).
    expect(get("ExecStart")).toEqual([
      "/usr/bin/node --no-opt --no-maglev --optimize-for-size /usr/lib/fleetsync/dist/cli/fleetsync.js agent --config /etc/fleetsync/agent.json",
    ]);
    expect(get("ExecStartPre")).toEqual([
      "+/bin/chown root:fleetsync /etc/fleetsync/agent.json",
      "+/bin/chmod 0640 /etc/fleetsync/agent.json",
    ]);
    expect(get("User")).toEqual(["fleetsync"]);
    expect(get("SupplementaryGroups")).toEqual(["dialout"]);
    expect(get("Restart")).toEqual(["on-failure"]);
    expect(get("StateDirectory")).toEqual(["fleetsync"]);
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["DevicePolicy", "closed"],
    ]) {
      expect(get(key!), key).toEqual([value]);
    }
    expect(get("DeviceAllow")).toEqual(["char-ttyUSB rw", "char-ttyACM rw", "char-ttyAMA rw", "char-ttyS rw"]);
    expect(get("ConditionPathExists")).toEqual(["/etc/fleetsync/agent.json"]);
    // The JIT needs W+X memory; this setting would crash Node at start.
    expect(get("MemoryDenyWriteExecute")).toEqual([]);
  });

  it("first boot looks on both boot partition mount points and runs before the agent", async () => {
    const s = await settings("fleetsync-firstboot.service");
    expect(s.filter(([k]) => k === "ConditionPathExists").map(([, v]) => v)).toEqual([
      "|/boot/firmware/fleetsync.json",
      "|/boot/fleetsync.json",
    ]);
    expect(s).toContainEqual(["Before", "fleetsync-agent.service"]);
    expect(s).toContainEqual(["Type", "oneshot"]);
  });

  it("the SocketCAN unit opens the adapter listen-only", async () => {
    const exec = (await settings("fleetsync-socketcan.service")).filter(([k]) => k === "ExecStart").map(([, v]) => v);
    expect(exec.some((e) => /type can bitrate \S+ listen-only on$/.test(e))).toBe(true);
  });

  it("the restart backoff drop-in only uses the two settings systemd >= 254 adds", async () => {
    const text = await readFile(join(pi, "restart-backoff.conf"), "utf8");
    const keys = text
      .split("\n")
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => l.split("=")[0]);
    expect(keys).toEqual(["RestartSteps", "RestartMaxDelaySec"]);
  });

  it("the scripts parse with sh -n", async () => {
    for (const script of [
      join(pi, "firstboot.sh"),
      ...["postinst", "prerm", "postrm"].map((s) => join(repoRoot, "deploy/deb/maintainer", s)),
    ]) {
      await expect(run("sh", ["-n", script]), script).resolves.toBeDefined();
    }
  });
});

describe("udev rules", () => {
  const tty = (idVendor: string, idProduct: string, kernel = "ttyUSB0"): UdevDevice => ({
    action: "add",
    subsystem: "tty",
    kernel,
    attrs: { idVendor, idProduct },
  });

  async function rules() {
    return parseUdevRules(await readFile(join(pi, "70-fleetsync.rules"), "utf8"));
  }

  it.each([
    ["u-blox M8", tty("1546", "01a8", "ttyACM0"), "fleetsync-gps"],
    ["u-blox F9P", tty("1546", "01a9", "ttyACM0"), "fleetsync-gps"],
    ["CANable slcan", tty("16d0", "117e", "ttyACM1"), "fleetsync-can"],
  ])("%s gets its stable name and is hidden from ModemManager", async (_name, device, link) => {
    const result = evaluateUdevRules(await rules(), device);
    expect(result.symlinks).toEqual([link]);
    expect(result.env.ID_MM_DEVICE_IGNORE).toBe("1");
  });

  it.each([
    ["FTDI FT232R", tty("0403", "6001")],
    ["FTDI FT231X", tty("0403", "6015")],
    ["CH340", tty("1a86", "7523")],
    ["CP2102", tty("10c4", "ea60")],
    ["PL2303", tty("067b", "2303")],
  ])("%s (GPS or CAN: doctor decides) gets no role name, but ModemManager keeps away", async (_name, device) => {
    const result = evaluateUdevRules(await rules(), device);
    expect(result.symlinks).toEqual([]);
    expect(result.env).toMatchObject({ ID_MM_DEVICE_IGNORE: "1", FLEETSYNC_ROLE: "unknown" });
  });

  it.each([
    ["candleLight 1d50:606f", "1d50", "606f"],
    ["candleLight 1209:2323", "1209", "2323"],
  ])("%s (gs_usb, SocketCAN) becomes interface fleetsync-can, brought up listen-only by systemd", async (_n, v, p) => {
    const result = evaluateUdevRules(await rules(), {
      action: "add",
      subsystem: "net",
      kernel: "can0",
      attrs: { idVendor: v, idProduct: p },
    });
    expect(result.name).toBe("fleetsync-can");
    expect(result.tags).toContain("systemd");
    expect(result.env.SYSTEMD_WANTS).toBe("fleetsync-socketcan.service");
  });

  it("leaves other devices, and removals, alone", async () => {
    expect(evaluateUdevRules(await rules(), tty("2341", "0043"))).toEqual({
      symlinks: [],
      name: undefined,
      env: {},
      tags: [],
    });
    const removal = { ...tty("1546", "01a8"), action: "remove" };
    expect(evaluateUdevRules(await rules(), removal).symlinks).toEqual([]);
  });

  it("the reader itself refuses a misspelt key (so the checks above mean something)", () => {
    expect(() => parseUdevRules('ATTRS{idVendor}=="1546", SYMLNK+="x"')).toThrow(/SYMLNK/);
    expect(() => parseUdevRules('GOTO="nowhere"')).toThrow(/unknown nowhere/);
  });
});
