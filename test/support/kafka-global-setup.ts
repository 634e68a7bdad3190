/**
 * Vitest global setup: the built command line (test/support/build.ts) and one real Kafka for the whole run. KAFKA_BROKERS (comma-separated) uses an existing cluster;
 * otherwise the local Kafka of deploy/kafka starts here and stops in teardown: one broker, or KAFKA_CLUSTER=3 for a
 * three-node cluster (replication factor 3, min.insync.replicas 2: the suite then runs where acks=all means two
 * brokers). The broker also watches this
 * process, so an interrupted run (Ctrl-C, a crash, SIGKILL) never leaves it behind.
 */
import type { TestProject } from "vitest/node";
import { type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";
import { kafkaClusterSize } from "../e2e/kafka.ts";
import { BUILD_ENV, buildFleetsync, removeBuild } from "./build.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string[];
  }
}

let local: LocalKafka | undefined;
let build: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const began = Date.now();
  // Built while Kafka starts; workers are started after the global setup and inherit its environment.
  const building = buildFleetsync().then((dir) => {
    build = dir;
    process.env[BUILD_ENV] = dir;
    process.stderr.write(`fleetsync: built for process tests in ${Date.now() - began} ms\n`);
  });
  try {
    await startKafka(project);
  } finally {
    await building;
  }
}

async function startKafka(project: TestProject): Promise<void> {
  const fromEnv = process.env.KAFKA_BROKERS?.split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  if (fromEnv && fromEnv.length > 0) {
    project.provide("kafkaBrokers", fromEnv);
    return;
  }
  const kafkaBegan = Date.now();
  const nodes = kafkaClusterSize();
  // One node (the default) gets the secure listeners too (TLS + SASL, test CA and users: kafka.sh start --secure), so
  // test/integration/kafka/security.test.ts uses this broker (KAFKA_SECURE_DIR, test/support/kafka-secure.ts) instead
  // of starting one of its own, 15 s of npm test. The plaintext listener every other test uses is unchanged, and no
  // authorizer is set. Its start overlaps the build. Secure listeners run on one node only.
  local = await startLocalKafka({ nodes, ...(nodes === 1 ? { secure: true } : {}) });
  if (local.secure) process.env.KAFKA_SECURE_DIR ??= local.dataDir;
  process.stderr.write(`kafka: local Kafka ${local.brokers.join(",")} ready in ${Date.now() - kafkaBegan} ms\n`);
  project.provide("kafkaBrokers", local.brokers);
}

export async function teardown(): Promise<void> {
  await local?.stop();
  local = undefined;
  if (build) removeBuild(build);
  build = undefined;
}
