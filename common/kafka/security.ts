/**
 * Kafka security settings shared by every FleetSync process that talks to Kafka: TLS with a private CA and an
 * optional client certificate (mutual TLS), and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Secrets are named in the
 * configuration (a file, or an environment variable), never written in it and never taken from a command line:
 * configurations and command lines end up in logs, `ps` and shell history. The resolved secrets exist only in the
 * kafkajs client options built here, which nothing logs.
 *
 * OAUTHBEARER is not offered: kafkajs 2.2.4 supports it only as a callback returning a token, so a configuration
 * would need a token endpoint client of our own per identity provider; none of the clusters of issue 23 need it.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { SASLOptions } from "kafkajs";
import { z } from "zod";
import { FleetError } from "../errors.ts";

export const KafkaTlsSchema = z
  .object({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file with the CA certificate(s) that signed the brokers' certificates (a private CA, Strimzi's cluster " +
          "CA). Without it: the system CA store (Confluent Cloud, MSK).",
      ),
    certFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM client certificate for mutual TLS (with keyFile). Checked at start: readable, not expired."),
    keyFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM private key of certFile, unencrypted (mount it from a secret with mode 0400)."),
    servername: z
      .string()
      .min(1)
      .optional()
      .describe("Name checked in the brokers' certificates (and sent as SNI) when it is not the broker's host name."),
  })
  .strict()
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
    message: "certFile and keyFile go together (mutual TLS needs both)",
    path: ["keyFile"],
  });

const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;

export const KafkaSaslSchema = z
  .object({
    mechanism: z.enum(SASL_MECHANISMS).describe("SASL mechanism the listener enables."),
    username: z.string().min(1).optional().describe("User name (Confluent Cloud: the API key). Or usernameEnv."),
    usernameEnv: z.string().min(1).optional().describe("Environment variable holding the user name."),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe("File holding the password (one trailing newline is ignored), e.g. a mounted secret. Or passwordEnv."),
    passwordEnv: z.string().min(1).optional().describe("Environment variable holding the password."),
  })
  .strict()
  .refine((s) => (s.username === undefined) !== (s.usernameEnv === undefined), {
    message: "set exactly one of username and usernameEnv",
    path: ["username"],
  })
  .refine((s) => (s.passwordFile === undefined) !== (s.passwordEnv === undefined), {
    message: "set exactly one of passwordFile and passwordEnv (a password is never written in the configuration)",
    path: ["passwordFile"],
  });

export type KafkaTls = z.infer<typeof KafkaTlsSchema>;
export type KafkaSasl = z.infer<typeof KafkaSaslSchema>;

export interface KafkaSecurity {
  ssl?: boolean;
  tls?: KafkaTls;
  sasl?: KafkaSasl;
}

/** What kafkajs is given: TLS options with the PEM contents, SASL with the password. Never log this. */
export interface ResolvedKafkaSecurity {
  ssl: boolean | ConnectionOptions;
  sasl?: SASLOptions;
}

function invalid(field: string, message: string, cause?: unknown): FleetError {
  return new FleetError("FLEET_CONFIG_INVALID", `${field}: ${message}`, {
    details: { field },
    ...(cause === undefined ? {} : { cause }),
  });
}

function readSecretFile(field: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw invalid(
      field,
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      error,
    );
  }
}

function certificate(field: string, file: string, pem: string, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    throw invalid(field, `${file} holds no PEM certificate`, error);
  }
  // Refused by the broker anyway, with a TLS alert that names nothing; said here, at start, with the dates.
  if (new Date(cert.validTo) < now) throw invalid(field, `the certificate in ${file} expired on ${cert.validTo}`);
  if (new Date(cert.validFrom) > now)
    throw invalid(field, `the certificate in ${file} is valid only from ${cert.validFrom}`);
  return cert;
}

function fromEnv(field: string, name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name];
  if (value === undefined || value === "") throw invalid(field, `the environment variable ${name} is not set`);
  return value;
}

/**
 * Reads the files and variables the settings name and checks them (PEM parses, certificate not expired, key matches
 * certificate): FLEET_CONFIG_INVALID naming `${prefix}.tls.certFile` etc. at start-up, not a TLS alert later.
 */
