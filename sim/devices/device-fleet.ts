/**
 * Device mode: every simulated truck gets a GPS and a CAN device on pseudo-terminals that real agents open as
 * serial ports. A timer advances each truck to wall-clock time and writes what its devices sent meanwhile; the CAN
 * device is an SLCAN or ELM327 adapter emulation that answers the agent's commands and only streams once opened
 * the way the agent must open it (listen-only / monitor).
 *
 * A CAN adapter with a UART speed (`canBaudRate`) checks the speed the reader set on its end of the pty, which the
 * kernel keeps in that pty's termios (read with `stty -F <path> speed`): a pty moves bytes at any speed, so a
 * mismatch is modelled, not physical. Bytes that arrive while the reader's speed differs are what a UART receives at
 * the wrong speed, framing errors: the adapter understands none of them and answers nothing. What the adapter sends
 * meanwhile reaches the reader as garbage (bytes above 0x7F, no line ends). Every byte the reader wrote is recorded
 * with the speed it was written at (`received`), so tests check exactly what a program sent to each adapter.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { FleetError } from "../../common/errors.ts";
import { type Logger, silentLogger } from "../../common/log.ts";
import type { TimedFrame } from "../j1939/frame.ts";
import { createTruckSim, type TruckSim } from "../truck-sim.ts";

/** What the devices need of a truck: its devices' output up to simulated time tMs, and its state. */
export type DeviceSim = Pick<TruckSim, "advanceTo" | "state">;
import { type DeviceFleetConfig, type DeviceFleetOptions, parseDeviceFleetOptions } from "./config.ts";
import { createElm327Adapter, type Elm327Adapter } from "./elm327-adapter.ts";
import { createPtyPair, type PtyPair } from "./pty-pair.ts";
import { openSimPort, type SimPort } from "./sim-port.ts";
import { createSlcanAdapter, type SlcanAdapter } from "./slcan-adapter.ts";

export type DeviceKind = "gps" | "can";

export interface DeviceInfo {
  truckId: string;
  /** Path an agent opens as its GPS serial port; null when the truck has no GPS device. */
  gps: string | null;
  /** Path an agent opens as its CAN adapter; null when the truck has no CAN device. */
  can: string | null;
  canProtocol: "slcan" | "elm327" | "none";
}

export interface DeviceStats {
  truckId: string;
  phase: string;
  speedKmh: number;
  nmeaEpochs: number;
  canFrames: number;
  bytesDropped: number;
  plugged: Record<DeviceKind, boolean>;
  adapter: unknown;
  /** Bytes the reader wrote to the CAN adapter at a speed other than the adapter's (not understood). */
  misread: number;
}

/** Bytes the reader wrote to a device, in order, with the speed its port was set to (null: not checked). */
export interface ReceivedChunk {
  baudRate: number | null;
  text: string;
}

const MAX_RECEIVED_CHARS = 64 * 1024;
/** How often a CAN adapter with a UART speed re-reads the reader's speed while it streams. */
const SPEED_CHECK_MS = 250;

export interface DeviceFleet {
  start(): Promise<void>;
  stop(): Promise<void>;
  devices(): DeviceInfo[];
  stats(): DeviceStats[];
  /** Removes a device (socat stops, the link disappears), as if its USB cable were pulled. */
  unplug(truckId: string, kind: DeviceKind): Promise<void>;
  /** Brings an unplugged device back at the same path (a fresh adapter, closed, as after power-up). */
  replug(truckId: string, kind: DeviceKind): Promise<void>;
  /** What readers wrote to this device so far (the first 64 KiB), per speed. */
  received(truckId: string, kind: DeviceKind): ReceivedChunk[];
}

interface Device {
  kind: DeviceKind;
  agentPath: string;
  simPath: string;
  pair: PtyPair | null;
  port: SimPort | null;
  adapter: SlcanAdapter | Elm327Adapter | null;
  dropped: number;
  /** The adapter's UART speed; undefined: any speed works (USB CDC ACM). */
  baudRate: number | undefined;
  /** The speed the reader last set on its end, as read from the pty (undefined before the first check). */
  readerBaud: number | undefined;
  speedCheckedAt: number;
  /** A periodic check is under way (at most one at a time). */
  speedPolling: boolean;
  /** Checks started / the latest whose answer was kept: a slow older answer never overwrites a newer one. */
  speedChecks: number;
  speedApplied: number;
  received: ReceivedChunk[];
  receivedChars: number;
  /** Reader bytes not understood because of a speed mismatch. */
  misread: number;
  /** Keeps the replies in the order of the reader's chunks while a speed check is under way. */
  inbox: Promise<void>;
}

