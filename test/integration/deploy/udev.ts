/**
 * A small udev rules reader for tests: parses a rules file strictly (udev(7) syntax: comma-separated
 * KEY[{attr}] OP "value" pairs, LABEL/GOTO) and evaluates it against a described device, so a test can say
 * "a u-blox receiver gets /dev/fleetsync-gps" without a udev daemon (there is none in CI).
 * Supported: match keys ACTION, SUBSYSTEM, KERNEL, ATTRS{x}, ENV{x} with == and != (shell glob * ? [...]);
 * assignments SYMLINK, NAME, ENV{x}, TAG, GROUP, MODE with =, += and :=; GOTO and LABEL. Anything else is a
 * parse error, so a typo in a key fails the test instead of silently never matching.
 */

export interface UdevToken {
  key: string;
  attr: string | undefined;
  op: "==" | "!=" | "=" | "+=" | ":=";
  value: string;
}

export interface UdevRule {
  line: number;
  tokens: UdevToken[];
}

const MATCH_KEYS = new Set(["ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ATTRS", "ATTR", "ENV"]);
const ASSIGN_KEYS = new Set(["SYMLINK", "NAME", "ENV", "TAG", "GROUP", "MODE", "GOTO", "LABEL", "RUN"]);
const TOKEN = /^([A-Z_]+)(?:\{([^}]+)\})?(==|!=|\+=|:=|=)"([^"]*)"$/;

export function parseUdevRules(text: string): UdevRule[] {
  const rules: UdevRule[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const tokens = line.split(/,\s*/).map((part) => {
      const m = TOKEN.exec(part.trim());
      if (!m) throw new Error(`line ${index + 1}: cannot parse ${JSON.stringify(part)}`);
      const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, UdevToken["op"], string];
      const isMatch = op === "==" || op === "!=";
      if (isMatch ? !MATCH_KEYS.has(key) : !ASSIGN_KEYS.has(key)) {
        throw new Error(`line ${index + 1}: ${key} cannot be used with ${op}`);
      }
      return { key, attr, op, value };
    });
    rules.push({ line: index + 1, tokens });
  });
  const labels = new Set(rules.flatMap((r) => r.tokens.filter((t) => t.key === "LABEL").map((t) => t.value)));
  for (const rule of rules) {
    for (const t of rule.tokens) {
      if (t.key === "GOTO" && !labels.has(t.value)) throw new Error(`line ${rule.line}: GOTO to unknown ${t.value}`);
    }
  }
  return rules;
}

export interface UdevDevice {
  action: string;
  subsystem: string;
  kernel: string;
  /** Attributes of the device and its parents (ATTRS climbs the parents; one merged map is enough here). */
  attrs: Record<string, string>;
}

export interface UdevResult {
  symlinks: string[];
  name: string | undefined;
  env: Record<string, string>;
  tags: string[];
}

function glob(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

export function evaluateUdevRules(rules: UdevRule[], device: UdevDevice): UdevResult {
  const result: UdevResult = { symlinks: [], name: undefined, env: {}, tags: [] };
  const value = (t: UdevToken): string | undefined => {
    switch (t.key) {
      case "ACTION":
        return device.action;
      case "SUBSYSTEM":
      case "SUBSYSTEMS":
        return device.subsystem;
      case "KERNEL":
        return device.kernel;
      case "ATTRS":
      case "ATTR":
        return device.attrs[t.attr!];
      case "ENV":
        return result.env[t.attr!];
      default:
        return undefined;
    }
  };
  let skipTo: string | undefined;
  for (const rule of rules) {
    const label = rule.tokens.find((t) => t.key === "LABEL");
    if (skipTo !== undefined) {
      if (label?.value === skipTo) skipTo = undefined;
      continue;
    }
    const matches = rule.tokens.filter((t) => t.op === "==" || t.op === "!=");
    const ok = matches.every((t) => {
      const actual = value(t);
      const hit = actual !== undefined && glob(t.value).test(actual);
      return t.op === "==" ? hit : !hit;
    });
    if (!ok) continue;
    for (const t of rule.tokens) {
      if (t.op === "==" || t.op === "!=" || t.key === "LABEL") continue;
      if (t.key === "SYMLINK") result.symlinks.push(...t.value.split(/\s+/).filter(Boolean));
      else if (t.key === "NAME") result.name = t.value;
      else if (t.key === "ENV") {
        result.env[t.attr!] = t.op === "+=" && result.env[t.attr!] ? `${result.env[t.attr!]} ${t.value}` : t.value;
      } else if (t.key === "TAG") result.tags.push(t.value);
      else if (t.key === "GOTO") skipTo = t.value;
    }
  }
  return result;
}
