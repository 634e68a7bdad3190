/** The truck side. createAgent wires sources → state → sampler → outbox → uplink. */
export { type Agent, type AgentDeps, createAgent, readBootId, type SourceFactories } from "./agent.ts";
export {
  type AgentConfig,
  type AgentConfigInput,
  AgentConfigSchema,
  loadAgentConfig,
  parseAgentConfig,
} from "./config.ts";
