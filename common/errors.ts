/**
 * Typed errors with stable codes. Every error FleetSync raises on purpose is a FleetError whose `code` is one of
 * the closed list below, so logs, metrics and callers can switch on it. Fields are own enumerable properties, so
 * JSON logs show them; the original error is kept as `cause`.
 */
export const ERROR_CODES = {
  FLEET_CONFIG_INVALID: { retriable: false, doc: "A configuration file or option failed validation." },
  FLEET_USAGE: { retriable: false, doc: "A command line was wrong (unknown subcommand, flag or argument)." },
  FLEET_TRUCK_ID_INVALID: { retriable: false, doc: "A truck id is not 1-64 characters of A-Z a-z 0-9 _ -." },
  FLEET_TOPIC_INVALID: { retriable: false, doc: "An MQTT topic is not one of the fleetsync/v1 contract topics." },
  FLEET_PAYLOAD_TOO_LARGE: { retriable: false, doc: "A payload is larger than the codec accepts." },
  FLEET_PAYLOAD_INVALID: { retriable: false, doc: "A payload could not be decoded or failed validation." },
  FLEET_PAYLOAD_VERSION: { retriable: false, doc: "A payload's format byte names a version this build cannot read." },
  FLEET_SERIAL_OPEN: { retriable: true, doc: "A serial port could not be opened." },
  FLEET_SERIAL_LOST: { retriable: true, doc: "A serial port went away (unplugged)." },
  FLEET_LINE_TOO_LONG: { retriable: false, doc: "A serial line exceeded the maximum length and was cut." },
  FLEET_NMEA_CHECKSUM: { retriable: false, doc: "An NMEA sentence had a missing or wrong checksum." },
  FLEET_NMEA_INVALID: { retriable: false, doc: "An NMEA sentence could not be parsed." },
  FLEET_CAN_LINE_INVALID: { retriable: false, doc: "A CAN adapter line could not be parsed as a frame." },
  FLEET_CAN_TRANSPORT: { retriable: false, doc: "A J1939 transport (BAM) session was broken or timed out." },
  FLEET_CAN_INTERFACE: { retriable: true, doc: "A SocketCAN interface is missing or down, or ip could not report it." },
  FLEET_CAN_NOT_LISTEN_ONLY: {
    retriable: false,
    doc: "A SocketCAN interface is not in listen-only mode and the configuration does not allow that on purpose.",
  },
  FLEET_OUTBOX_IO: { retriable: true, doc: "The outbox could not read or write its LevelDB store." },
  FLEET_MQTT: { retriable: true, doc: "The MQTT connection failed or was refused." },
  FLEET_KAFKA: { retriable: true, doc: "Kafka refused or failed a request." },
  FLEET_KAFKA_TOPIC: {
    retriable: true,
    doc: "A Kafka topic the bridge writes to does not exist (and the bridge may not create it); details.topics names it.",
  },
  FLEET_KAFKA_SECURITY: {
    retriable: true,
    doc:
      "Kafka refused our credentials or certificate, or the TLS/SASL settings do not match the listener; the " +
      "message names the cause (common/kafka/security.ts). Retried with backoff, logged once per cause.",
  },
  FLEET_AUTH: { retriable: false, doc: "A client's credentials were refused." },
  FLEET_CLOSED: {
    retriable: false,
    doc: "A component was started twice, or used after stop() (common/lifecycle.ts: one behaviour for all).",
  },
  FLEET_TIMEOUT: { retriable: true, doc: "An operation did not finish before its deadline." },
  FLEET_OUTBOX_BUSY: {
    retriable: true,
    doc: "The outbox's write buffer is full (the disk is not keeping up); the record was refused, counted and logged.",
  },
  FLEET_RECORD_INVALID: {
    retriable: false,
    doc: "A Kafka record read by a pipeline is not valid JSON of the topic's schema; counted, logged and skipped.",
  },
  FLEET_PIPELINE_HANDLER: {
    retriable: true,
    doc: "A pipeline's handler failed on a batch; the batch is delivered again after a backoff (nothing committed).",
  },
  FLEET_DATABASE: {
    retriable: true,
    doc: "PostgreSQL is unreachable or failed a statement (timeout included); the history pipeline retries the batch.",
  },
  FLEET_SCHEMA_NEWER: {
    retriable: false,
    doc: "The database's history schema is newer than this fleetsync knows; upgrade fleetsync, never downgrade data.",
  },
  FLEET_GROUP_ACTIVE: {
    retriable: false,
    doc: "A consumer group cannot be rewound while it has live members (stop the pipeline first).",
  },
  FLEET_ENGINE_UNSUPPORTED: {
    retriable: false,
    doc: "A third-party engine (Aedes, mqtt-packet) is not the version, or lacks the internals, its port was written for.",
  },
  FLEET_PACKAGE: {
    retriable: false,
    doc: "Building a .deb failed: the build output is missing, or native code for another architecture got in.",
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FleetError extends Error {
  readonly code: ErrorCode;
  /**
   * Whether trying the same operation again can succeed. Read where retry decisions are made: the bridge's batcher
   * fails a batch at once on a non-retriable error instead of retrying it (bridge/forwarder/batcher.ts).
   */
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FleetError";
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.details = options.details;
    // Own enumerable fields so JSON.stringify and structured logs carry them.
    Object.defineProperty(this, "message", { enumerable: true, value: message });
  }
}

export function isFleetError(value: unknown, code?: ErrorCode): value is FleetError {
  return value instanceof FleetError && (code === undefined || value.code === code);
}
