/**
 * The bridge's deployment files, checked against the bridge itself rather than against a copy of its facts:
 * every YAML and JSON file parses; both bridge configurations pass the bridge's own schema; the ports, probe
 * paths and mount points in Compose, Kubernetes, Prometheus and the Dockerfile agree with that configuration
 * and with the bridge's defaults; the probe paths answer on the bridge's real HTTP server; every metric the
 * dashboard and the alerts query is registered by the bridge's metrics module; the Strimzi topics are the
 * bridge's topic names. No Docker engine or Kubernetes cluster here: nothing is started from these files.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type BridgeConfig, parseBridgeConfig } from "../../../bridge/config.ts";
import { KafkaTopicsSchema } from "../../../bridge/kafka-sink/config.ts";
import { createHttpServer } from "../../../bridge/metrics/http.ts";
import { createMetrics } from "../../../bridge/metrics/metrics.ts";
import { silentLogger } from "../../../common/log.ts";

const repoRoot = resolve(import.meta.dirname, "../../..");
const dir = join(repoRoot, "deploy/bridge");

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML is checked field by field below
type Doc = any;

async function yamlDocs(path: string): Promise<Doc[]> {
  const docs = parseAllDocuments(await readFile(join(dir, path), "utf8"));
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) expect(doc.errors, `${path}: ${doc.errors.join("; ")}`).toEqual([]);
  return list.map((d) => d.toJS());
}

async function filesUnder(sub: string): Promise<string[]> {
  const entries = await readdir(join(dir, sub), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** The bridge's defaults, from its schema (listener ports, http port, topic names). */
const defaults = parseBridgeConfig({
  listener: { tcp: {}, tls: { certFile: "c", keyFile: "k" } },
  kafka: { brokers: ["b:9092"] },
  http: {},
});

let compose: Doc;
let composeConfig: BridgeConfig;
let k8s: Map<string, Doc>;
let k8sConfig: BridgeConfig;
let metricNames: Set<string>;
/** The bridge's own metrics (not Node's default ones), by registered name. */
let ownMetrics: string[];

beforeAll(async () => {
  [compose] = await yamlDocs("compose.yaml");
  composeConfig = parseBridgeConfig(JSON.parse(await readFile(join(dir, "config/bridge.json"), "utf8")), "compose");
  k8s = new Map();
  for (const file of await filesUnder("k8s")) {
    for (const doc of await yamlDocs(file)) k8s.set(`${doc.kind}/${doc.metadata?.name ?? file}`, doc);
  }
  k8sConfig = parseBridgeConfig(JSON.parse(k8s.get("ConfigMap/fleetsync-bridge").data["bridge.json"]), "configmap");
  // Every series name the bridge exposes: counters and gauges by name, histograms by their three series.
  const registered = await createMetrics().registry.getMetricsAsJSON();
  metricNames = new Set(
    registered.flatMap((m) =>
      String(m.type) === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => `${m.name}${s}`) : [m.name],
    ),
  );
  ownMetrics = registered.map((m) => m.name).filter((n) => !/^fleetsync_bridge_(process|nodejs)_/.test(n));
});

function metricsIn(expr: string): string[] {
  return expr.match(/fleetsync_bridge_[a-z0-9_]+/g) ?? [];
}

describe("every file parses", () => {
  it("YAML (all documents) and JSON", async () => {
    const files = await filesUnder(".");
    const yamls = files.filter((f) => /\.ya?ml$/.test(f));
    const jsons = files.filter((f) => f.endsWith(".json"));
    expect(yamls.length).toBeGreaterThanOrEqual(10);
    for (const file of yamls) expect((await yamlDocs(file)).length, file).toBeGreaterThan(0);
    expect(jsons.length).toBeGreaterThanOrEqual(2);
    for (const file of jsons) JSON.parse(await readFile(join(dir, file), "utf8"));
  });
});

