import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "./main.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => err.push(String(chunk)) > 0);
  return { out: () => out.join(""), err: () => err.join("") };
}

describe("fleetsync command line", () => {
  afterEach(() => vi.restoreAllMocks());

  it("lists every subcommand under --help and exits 0", async () => {
    const io = capture();
    expect(await main(["--help"])).toBe(0);
    for (const name of ["agent", "bridge", "decode", "doctor", "provision", "sim", "verify"]) {
      expect(io.out()).toContain(`  ${name} `);
    }
  });

  it("prints the package version", async () => {
    const io = capture();
    expect(await main(["--version"])).toBe(0);
    expect(io.out()).toMatch(/^fleetsync \d+\.\d+\.\d+\n$/);
  });

  it("refuses an unknown subcommand with exit code 2 and names it", async () => {
    const io = capture();
    expect(await main(["fly"])).toBe(2);
    expect(io.err()).toContain("unknown command 'fly'");
  });

  it("refuses an unknown top-level flag with exit code 2 and names it", async () => {
    const io = capture();
    expect(await main(["--turbo"])).toBe(2);
    expect(io.err()).toContain("unknown option '--turbo'");
  });

  it("exits 2 with usage when no subcommand is given", async () => {
    const io = capture();
    expect(await main([])).toBe(2);
    expect(io.out()).toContain("Usage: fleetsync");
  });
});
