/**
 * The 29-bit J1939 identifier (SAE J1939-21 §5.2): priority (3 bits), EDP, DP, PDU format (PF), PDU specific (PS),
 * source address. PF < 240 is PDU1: PS is a destination address and not part of the PGN; PF >= 240 is PDU2: PS is
 * the group extension and part of the PGN, and the message is broadcast.
 */
export interface J1939Id {
  priority: number;
  pgn: number;
  sa: number;
  /** Destination address; 255 (global) for PDU2. */
  da: number;
}

export function parseJ1939Id(id: number): J1939Id {
  const priority = (id >>> 26) & 0x7;
  const dataPage = (id >>> 24) & 0x3; // EDP and DP
  const pf = (id >>> 16) & 0xff;
  const ps = (id >>> 8) & 0xff;
  const sa = id & 0xff;
  if (pf < 240) return { priority, pgn: (dataPage << 16) | (pf << 8), sa, da: ps };
  return { priority, pgn: (dataPage << 16) | (pf << 8) | ps, sa, da: 255 };
}