describe("Compose", () => {
  it("runs Kafka in KRaft mode from the apache/kafka image, with no ZooKeeper", () => {
    const kafka = compose.services.kafka;
    expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    expect(kafka.environment.KAFKA_PROCESS_ROLES.split(",").sort()).toEqual(["broker", "controller"]);
    expect(kafka.environment.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@kafka:\d+$/);
    expect(Object.keys(kafka.environment).some((k) => k.includes("ZOOKEEPER"))).toBe(false);
  });

  it("lets no Kafka create a topic because a client asked for it (issue 13), here nor in the local broker", async () => {
    expect(compose.services.kafka.environment.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe("false");
    const local = await readFile(join(repoRoot, "deploy/kafka/kafka.sh"), "utf8");
    expect(local.match(/^auto\.create\.topics\.enable=.*$/gm)).toEqual(["auto.create.topics.enable=false"]);
    const topics = await readFile(join(dir, "k8s/kafka-topics.yaml"), "utf8");
    expect(topics).toContain('auto.create.topics.enable: "false"');
  });

  it("points the bridge at that Kafka, with TLS on 8883 and the config and certificates mounted", () => {
    const bridge = compose.services.bridge;
    const advertised = compose.services.kafka.environment.KAFKA_ADVERTISED_LISTENERS as string;
    expect(advertised).toContain(`PLAINTEXT://${composeConfig.kafka.brokers[0]}`);
    expect(composeConfig.listener.tls?.port).toBe(8883);
    expect(bridge.ports).toContain(`${composeConfig.listener.tls?.port}:${composeConfig.listener.tls?.port}`);
    expect(bridge.command).toEqual(["--config", "/etc/fleetsync/bridge.json"]);
    const mounts = (bridge.volumes as string[]).map((v) => v.split(":"));
    expect(mounts).toContainEqual(["./config/bridge.json", "/etc/fleetsync/bridge.json", "ro"]);
    const tls = composeConfig.listener.tls!;
    for (const file of [tls.certFile, tls.keyFile, tls.caFile!, composeConfig.auth.credentialsFile!]) {
      expect(
        mounts.some(([, target]) => file.startsWith(`${target}/`)),
        `${file} is inside a mounted folder`,
      ).toBe(true);
    }
    expect(bridge.depends_on.kafka.condition).toBe("service_healthy");
  });

  it("a managed Kafka (compose.managed-kafka.yaml): its configuration parses and names only secret files and variables", async () => {
    const [override] = await yamlDocs("compose.managed-kafka.yaml");
    const bridge = override.services.bridge;
    const configFile = "config/bridge.managed-kafka.json";
    const config = parseBridgeConfig(JSON.parse(await readFile(join(dir, configFile), "utf8")), configFile);
    expect(bridge.command).toEqual(["--config", "/etc/fleetsync/bridge.managed-kafka.json"]);
    expect(bridge.volumes).toContain(`./${configFile}:/etc/fleetsync/bridge.managed-kafka.json:ro`);
    // The password is a Compose secret (a file under /run/secrets), the user name an environment variable.
    const sasl = config.kafka.sasl!;
    expect(sasl.passwordFile).toBe(`/run/secrets/${bridge.secrets[0]}`);
    expect(override.secrets[bridge.secrets[0]].file).toMatch(/^\.\/secrets\//);
    expect(Object.keys(bridge.environment)).toContain(sasl.usernameEnv);
    expect(config.kafka.ssl).toBe(true);
  });

  it("publishes exactly the bridge's TLS port to the world, the rest on loopback", () => {
    const ports = compose.services.bridge.ports as string[];
    const published = ports.filter((p) => !p.startsWith("127.0.0.1:"));
    expect(published).toEqual(["8883:8883"]);
    expect(ports).toContain(`127.0.0.1:${composeConfig.http?.port}:${composeConfig.http?.port}`);
  });
});

describe("Kubernetes", () => {
  const deployment = () => k8s.get("Deployment/fleetsync-bridge");
  const container = () => deployment().spec.template.spec.containers[0];
  const portNamed = (name: string) =>
    (container().ports as { name: string; containerPort: number }[]).find((p) => p.name === name)?.containerPort;

  it("the kustomization lists every manifest in the folder", async () => {
    const kustomization = k8s.get("Kustomization/k8s/kustomization.yaml");
    const files = (await filesUnder("k8s"))
      .map((f) => f.slice("k8s/".length))
      .filter((f) => f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it("runs several bridge replicas whose container ports are the configured listener and http ports", () => {
    expect(deployment().spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment().spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(portNamed("mqtt")).toBe(k8sConfig.listener.tcp?.port);
    expect(portNamed("mqtts")).toBe(k8sConfig.listener.tls?.port);
    expect(portNamed("http")).toBe(k8sConfig.http?.port);
    expect([portNamed("mqtt"), portNamed("mqtts"), portNamed("http")]).toEqual([
      defaults.listener.tcp?.port,
      defaults.listener.tls?.port,
      defaults.http?.port,
    ]);
  });

  it("probes /readyz for readiness and /healthz for liveness on the http port", () => {
    expect(container().readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(container().livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    const annotations = deployment().spec.template.metadata.annotations;
    expect(Number(annotations["prometheus.io/port"])).toBe(k8sConfig.http?.port);
  });

  it("gives the bridge more time to stop than its drain deadline", () => {
    const grace = deployment().spec.template.spec.terminationGracePeriodSeconds * 1000;
    expect(grace).toBeGreaterThan(k8sConfig.forwarder.drainTimeoutMs + 5_000);
  });

  it("mounts every file the configuration names, from a volume that exists", () => {
    const mounts = container().volumeMounts as { name: string; mountPath: string; subPath?: string }[];
    const volumes = new Set((deployment().spec.template.spec.volumes as { name: string }[]).map((v) => v.name));
    for (const m of mounts) expect(volumes.has(m.name), m.name).toBe(true);
    const tls = k8sConfig.listener.tls!;
    // Kafka's CA and the KafkaUser's password too (issue 23), from Strimzi's secrets (kafka-user.yaml).
    const kafkaFiles = [k8sConfig.kafka.tls?.caFile, k8sConfig.kafka.sasl?.passwordFile];
    expect(kafkaFiles.every(Boolean)).toBe(true);
    for (const file of [
      tls.certFile,
      tls.keyFile,
      tls.caFile!,
      k8sConfig.auth.credentialsFile!,
      ...kafkaFiles.map(String),
    ]) {
      expect(
        mounts.some((m) => !m.subPath && file.startsWith(`${m.mountPath}/`)),
        file,
      ).toBe(true);
    }
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: "/etc/fleetsync/bridge.json" }));
    expect(container().args).toEqual(["--config", "/etc/fleetsync/bridge.json"]);
  });

  it("exposes 1883 and 8883 through a TCP LoadBalancer that selects the bridge pods", () => {
    const service = k8s.get("Service/fleetsync-bridge");
    expect(service.spec.type).toBe("LoadBalancer");
    const ports = service.spec.ports as { port: number; targetPort: string; protocol: string }[];
    expect(ports.map((p) => p.port).sort()).toEqual([1883, 8883]);
    for (const p of ports) {
      expect(p.protocol).toBe("TCP");
      expect(portNamed(p.targetPort), p.targetPort).toBe(p.port);
    }
    expect(service.spec.selector).toEqual(deployment().spec.selector.matchLabels);
    expect(deployment().spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  it("has a PodDisruptionBudget over the same pods", () => {
    const pdb = k8s.get("PodDisruptionBudget/fleetsync-bridge");
    expect(pdb.apiVersion).toBe("policy/v1");
    expect(pdb.spec.selector.matchLabels).toEqual(deployment().spec.selector.matchLabels);
    expect(pdb.spec.maxUnavailable).toBeLessThan(deployment().spec.replicas);
  });

  it("defines every topic the bridge writes or reads, the per-truck state topics compacted, with partitions and retention", () => {
    const topics = [...k8s.values()].filter((d) => d.kind === "KafkaTopic");
    const byName = new Map(topics.map((t) => [t.spec.topicName, t]));
    const names = KafkaTopicsSchema.parse({});
    // The downlink reads fleet.config; with createTopics off nobody but Strimzi makes it.
    const configTopic = k8sConfig.downlink.topic;
    expect([...byName.keys()].sort()).toEqual([...Object.values(names), configTopic].sort());
    expect(Object.values(k8sConfig.kafka.topics).sort()).toEqual(Object.values(names).sort());
    const compacted = new Set([names.status, names.latest, configTopic]);
    for (const topic of topics) {
      expect(topic.apiVersion).toBe("kafka.strimzi.io/v1beta2");
      expect(topic.metadata.labels["strimzi.io/cluster"]).toBeTruthy();
      expect(topic.spec.partitions).toBeGreaterThan(0);
      expect(Number(topic.spec.config["min.insync.replicas"])).toBeLessThan(topic.spec.replicas);
      if (compacted.has(topic.spec.topicName)) {
        expect(topic.spec.config["cleanup.policy"]).toBe("compact");
      } else {
        expect(topic.spec.config["cleanup.policy"]).toBe("delete");
        expect(Number(topic.spec.config["retention.ms"])).toBeGreaterThanOrEqual(24 * 3600 * 1000);
      }
    }
    // Strimzi owns the topics here, so the bridge must not create them with its own settings.
    expect(k8sConfig.kafka.createTopics).toBe(false);
  });
});

describe("probe paths answer on the bridge's real HTTP server", () => {
  it("/healthz 200; /readyz 200 when Kafka is reachable and 503 when not; /metrics Prometheus text", async () => {
    let kafkaReachable = false;
    const metrics = createMetrics();
    const server = createHttpServer(
      { host: "127.0.0.1", port: 0 },
      {
        registry: metrics.registry,
        ready: async () => ({ ready: kafkaReachable, reasons: kafkaReachable ? [] : ["Kafka unreachable"], notes: [] }),
        logger: silentLogger,
      },
    );
    await server.start();
    try {
      const base = `http://127.0.0.1:${server.address()!.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      kafkaReachable = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain("# TYPE fleetsync_bridge_pending_records gauge");
    } finally {
      await server.stop();
    }
  });
});

describe("Prometheus and Grafana", () => {
  it("scrape the bridge's http port", async () => {
    const [prometheus] = await yamlDocs("prometheus/prometheus.yml");
    const jobs = prometheus.scrape_configs as Doc[];
    const compose = jobs.find((j) => j.job_name === "fleetsync-bridge-compose");
    expect(compose.static_configs[0].targets).toEqual([`bridge:${composeConfig.http?.port}`]);
    expect(compose.metrics_path).toBe("/metrics");
    const k8sJob = jobs.find((j) => j.job_name === "fleetsync-bridge-k8s");
    expect(k8sJob.kubernetes_sd_configs[0].role).toBe("pod");
    expect(prometheus.rule_files).toEqual(["alerts.yml"]);
  });

  it("every metric the alerts use is one the bridge registers", async () => {
    const [alerts] = await yamlDocs("prometheus/alerts.yml");
    const exprs = (alerts.groups as Doc[]).flatMap((g) => g.rules.map((r: Doc) => String(r.expr)));
    expect(exprs.length).toBeGreaterThanOrEqual(4);
    for (const expr of exprs) {
      expect(metricsIn(expr).length, expr).toBeGreaterThan(0);
      for (const name of metricsIn(expr)) expect(metricNames.has(name), name).toBe(true);
    }
  });

  it("every metric the dashboard queries is one the bridge registers, and each panel has one", async () => {
    const dashboard = JSON.parse(await readFile(join(dir, "grafana/fleetsync-bridge.json"), "utf8"));
    const panels = dashboard.panels as { id: number; title: string; targets: { expr: string }[] }[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const used = new Set<string>();
    for (const panel of panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        expect(metricsIn(expr).length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of metricsIn(expr)) {
          expect(metricNames.has(name), `${panel.title}: ${name}`).toBe(true);
          used.add(name);
        }
      }
    }
    // Each of the bridge's own metrics has a panel (a histogram counts when any of its series is queried).
    const shown = (name: string) => [name, `${name}_bucket`, `${name}_sum`, `${name}_count`].some((n) => used.has(n));
    expect(ownMetrics.length).toBeGreaterThanOrEqual(10);
    expect(ownMetrics.filter((n) => !shown(n))).toEqual([]);
  });

  it("the metric check is not vacuous: an unknown name is caught", () => {
    expect(metricNames.has("fleetsync_bridge_no_such_metric")).toBe(false);
    expect(metricsIn('sum(rate(fleetsync_bridge_records_total{job="x"}[5m]))')).toEqual([
      "fleetsync_bridge_records_total",
    ]);
  });
});

describe("Dockerfile", () => {
  let text: string;
  beforeAll(async () => {
    text = await readFile(join(dir, "Dockerfile"), "utf8");
  });

  it("exposes the bridge's default ports and checks /healthz on the http port", () => {
    const expose = /^EXPOSE (.+)$/m.exec(text)?.[1]?.split(/\s+/).map(Number);
    expect(expose).toEqual([defaults.listener.tcp?.port, defaults.listener.tls?.port, defaults.http?.port]);
    expect(text).toContain(`http://127.0.0.1:${defaults.http?.port}/healthz`);
  });

  it("builds every folder tsconfig.build.json compiles, and runs `fleetsync bridge --config /etc/fleetsync/bridge.json`", async () => {
    const build = JSON.parse(await readFile(join(repoRoot, "tsconfig.build.json"), "utf8")) as { include: string[] };
    const copied = [...text.matchAll(/^COPY (\w+) \.\/(\w+)$/gm)].map((m) => m[1]);
    expect(copied.sort()).toEqual([...build.include].sort());
    expect(text).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\/fleetsync.js", "bridge"\]$/m);
    expect(text).toMatch(/^CMD \["--config", "\/etc\/fleetsync\/bridge.json"\]$/m);
    expect(text).toMatch(/^USER node$/m);
  });
});
