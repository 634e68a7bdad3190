import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../common/log.ts";
import { DetectConfigSchema, parseDetectConfig } from "../detect/config.ts";
import { HistoryConfigSchema, parseHistoryConfig } from "../history/config.ts";
import { MapConfigSchema, parseMapConfig } from "../map/config.ts";
import { parsePipelineRuntimeConfig, warnTopicsLeftAtDefault } from "./config.ts";

/** What warnTopicsLeftAtDefault logs for a pipeline's topics, as the log lines' JSON. */
function warnings(topics: Record<string, string>, defaults: Record<string, string>): Record<string, unknown>[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  warnTopicsLeftAtDefault(createLogger("test", "info", sink), topics, defaults);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

const kafka = { brokers: ["127.0.0.1:9092"] };

describe("pipeline topics left at their default names", () => {
  it("warns, naming each one, when a map configuration names some of its topics (the map test read fleet.latest)", () => {
    const config = parseMapConfig({
      kafka,
      topics: { telemetry: "t.telemetry", events: "t.events", status: "t.status" },
    });
    const [line, ...more] = warnings(config.topics, MapConfigSchema.shape.topics.parse(undefined));
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 40, topicsLeftAtDefault: ["alerts (fleet.alerts)", "latest (fleet.latest)"] });
    expect(line!.msg).toMatch(/^topics: alerts \(fleet\.alerts\), latest \(fleet\.latest\) keep their default names/);
  });

  it("warns for detect's output topics and history's inputs the same way", () => {
    const detect = parseDetectConfig({
      kafka,
      topics: { telemetry: "t.telemetry", events: "t.events", status: "t.status", alerts: "t.alerts" },
    });
    expect(warnings(detect.topics, DetectConfigSchema.shape.topics.parse(undefined))[0]).toMatchObject({
      topicsLeftAtDefault: ["changelog (fleet.detect-state)"],
    });
    const history = parseHistoryConfig({
      kafka,
      database: { url: "postgres://u@h/db" },
      topics: { events: "t.events" },
    });
    expect(warnings(history.topics, HistoryConfigSchema.shape.topics.parse(undefined))[0]).toMatchObject({
      topicsLeftAtDefault: ["telemetry (fleet.telemetry)"],
    });
  });

  it("says nothing when a configuration names none of its topics or every one", () => {
    const defaults = MapConfigSchema.shape.topics.parse(undefined);
    expect(warnings(parseMapConfig({ kafka }).topics, defaults)).toEqual([]);
    const all = { telemetry: "t.t", events: "t.e", status: "t.s", alerts: "t.a", latest: "t.l" };
    expect(warnings(parseMapConfig({ kafka, topics: all }).topics, defaults)).toEqual([]);
  });
});

describe("pipeline runtime topics", () => {
  it("refuses a configuration whose only topics are the optional ones, saying which are needed", () => {
    const parse = (topics: Record<string, string>) => () =>
      parsePipelineRuntimeConfig({ name: "x", groupId: "g", kafka, topics });
    // alerts and latest are read only when they exist: alone, the pipeline might read nothing at all.
    expect(parse({ alerts: "a", latest: "l" })).toThrow(/topics: name telemetry, events or status/);
    expect(parse({ status: "s", latest: "l" })).not.toThrow();
  });
});
