/** A loopback port held by another server, to see what a component does when its configured port is taken. */
import { createServer, type Server } from "node:net";

export async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the holder has no address");
  return { port: address.port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The message a component gives when `field`'s port is in use (common/listen.ts). */
export const inUse = (field: string, port: number) =>
  `${field}: 127.0.0.1:${port} is in use (EADDRINUSE): another program holds it; choose another port`;
