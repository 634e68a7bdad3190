/**
 * How a systemd unit under deploy/ runs a fleetsync command: the node/V8 flags of its ExecStart (many V8 flags are
 * refused in NODE_OPTIONS) and its Environment= settings, so a benchmark measures the process as it is shipped. A
 * bench refuses an ExecStart it does not understand rather than measure something production does not run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface UnitInvocation {
  nodeArgs: string[];
  env: Record<string, string>;
}

const SCRIPT = "/usr/lib/fleetsync/dist/cli/fleetsync.js";

export function unitInvocation(unitText: string, command: string): UnitInvocation {
  const env: Record<string, string> = {};
  for (const [, quoted, bare] of unitText.matchAll(/^Environment=(?:"([^"]*)"|(\S+))$/gm)) {
    const setting = quoted ?? bare!;
    const eq = setting.indexOf("=");
    env[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  const execStarts = [...unitText.matchAll(/^ExecStart=(.*)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
  if (execStarts.length !== 1)
    throw new Error(`expected one ExecStart= in the ${command} unit, found ${execStarts.length}`);
  const [program, ...args] = execStarts[0]!;
  const script = args.indexOf(SCRIPT);
  if (program === "/usr/bin/node" && script >= 0 && args[script + 1] === command) {
    return { nodeArgs: args.slice(0, script), env };
  }
  if (program === "/usr/bin/fleetsync" && args[0] === command) return { nodeArgs: [], env };
  throw new Error(
    `the ${command} unit's ExecStart is not one this bench knows how to reproduce: ${execStarts[0]!.join(" ")}`,
  );
}

/** The unit file at `path` (relative to the repository) for `command`. */
export function readUnit(repo: string, path: string, command: string): UnitInvocation {
  return unitInvocation(readFileSync(join(repo, path), "utf8"), command);
}
