import { describe, expect, it } from "vitest";
import { createLogger } from "./log.ts";
import { repeatedLog } from "./log-limit.ts";

function capture() {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => lines.push(line) } };
}

describe("logs", () => {
  it("carry exactly one component key: the process's, or the part's on a child logger", () => {
    const { lines, stream } = capture();
    const log = createLogger("agent", "info", stream);
    log.info("from the agent");
    log.child({ component: "outbox" }).warn({ n: 1 }, "from the outbox");
    log.child({ component: "gps" }).child({ path: "/dev/x" }).info("from a grandchild");
    expect(lines.map((l) => l.match(/"component"/g)?.length)).toEqual([1, 1, 1]);
    expect(lines.map((l) => (JSON.parse(l) as { component: string }).component)).toEqual(["agent", "outbox", "gps"]);
  });

  it("rate-limit a repeated line: one per interval, carrying how many were not logged", () => {
    const { lines, stream } = capture();
    const log = createLogger("agent", "info", stream);
    let clock = 1_000;
    const cut = repeatedLog(log, "warn", "line cut", 60_000, () => clock);
    for (let i = 0; i < 3190; i++) cut.report({ path: "/dev/ttyUSB0" });
    expect(lines).toHaveLength(1);
    clock += 59_999;
    cut.report({ path: "/dev/ttyUSB0" });
    expect(lines).toHaveLength(1);
    clock += 1;
    cut.report({ path: "/dev/ttyUSB0" });
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 40, msg: "line cut", repeated: 3190, path: "/dev/ttyUSB0" });
  });
});
