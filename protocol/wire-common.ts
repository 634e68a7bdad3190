/** Pieces both binary formats share: the stream id bytes, the seq run, the timestamp epoch. */
import { BitReader, BitWriter } from "./bits.ts";
import type { J1939Dtc } from "./records.ts";
import { type BinaryVersion, MAX_RECORDS_PER_PAYLOAD } from "./wire-format.ts";

/** Timestamps are coded relative to 2025-01-01T00:00:00Z, so today's times need fewer bits. */
export const TS_EPOCH_MS = Date.UTC(2025, 0, 1);

/** The stream id's 16 hex digits as 8 bytes at `offset` (the id is random, so it does not compress). */
export function writeStream(target: Uint8Array, offset: number, stream: string): void {
  for (let i = 0; i < 8; i++) target[offset + i] = Number.parseInt(stream.slice(i * 2, i * 2 + 2), 16);
}

export function readStream(bytes: Uint8Array, offset: number, input: BitReader): string {
  if (bytes.length < offset + 8) input.fail("payload ends inside the stream id");
  let out = "";
  for (let i = 0; i < 8; i++) out += bytes[offset + i]!.toString(16).padStart(2, "0");
  return out;
}

/**
 * Writes the seq header (first seq, contiguous flag) and returns the writer of the per-record part: nothing when
 * the seqs are contiguous (the normal case: one channel's outbox drains in order), else per record after the
 * first: bit 1 + eg(0) of the step minus one when seq rose, or bit 0 + the seq itself.
 */
export function writeSeqs(out: BitWriter, seqs: number[]): (index: number) => void {
  const first = seqs[0]!;
  const contiguous = seqs.every((seq, i) => seq === first + i);
  out.uintLen(first);
  out.bit(contiguous);
  return (index) => {
    if (contiguous || index === 0) return;
    const seq = seqs[index]!;
    const prev = seqs[index - 1]!;
    out.bit(seq > prev);
    if (seq > prev) out.eg(seq - prev - 1, 0);
    else out.uintLen(seq);
  };
}

export function readSeqs(input: BitReader): () => number {
  const first = input.uintLen();
  const contiguous = input.bit() === 1;
  let index = 0;
  let prev = first;
  return () => {
    const i = index++;
    if (i === 0) return first;
    if (contiguous) prev = first + i;
    else prev = input.bit() === 1 ? prev + 1 + input.eg(0) : input.uintLen();
    return prev;
  };
}

// J1939-73 DM1 trouble code: SPN 19 bits, FMI 5 bits, occurrence count 7 bits; v2: bit + source address 8 bits.
export function writeJ1939(out: BitWriter, d: J1939Dtc, version: BinaryVersion): void {
  out.bits(d.spn, 19);
  out.bits(d.fmi, 5);
  out.bits(d.oc, 7);
  if (version === 1) return;
  out.bit(d.sa !== undefined);
  if (d.sa !== undefined) out.bits(d.sa, 8);
}

export function readJ1939(input: BitReader, version: BinaryVersion): J1939Dtc {
  const d: J1939Dtc = { spn: input.bits(19), fmi: input.bits(5), oc: input.bits(7) };
  if (version === 2 && input.bit() === 1) d.sa = input.bits(8);
  return d;
}

// SAE J2012 trouble code: system letter (P C B U), first digit 0-3, then three hex digits.
const OBD_LETTERS = "PCBU";

export function writeObd(out: BitWriter, code: string): void {
  out.bits(OBD_LETTERS.indexOf(code[0]!), 2);
  out.bits(Number(code[1]), 2);
  out.bits(Number.parseInt(code.slice(2), 16), 12);
}

export function readObd(input: BitReader): string {
  const letter = OBD_LETTERS[input.bits(2)]!;
  const digit = input.bits(2);
  return `${letter}${digit}${input.bits(12).toString(16).toUpperCase().padStart(3, "0")}`;
}

/**
 * The header both binary batch formats start with: the format byte, the 8 stream id bytes, then bit-packed the
 * record count, the seq run and whether every timestamp is on a whole second. Returns the writer positioned for the
 * records, the per-record seq writer and the seconds flag.
 */
export function beginBatch(
  format: number,
  records: readonly { stream: string; seq: number; ts: string }[],
  bitsPerRecord: number,
): { out: BitWriter; writeSeq: (index: number) => void; seconds: boolean } {
  const seconds = records.every((r) => Date.parse(r.ts) % 1000 === 0);
  const header = new Uint8Array(9);
  header[0] = format;
  writeStream(header, 1, records[0]!.stream);
  const out = new BitWriter(header, 16 + records.length * bitsPerRecord);
  out.eg(records.length - 1, 0);
  const writeSeq = writeSeqs(
    out,
    records.map((r) => r.seq),
  );
  out.bit(seconds);
  return { out, writeSeq, seconds };
}

/** Reads what beginBatch wrote; `what` names the payload kind in errors ("binary events", "records"). */
export function readBatchHeader(
  bytes: Uint8Array,
  what: { payload: string; records: string },
): { input: BitReader; stream: string; count: number; nextSeq: () => number; seconds: boolean } {
  const input = new BitReader(bytes, 9, what.payload);
  const stream = readStream(bytes, 1, input);
  const count = input.eg(0) + 1;
  if (count > MAX_RECORDS_PER_PAYLOAD) {
    input.fail(`${count} ${what.records} (max ${MAX_RECORDS_PER_PAYLOAD} per payload)`);
  }
  const nextSeq = readSeqs(input);
  const seconds = input.bit() === 1;
  return { input, stream, count, nextSeq, seconds };
}