export function resolveKafkaSecurity(
  security: KafkaSecurity,
  prefix = "kafka",
  env: NodeJS.ProcessEnv = process.env,
  now = new Date(),
): ResolvedKafkaSecurity {
  let ssl: boolean | ConnectionOptions = security.ssl ?? false;
  const tls = security.tls;
  if (tls) {
    const options: ConnectionOptions = { rejectUnauthorized: true };
    if (tls.caFile) {
      const field = `${prefix}.tls.caFile`;
      const pem = readSecretFile(field, tls.caFile);
      // The file may be a bundle; each certificate in it must parse (a broken bundle fails every handshake).
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw invalid(field, `${tls.caFile} holds no PEM certificate`);
      for (const block of blocks) {
        try {
          new X509Certificate(block);
        } catch (error) {
          throw invalid(field, `${tls.caFile} holds a certificate that does not parse`, error);
        }
      }
      options.ca = blocks;
    }
    if (tls.certFile && tls.keyFile) {
      const certPem = readSecretFile(`${prefix}.tls.certFile`, tls.certFile);
      const cert = certificate(`${prefix}.tls.certFile`, tls.certFile, certPem, now);
      const keyField = `${prefix}.tls.keyFile`;
      const keyPem = readSecretFile(keyField, tls.keyFile);
      let key: ReturnType<typeof createPrivateKey>;
      try {
        key = createPrivateKey(keyPem);
      } catch (error) {
        throw invalid(keyField, `${tls.keyFile} holds no unencrypted PEM private key`, error);
      }
      if (!cert.checkPrivateKey(key)) throw invalid(keyField, `${tls.keyFile} is not the key of ${tls.certFile}`);
      options.cert = certPem;
      options.key = keyPem;
    }
    if (tls.servername) options.servername = tls.servername;
    ssl = options;
  }
  const sasl = security.sasl;
  if (!sasl) return { ssl };
  const username = sasl.username ?? fromEnv(`${prefix}.sasl.usernameEnv`, sasl.usernameEnv!, env);
  const password = sasl.passwordFile
    ? readSecretFile(`${prefix}.sasl.passwordFile`, sasl.passwordFile).replace(/\r?\n$/, "")
    : fromEnv(`${prefix}.sasl.passwordEnv`, sasl.passwordEnv!, env);
  if (password === "") throw invalid(`${prefix}.sasl.passwordFile`, `${sasl.passwordFile} is empty`);
  // kafkajs' SASLOptions is a union keyed by mechanism; the three we offer share this shape.
  return { ssl, sasl: { mechanism: sasl.mechanism, username, password } as SASLOptions };
}

/** Resolves paths in the settings against a configuration file's folder (the caller's object is not changed). */
export function resolveKafkaSecurityPaths<T extends KafkaSecurity>(security: T, at: (path: string) => string): T {
  const file = (path: string | undefined) => (path === undefined ? undefined : at(path));
  return {
    ...security,
    ...(security.tls
      ? {
          tls: {
            ...security.tls,
            caFile: file(security.tls.caFile),
            certFile: file(security.tls.certFile),
            keyFile: file(security.tls.keyFile),
          },
        }
      : {}),
    ...(security.sasl ? { sasl: { ...security.sasl, passwordFile: file(security.sasl.passwordFile) } } : {}),
  };
}

export interface KafkaFailureOptions {
  /** How messages name the connection's fields (default "kafka"). */
  prefix?: string;
  /** No connection has succeeded yet: a connection closed at once then means a TLS or SASL mismatch. */
  firstContact?: boolean;
}

interface ErrorNode {
  name?: unknown;
  type?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Every error in kafkajs' wrapping (retry errors keep the last one as `cause`, aggregates as `errors`); bounded. */
function errorNodes(error: unknown): ErrorNode[] {
  const nodes: ErrorNode[] = [];
  const todo: unknown[] = [error];
  for (let seen = 0; todo.length > 0 && seen < 32; seen += 1) {
    const e = todo.shift();
    if (!e || typeof e !== "object") continue;
    const node = e as ErrorNode;
    nodes.push(node);
    if (node.cause !== undefined) todo.push(node.cause);
    if (Array.isArray(node.errors)) todo.push(...(node.errors as unknown[]));
  }
  return nodes;
}

// Node's TLS verification codes (tls.TLSSocket#authorizationError) for a broker certificate that no trusted CA signed.
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);
// Broker access control (ACLs) refused an authenticated client: Kafka error names as kafkajs types them.
const NOT_AUTHORIZED = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/**
 * One sentence naming why a connection failed when the cause is security (credentials, certificates, a TLS or SASL
 * setting that does not match the listener), or undefined for anything else (Kafka down, a timeout). Read from
 * kafkajs' error names and Node's TLS error codes, never from a broker's free text. Observed against Kafka 4.3
 * (test/integration/kafka-security.test.ts): a plaintext client at a TLS listener sees the connection closed at its
 * first request; a TLS client at a plaintext listener sees the socket reset during the handshake.
 */
