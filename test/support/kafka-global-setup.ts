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
  local = await startLocalKafka({ nodes: kafkaClusterSize() });
  process.stderr.write(`kafka: local Kafka ${local.brokers.join(",")} ready in ${Date.now() - kafkaBegan} ms\n`);
  project.provide("kafkaBrokers", local.brokers);
}

export async function teardown(): Promise<void> {
  await local?.stop();
  local = undefined;
  if (build) removeBuild(build);
  build = undefined;
}
