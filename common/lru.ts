/**
 * A map that remembers which key was used least recently, for state bounded by "when full, forget the one seen
 * longest ago" (the consumers' in-order filter, the live map's trucks).
 *
 * Why not a plain Map re-inserted on every use (delete + set keeps insertion order = recency): that was the per-record
 * cost of both. Every delete leaves a hole in V8's hash table, and a table of 10,000 trucks is rebuilt every few
 * thousand records; in `npm run bench:map` that made a touch cost 0.4-0.6 µs against 0.02-0.05 µs for a lookup, and
 * the rebuilt tables were old-generation garbage. Here a touch only relinks two pointers of a doubly linked list
 * through the entries, so it allocates nothing; a new key allocates one entry.
 */
interface Entry<K, V> {
  key: K;
  value: V;
  /** Towards the least recently used end. */
  older: Entry<K, V> | undefined;
  /** Towards the most recently used end. */
  newer: Entry<K, V> | undefined;
}

export class LruMap<K, V> {
  readonly #entries = new Map<K, Entry<K, V>>();
  #oldest: Entry<K, V> | undefined;
  #newest: Entry<K, V> | undefined;

  get size(): number {
    return this.#entries.size;
  }

  /** The value, marking the key as the most recently used. */
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#touch(entry);
    return entry.value;
  }

  /** The value without changing the order. */
  peek(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets the value and marks the key as the most recently used. */
  set(key: K, value: V): this {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.value = value;
      this.#touch(entry);
      return this;
    }
    const added: Entry<K, V> = { key, value, older: this.#newest, newer: undefined };
    if (this.#newest) this.#newest.newer = added;
    else this.#oldest = added;
    this.#newest = added;
    this.#entries.set(key, added);
    return this;
  }

  delete(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#unlink(entry);
    this.#entries.delete(key);
    return true;
  }

  /** The least recently used key (the one to forget when full), or undefined when empty. */
  oldestKey(): K | undefined {
    return this.#oldest?.key;
  }

  clear(): void {
    this.#entries.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
  }

  /** Entries from the least to the most recently used. */
  *entries(): IterableIterator<[K, V]> {
    for (let e = this.#oldest; e !== undefined; e = e.newer) yield [e.key, e.value];
  }

  /** Values from the least to the most recently used. */
  *values(): IterableIterator<V> {
    for (let e = this.#oldest; e !== undefined; e = e.newer) yield e.value;
  }

  #touch(entry: Entry<K, V>): void {
    if (entry === this.#newest) return;
    this.#unlink(entry);
    entry.older = this.#newest;
    entry.newer = undefined;
    this.#newest!.newer = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry<K, V>): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
