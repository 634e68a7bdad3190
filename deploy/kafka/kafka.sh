#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, no ZooKeeper) on loopback, for development, tests and the demo.
#
#   deploy/kafka/kafka.sh start | stop | status | classpath
#
# Environment (all optional):
#   KAFKA_PORT             client listener port                 (default 39092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port                (default 39093)
#   KAFKA_DATA_DIR         log dirs, pid file and server.log    (default deploy/kafka/run)
#   KAFKA_HEAP             JVM heap                              (default 512m)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker        (default 90)
#   KAFKA_WATCH_PID        stop the broker when this process exits (the test harness sets it, so an
#                          interrupted or crashed test run never leaves a broker behind)
#
# Both start and stop are idempotent: start on a running broker prints its address, stop on a stopped one says so.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${KAFKA_PORT:-39092}"
controller_port="${KAFKA_CONTROLLER_PORT:-39093}"
data_dir="${KAFKA_DATA_DIR:-$here/run}"
heap="${KAFKA_HEAP:-512m}"
timeout_s="${KAFKA_START_TIMEOUT:-90}"
lib="$here/target/lib"
pid_file="$data_dir/kafka.pid"
log_file="$data_dir/server.log"

die() { echo "kafka: $*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed. $2"
}

# Resolves the jars once; Maven keeps them in ~/.m2 so later runs are offline.
ensure_jars() {
  if ! ls "$lib"/kafka_2.13-*.jar >/dev/null 2>&1; then
    need mvn "Install Maven (Debian: apt-get install maven) so the Kafka jars can be resolved from Maven Central."
    echo "kafka: resolving the Apache Kafka jars with Maven (once)..." >&2
    mvn -q -B -f "$here/pom.xml" package >&2 || die "Maven could not resolve the Kafka jars (see the output above)."
  fi
}

is_running() {
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# auto.create.topics.enable=false, as in every deployment file: with it on, any client that merely asks for a
# missing topic (a consumer, a metadata request) creates it with num.partitions=1, which moves every truck's
# records to another partition under a running bridge (issue 13). Topics are created on purpose: by the bridge
# (kafka.createTopics) or by the operator (deploy/bridge/k8s/kafka-topics.yaml).
write_config() {
  cat >"$data_dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data_dir/logs
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
  cat >"$data_dir/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.apache.name=org.apache.kafka
logger.apache.level=WARN
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
EOF
}

# The JVM command line, shared by the storage tool and the broker.
jvm=(java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$data_dir/log4j2.properties" -cp "$lib/*")

start() {
  need java "Install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)."
  ensure_jars
  mkdir -p "$data_dir"
  if is_running; then
    echo "127.0.0.1:$port"
    return 0
  fi
  port_open "$port" && die "port $port is already taken by another process; set KAFKA_PORT to a free port."
  write_config
  local began=$SECONDS
  if [[ ! -f "$data_dir/logs/meta.properties" ]]; then
    "${jvm[@]}" kafka.tools.StorageTool format -t "$("${jvm[@]}" kafka.tools.StorageTool random-uuid)" \
      -c "$data_dir/server.properties" >>"$log_file" 2>&1 || die "formatting the KRaft store failed; see $log_file"
  fi
  # setsid: the broker must outlive the shell (and the terminal) that started it.
  setsid bash "$here/kafka.sh" foreground >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  # Ready means the broker finished start-up (it logs this after its listeners accept requests).
  local deadline=$((SECONDS + timeout_s))
  until grep -q "Kafka Server started" "$log_file" 2>/dev/null && port_open "$port"; do
    is_running || die "the broker exited during start-up; last lines of $log_file:
$(tail -n 20 "$log_file")"
    ((SECONDS < deadline)) || die "the broker did not become ready within ${timeout_s}s; see $log_file"
    sleep 0.2
  done
  echo "kafka: ready in $((SECONDS - began))s, data in $data_dir" >&2
  echo "127.0.0.1:$port"
}

stop() {
  if ! is_running; then
    rm -f "$pid_file"
    echo "kafka: not running" >&2
    return 0
  fi
  local pid
  pid="$(cat "$pid_file")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  rm -f "$pid_file"
  echo "kafka: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo "running 127.0.0.1:$port (pid $(cat "$pid_file"))"; else echo "stopped"; exit 3; fi ;;
  classpath) ensure_jars; echo "$lib/*" ;;
  foreground)
    if [[ -n "${KAFKA_WATCH_PID:-}" ]]; then
      broker_pid=$$
      # A watchdog outside the JVM: when the watched process is gone, stop the broker.
      (while kill -0 "$KAFKA_WATCH_PID" 2>/dev/null && kill -0 "$broker_pid" 2>/dev/null; do sleep 1; done
       kill -TERM "$broker_pid" 2>/dev/null) </dev/null >/dev/null 2>&1 &
    fi
    exec "${jvm[@]}" kafka.Kafka "$data_dir/server.properties" ;;
  *) echo "usage: $0 start|stop|status|classpath" >&2; exit 2 ;;
esac
