/**
 * Issue 23, "expired certificate", at the TLS layer where it fails: a TLS server holding an expired certificate
 * (signed by a CA the client trusts) stands in for a broker, since the handshake fails before any Kafka byte is
 * exchanged. The client is FleetSync's own (common/kafka); the failure must name the cause in one sentence.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafkaClient } from "../../../common/kafka/connection.ts";
import { kafkaFailure, resolveKafkaSecurity } from "../../../common/kafka/security.ts";
import { testPki } from "../../support/pki.ts";

describe("an expired certificate", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetsync-expired-"));
  const pki = testPki(dir);
  let server: Server;
  let port: number;

  beforeAll(async () => {
    pki.ca("ca", "Test CA");
    const expired = pki.issue("broker", "localhost", "ca", { server: true, days: -1 });
    server = createServer({ cert: readFileSync(expired.cert), key: readFileSync(expired.key) }, (socket) =>
      socket.destroy(),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("the broker's: the connection fails at once with 'the broker's certificate has expired'", async () => {
    const settings = { brokers: [`127.0.0.1:${port}`], tls: { caFile: join(dir, "ca.pem") } };
    const admin = createKafkaClient(
      { ...settings, clientId: "expired-test", connectionTimeoutMs: 3_000 },
      { retry: { retries: 1, initialRetryTime: 100 } },
    ).admin();
    const error = await admin.connect().then(
      () => new Error("connected"),
      (e: unknown) => e,
    );
    await admin.disconnect().catch(() => undefined);
    const failure = kafkaFailure("cannot reach Kafka", error, settings, { firstContact: true });
    expect([failure.code, failure.message]).toEqual([
      "FLEET_KAFKA_SECURITY",
      "cannot reach Kafka: the broker's certificate has expired",
    ]);
  });

  it("our own client certificate: refused at start with the field and the date, before any connection", () => {
    const client = pki.issue("client", "fleetsync-client", "ca", { days: -1 });
    expect(() =>
      resolveKafkaSecurity({ tls: { caFile: join(dir, "ca.pem"), certFile: client.cert, keyFile: client.key } }),
    ).toThrow(new RegExp(`^kafka\\.tls\\.certFile: the certificate in ${client.cert} expired on `));
  });
});
