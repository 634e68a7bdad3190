import { describe, expect, it } from "vitest";
import { LruMap } from "./lru.ts";

describe("LruMap", () => {
  it("orders keys from least to most recently used; get and set use a key, peek does not", () => {
    const lru = new LruMap<string, number>();
    lru.set("a", 1).set("b", 2).set("c", 3);
    expect(lru.get("a")).toBe(1);
    expect([...lru.entries()]).toEqual([
      ["b", 2],
      ["c", 3],
      ["a", 1],
    ]);
    expect(lru.peek("b")).toBe(2);
    expect(lru.oldestKey()).toBe("b");
    lru.set("b", 20);
    expect([...lru.values()]).toEqual([3, 1, 20]);
    expect(lru.get("missing")).toBeUndefined();
  });

  it("deletes from either end and the middle, and clears", () => {
    const lru = new LruMap<string, number>();
    for (const [i, k] of ["a", "b", "c", "d"].entries()) lru.set(k, i);
    expect(lru.delete("b")).toBe(true);
    expect(lru.delete("a")).toBe(true);
    expect(lru.delete("d")).toBe(true);
    expect(lru.delete("d")).toBe(false);
    expect([...lru.entries()]).toEqual([["c", 2]]);
    expect(lru.size).toBe(1);
    lru.set("e", 5);
    expect(lru.oldestKey()).toBe("c");
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.oldestKey()).toBeUndefined();
    lru.set("f", 6);
    expect([...lru.entries()]).toEqual([["f", 6]]);
  });
});
