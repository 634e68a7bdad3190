/**
 * One Kafka connection configuration for every FleetSync process that talks to Kafka (the bridge's sink, the
 * pipelines' runner, `fleetsync verify` and `replay`), and the one place a kafkajs client is made from it. TLS and
 * SASL settings and their secrets are in security.ts; the bridge's and the pipelines' schemas take these fields as
 * they are.
 */
// First: the fast path must replace kafkajs' record encoder before kafkajs loads it (kafkajs-fast-path.ts).
import { fastPath } from "./kafkajs-fast-path.ts";
import { connect as tcpConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ISocketFactory, Kafka, type LogEntry, logLevel, type RetryOptions } from "kafkajs";
import { z } from "zod";
import type { Logger } from "../log.ts";
import { type RepeatedLog, repeatedLog } from "../log-limit.ts";
import { dirname, resolve } from "node:path";
import { parseConfig, readConfigJson } from "../config.ts";
import {
  type KafkaSasl,
  KafkaSaslSchema,
  type KafkaTls,
  KafkaTlsSchema,
  resolveKafkaSecurity,
  resolveKafkaSecurityPaths,
} from "./security.ts";

/** The connection fields, spread into each component's Kafka schema (which adds its own clientId and options). */
export const KafkaConnectionFields = {
  brokers: z.array(z.string().min(1)).min(1).describe("Bootstrap brokers, host:port."),
  ssl: z
    .boolean()
    .default(false)
    .describe("TLS to the Kafka brokers with the system CA store. Setting `tls` turns TLS on as well."),
  tls: KafkaTlsSchema.optional().describe(
    "TLS with a private CA and/or a client certificate (mutual TLS); implies ssl. docs/operations.md has examples.",
  ),
  sasl: KafkaSaslSchema.optional().describe(
    "SASL authentication (over TLS unless the listener is SASL_PLAINTEXT). Secrets come from a file or an " +
      "environment variable, never from the configuration or the command line.",
  ),
  connectionTimeoutMs: z.number().int().positive().default(3_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
};

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  tls?: KafkaTls | undefined;
  sasl?: KafkaSasl | undefined;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface KafkaClientOptions {
  /** kafkajs' own log lines (WARN and above) go here; without one they are dropped. */
  logger?: Logger;
  /** How configuration errors name the connection's fields: `kafka` gives `kafka.tls.caFile`. Default "kafka". */
  field?: string;
  retry?: RetryOptions;
}

/** Distinct kafkajs messages remembered for repeat limiting; beyond it the memory starts afresh (bounded). */
const KAFKAJS_MESSAGES = 64;

/**
 * kafkajs logs every failed connection attempt with its stack (its internals, of no use to an operator), and retries
 * a refused login or handshake every few hundred ms: each distinct WARN/ERROR line is logged once and then at most
 * once a minute with a count. The caller logs the cause itself, in one sentence (security.ts).
 */
function kafkaLogger(logger: Logger) {
  const seen = new Map<string, RepeatedLog>();
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, stack: _stack, ...rest } = log;
      const line = `kafkajs: ${message}`;
      if (level > logLevel.WARN) {
        logger.debug(rest, line);
        return;
      }
      let limited = seen.get(line);
      if (!limited) {
        if (seen.size >= KAFKAJS_MESSAGES) seen.clear();
        limited = repeatedLog(logger, level <= logLevel.ERROR ? "error" : "warn", line);
        seen.set(line, limited);
      }
      limited.report(rest);
    };
}

/**
 * kafkajs' own sockets keep Nagle's algorithm on, so a small request written while an earlier one is unacknowledged
 * can wait for the broker's delayed ACK (tens of ms). The Java client and the broker itself set TCP_NODELAY; so do we.
 */
const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : tcpConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

/**
 * A kafkajs client for the connection. Reads the TLS files and SASL secrets the connection names, now: a missing
 * file, an expired client certificate or an unset variable is FLEET_CONFIG_INVALID naming the field, at start-up.
 */
export function createKafkaClient(connection: KafkaConnection, options: KafkaClientOptions = {}): Kafka {
  const security = resolveKafkaSecurity(connection, options.field);
  if (!fastPath.active && options.logger) {
    options.logger.warn({ reason: fastPath.reason }, "kafkajs runs without the fast record encoder");
  }
  return new Kafka({
    clientId: connection.clientId,
    brokers: connection.brokers,
    ssl: security.ssl,
    ...(security.sasl ? { sasl: security.sasl } : {}),
    socketFactory,
    ...(connection.connectionTimeoutMs === undefined ? {} : { connectionTimeout: connection.connectionTimeoutMs }),
    ...(connection.requestTimeoutMs === undefined ? {} : { requestTimeout: connection.requestTimeoutMs }),
    ...(options.logger
      ? { logLevel: logLevel.WARN, logCreator: kafkaLogger(options.logger) }
      : { logLevel: logLevel.NOTHING }),
    ...(options.retry ? { retry: options.retry } : {}),
  });
}

/** The connection fields on their own: the file a CLI tool reads (`--kafka-config`), same fields as the bridge's. */
export const KafkaConnectionSchema = z.object(KafkaConnectionFields).strict();
export type KafkaConnectionSettings = z.infer<typeof KafkaConnectionSchema>;

/** Where the CLI tools (verify, replay, config) find the connection file when --kafka-config is not given. */
export const KAFKA_CONFIG_ENV = "FLEETSYNC_KAFKA_CONFIG";

/**
 * The Kafka connection of a CLI tool: the JSON file `--kafka-config FILE` (or $FLEETSYNC_KAFKA_CONFIG) names, with
 * TLS and SASL settings whose secrets are files or environment variables (never flags: a command line is visible in
 * `ps` and shell history), relative paths resolved against the file's folder; `--brokers` (or KAFKA_BROKERS)
 * replaces the file's brokers. Without a file: plaintext to --brokers, KAFKA_BROKERS or 127.0.0.1:39092.
 */
export async function cliKafkaConnection(
  flags: { brokers?: string | undefined; kafkaConfig?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<KafkaConnectionSettings> {
  const list = (text: string) =>
    text
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean);
  const brokers = flags.brokers ?? env.KAFKA_BROKERS;
  const file = flags.kafkaConfig ?? env[KAFKA_CONFIG_ENV];
  if (!file) return parseConfig(KafkaConnectionSchema, { brokers: list(brokers ?? "127.0.0.1:39092") }, "--brokers");
  const base = dirname(resolve(file));
  const settings = resolveKafkaSecurityPaths(
    parseConfig(KafkaConnectionSchema, await readConfigJson(file), file),
    (path) => resolve(base, path),
  );
  return flags.brokers ? { ...settings, brokers: list(flags.brokers) } : settings;
}
