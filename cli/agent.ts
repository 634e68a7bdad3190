/** `fleetsync agent [--config FILE]`: runs the truck gateway until SIGTERM or SIGINT. */
import { createRequire } from "node:module";
import { loadAgentConfig } from "../agent/index.ts";
import { createAgentHost } from "../agent/remote-config/index.ts";
import { createLogger } from "../common/log.ts";
import { parseCommandArgs } from "./commands.ts";

const DEFAULT_CONFIG = "/etc/fleetsync/agent.json";

const HELP = `Usage: fleetsync agent [--config FILE]

Runs the truck gateway: serial GPS and CAN -> records -> LevelDB outbox -> MQTT.
  -c, --config FILE   configuration file (default ${DEFAULT_CONFIG}); write one with \`fleetsync provision\`
  -h, --help          show this help
Stops cleanly on SIGTERM or SIGINT: in-flight records finish or stay in the outbox for the next start.
Logs: JSON lines on stderr (FLEETSYNC_LOG_LEVEL=debug for more).
`;

export function agentVersion(): string {
  const require = createRequire(import.meta.url);
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === "fleetsync" && pkg.version) return pkg.version;
    } catch {}
  }
  return "unknown";
}

const STOP_DEADLINE_MS = 15_000;
const EXIT_GRACE_MS = 2_000;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = values.config ?? DEFAULT_CONFIG;
  const config = await loadAgentConfig(file);
  const log = createLogger("agent");
  // The host runs the agent and applies remote configuration (an overlay on this file) to it.
  const agent = await createAgentHost(config, { version: agentVersion(), logger: log });
  let signalled: NodeJS.Signals | undefined;
  let code = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = signal;
      log.info({ signal }, "stopping");
      // Every part bounds its own stop (the outbox's stopTimeoutMs among them); this is the bound on their sum, below
      // systemd's TimeoutStopSec (20 s), so a part that hangs on a dead disk or socket cannot get the agent killed.
      const deadline = setTimeout(() => {
        log.error({ ms: STOP_DEADLINE_MS }, "stop did not finish in time; exiting");
        code = 1;
        resolve();
      }, STOP_DEADLINE_MS);
      deadline.unref();
      agent.stop().then(
        () => {
          clearTimeout(deadline);
          resolve();
        },
        (error: unknown) => {
          log.error({ err: error }, "stop failed");
          code = 1;
          resolve();
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  await agent.start();
  // Keep the event loop alive: every agent timer is unref'd so stop() never waits on one.
  const keepAlive = setInterval(() => {}, 1 << 30);
  // No agent runs after a remote config's restart failed on every config (the host logged each): a process that
  // sends nothing must not look alive to systemd, which restarts it (Restart=on-failure) on the local file and the
  // persisted overlay.
  const gaveUp = agent.failed.then((why) => {
    if (signalled) return;
    process.stderr.write(`fleetsync agent: no configuration starts (last: ${why.message}); exiting for a restart\n`);
    code = 1;
  });
  await Promise.race([stopped, gaveUp]);
  clearInterval(keepAlive);
  // stop() is done: whatever still holds the event loop now (a LevelDB close stuck on a failing disk, a serial
  // close waiting for a device that is gone) holds nothing that matters, and must not keep the process.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}