/** The speed set on a tty (the reader's end of a pty), or undefined when it cannot be read. */
function readSpeed(path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile("stty", ["-F", path, "speed"], { timeout: 5000 }, (error, stdout) => {
      const n = Number.parseInt(stdout, 10);
      resolve(error || !Number.isFinite(n) ? undefined : n);
    });
  });
}

/** What a reader at the wrong speed makes of text: one byte each, none of them ASCII or a line end. */
function garbled(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) out += String.fromCharCode(0x80 | ((text.charCodeAt(i) * 7) & 0x7f));
  return out;
}

interface SimTruck {
  truckId: string;
  sim: DeviceSim;
  canKind: "slcan" | "elm327" | "none";
  elm: { chip: "elm327" | "stn"; ignore: string[]; rxErrorEvery: number };
  canBaudRate: number | undefined;
  devices: Partial<Record<DeviceKind, Device>>;
  nmeaEpochs: number;
  canFrames: number;
}

export interface DeviceFleetDeps {
  logger?: Logger;
  /** Per truck id, what its devices send instead of the random-route model (scripted scenarios). */
  sims?: Record<string, DeviceSim>;
}

export function createDeviceFleet(options: DeviceFleetOptions, deps: DeviceFleetDeps = {}): DeviceFleet {
  const config: DeviceFleetConfig = parseDeviceFleetOptions(options);
  const log = deps.logger ?? silentLogger;
  const startTimeMs = config.startTimeMs ?? Math.floor(Date.now() / 1000) * 1000;
  const trucks: SimTruck[] = config.trucks.map((t) => {
    const devices: SimTruck["devices"] = {};
    const device = (kind: DeviceKind): Device => ({
      kind,
      agentPath: path.join(config.dir, `${t.truckId}.${kind}`),
      simPath: path.join(config.dir, `.${t.truckId}.${kind}.sim`),
      pair: null,
      port: null,
      adapter: null,
      dropped: 0,
      baudRate: kind === "can" ? t.canBaudRate : undefined,
      readerBaud: undefined,
      speedCheckedAt: 0,
      speedPolling: false,
      speedChecks: 0,
      speedApplied: 0,
      received: [],
      receivedChars: 0,
      misread: 0,
      inbox: Promise.resolve(),
    });
    if (t.gps) devices.gps = device("gps");
    if (t.can !== "none") devices.can = device("can");
    return {
      truckId: t.truckId,
      sim:
        deps.sims?.[t.truckId] ??
        createTruckSim({ seed: t.seed ?? t.truckId, startTimeMs, nmeaHz: t.nmeaHz, faults: t.faults, ecus: t.ecus }),
      elm: t.elm,
      canBaudRate: t.canBaudRate,
      canKind: t.can,
      devices,
      nmeaEpochs: 0,
      canFrames: 0,
    };
  });
  let timer: NodeJS.Timeout | undefined;
  let t0 = 0;
  let state: "new" | "running" | "stopped" = "new";

  async function plug(truck: SimTruck, d: Device): Promise<void> {
    d.pair = await createPtyPair(d.simPath, d.agentPath);
    try {
      d.port = await openSimPort(d.simPath, config.maxPendingBytes);
    } catch (error) {
      await d.pair.stop();
      d.pair = null;
      throw error;
    }
    if (d.kind === "can")
      d.adapter = truck.canKind === "elm327" ? createElm327Adapter(truck.elm) : createSlcanAdapter();
    d.readerBaud = undefined;
    const { port, adapter } = d;
    port.onData((text) => {
      d.inbox = d.inbox.then(async () => {
        if (d.baudRate !== undefined) await checkSpeed(d);
        record(d, text);
        if (!adapter || d.port !== port) return;
        if (d.baudRate !== undefined && d.readerBaud !== d.baudRate) {
          d.misread += text.length;
          return;
        }
        port.write(adapter.input(text));
      });
    });
  }

  /**
   * Reads the reader's speed afresh. The reader's bytes each wait for a check started after they arrived (a check
   * already under way may predate a reopen at another speed); the output path polls.
   */
  function checkSpeed(d: Device): Promise<void> {
    const check = ++d.speedChecks;
    d.speedCheckedAt = Date.now();
    return readSpeed(d.agentPath).then((baud) => {
      if (check < d.speedApplied) return;
      d.speedApplied = check;
      d.readerBaud = baud;
    });
  }

  function pollSpeed(d: Device): void {
    if (d.speedPolling || Date.now() - d.speedCheckedAt < SPEED_CHECK_MS) return;
    d.speedPolling = true;
    void checkSpeed(d).finally(() => {
      d.speedPolling = false;
    });
  }

  function record(d: Device, text: string): void {
    const room = MAX_RECEIVED_CHARS - d.receivedChars;
    if (room <= 0) return;
    const part = text.slice(0, room);
    d.receivedChars += part.length;
    const baudRate = d.baudRate === undefined ? null : (d.readerBaud ?? null);
    const lastChunk = d.received.at(-1);
    if (lastChunk && lastChunk.baudRate === baudRate) lastChunk.text += part;
    else d.received.push({ baudRate, text: part });
  }

  async function unplugDevice(d: Device): Promise<void> {
    const { port, pair } = d;
    if (port) d.dropped += port.counters().bytesDropped;
    d.port = null;
    d.pair = null;
    await port?.close();
    await pair?.stop();
  }

  function writeCan(d: Device, frames: TimedFrame[]): void {
    if (!d.port || !d.adapter) return;
    const text = d.adapter.output(frames);
    if (d.baudRate === undefined) return d.port.write(text);
    pollSpeed(d);
    d.port.write(d.readerBaud === d.baudRate ? text : garbled(text));
  }

  function tick(): void {
    const now = (Date.now() - t0) * config.timeScale;
    for (const truck of trucks) {
      const out = truck.sim.advanceTo(now);
      truck.nmeaEpochs += out.nmea.length;
      truck.canFrames += out.can.length;
      const gps = truck.devices.gps?.port;
      if (gps) for (const epoch of out.nmea) gps.write(`${epoch.sentences.join("\r\n")}\r\n`);
      const can = truck.devices.can;
      if (can && out.can.length > 0) writeCan(can, out.can);
    }
  }

  function find(truckId: string, kind: DeviceKind): { truck: SimTruck; device: Device } {
    const truck = trucks.find((t) => t.truckId === truckId);
    const device = truck?.devices[kind];
    if (!truck || !device) throw new FleetError("FLEET_USAGE", `no ${kind} device for truck ${truckId}`);
    return { truck, device };
  }

  return {
    async start() {
      if (state !== "new") throw new FleetError("FLEET_CLOSED", "device fleet already started");
      state = "running";
      await mkdir(config.dir, { recursive: true });
      try {
        for (const truck of trucks) {
          for (const d of Object.values(truck.devices)) await plug(truck, d);
        }
      } catch (error) {
        await this.stop();
        throw error;
      }
      t0 = Date.now();
      timer = setInterval(tick, config.tickMs);
      timer.unref();
      log.info({ trucks: trucks.length, dir: config.dir }, "simulated devices ready");
    },
    async stop() {
      if (state === "stopped") return;
      state = "stopped";
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all(trucks.flatMap((t) => Object.values(t.devices).map((d) => unplugDevice(d))));
    },
    devices: () =>
      trucks.map((t) => ({
        truckId: t.truckId,
        gps: t.devices.gps?.agentPath ?? null,
        can: t.devices.can?.agentPath ?? null,
        canProtocol: t.canKind,
      })),
    stats: () =>
      trucks.map((t) => {
        const s = t.sim.state();
        const dropped = Object.values(t.devices).reduce(
          (sum, d) => sum + d.dropped + (d.port?.counters().bytesDropped ?? 0),
          0,
        );
        return {
          truckId: t.truckId,
          phase: s.phase,
          speedKmh: Math.round(s.speedKmh * 10) / 10,
          nmeaEpochs: t.nmeaEpochs,
          canFrames: t.canFrames,
          bytesDropped: dropped,
          plugged: { gps: t.devices.gps?.port != null, can: t.devices.can?.port != null },
          adapter: t.devices.can?.adapter?.status() ?? null,
          misread: t.devices.can?.misread ?? 0,
        };
      }),
    async unplug(truckId, kind) {
      const { device } = find(truckId, kind);
      await unplugDevice(device);
    },
    received(truckId, kind) {
      return find(truckId, kind).device.received.map((c) => ({ ...c }));
    },
    async replug(truckId, kind) {
      const { truck, device } = find(truckId, kind);
      if (state !== "running") throw new FleetError("FLEET_CLOSED", "device fleet is not running");
      if (!device.port) await plug(truck, device);
    },
  };
}
