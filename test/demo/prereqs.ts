/**
 * What the demo needs besides `npm install`, checked before anything starts, so a fresh machine gets one message
 * naming everything missing and how to install it, instead of a stack trace from the first tool that is absent.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface Missing {
  what: string;
  why: string;
  fix: string;
  /** The Debian package that provides it, when there is one the demo may install itself. */
  debianPackage?: string;
}

function runs(command: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 20_000 });
  return { ok: r.error === undefined && r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** Java's major version from `java -version` ("17.0.9", "21", or "1.8.0_392" for Java 8). */
export function javaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 ? Number(m[2]) : first;
}

function kafkaJarsPresent(repo: string): boolean {
  try {
    return readdirSync(join(repo, "deploy/kafka/target/lib")).some((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  } catch {
    return false;
  }
}

/** PostgreSQL's server tools, where deploy/postgres/postgres.sh looks for them: PATH, else /usr/lib/postgresql/N/bin. */
function postgresServerPresent(): boolean {
  if (runs("initdb", ["--version"]).ok) return true;
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql");
  } catch {}
  return versions.some((v) => existsSync(join("/usr/lib/postgresql", v, "bin", "initdb")));
}

export function checkPrerequisites(options: { repo: string; ownKafka: boolean; ownDatabase?: boolean }): Missing[] {
  const missing: Missing[] = [];
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  if (nodeMajor < 20) {
    missing.push({
      what: `Node.js 20 or newer (this is ${process.versions.node})`,
      why: "FleetSync targets Node 20",
      fix: "install Node.js 20 LTS or newer (https://nodejs.org, or your distribution's nodejs package)",
    });
  }
  if (!runs("socat", ["-V"]).ok) {
    missing.push({
      what: "socat",
      why: "the simulated GPS receivers and CAN adapters are pseudo-terminals made by socat",
      fix: "Debian/Ubuntu: sudo apt-get install socat (macOS: brew install socat)",
      debianPackage: "socat",
    });
  }
  if (options.ownDatabase && !postgresServerPresent()) {
    missing.push({
      what: "PostgreSQL (initdb, pg_ctl)",
      why: "the history pipeline writes every record into a throw-away PostgreSQL the demo starts",
      fix: "Debian/Ubuntu: sudo apt-get install postgresql; or set DATABASE_URL=postgres://... to use one you run",
      debianPackage: "postgresql",
    });
  }
  if (options.ownKafka) {
    const java = runs("java", ["-version"]);
    const major = java.ok ? javaMajor(java.output) : undefined;
    if (!java.ok || major === undefined || major < 17) {
      missing.push({
        what: java.ok ? `Java 17 or newer (found Java ${major ?? "of unknown version"})` : "Java 17 or newer (java)",
        why: "the local Kafka broker runs from the official Apache Kafka jars",
        fix:
          "Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; " +
          "or set KAFKA_BROKERS=host:port to use a Kafka you already run",
      });
    }
    if (!kafkaJarsPresent(options.repo) && !runs("mvn", ["-v"]).ok) {
      missing.push({
        what: "Maven (mvn)",
        why: "the Kafka jars are resolved from Maven Central once (deploy/kafka/pom.xml), then kept in ~/.m2",
        fix: "Debian/Ubuntu: sudo apt-get install maven; or set KAFKA_BROKERS=host:port",
      });
    }
  }
  return missing;
}

export function describeMissing(missing: Missing[]): string {
  const lines = missing.map((m) => `  - ${m.what}: ${m.why}.\n    Install: ${m.fix}`);
  return `fleetsync demo cannot start; missing:\n${lines.join("\n")}\n`;
}

export type InstallPlan =
  { action: "none" } | { action: "install"; packages: string[] } | { action: "tell"; command: string };

/**
 * What to do about missing Debian packages: nothing, install them (root on a machine with apt-get: the README's
 * first command must work on a fresh Debian), or name the exact command for the user to run.
 */
export function planDebianInstall(missing: Missing[], env: { root: boolean; aptGet: boolean }): InstallPlan {
  const packages = missing.flatMap((m) => (m.debianPackage ? [m.debianPackage] : []));
  if (packages.length === 0) return { action: "none" };
  if (env.root && env.aptGet) return { action: "install", packages };
  return { action: "tell", command: `sudo apt-get install -y ${packages.join(" ")}` };
}

/** Carries out the plan; `say` gets one line. An install that fails leaves the check to report what is missing. */
export function installDebianPackages(missing: Missing[], say: (line: string) => void): void {
  const plan = planDebianInstall(missing, {
    root: process.getuid?.() === 0,
    aptGet: runs("apt-get", ["--version"]).ok,
  });
  if (plan.action === "tell") say(`the demo needs Debian packages; run: ${plan.command}`);
  if (plan.action !== "install") return;
  say(`installing ${plan.packages.join(" ")} with apt-get (running as root)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const quiet = { stdio: "ignore" as const, env, timeout: 600_000 };
  spawnSync("apt-get", ["update", "-qq"], quiet);
  spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...plan.packages], quiet);
}
