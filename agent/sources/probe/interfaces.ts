/**
 * For `doctor`: the machine's CAN network interfaces (iproute2), and for each one that is up, what `candump -L`
 * hears on it for a moment (frames/s, PGNs, engine speed). candump only receives; doctor sends nothing to an
 * interface and changes none of its settings.
 */
import { spawn } from "node:child_process";
import { type CanInterface, listCanInterfaces } from "../can/interfaces.ts";
import { createLineSplitter } from "../serial/line-splitter.ts";
import { asCan, type ProbeResult } from "./probe.ts";

export interface InterfaceProbe {
  iface: CanInterface;
  can?: ProbeResult["can"];
  /** candump could not be run or stopped with an error (its last stderr line). */
  error?: string;
}

export interface InterfaceProbeOptions {
  listenMs: number;
  candumpPath?: string;
  ipPath?: string;
}

function listen(name: string, options: InterfaceProbeOptions): Promise<{ lines: string[]; error?: string }> {
  return new Promise((resolve) => {
    const lines: string[] = [];
    let stderr = "";
    const splitter = createLineSplitter({
      maxLineBytes: 512,
      onLine: (l) => {
        if (lines.length < 20_000) lines.push(l);
      },
    });
    const child = spawn(options.candumpPath ?? "candump", ["-L", name], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (c: Buffer) => splitter.push(c));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (t: string) => (stderr = (stderr + t).slice(-2000)));
    const timer = setTimeout(() => child.kill("SIGTERM"), options.listenMs);
    child.once("error", (e: NodeJS.ErrnoException) => {
      stderr = e.code === "ENOENT" ? "candump not found: install can-utils" : e.message;
    });
    child.once("close", (_code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split("\n").at(-1);
      resolve({ lines, ...(signal === "SIGTERM" || !last ? {} : { error: last }) });
    });
  });
}

/** Every CAN interface, listened to with candump when it is up. */
export async function probeCanInterfaces(options: InterfaceProbeOptions): Promise<InterfaceProbe[]> {
  const interfaces = await listCanInterfaces(options.ipPath);
  return Promise.all(
    interfaces.map(async (iface): Promise<InterfaceProbe> => {
      if (!iface.up) return { iface };
      const heard = await listen(iface.name, options);
      const can = asCan(heard.lines, options.listenMs);
      return { iface, ...(can ? { can } : {}), ...(heard.error ? { error: heard.error } : {}) };
    }),
  );
}
