/**
 * Everything that knows @serialport/bindings-cpp's internals, in one place (conventions: one port per engine).
 *
 * Why this exists: a tty whose other end goes away (a USB adapter unplugged, a pty's master closed) is hung up by
 * the kernel, and from then on read() returns 0 bytes (hung_up_tty_read), not an error. bindings-cpp's unixRead
 * takes 0 bytes as "try again" and reads again at once, forever: the port never closes, the source never counts the
 * device as lost, and a libuv pool thread spins. That is what happens whenever the hangup lands while a read is in
 * flight, which a busy stream makes likely (measured: 6 of 10 unplugs of a pty streaming at full speed were never
 * noticed; 8 of 10 with the libuv pool busy). Only a hangup that lands while the port waits in poll() was noticed,
 * through POLLHUP. With `vmin: 1` (the binding's default) a tty read never legitimately returns 0, so here 0 bytes
 * is a disconnect, which @serialport/stream turns into a close with `disconnected: true`.
 */
import { read } from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import type {
  BindingInterface,
  BindingPortInterface,
  DarwinPortBinding,
  LinuxPortBinding,
  OpenOptions,
} from "@serialport/bindings-cpp";

// Loaded on the first port opened, not at import: bindings-cpp loads its native addon as it is imported, and an agent
// configured without serial ports (or `fleetsync decode`, which shares the line splitter) should never load it. The
// agent imports its sources statically (agent.ts), so the laziness lives here, in the one file that knows the binding.
const require = createRequire(import.meta.url);
const loadBindings = () => require("@serialport/bindings-cpp") as typeof import("@serialport/bindings-cpp");
const loadUnixRead = () =>
  (require("@serialport/bindings-cpp/dist/unix-read.js") as typeof import("@serialport/bindings-cpp/dist/unix-read.js"))
    .unixRead;

const fsRead = promisify(read);

async function readOrHangup(
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number | null,
): Promise<{ bytesRead: number; buffer: Buffer }> {
  const result = await fsRead(fd, buffer, offset, length, position);
  if (result.bytesRead === 0) {
    throw Object.assign(new Error("read returned 0 bytes: the tty hung up (device gone)"), {
      code: "EIO",
      disconnect: true,
    });
  }
  return result;
}

function isUnixPort(port: BindingPortInterface): port is LinuxPortBinding | DarwinPortBinding {
  const p = port as Partial<LinuxPortBinding>;
  return typeof p.fd === "number" && typeof p.poller === "object";
}

let binding: BindingInterface | undefined;

/** The platform's binding, with reads that end at a hangup on Linux and macOS. */
export function serialBinding(): BindingInterface {
  if (binding) return binding;
  const base = loadBindings().autoDetect() as BindingInterface;
  const unixRead = loadUnixRead();
  binding = {
    list: () => base.list(),
    async open(options: OpenOptions) {
      const port = await base.open(options);
      if (isUnixPort(port)) {
        port.read = (buffer, offset, length) =>
          // fsReadAsync is typed as promisified fs.read with all its overloads; unixRead calls only this one.
          unixRead({ binding: port, buffer, offset, length, fsReadAsync: readOrHangup as unknown as typeof fsRead });
      }
      return port;
    },
  };
  return binding;
}
