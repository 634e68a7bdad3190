/**
 * A FIFO of record sizes (bytes as stored), so acknowledging or dropping N records knows how many bytes it frees
 * without reading them back from the SD card. Chunked typed arrays: 2 bytes per queued record (a 256 MiB budget
 * at ~150 bytes per record is ~1.8 M records, ~3.5 MB here), O(1) push and shift.
 */
const CHUNK = 8192;
export const MAX_RECORD_BYTES = 0xffff;

export class SizeQueue {
  #chunks: Uint16Array[] = [];
  #head = 0; // index of the first live entry in chunks[0]
  #tail = CHUNK; // index after the last entry in the last chunk (CHUNK = full)
  #length = 0;
  #bytes = 0;

  get length(): number {
    return this.#length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  push(size: number): void {
    if (this.#tail === CHUNK) {
      this.#chunks.push(new Uint16Array(CHUNK));
      this.#tail = 0;
    }
    const clamped = Math.min(size, MAX_RECORD_BYTES);
    this.#chunks[this.#chunks.length - 1]![this.#tail++] = clamped;
    this.#length++;
    this.#bytes += clamped;
  }

  /** Removes the first `count` entries (or all) and returns their total bytes. */
  shift(count: number): number {
    let freed = 0;
    let left = Math.min(count, this.#length);
    while (left > 0) {
      const chunk = this.#chunks[0]!;
      const end = this.#chunks.length === 1 ? this.#tail : CHUNK;
      const take = Math.min(left, end - this.#head);
      for (let i = this.#head; i < this.#head + take; i++) freed += chunk[i]!;
      this.#head += take;
      left -= take;
      this.#length -= take;
      if (this.#head === end) {
        this.#chunks.shift();
        this.#head = 0;
        if (this.#chunks.length === 0) this.#tail = CHUNK;
      }
    }
    this.#bytes -= freed;
    return freed;
  }

  /**
   * Sets entry `index` (0 = the head) to `size` and returns what it was: thinning removes records from the middle
   * of the queue but keeps their places (counting by seq stays counting by place), now zero bytes.
   */
  set(index: number, size: number): number {
    if (!(index >= 0 && index < this.#length)) throw new RangeError(`size queue index ${index} of ${this.#length}`);
    const at = this.#head + index;
    const chunk = this.#chunks[Math.floor(at / CHUNK)]!;
    const old = chunk[at % CHUNK]!;
    const clamped = Math.min(size, MAX_RECORD_BYTES);
    chunk[at % CHUNK] = clamped;
    this.#bytes += clamped - old;
    return old;
  }

  /** Total bytes of the first `count` entries. */
  countBytes(count: number): number {
    let sum = 0;
    let left = Math.min(count, this.#length);
    let chunkIndex = 0;
    let i = this.#head;
    while (left > 0) {
      const chunk = this.#chunks[chunkIndex]!;
      const end = chunkIndex === this.#chunks.length - 1 ? this.#tail : CHUNK;
      const take = Math.min(left, end - i);
      for (let j = i; j < i + take; j++) sum += chunk[j]!;
      left -= take;
      chunkIndex++;
      i = 0;
    }
    return sum;
  }

  /** How many leading entries it takes to reach at least `bytes` (all of them if the queue holds fewer). */
  countFor(bytes: number): number {
    let sum = 0;
    let n = 0;
    let chunkIndex = 0;
    let i = this.#head;
    while (n < this.#length && sum < bytes) {
      const chunk = this.#chunks[chunkIndex]!;
      sum += chunk[i]!;
      n++;
      i++;
      if (i === CHUNK) {
        chunkIndex++;
        i = 0;
      }
    }
    return n;
  }
}
