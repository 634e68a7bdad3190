/**
 * The Kafka security settings as every component takes them (issue 23): the schema refuses what would put a secret
 * in a configuration or half-configure mutual TLS, naming the field; resolution reads the named files and variables
 * and refuses a missing file, an unset variable or a key of another certificate with the field named; the bridge,
 * the pipelines (map, history, detect) and the CLI tools take the same fields through one path.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseBridgeConfig } from "../../bridge/config.ts";
import { parseDetectConfig } from "../../pipelines/detect/config.ts";
import { parseHistoryConfig } from "../../pipelines/history/config.ts";
import { parseMapConfig } from "../../pipelines/map/config.ts";
import { testPki } from "../../test/support/pki.ts";
import { isFleetError } from "../errors.ts";
import { cliKafkaConnection } from "./connection.ts";
import { kafkaSecurityFailure, resolveKafkaSecurity } from "./security.ts";

const dir = mkdtempSync(join(tmpdir(), "fleetsync-kafka-security-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pki = testPki(dir);
const ca = pki.ca("ca", "Test CA");
const client = pki.issue("client", "fleetsync-client", "ca");
const other = pki.issue("other", "someone-else", "ca");
const passwordFile = join(dir, "password");
writeFileSync(passwordFile, "s3cret-from-a-file\n");

const SASL = { mechanism: "scram-sha-512", username: "fleet", passwordFile } as const;
const TLS = { caFile: ca.cert, certFile: client.cert, keyFile: client.key };

function configError(run: () => unknown): { field: unknown; message: string } {
  try {
    run();
  } catch (error) {
    expect(isFleetError(error, "FLEET_CONFIG_INVALID")).toBe(true);
    return { field: (error as { details: { field: unknown } }).details.field, message: (error as Error).message };
  }
  throw new Error("no error");
}

describe("Kafka security settings", () => {
  it("every component's Kafka section takes tls and sasl: bridge, map, history, detect", () => {
    const kafka = { brokers: ["k:9093"], tls: TLS, sasl: SASL };
    const parsed = [
      parseBridgeConfig({ listener: { tcp: {} }, kafka }).kafka,
      parseMapConfig({ kafka }).kafka,
      parseHistoryConfig({ kafka, database: { url: "postgres://u@h/db" } }).kafka,
      parseDetectConfig({ kafka }).kafka,
    ];
    for (const k of parsed) expect([k.tls, k.sasl]).toEqual([TLS, SASL]);
  });

  it("refuses a password written in the configuration, naming the field", () => {
    const error = configError(() =>
      parseBridgeConfig(
        {
          listener: { tcp: {} },
          kafka: { brokers: ["k:1"], sasl: { mechanism: "plain", username: "u", password: "x" } },
        },
        "bridge.json",
      ),
    );
    expect(error.message).toMatch(/^bridge\.json: kafka\.sasl: .*password/);
    // ...and a SASL section that names no password source at all.
    const none = configError(() =>
      parseBridgeConfig({
        listener: { tcp: {} },
        kafka: { brokers: ["k:1"], sasl: { mechanism: "plain", username: "u" } },
      }),
    );
    expect(none.field).toBe("kafka.sasl.passwordFile");
    expect(none.message).toContain("set exactly one of passwordFile and passwordEnv");
  });

  it("refuses half a client certificate and an unknown mechanism, naming the field", () => {
    const half = configError(() =>
      parseMapConfig({ kafka: { brokers: ["k:1"], tls: { certFile: client.cert } } }, "map.json"),
    );
    expect(half.field).toBe("kafka.tls.keyFile");
    const mechanism = configError(() =>
      parseMapConfig({ kafka: { brokers: ["k:1"], sasl: { ...SASL, mechanism: "gssapi" } } }, "map.json"),
    );
    expect(mechanism.field).toBe("kafka.sasl.mechanism");
  });

  it("resolves the named secrets: the password file without its newline, env variables, PEM contents", () => {
    const resolved = resolveKafkaSecurity({ tls: TLS, sasl: SASL });
    expect(resolved.sasl).toEqual({ mechanism: "scram-sha-512", username: "fleet", password: "s3cret-from-a-file" });
    expect(resolved.ssl).toMatchObject({
      rejectUnauthorized: true,
      ca: [expect.stringContaining("BEGIN CERTIFICATE")],
    });
    const fromEnv = resolveKafkaSecurity(
      { sasl: { mechanism: "plain", usernameEnv: "KAFKA_USER", passwordEnv: "KAFKA_PASS" } },
      "kafka",
      { KAFKA_USER: "api-key", KAFKA_PASS: "api-secret" },
    );
    expect(fromEnv).toEqual({ ssl: false, sasl: { mechanism: "plain", username: "api-key", password: "api-secret" } });
  });

  it("refuses at start what would fail every connection later, naming the field", () => {
    const cases: [() => unknown, string, RegExp][] = [
      [() => resolveKafkaSecurity({ tls: { caFile: join(dir, "missing.pem") } }), "kafka.tls.caFile", /ENOENT/],
      [() => resolveKafkaSecurity({ tls: { caFile: passwordFile } }), "kafka.tls.caFile", /holds no PEM certificate/],
      [() => resolveKafkaSecurity({ tls: { ...TLS, keyFile: other.key } }), "kafka.tls.keyFile", /is not the key of/],
      [
        () => resolveKafkaSecurity({ tls: TLS }, "kafka", process.env, new Date(Date.now() + 5 * 86_400_000)),
        "kafka.tls.certFile",
        /expired on/,
      ],
      [
        () =>
          resolveKafkaSecurity(
            { sasl: { mechanism: "plain", username: "u", passwordEnv: "NOT_SET_HERE" } },
            "kafka",
            {},
          ),
        "kafka.sasl.passwordEnv",
        /NOT_SET_HERE is not set/,
      ],
    ];
    for (const [run, field, message] of cases) {
      const error = configError(run);
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it("a connection closed by a broker that was reached before is not blamed on TLS or SASL", () => {
    const closed = { name: "KafkaJSNumberOfRetriesExceeded", cause: { name: "KafkaJSConnectionClosedError" } };
    expect(kafkaSecurityFailure(closed, {}, { firstContact: false })).toBeUndefined();
    expect(kafkaSecurityFailure(closed, {}, { firstContact: true })).toMatch(/expects TLS/);
    // Kafka down is not a security failure either.
    const refused = {
      name: "KafkaJSConnectionError",
      code: "ECONNREFUSED",
      message: "Connection error: connect ECONNREFUSED",
    };
    expect(kafkaSecurityFailure(refused, {}, { firstContact: true })).toBeUndefined();
  });

  it("CLI tools: --kafka-config's relative paths are the file's; --brokers replaces its brokers; no file: plaintext", async () => {
    const file = join(dir, "kafka.json");
    writeFileSync(
      file,
      JSON.stringify({ brokers: ["k:9093"], tls: { caFile: "ca.pem" }, sasl: { ...SASL, passwordFile: "password" } }),
    );
    const fromFile = await cliKafkaConnection({ kafkaConfig: file }, {});
    expect(fromFile.tls?.caFile).toBe(ca.cert);
    expect(fromFile.sasl?.passwordFile).toBe(passwordFile);
    expect(fromFile.brokers).toEqual(["k:9093"]);
    expect((await cliKafkaConnection({ kafkaConfig: file, brokers: "a:1,b:2" }, {})).brokers).toEqual(["a:1", "b:2"]);
    expect(await cliKafkaConnection({}, { FLEETSYNC_KAFKA_CONFIG: file })).toEqual(fromFile);
    expect(await cliKafkaConnection({}, { KAFKA_BROKERS: "x:1" })).toMatchObject({ brokers: ["x:1"], ssl: false });
  });
});
