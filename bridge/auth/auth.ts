/**
 * Authentication and subscription ACL as Aedes hooks. A truck logs in with client id = username = truck id and
 * its password (checked against the credentials file), or over TLS with a verified client certificate whose
 * subject CN is the truck id. Failed logins count against the source and the claimed truck id (SourceLimiter).
 */
import { TLSSocket } from "node:tls";
import type { AuthenticateError, Client, Subscription } from "aedes";
import type { Logger } from "../../common/log.ts";
import { isTruckId } from "../../protocol/truck-id.ts";
import { maySubscribe } from "./acl.ts";
import type { AuthConfig } from "./config.ts";
import { CredentialStore } from "./credentials.ts";
import { SourceLimiter, sourceKey } from "./limiter.ts";
import { FleetError } from "../../common/errors.ts";
import { type Lifecycle, LifecycleGuard } from "../../common/lifecycle.ts";

export type AuthFailureReason = "bad-client-id" | "bad-credentials" | "blocked" | "certificate-mismatch";

export interface AuthDeps {
  logger: Logger;
  onAuthFailure?: (reason: AuthFailureReason) => void;
  onSubscribeRefused?: () => void;
  /** A scrypt check ran (credentials.ts, CredentialStoreHooks.onHash). */
  onPasswordCheck?: () => void;
}

export interface Auth extends Lifecycle {
  readonly limiter: SourceLimiter;
  /** Loads the credentials file (a missing file is an empty fleet: only client certificates log in). */
  start(): Promise<void>;
  /** After stop, every login is refused (FLEET_CLOSED): the bridge closes its listeners first. */
  stop(): Promise<void>;
  authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void;
  authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void;
}

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
const BAD_CREDENTIALS = 4;
const IDENTIFIER_REJECTED = 2;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The client's source as the per-source limits key it (IPv6 by /64: limiter.ts, sourceKey). */
export function sourceOf(client: Client): string {
  return sourceKey((client.conn as { remoteAddress?: string }).remoteAddress);
}

function certificateCn(client: Client): string | undefined {
  const conn = client.conn;
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined;
  const cn = conn.getPeerCertificate()?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

export function createAuth(config: AuthConfig, deps: AuthDeps): Auth {
  const store = config.credentialsFile
    ? new CredentialStore(config.credentialsFile, { onHash: deps.onPasswordCheck })
    : undefined;
  const limiter = new SourceLimiter({
    connectionsPerSecond: config.maxConnectionsPerSecondPerSource,
    maxAuthFailures: config.maxAuthFailuresPerTruck,
    maxAuthFailuresPerSource: config.maxAuthFailuresPerSource,
    failureWindowMs: config.authFailureWindowMs,
    blockMs: config.blockMs,
    maxTrackedSources: config.maxTrackedSources,
  });

  const fail = (
    client: Client,
    reason: AuthFailureReason,
    code: number,
    done: (e: AuthenticateError, ok: boolean) => void,
  ) => {
    const source = sourceOf(client);
    if (reason !== "blocked") limiter.recordAuthFailure(source, client.id ?? "");
    deps.onAuthFailure?.(reason);
    deps.logger.warn({ truckId: client.id, source, reason }, "login refused");
    done(refusal(code, reason), false);
  };

  const life = new LifecycleGuard("the bridge's authentication");
  return {
    limiter,
    start: () =>
      life.start(async () => {
        await store?.load();
      }),
    stop: () => life.stop(async () => undefined),
    authenticate(client, username, password, done) {
      if (life.closed) {
        return done(Object.assign(new FleetError("FLEET_CLOSED", "the bridge is stopping"), { returnCode: 3 }), false);
      }
      const source = sourceOf(client);
      // Refused with a CONNACK the client can log (MQTT 3.1.1: 5 Not authorized; MQTT 5: 0x87), without a check.
      if (limiter.isBlocked(source, client.id ?? "")) return fail(client, "blocked", NOT_AUTHORIZED, done);
      // The truck id is the client id and the username (design, "Truck id").
      if (!isTruckId(client.id)) return fail(client, "bad-client-id", IDENTIFIER_REJECTED, done);
      const cn = config.allowClientCertificates ? certificateCn(client) : undefined;
      if (cn !== undefined) {
        if (cn === client.id && (username === undefined || username === client.id)) return done(null, true);
        return fail(client, "certificate-mismatch", BAD_CREDENTIALS, done);
      }
      if (username !== client.id || !store) return fail(client, "bad-credentials", BAD_CREDENTIALS, done);
      store.verify(client.id, password).then(
        (ok) => (ok ? done(null, true) : fail(client, "bad-credentials", BAD_CREDENTIALS, done)),
        (error: unknown) => {
          deps.logger.error({ err: error }, "credentials check failed");
          fail(client, "bad-credentials", BAD_CREDENTIALS, done);
        },
      );
    },
    authorizeSubscribe(client, subscription, done) {
      if (!maySubscribe(client.id, subscription.topic)) {
        deps.onSubscribeRefused?.();
        // A null subscription makes Aedes answer SUBACK 0x80 (failure) without dropping the connection.
        return done(null, null);
      }
      // Confirmations and config are sent at QoS 1 at most: the bridge keeps no QoS 2 state for trucks.
      done(null, { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 });
    },
  };
}
