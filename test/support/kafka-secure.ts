/**
 * The secure local Kafka of issue 23's tests (SASL_SSL and mutual-TLS listeners beside the plaintext one, made by
 * `kafka.sh start --secure`). KAFKA_SECURE_DIR names the data folder of one already running (`KAFKA_DATA_DIR=DIR
 * npm run kafka:start -- --secure`) to reuse it; otherwise the caller's test file starts its own and stops it in
 * afterAll, and the broker watches this process, so an interrupted run never leaves it behind.
 */
import { Kafka, logLevel } from "kafkajs";
import type { KafkaConnectionSettings } from "../../common/kafka/connection.ts";
import { readSecureListeners, type SecureListeners, startLocalKafka } from "../../deploy/kafka/local-kafka.ts";

export interface SecureKafka {
  readonly listeners: SecureListeners;
  /** A kafkajs client on the plaintext listener: the test's own independent reader and topic admin. */
  plain(clientId?: string): Kafka;
  /** Connection settings for the SASL_SSL listener with this mechanism's test user (password from its file). */
  sasl(mechanism: "plain" | "scram-sha-256" | "scram-sha-512"): KafkaConnectionSettings;
  /** Connection settings for the SSL listener with the test client certificate (mutual TLS). */
  mtls(): KafkaConnectionSettings;
  stop(): Promise<void>;
}

const BASE = { ssl: false, connectionTimeoutMs: 3_000, requestTimeoutMs: 30_000 };

export async function startSecureKafka(): Promise<SecureKafka> {
  const reuse = process.env.KAFKA_SECURE_DIR;
  const local = reuse ? undefined : await startLocalKafka({ secure: true });
  const listeners = local ? local.secure! : await readSecureListeners(reuse!);
  return {
    listeners,
    plain: (clientId = "fleetsync-test") =>
      new Kafka({ brokers: [listeners.plaintext], clientId, logLevel: logLevel.NOTHING }),
    sasl: (mechanism) => ({
      ...BASE,
      brokers: [listeners.saslSsl],
      tls: { caFile: listeners.caFile },
      sasl: { mechanism, ...listeners.users[mechanism] },
    }),
    mtls: () => ({
      ...BASE,
      brokers: [listeners.ssl],
      tls: { caFile: listeners.caFile, ...listeners.client },
    }),
    stop: async () => {
      await local?.stop();
    },
  };
}
