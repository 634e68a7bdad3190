import { describe, expect, it } from "vitest";
import { ListenerConfigSchema } from "./config.ts";

describe("listener configuration", () => {
  const tls = { certFile: "server.pem", keyFile: "server.key" };

  it("refuses requireClientCertificate without caFile, naming the field", () => {
    const parsed = ListenerConfigSchema.safeParse({ tls: { ...tls, requireClientCertificate: true } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(["tls", "requireClientCertificate"]);
  });

  it("accepts it with caFile, and TLS without client certificates", () => {
    expect(
      ListenerConfigSchema.safeParse({ tls: { ...tls, caFile: "ca.pem", requireClientCertificate: true } }).success,
    ).toBe(true);
    expect(ListenerConfigSchema.safeParse({ tls }).success).toBe(true);
  });
});
