/** test/support/cleanup.ts: steps run after the tests of their block, last pushed first, past a step that fails. */
import { describe, expect, it } from "vitest";
import { cleanupAfterAll } from "../support/cleanup.ts";

const ran: string[] = [];

describe("a block that started three things", () => {
  const cleanup = cleanupAfterAll();

  it("registers their clean-up as it starts them", () => {
    cleanup.push(async () => ran.push("first"));
    cleanup.push(async () => {
      ran.push("second");
      throw new Error("its process was gone already");
    });
    cleanup.push(async () => ran.push("third"));
    expect(ran).toEqual([]);
  });
});

describe("after that block", () => {
  it("every step ran, last started first, the failing one not stopping the rest", () => {
    expect(ran).toEqual(["third", "second", "first"]);
  });
});
