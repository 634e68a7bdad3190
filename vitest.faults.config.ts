import { defineConfig } from "vitest/config";

/**
 * `npm run test:faults`: the fault suite (test/faults/), each fault its own test ending with the verifier. Heavy
 * (real Kafka, bridge processes, many agents, a 60 s Kafka outage), so one file at a time and not part of `npm test`.
 * The global setup provides a Kafka (KAFKA_BROKERS or the local one); faults that restart Kafka start their own.
 */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    globalSetup: ["test/support/kafka-global-setup.ts", "test/support/postgres-global-setup.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 180_000,
  },
});
