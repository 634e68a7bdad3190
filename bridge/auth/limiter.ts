import { isIPv6 } from "node:net";

/**
 * The key per-source limits count under: an IPv4 address as it is (also when written as ::ffff:a.b.c.d), an IPv6
 * address by its /64 prefix. One IPv6 subscriber (a phone, a cellular modem, a cloud VM) is routinely given a whole
 * /64 and can pick any address in it, so per-address limits would give it 2^64 sources.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return "unknown";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

export interface SourceLimiterOptions {
  connectionsPerSecond: number;
  /** Failed logins for one claimed truck id from one source before that pair is blocked. */
  maxAuthFailures: number;
  /** Failed logins from one source, whatever the truck ids, before the whole source is blocked. */
  maxAuthFailuresPerSource: number;
  failureWindowMs: number;
  blockMs: number;
  maxTrackedSources: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Failures {
  count: number;
  windowStart: number;
  blockedUntil: number;
}

/**
 * Per-source limits against connection floods and password guessing. Sources are keys from sourceKey (IPv6 by /64).
 *
 * Failed logins are counted per (source, claimed truck id), and per source with a much higher ceiling (issue 13.10):
 * cellular carriers put many trucks behind one address, so one truck with a wrong password (or one guesser) must
 * not lock out every truck behind that address; a source that fails for many truck ids (password spraying) still
 * gets blocked as a whole. A blocked login is refused with a CONNACK the client can log (auth.ts), not a bare close.
 *
 * All tables are capped (maxTrackedSources); when full the oldest entry is forgotten (a Map iterates in insertion
 * order), which at worst lets a forgotten source start over: memory stays bounded under a spoofed-address flood.
 */
export class SourceLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly failures = new Map<string, Failures>();
  private readonly sourceFailures = new Map<string, Failures>();
  private readonly now: () => number;
  private readonly burst: number;

  constructor(private readonly options: SourceLimiterOptions) {
    this.now = options.now ?? Date.now;
    this.burst = Math.max(1, options.connectionsPerSecond * 5);
  }

  /** Whether a new connection from `source` may proceed (the connection rate); takes one token when it may. */
  admitConnection(source: string): { ok: true } | { ok: false; reason: "rate" } {
    const now = this.now();
    const bucket = this.buckets.get(source) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.options.connectionsPerSecond,
    );
    bucket.at = now;
    this.remember(this.buckets, source, bucket);
    if (bucket.tokens < 1) return { ok: false, reason: "rate" };
    bucket.tokens -= 1;
    return { ok: true };
  }

  /** Whether logins as `truckId` from `source` are refused: that pair, or the whole source, failed too often. */
  isBlocked(source: string, truckId: string): boolean {
    const now = this.now();
    const pair = this.failures.get(pairKey(source, truckId));
    const whole = this.sourceFailures.get(source);
    return (pair !== undefined && pair.blockedUntil > now) || (whole !== undefined && whole.blockedUntil > now);
  }

  recordAuthFailure(source: string, truckId: string): void {
    this.count(this.failures, pairKey(source, truckId), this.options.maxAuthFailures);
    this.count(this.sourceFailures, source, this.options.maxAuthFailuresPerSource);
  }

  private count(map: Map<string, Failures>, key: string, max: number): void {
    const now = this.now();
    let entry = map.get(key);
    if (!entry || now - entry.windowStart > this.options.failureWindowMs) {
      entry = { count: 0, windowStart: now, blockedUntil: entry?.blockedUntil ?? 0 };
    }
    entry.count += 1;
    if (entry.count >= max) {
      entry.blockedUntil = now + this.options.blockMs;
      entry.count = 0;
      entry.windowStart = now;
    }
    this.remember(map, key, entry);
  }

  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > this.options.maxTrackedSources) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}

/** Truck ids never contain a space (design, "Truck id"), so the pair key is unambiguous. */
function pairKey(source: string, truckId: string): string {
  return `${source} ${truckId}`;
}
