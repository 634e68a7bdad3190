/**
 * Runs the agent and applies remote configuration to it (issue 19). The host outlives the agent instances: a
 * config that changes only the sampler or the log level is applied live; any other change (preferred CAN sources,
 * the outbox budget) stops the running agent the way SIGTERM does (in-flight records finish or stay in the outbox,
 * the outbox is committed and closed) and starts a new one on the same outbox, so not a record is lost and the
 * stream and its seq go on.
 *
 * Every payload is checked with protocol/'s schema (the one `fleetsync config set` uses), for this truck, merged
 * over the local file (merge.ts) and validated whole; anything wrong rejects the whole config, the truck keeps
 * running on what it had, and its status says which version was refused and why. The bridge sends the desired config
 * again on every subscribe (each connection, the new pipeline's own included), so the same payload arriving again
 * after a rejection is not tried again: that was a failing pipeline restart per connect, in a loop, on a flaky
 * cellular link. It is tried when a different desired config arrives or when the agent process starts again (the
 * rejection is remembered in memory only). An applied overlay is persisted
 * (store.ts) before it takes effect, so a restart (or a power cut) comes back on it. Payloads are taken one at a
 * time; one arriving while another is applied waits, and a newer one replaces it (only the latest matters).
 */
import type { Logger } from "../../common/log.ts";
import { silentLogger } from "../../common/log.ts";
import { checkRemoteConfig, type RemoteConfig, type StatusRecord } from "../../protocol/index.ts";
import { type Agent, type AgentDeps, createAgent } from "../agent.ts";
import type { AgentConfig } from "../config.ts";
import { mergeOverlay } from "./merge.ts";
import { loadOverlay, saveOverlay } from "./store.ts";

export interface AgentHostDeps extends Omit<AgentDeps, "remote" | "logger"> {
  /** The process's root logger: its level is what a remote `logLevel` sets (children follow it). */
  logger?: Logger;
  /** Makes each agent instance (default createAgent); a test changes what an instance meets at start. */
  createAgent?: typeof createAgent;
}

export interface AgentHost {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The agent running now (a new instance after a restart for a config change). */
  agent(): Agent;
  /** What the status reports. */
  report(): Pick<StatusRecord, "appliedConfigVersion" | "configRejected">;
  /** The effective configuration (local file + applied overlay). */
  effective(): AgentConfig;
  /** Hands the host a config payload, as the uplink does with what arrives on the truck's config topic. */
  receive(payload: Buffer): void;
  /** Resolves when no payload is waiting or being applied. */
  whenSettled(): Promise<void>;
  /**
   * Resolves (never rejects) with why, if a restart for a remote config left no agent running: the new config, the
   * one before it and the local file alone all failed to start. The process should then exit non-zero, so that its
   * service manager restarts it (the truck is sending nothing). Pending otherwise.
   */
  readonly failed: Promise<Error>;
}

type Rejection = NonNullable<StatusRecord["configRejected"]>;

export function overlayFile(local: AgentConfig): string {
  return local.remoteConfig.file ?? `${local.outbox.dir.replace(/\/+$/, "")}.remote-config.json`;
}

/** The version a payload claims, for a rejection report, even when the rest of it is wrong. */
function claimedVersion(payload: Buffer): number | null {
  try {
    const version = (JSON.parse(payload.toString("utf8")) as { version?: unknown }).version;
    return Number.isSafeInteger(version) && (version as number) >= 0 ? (version as number) : null;
  } catch {
    return null;
  }
}

