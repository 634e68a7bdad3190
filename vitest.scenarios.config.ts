import { defineConfig } from "vitest/config";

/**
 * `npm run test:scenarios`: the long end-to-end scenarios of the downstream features, each several real agent
 * processes on ptys driving for a simulated hour or two through the bridge process and Kafka (detectors through
 * agents, a silent truck, a truck back from a two-hour outage, an outage outlasting the outbox budget, remote
 * configuration). Together about four minutes,
 * so they run in CI as a step of their own (.ci/run) and keep `npm test` well under 15 minutes.
 * The whole path itself (20 agents, test/e2e/fleet.test.ts) and the demo stay in `npm test`.
 */
export const SCENARIO_TESTS = [
  "test/e2e/detect-agents.test.ts",
  "test/e2e/detect-silent-agents.test.ts",
  "test/e2e/outage.test.ts",
  "test/e2e/outage-thinning.test.ts",
  "test/e2e/remote-config.test.ts",
];

export default defineConfig({
  test: {
    include: SCENARIO_TESTS,
    globalSetup: ["test/support/kafka-global-setup.ts", "test/support/postgres-global-setup.ts"],
    // The integration project's limits (vitest.config.ts): these tests ran there until they were moved.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
