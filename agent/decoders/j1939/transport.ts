/**
 * Passive J1939 transport protocol reassembly (SAE J1939-21 §5.10): TP.CM (PGN 0xEC00) announces a message of up to
 * 1785 bytes, TP.DT (PGN 0xEB00) carries it 7 bytes per packet with sequence numbers 1..n. BAM (control 0x20) is
 * broadcast; RTS/CTS (0x10) is peer to peer, and we only overhear it (we never send a CTS: listen-only).
 * Checks: packets in sequence (a gap or repeat aborts the session), a session left without a packet for more than
 * T1 = 750 ms is dropped (J1939-21 §5.10.2.4), a new TP.CM from the same sender replaces the unfinished one.
 * Bounded: at most `maxSessions` open sessions (one per sender/receiver pair); when full, the oldest is dropped.
 */

export interface TransportCounters {
  completed: number;
  timeouts: number;
  sequenceErrors: number;
  replaced: number;
  aborted: number;
  dropped: number;
}

export interface Reassembled {
  pgn: number;
  sa: number;
  da: number;
  data: Uint8Array;
}

interface Session {
  pgn: number;
  sa: number;
  da: number;
  size: number;
  packets: number;
  next: number;
  data: Uint8Array;
  lastTs: number | null;
}

export interface TransportOptions {
  /** J1939-21 T1: the longest wait between packets. */
  timeoutMs: number;
  maxSessions: number;
}

export const TRANSPORT_DEFAULTS: TransportOptions = { timeoutMs: 750, maxSessions: 64 };

const BAM = 0x20;
const RTS = 0x10;
const ABORT = 0xff;
const EOM_ACK = 0x13;

export function createTransportReassembler(options: TransportOptions = TRANSPORT_DEFAULTS) {
  const sessions = new Map<number, Session>();
  const counters: TransportCounters = {
    completed: 0,
    timeouts: 0,
    sequenceErrors: 0,
    replaced: 0,
    aborted: 0,
    dropped: 0,
  };
  const expired = (s: Session, ts: number | null) =>
    ts !== null && s.lastTs !== null && (ts - s.lastTs) * 1000 > options.timeoutMs;

  /** TP.CM from `sa` to `da`. */
  function connectionManagement(sa: number, da: number, d: Uint8Array, ts: number | null): void {
    const control = d[0];
    const key = (sa << 8) | da;
    if (control === ABORT || control === EOM_ACK) {
      // An abort (or the receiver's end-of-message ack) comes from the other side of an RTS session.
      const peerKey = (da << 8) | sa;
      if (control === ABORT && sessions.delete(peerKey)) counters.aborted++;
      return;
    }
    if ((control !== BAM && control !== RTS) || d.length < 8) return;
    const size = d[1]! | (d[2]! << 8);
    const packets = d[3]!;
    // J1939-21: 9..1785 bytes, ceil(size / 7) packets.
    if (size < 9 || size > 1785 || packets !== Math.ceil(size / 7)) return;
    if (sessions.delete(key)) counters.replaced++;
    if (sessions.size >= options.maxSessions) {
      const oldest = sessions.keys().next().value as number;
      sessions.delete(oldest);
      counters.dropped++;
    }
    const pgn = d[5]! | (d[6]! << 8) | (d[7]! << 16);
    sessions.set(key, { pgn, sa, da, size, packets, next: 1, data: new Uint8Array(packets * 7), lastTs: ts });
  }

  /** TP.DT from `sa` to `da`: returns the whole message when this packet completes it. */
  function dataTransfer(sa: number, da: number, d: Uint8Array, ts: number | null): Reassembled | undefined {
    const key = (sa << 8) | da;
    const s = sessions.get(key);
    if (!s || d.length < 2) return undefined;
    if (expired(s, ts)) {
      sessions.delete(key);
      counters.timeouts++;
      return undefined;
    }
    if (d[0] !== s.next) {
      sessions.delete(key);
      counters.sequenceErrors++;
      return undefined;
    }
    s.data.set(d.subarray(1, 8), (s.next - 1) * 7);
    s.lastTs = ts ?? s.lastTs;
    if (s.next < s.packets) {
      s.next++;
      return undefined;
    }
    sessions.delete(key);
    counters.completed++;
    return { pgn: s.pgn, sa: s.sa, da: s.da, data: s.data.subarray(0, s.size) };
  }

  /** Drops sessions idle for longer than T1 at time `ts` (seconds); the source calls this on a timer. */
  function expire(ts: number): void {
    for (const [key, s] of sessions) {
      if (expired(s, ts)) {
        sessions.delete(key);
        counters.timeouts++;
      }
    }
  }

  return {
    connectionManagement,
    dataTransfer,
    expire,
    openSessions: () => sessions.size,
    counters: (): TransportCounters => ({ ...counters }),
  };
}
