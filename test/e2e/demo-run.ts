/**
 * Runs `npm run demo`'s script as a child process in its non-terminal mode (one JSON line per refresh) and checks
 * afterwards that it left nothing behind: no agent, bridge, socat or java process that belongs to it, no folder.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./bridge.ts";

export interface DemoReady {
  ready: true;
  startupMs: number;
  dir: string;
  brokers: string[];
  kafkaDataDir: string | null;
  bridge: { pid: number; port: number };
  map: { pid: number; url: string };
  history: { pid: number; port: number; databaseUrl: string };
  /** The throw-away PostgreSQL's folder when the demo started one (no DATABASE_URL). */
  postgresDataDir: string | null;
  agents: { truckId: string; pid: number; metricsPort: number }[];
}

export interface DemoFrame {
  t: number;
  trucks: {
    truckId: string;
    inKafka: number;
    lastSeq: number | null;
    lag: number | null;
    inDatabase: number | null;
    online: boolean;
  }[];
}

export interface DemoRun {
  readonly child: ChildProcess;
  readonly frames: DemoFrame[];
  readonly messages: string[];
  ready(): DemoReady | undefined;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runDemo(args: string[], env: NodeJS.ProcessEnv): DemoRun {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "test/demo/demo.ts"), "--plain", ...args], {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const frames: DemoFrame[] = [];
  const messages: string[] = [];
  let ready: DemoReady | undefined;
  let err = "";
  let pending = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const value = JSON.parse(line) as Partial<DemoFrame & DemoReady & { message: string }>;
      if (value.ready) ready = value as DemoReady;
      else if (value.trucks) frames.push(value as DemoFrame);
      else if (value.message) messages.push(value.message);
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    err = (err + chunk).slice(-8000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  return { child, frames, messages, ready: () => ready, stderr: () => err, exited };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes still running that belong to the demo: its children by pid, anything naming its folders. */
export function leftovers(ready: DemoReady): string[] {
  const found: string[] = [];
  for (const pid of [ready.bridge.pid, ready.map.pid, ready.history.pid, ...ready.agents.map((a) => a.pid)]) {
    if (alive(pid)) found.push(`pid ${pid} still running`);
  }
  const marks = [ready.dir, ready.kafkaDataDir, ready.postgresDataDir].filter((m): m is string => m !== null);
  const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  for (const line of ps.split("\n")) {
    if (marks.some((m) => line.includes(m))) found.push(line.trim());
  }
  for (const m of marks) if (existsSync(m)) found.push(`folder ${m} still exists`);
  return found;
}
