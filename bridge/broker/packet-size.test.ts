import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { PacketSizeScanner } from "./packet-size.ts";

function publish(payloadBytes: number, messageId = 1): Buffer {
  return mqttPacket.generate({
    cmd: "publish",
    topic: "fleetsync/v1/T1/telemetry",
    payload: Buffer.alloc(payloadBytes, 7),
    qos: 1,
    messageId,
    retain: false,
    dup: false,
  });
}

/** Feeds `bytes` to a scanner in chunks cut at `cuts` (positions), returning the first non-"ok" verdict. */
function scanInChunks(max: number, bytes: Buffer, cuts: number[]): string {
  const scanner = new PacketSizeScanner(max);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const verdict = scanner.scan(bytes.subarray(from, to));
    if (verdict !== "ok") return verdict;
    from = to;
  }
  return "ok";
}

describe("PacketSizeScanner", () => {
  it("accepts a packet of exactly the limit and refuses one byte more, counting the fixed header", () => {
    const packet = publish(200);
    expect(new PacketSizeScanner(packet.length).scan(packet)).toBe("ok");
    expect(new PacketSizeScanner(packet.length - 1).scan(packet)).toBe("too-large");
  });

  it("refuses on the header alone, before the body arrives", () => {
    const packet = publish(1_000_000);
    expect(new PacketSizeScanner(4096).scan(packet.subarray(0, 5))).toBe("too-large");
  });

  it("finds the too-large packet behind small ones in the same chunk", () => {
    const stream = Buffer.concat([publish(10, 1), publish(10, 2), publish(5_000, 3), publish(10, 4)]);
    expect(new PacketSizeScanner(4096).scan(stream)).toBe("too-large");
    expect(new PacketSizeScanner(8192).scan(stream)).toBe("ok");
  });

  it("gives the same verdict however the stream is cut into reads", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (sizes, cuts) => {
          const packets = sizes.map((size, i) => publish(size, i + 1));
          const stream = Buffer.concat(packets);
          const expected = packets.some((p) => p.length > 4096) ? "too-large" : "ok";
          expect(scanInChunks(4096, stream, cuts)).toBe(expected);
        },
      ),
    );
  });

  it("calls a Remaining Length with a fifth byte malformed, and stays refused", () => {
    const scanner = new PacketSizeScanner(1 << 28);
    expect(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe("malformed");
    expect(scanner.scan(publish(1))).toBe("malformed");
  });
});
