/** Raw MQTT bytes for tests and benchmarks that play a misbehaving client on a plain socket. */

/** A fixed header of packet type byte `type` announcing `length` bytes (MQTT 5 section 2.1.4, Remaining Length). */
export function fixedHeader(type: number, length: number): Buffer {
  const bytes = [type];
  let x = length;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    bytes.push(byte);
  } while (x > 0);
  return Buffer.from(bytes);
}

/** A CONNECT fixed header announcing `length` bytes. */
export const connectHeader = (length: number): Buffer => fixedHeader(0x10, length);
