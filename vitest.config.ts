import { defineConfig } from "vitest/config";
import { SCENARIO_TESTS } from "./vitest.scenarios.config.ts";

/**
 * `npm test` runs two projects:
 * - unit: pure logic beside the code it tests (agent/, bridge/, protocol/, common/, cli/), no I/O doubles needed;
 * - integration: test/integration/, real parts (Kafka, Aedes over TCP, LevelDB on disk, pseudo-terminals), and
 *   test/e2e/, the whole path (simulated trucks on ptys → agents → bridge process → Kafka) and the demo.
 * The global setups start one local Kafka and one PostgreSQL for the run unless KAFKA_BROKERS / DATABASE_URL point
 * at existing ones.
 * Fault, scenario (the long multi-agent end-to-end runs, vitest.scenarios.config.ts) and benchmark suites have their
 * own configs and npm scripts; .ci/run runs the fault and scenario suites after this one.
 */
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["{agent,bridge,protocol,common,cli,sim,pipelines}/**/*.test.ts"],
          // Unit tests wait on nothing: their work is bounded by run counts and fixture sizes, and the limit only
          // catches a hang. Vitest's 5 s default was no such bound on a busy machine: at load average 17 on 2 cores
          // (npm run test:busy beside four other test runs) the codec's 400-run property test took 5.8 s and the
          // 57,849-frame CAN contract test 5.2 s, where both take under 1.5 s on an idle machine.
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          exclude: SCENARIO_TESTS,
          globalSetup: ["test/support/kafka-global-setup.ts", "test/support/postgres-global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
