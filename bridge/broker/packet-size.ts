/**
 * Maximum packet size, checked on the raw byte stream before the MQTT parser sees it.
 *
 * Aedes 1.x has no packet size limit, and a check after mqtt-packet's parse() is too late: parse() emits every
 * packet that is complete in the bytes it was given, and Aedes handles each one synchronously inside that call
 * (node_modules/aedes/lib/client.js, enqueue). A packet that arrives whole in one socket read (anything up to the
 * read size, 64 KiB on Linux, more when reads were paused by backpressure) would be forwarded before the check ran.
 *
 * The scanner walks only the fixed headers (MQTT 3.1.1 section 2.2 / MQTT 5 section 2.1.1: one type byte, then the
 * Remaining Length as a Variable Byte Integer of 1 to 4 bytes) and skips bodies by count, so its cost per read is a
 * few operations per packet. The size compared is the whole packet (fixed header + Remaining Length), which is what
 * MQTT 5's Maximum Packet Size means (section 3.2.2.3.6) and what the CONNACK announces to v5 clients.
 */

export type ScanVerdict = "ok" | "too-large" | "malformed";

export class PacketSizeScanner {
  /** Body bytes of the current packet not yet seen. */
  private bodyLeft = 0;
  /** -1: the next byte is a packet's type byte; 0..3: Remaining Length bytes read so far. */
  private lengthBytes = -1;
  private length = 0;
  private multiplier = 1;
  private verdict: ScanVerdict = "ok";

  constructor(private readonly maxBytes: number) {}

  /** Scans the next bytes of the stream. Once a verdict is not "ok" it stays so: the stream must be closed. */
  scan(chunk: Buffer): ScanVerdict {
    let i = 0;
    while (this.verdict === "ok" && i < chunk.length) {
      if (this.bodyLeft > 0) {
        const skipped = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= skipped;
        i += skipped;
        continue;
      }
      const byte = chunk[i]!;
      i += 1;
      if (this.lengthBytes < 0) {
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      if (byte & 0x80) {
        // A fourth byte with the continuation bit is a malformed Remaining Length (MQTT 5 section 1.5.5).
        if (this.lengthBytes === 4) this.verdict = "malformed";
        continue;
      }
      if (1 + this.lengthBytes + this.length > this.maxBytes) this.verdict = "too-large";
      this.bodyLeft = this.length;
      this.lengthBytes = -1;
    }
    return this.verdict;
  }
}
