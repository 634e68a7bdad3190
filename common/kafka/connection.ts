/**
 * One Kafka connection configuration for every FleetSync process that talks to Kafka (the bridge's sink, the
 * pipelines' runner, `fleetsync replay`), and the one place a kafkajs client is made from it. Adding SASL (or
 * another client library) is a change here: the bridge's and the pipelines' schemas take these fields as they are.
 */
// First: the fast path must replace kafkajs' record encoder before kafkajs loads it (kafkajs-fast-path.ts).
import { fastPath } from "./kafkajs-fast-path.ts";
import { connect as tcpConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type ISocketFactory, Kafka, type LogEntry, logLevel, type RetryOptions } from "kafkajs";
import { z } from "zod";
import type { Logger } from "../log.ts";

/** The connection fields, spread into each component's Kafka schema (which adds its own clientId and options). */
export const KafkaConnectionFields = {
  brokers: z.array(z.string().min(1)).min(1).describe("Bootstrap brokers, host:port."),
  ssl: z.boolean().default(false).describe("TLS to the Kafka brokers with the system CA store."),
  connectionTimeoutMs: z.number().int().positive().default(3_000),
  requestTimeoutMs: z.number().int().positive().default(30_000),
};

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  ssl?: boolean;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface KafkaClientOptions {
  /** kafkajs' own log lines (WARN and above) go here; without one they are dropped. */
  logger?: Logger;
  retry?: RetryOptions;
}

function kafkaLogger(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...rest } = log;
      if (level <= logLevel.ERROR) logger.error(rest, `kafkajs: ${message}`);
      else if (level === logLevel.WARN) logger.warn(rest, `kafkajs: ${message}`);
      else logger.debug(rest, `kafkajs: ${message}`);
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

export function createKafkaClient(connection: KafkaConnection, options: KafkaClientOptions = {}): Kafka {
  if (!fastPath.active && options.logger) {
    options.logger.warn({ reason: fastPath.reason }, "kafkajs runs without the fast record encoder");
  }
  return new Kafka({
    clientId: connection.clientId,
    brokers: connection.brokers,
    ssl: connection.ssl ?? false,
    socketFactory,
    ...(connection.connectionTimeoutMs === undefined ? {} : { connectionTimeout: connection.connectionTimeoutMs }),
    ...(connection.requestTimeoutMs === undefined ? {} : { requestTimeout: connection.requestTimeoutMs }),
    ...(options.logger
      ? { logLevel: logLevel.WARN, logCreator: kafkaLogger(options.logger) }
      : { logLevel: logLevel.NOTHING }),
    ...(options.retry ? { retry: options.retry } : {}),
  });
}
