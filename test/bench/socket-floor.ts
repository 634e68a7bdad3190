/**
 * The memory floor under plain Aedes and the bridge (issue 21): what N connected TCP sockets cost a Node server with
 * no MQTT at all. The server (this process) accepts and reads; the clients are a child process, 16 loopback source
 * addresses, each socket sending 60 bytes a second as a truck's publish would. Prints RSS and V8 heap per socket,
 * before and after two full collections. Run as the bridge's image runs (two malloc arenas):
 *
 *   MALLOC_ARENA_MAX=2 node --expose-gc --import tsx test/bench/socket-floor.ts 5000
 */
import { fork } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const N = Number(process.argv[2] ?? 5_000);
const gc = (globalThis as { gc?: () => void }).gc;

if (process.argv[3] === "--clients") {
  const port = Number(process.argv[4]);
  const held: Socket[] = [];
  for (let i = 0; i < N; i++) {
    held.push(
      await new Promise<Socket>((resolve) => {
        const socket = connect({ port, host: "127.0.0.1", localAddress: `127.0.2.${(i % 16) + 1}` }, () =>
          resolve(socket),
        );
      }),
    );
  }
  setInterval(() => {
    for (const socket of held) socket.write(Buffer.alloc(60));
  }, 1_000);
  process.send!("connected");
} else {
  if (!gc) throw new Error("run with --expose-gc");
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("data", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gc();
  gc();
  const before = process.memoryUsage();
  const clients = fork(fileURLToPath(import.meta.url), [
    String(N),
    "--clients",
    String((server.address() as { port: number }).port),
  ]);
  await new Promise((resolve) => clients.once("message", resolve));
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const settled = process.memoryUsage();
  gc();
  gc();
  const after = process.memoryUsage();
  const kb = (a: NodeJS.MemoryUsage, key: keyof NodeJS.MemoryUsage) => ((a[key] - before[key]) / N / 1024).toFixed(1);
  console.log(
    `${sockets.length} sockets, load average ${loadavg()[0]!.toFixed(1)}: RSS ${kb(settled, "rss")} KB per socket ` +
      `(${kb(after, "rss")} after full collections), V8 heap used ${kb(after, "heapUsed")} KB, external ${kb(after, "external")} KB`,
  );
  clients.kill();
  server.close();
  for (const socket of sockets) socket.destroy();
}
