/**
 * The test's end of a pseudo-terminal pair: what the device (GPS, CAN adapter) would be. Opened with serialport (a
 * poller), not fs streams: a blocking tty read would hold a libuv pool thread and hang the test.
 */
import { SerialPort } from "serialport";

export interface PtyPeer {
  port: SerialPort;
  /** Everything the other side sent so far, as latin1 text. */
  received(): string;
  /** Writes and waits until the bytes left for the tty. */
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

export async function openPtyPeer(path: string): Promise<PtyPeer> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  let received = "";
  port.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  port.on("error", () => {});
  return {
    port,
    received: () => received,
    write: (text) =>
      new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(text, "latin1"));
        port.drain((e) => (e ? reject(e) : resolve()));
      }),
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}
