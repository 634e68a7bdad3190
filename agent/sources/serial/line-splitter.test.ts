import { describe, expect, it } from "vitest";
import { createLineSplitter } from "./line-splitter.ts";

function run(chunks: string[], maxLineBytes = 16, prompt?: number) {
  const lines: string[] = [];
  let tooLong = 0;
  const s = createLineSplitter({
    maxLineBytes,
    ...(prompt === undefined ? {} : { prompt }),
    onLine: (l) => lines.push(l),
    onTooLong: () => tooLong++,
  });
  for (const c of chunks) s.push(Buffer.from(c, "latin1"));
  return { lines, tooLong, splitter: s };
}

describe("bounded line splitter", () => {
  it("splits on CR, LF and CRLF across chunk boundaries, skipping empty lines", () => {
    expect(run(["$GP", "A*00\r", "\nT1\rT2\n\n"]).lines).toEqual(["$GPA*00", "T1", "T2"]);
  });

  it("cuts a line that never ends at maxLineBytes, counts it, and resyncs on the next line end", () => {
    const { lines, tooLong } = run(["x".repeat(10_000), "tail\nok\n"], 16);
    expect(tooLong).toBe(1);
    expect(lines).toEqual(["ok"]);
  });

  it("keeps a line of exactly maxLineBytes", () => {
    expect(run(["a".repeat(16), "\n"], 16).lines).toEqual(["a".repeat(16)]);
  });

  it("reports the ELM327 prompt as a line of its own", () => {
    expect(run(["OK\r\r>", "18 FE\r"], 64, 0x3e).lines).toEqual(["OK", ">", "18 FE"]);
  });

  it("reset() drops a partial line so it is not glued to the next one", () => {
    const { lines, splitter } = run(["$GPGGA,12"]);
    expect(splitter.reset()).toBe(9);
    splitter.push(Buffer.from("$GPRMC\n"));
    expect(lines).toEqual(["$GPRMC"]);
  });
});