export function kafkaSecurityFailure(
  error: unknown,
  security: KafkaSecurity,
  options: KafkaFailureOptions = {},
): string | undefined {
  const prefix = options.prefix ?? "kafka";
  const nodes = errorNodes(error);
  const tls = security.ssl === true || security.tls !== undefined;
  const hasCert = security.tls?.certFile !== undefined;
  for (const node of nodes) {
    const name = String(node.name ?? "");
    const code = String(node.code ?? "");
    const type = String(node.type ?? "");
    const message = String(node.message ?? "");
    if (name === "KafkaJSSASLAuthenticationError") {
      const mechanism = (security.sasl?.mechanism ?? "").toUpperCase();
      if (message.includes("not supported by the server")) {
        return `the listener does not enable SASL ${mechanism} (${prefix}.sasl.mechanism)`;
      }
      return `SASL ${mechanism} authentication failed: wrong user name or password (${prefix}.sasl)`;
    }
    if (UNTRUSTED.has(code)) {
      return security.tls?.caFile
        ? `the broker's certificate is not signed by a CA in ${prefix}.tls.caFile (${security.tls.caFile})`
        : `the broker's certificate is not signed by a CA in the system store; set ${prefix}.tls.caFile to the cluster's CA`;
    }
    if (code === "CERT_HAS_EXPIRED") return "the broker's certificate has expired";
    if (code === "CERT_NOT_YET_VALID") return "the broker's certificate is not valid yet (check this host's clock)";
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      return `the broker's certificate is not for the host name connected to; set ${prefix}.tls.servername to the name it has`;
    }
    if (
      code === "ERR_SSL_WRONG_VERSION_NUMBER" ||
      (code === "ECONNRESET" && message.includes("secure TLS connection"))
    ) {
      return `the TLS handshake failed: the listener does not speak TLS (PLAINTEXT or SASL_PLAINTEXT?); remove ${prefix}.tls and ${prefix}.ssl or use the broker's TLS port`;
    }
    if (code === "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED") {
      return `the broker refused our client certificate as expired (${prefix}.tls.certFile)`;
    }
    if (code === "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN" || code === "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA") {
      return `the broker does not trust our client certificate (${prefix}.tls.certFile): it is not signed by a CA the listener trusts`;
    }
    if (code === "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE" || code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED") {
      return hasCert
        ? `the broker refused our client certificate (${prefix}.tls.certFile)`
        : `the listener requires a client certificate (mutual TLS): set ${prefix}.tls.certFile and keyFile`;
    }
    if (type === "ILLEGAL_SASL_STATE" || type === "UNSUPPORTED_SASL_MECHANISM") {
      return `the listener does not use SASL (an SSL or PLAINTEXT listener): remove ${prefix}.sasl or use the broker's SASL port`;
    }
    if (NOT_AUTHORIZED.has(type)) return `authenticated, but the broker's ACLs refuse this user (${type})`;
  }
  // A listener that expects TLS or SASL drops a client that sends a plain request: kafkajs sees "Closed connection".
  // So does a broker that shuts down mid-request, hence only before the first successful connection.
  if (
    options.firstContact === true &&
    nodes.length > 0 &&
    nodes.every((n) => n.name === "KafkaJSConnectionClosedError" || n.name === "KafkaJSNumberOfRetriesExceeded")
  ) {
    if (!tls)
      return `the broker closed the connection at the first request: the listener probably expects TLS (${prefix}.tls)`;
    if (!security.sasl)
      return `the broker closed the connection after TLS: the listener probably expects SASL (${prefix}.sasl)`;
  }
  return undefined;
}

/**
 * The error to throw for a failed Kafka request: FLEET_KAFKA_SECURITY with the cause when security is why (no
 * stack of kafkajs internals needed to read it), else FLEET_KAFKA with kafkajs' message.
 */
export function kafkaFailure(
  what: string,
  error: unknown,
  security: KafkaSecurity,
  options: KafkaFailureOptions = {},
): FleetError {
  const reason = kafkaSecurityFailure(error, security, options);
  return reason
    ? new FleetError("FLEET_KAFKA_SECURITY", `${what}: ${reason}`, { cause: error, details: { reason } })
    : new FleetError("FLEET_KAFKA", `${what}: ${(error as Error).message}`, { cause: error });
}
