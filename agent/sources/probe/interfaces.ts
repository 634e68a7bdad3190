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

/**
 * How long candump may take to say anything before the interface counts as silent, on top of the window. The window
 * starts at candump's first output, not at the spawn: a start slowed by a loaded machine must not eat it (a bus with
 * traffic then looked silent), and frames/s is then measured over the time that was really listened to. 5 s: a
 * stand-in candump (a node script) at nice 10 beside a benchmark once took over 3 s to print its first frame. On a
 * silent bus doctor waits that much longer, mostly while it still probes the serial ports.
 */
const START_ALLOWANCE_MS = 5_000;

function listen(
  name: string,
  options: InterfaceProbeOptions,
): Promise<{ lines: string[]; listenedMs: number; error?: string }> {
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
    const stop = () => child.kill("SIGTERM");
    let heardAt: number | undefined;
    let timer = setTimeout(stop, options.listenMs + START_ALLOWANCE_MS);
    child.stdout.on("data", (c: Buffer) => {
      if (heardAt === undefined) {
        heardAt = performance.now();
        clearTimeout(timer);
        timer = setTimeout(stop, options.listenMs);
      }
      splitter.push(c);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (t: string) => (stderr = (stderr + t).slice(-2000)));
    child.once("error", (e: NodeJS.ErrnoException) => {
      stderr = e.code === "ENOENT" ? "candump not found: install can-utils" : e.message;
    });
    child.once("close", (_code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split("\n").at(-1);
      const listenedMs = heardAt === undefined ? options.listenMs : Math.max(1, performance.now() - heardAt);
      resolve({ lines, listenedMs, ...(signal === "SIGTERM" || !last ? {} : { error: last }) });
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
      const can = asCan(heard.lines, heard.listenedMs);
      return { iface, ...(can ? { can } : {}), ...(heard.error ? { error: heard.error } : {}) };
    }),
  );
}
