/**
 * Binding a server to its configured address. A port that is taken (or may not be bound) is a configuration
 * problem the operator fixes in one field, so it is a FLEET_CONFIG_INVALID naming that field and the address, not
 * Node's bare `listen EADDRINUSE` that names neither (and that crashed the agent when its metrics port was taken).
 */
import type { Server } from "node:net";
import { FleetError } from "./errors.ts";

export interface ListenTarget {
  host: string;
  port: number;
  /** The configuration field that sets the port, e.g. "listener.tcp.port". */
  field: string;
  /** Who probably holds the port when it is in use; "another program" unless the caller knows better. */
  holder?: string;
  /** What else the operator can do besides choosing another port. */
  orElse?: string;
  /** listen(2) backlog (Node's default: 511). */
  backlog?: number;
}

/** Resolves once `server` listens on target.host:target.port; rejects with FLEET_CONFIG_INVALID if it cannot. */
export function listenOn(server: Server, target: ListenTarget): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(
        new FleetError("FLEET_CONFIG_INVALID", `${target.field}: ${target.host}:${target.port} ${why(error, target)}`, {
          cause: error,
        }),
      );
    server.once("error", failed);
    const options = { port: target.port, host: target.host, ...(target.backlog ? { backlog: target.backlog } : {}) };
    server.listen(options, () => {
      server.off("error", failed);
      resolve();
    });
  });
}

function why(error: NodeJS.ErrnoException, target: ListenTarget): string {
  if (error.code === "EADDRINUSE") {
    const orElse = target.orElse ? ` or ${target.orElse}` : "";
    return `is in use (EADDRINUSE): ${target.holder ?? "another program"} holds it; choose another port${orElse}`;
  }
  if (error.code === "EACCES")
    return "may not be listened on by this user (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE";
  // EADDRNOTAVAIL (a host address this machine does not have) and the like: Node's own words say it best.
  return `cannot be listened on: ${error.message}`;
}