export async function createAgentHost(local: AgentConfig, deps: AgentHostDeps): Promise<AgentHost> {
  const root = deps.logger ?? silentLogger;
  const log = root.child({ component: "remote-config" });
  const localLevel = root.level;
  const file = overlayFile(local);
  const enabled = local.remoteConfig.enabled;

  let applied: RemoteConfig | undefined;
  let rejected: Rejection | undefined;
  /** The payload (as received) of the last config rejected, so the same one again is not tried again. */
  let rejectedPayload: Buffer | undefined;
  let effective = local;
  if (enabled) {
    const loaded = await loadOverlay(file, local.truckId);
    const merged = loaded.overlay ? mergeOverlay(local, loaded.overlay) : undefined;
    if (loaded.problem) log.warn({ problem: loaded.problem }, "applied remote config ignored: local file only");
    else if (merged && !merged.ok) {
      // The local file changed under it (e.g. a smaller outbox budget): the overlay no longer fits.
      log.warn({ reason: merged.reason, version: loaded.overlay!.version }, "applied remote config no longer fits");
      rejected = { version: loaded.overlay!.version, reason: merged.reason, at: new Date().toISOString() };
    } else if (merged?.ok) {
      applied = loaded.overlay;
      effective = merged.config;
    }
  }
  root.level = applied?.logLevel ?? localLevel;

  const report = () => ({
    appliedConfigVersion: applied?.version ?? 0,
    ...(rejected ? { configRejected: rejected } : {}),
  });
  const agentDeps: AgentDeps = {
    ...deps,
    logger: root,
    ...(enabled ? { remote: { onConfig: (payload: Buffer) => receive(payload), status: report } } : {}),
  };
  const makeAgent = deps.createAgent ?? createAgent;
  let agent = makeAgent(effective, agentDeps);
  let stopped = false;
  let gaveUp!: (why: Error) => void;
  const failed = new Promise<Error>((resolve) => (gaveUp = resolve));

  let waiting: Buffer | undefined;
  let working: Promise<void> | undefined;

  function receive(payload: Buffer): void {
    // Copied: the MQTT client may reuse the buffer.
    waiting = Buffer.from(payload);
    working ??= drain();
  }

  async function drain(): Promise<void> {
    while (waiting && !stopped) {
      const payload = waiting;
      waiting = undefined;
      await handle(payload).catch((error: unknown) => log.error({ err: error }, "remote config not applied"));
    }
    working = undefined;
  }

  function reject(payload: Buffer, version: number | null, reason: string): void {
    rejectedPayload = payload;
    rejected = { version, reason: reason.slice(0, 300), at: new Date().toISOString() };
    log.warn({ version, reason }, "remote config rejected; running on what it had");
    agent.uplink.refreshStatus();
  }

  async function handle(payload: Buffer): Promise<void> {
    if (rejectedPayload?.equals(payload)) {
      // Its rejection stays in the status; the fleet office answers it with a new config (a new version).
      log.debug({ version: rejected?.version }, "remote config rejected before: not tried again");
      return;
    }
    let next: RemoteConfig | undefined;
    if (payload.length > 0) {
      const check = checkRemoteConfig(payload, local.truckId);
      if (!check.ok) return reject(payload, claimedVersion(payload), check.reason);
      next = check.config;
    }
    // The bridge sends the desired config on every subscribe: the same one again is not a change.
    if (next?.version === applied?.version && JSON.stringify(next) === JSON.stringify(applied)) return;
    const merged = mergeOverlay(local, next);
    if (!merged.ok) return reject(payload, next?.version ?? null, merged.reason);
    await saveOverlay(file, next);
    const previous = { config: effective, overlay: applied };
    applied = next;
    effective = merged.config;
    if (rejected && (rejected.version ?? 0) <= (next?.version ?? 0)) rejected = undefined;
    rejectedPayload = undefined;
    root.level = next?.logLevel ?? localLevel;
    if (agent.reconfigure(merged.config)) {
      log.info({ version: next?.version ?? 0 }, "remote config applied live");
      agent.uplink.refreshStatus();
      return;
    }
    log.info({ version: next?.version ?? 0 }, "remote config needs a pipeline restart");
    await restart(merged.config, previous, payload);
  }

  /** Starts a new agent on `config`; undefined when it runs, else why it did not start (it is stopped again). */
  async function startOn(config: AgentConfig): Promise<Error | undefined> {
    agent = makeAgent(config, agentDeps);
    try {
      await agent.start();
      return undefined;
    } catch (error) {
      await agent.stop().catch(() => undefined);
      return error as Error;
    }
  }

  /** Takes `overlay` (and its merged config) as what the truck runs on, persisted so a restart comes back on it. */
  async function fallBackTo(config: AgentConfig, overlay: RemoteConfig | undefined): Promise<void> {
    applied = overlay;
    effective = config;
    root.level = applied?.logLevel ?? localLevel;
    await saveOverlay(file, applied);
  }

  async function restart(
    next: AgentConfig,
    previous: { config: AgentConfig; overlay?: RemoteConfig },
    payload: Buffer,
  ): Promise<void> {
    await agent.stop();
    if (stopped) return;
    const failure = await startOn(next);
    if (!failure) {
      log.info({ version: applied?.version ?? 0 }, "remote config applied: pipeline restarted");
      return;
    }
    // A setting the truck cannot run with: back to what it had, and say so.
    log.error({ err: failure }, "pipeline did not start with the remote config; back to the previous one");
    rejectedPayload = payload;
    rejected = {
      version: applied?.version ?? null,
      reason: `pipeline did not start with it: ${failure.message}`.slice(0, 300),
      at: new Date().toISOString(),
    };
    await fallBackTo(previous.config, previous.overlay);
    let last = await startOn(previous.config);
    if (last && previous.overlay && !stopped) {
      // What ran a moment ago fails too: more likely the truck than the config (a port taken meanwhile, a failing
      // disk). The local file alone is what the truck was installed with. The desired config is not tried again on
      // the next connect (see the top of this file): a new one, or the process started again, tries it.
      log.error(
        { err: last, version: previous.overlay.version },
        "pipeline did not start with the previous remote config either; back to the local file alone",
      );
      await fallBackTo(local, undefined);
      last = await startOn(local);
    }
    if (last && !stopped) {
      log.fatal(
        { err: last },
        "pipeline did not start with the remote config, the previous one nor the local file: no agent running",
      );
      gaveUp(last);
    }
  }

  return {
    start: () => agent.start(),
    async stop() {
      stopped = true;
      await working;
      await agent.stop();
    },
    agent: () => agent,
    report,
    effective: () => effective,
    receive,
    whenSettled: async () => {
      while (working) await working;
    },
    failed,
  };
}
