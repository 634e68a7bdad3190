/**
 * The effective configuration: the local file is the base, the remote config an overlay on it. A field the overlay
 * names replaces the local value of that field (sampler fields one by one; `state.sources` per engine field); a
 * field it does not name keeps the local value. `outbox.maxBytes` may only lower the local budget: the local file
 * says what the truck's disk can hold. The result is validated with the agent's own schema, so an overlay can never
 * produce a configuration the truck would refuse at start.
 */
import { configError } from "../../common/config.ts";
import type { RemoteConfig } from "../../protocol/index.ts";
import { type AgentConfig, AgentConfigSchema } from "../config.ts";

export type MergeResult = { ok: true; config: AgentConfig } | { ok: false; reason: string };

export function mergeOverlay(local: AgentConfig, overlay: RemoteConfig | undefined): MergeResult {
  if (!overlay) return { ok: true, config: local };
  if (overlay.outbox?.maxBytes !== undefined && overlay.outbox.maxBytes > local.outbox.maxBytes) {
    return {
      ok: false,
      reason: `outbox.maxBytes: ${overlay.outbox.maxBytes} is above the local maximum ${local.outbox.maxBytes}`,
    };
  }
  const merged = {
    ...local,
    sampler: { ...local.sampler, ...overlay.sampler },
    state: { ...local.state, sources: { ...local.state.sources, ...overlay.state?.sources } },
    outbox: { ...local.outbox, ...overlay.outbox },
  };
  const parsed = AgentConfigSchema.safeParse(merged);
  if (!parsed.success) return { ok: false, reason: configError("merged config", parsed.error.issues).message };
  return { ok: true, config: parsed.data };
}
