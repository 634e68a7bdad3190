/**
 * Vitest global setup: one real Kafka for the whole run. KAFKA_BROKERS (comma-separated) uses an existing cluster;
 * otherwise the local broker of deploy/kafka starts here and stops in teardown. The broker also watches this
 * process, so an interrupted run (Ctrl-C, a crash, SIGKILL) never leaves it behind.
 */
import type { TestProject } from "vitest/node";
import { type LocalKafka, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string[];
  }
}

let local: LocalKafka | undefined;

export async function setup(project: TestProject): Promise<void> {
  const fromEnv = process.env.KAFKA_BROKERS?.split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  if (fromEnv && fromEnv.length > 0) {
    project.provide("kafkaBrokers", fromEnv);
    return;
  }
  const began = Date.now();
  local = await startLocalKafka();
  process.stderr.write(`kafka: local broker ${local.brokers.join(",")} ready in ${Date.now() - began} ms\n`);
  project.provide("kafkaBrokers", local.brokers);
}

export async function teardown(): Promise<void> {
  await local?.stop();
  local = undefined;
}
