/**
 * The simulator's end of a pty pair, opened with serialport like any serial device. Writes are bounded: when the
 * reader at the other end does not keep up (or nobody has the device open) and more than `maxPendingBytes` wait
 * in the stream, new output is dropped and counted, as a real UART overruns; commands from the reader still flow.
 */
import { SerialPort } from "serialport";
import { FleetError } from "../../common/errors.ts";

export interface SimPort {
  write(text: string): void;
  onData(handler: (text: string) => void): void;
  counters(): { bytesWritten: number; bytesDropped: number; bytesRead: number };
  close(): Promise<void>;
}

export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024;

export async function openSimPort(path: string, maxPendingBytes = DEFAULT_MAX_PENDING_BYTES): Promise<SimPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) =>
      error
        ? reject(new FleetError("FLEET_SERIAL_OPEN", `cannot open ${path}: ${error.message}`, { cause: error }))
        : resolve(),
    ),
  );
  const counters = { bytesWritten: 0, bytesDropped: 0, bytesRead: 0 };
  let closed = false;
  port.on("error", () => {
    // The reader side going away is not an error for a simulated device; the next write is dropped or succeeds.
  });
  return {
    write(text) {
      if (closed || text.length === 0) return;
      if (port.writableLength > maxPendingBytes) {
        counters.bytesDropped += text.length;
        return;
      }
      counters.bytesWritten += text.length;
      port.write(text, "latin1");
    },
    onData(handler) {
      port.on("data", (chunk: Buffer) => {
        counters.bytesRead += chunk.length;
        handler(chunk.toString("latin1"));
      });
    },
    counters: () => ({ ...counters }),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      });
    },
  };
}
