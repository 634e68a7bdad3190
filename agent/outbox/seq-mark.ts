/**
 * The seq mark: a bound above every seq the outbox ever committed, kept in a small file beside LevelDB's files and
 * never in them. LevelDB's recovery can lose committed records (a log block cut by ENOSPC, a power cut with sync off),
 * and with them the floor key; the mark survives that, so recovery never hands out a seq that a consumer may already
 * have seen (design: "the outbox never reuses a seq and announces every loss").
 *
 * The file is written in place, never renamed or extended after creation: on a full disk a rename or a new block can
 * fail, an overwrite of a block the file already owns cannot. Two fixed slots are written in turn, each with a
 * generation and a checksum, so a write torn by a power cut leaves the other slot readable.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import type { Channel } from "../../protocol/index.ts";

export interface SeqMark {
  stream: string;
  /** Set only by a clean stop, when `next` holds the exact next seqs; a running outbox writes it unset. */
  clean: boolean;
  /** Linux boot id of the writer: a crash without a reboot leaves the OS's page cache, and so the data, intact. */
  bootId: string;
  /** Every committed seq of the channel is below this. */
  next: Record<Channel, number>;
}

export const MARK_FILE = "fleetsync-seq-mark";
const SLOT = 256;

function checksum(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function encode(generation: number, mark: SeqMark): Buffer {
  const body = JSON.stringify({ g: generation, ...mark });
  const line = `${body} ${checksum(body)}\n`;
  if (Buffer.byteLength(line) > SLOT) throw new Error("seq mark does not fit its slot");
  return Buffer.concat([Buffer.from(line), Buffer.alloc(SLOT - Buffer.byteLength(line), 0x20)]);
}

function decode(slot: Buffer): { generation: number; mark: SeqMark } | undefined {
  const text = slot.toString("utf8").trimEnd();
  const cut = text.lastIndexOf(" ");
  if (cut < 0) return undefined;
  const body = text.slice(0, cut);
  if (checksum(body) !== text.slice(cut + 1)) return undefined;
  const { g, ...mark } = JSON.parse(body) as SeqMark & { g: number };
  return { generation: g, mark };
}

export interface SeqMarkFile {
  read(): SeqMark | undefined;
  /** Writes and fsyncs the mark; resolves once it is durable. */
  write(mark: SeqMark): Promise<void>;
  close(): Promise<void>;
}

/** Opens (creating when missing) the mark file at `path`. */
export async function openSeqMark(path: string): Promise<SeqMarkFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r+");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    handle = await open(path, "w+");
    // Both slots allocated now, while there is space: later writes only overwrite them.
    await handle.write(Buffer.alloc(2 * SLOT, 0x20), 0, 2 * SLOT, 0);
    await handle.sync();
  }
  const buffer = Buffer.alloc(2 * SLOT);
  await handle.read(buffer, 0, 2 * SLOT, 0);
  let generation = -1;
  let current: SeqMark | undefined;
  for (let i = 0; i < 2; i++) {
    let slot: ReturnType<typeof decode>;
    try {
      slot = decode(buffer.subarray(i * SLOT, (i + 1) * SLOT));
    } catch {
      slot = undefined;
    }
    if (slot && slot.generation > generation) {
      generation = slot.generation;
      current = slot.mark;
    }
  }
  return {
    read: () => current && { ...current, next: { ...current.next } },
    async write(mark) {
      const g = generation + 1;
      await handle.write(encode(g, mark), 0, SLOT, (g % 2) * SLOT);
      await handle.datasync();
      generation = g;
      current = { ...mark, next: { ...mark.next } };
    },
    close: () => handle.close(),
  };
}
