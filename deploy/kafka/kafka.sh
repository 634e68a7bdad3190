#!/usr/bin/env bash
# A real Apache Kafka (KRaft, no ZooKeeper) on loopback, for development, tests and the demo: one node by default,
# or a three-node cluster (each node broker and controller, a three-voter quorum) with --brokers 3.
#
#   deploy/kafka/kafka.sh start [--brokers N] [--secure] | stop | status | classpath
#   deploy/kafka/kafka.sh node-start I | node-stop I | node-kill I     (one node of a cluster; fault tests)
#
# With N > 1 the cluster is configured the way production should be (docs/operations.md): default replication
# factor min(N, 3), min.insync.replicas 2, unclean leader election off. Node I (1-based) uses the client port
# KAFKA_PORT + 2(I-1) and the controller port KAFKA_CONTROLLER_PORT + 2(I-1) unless KAFKA_PORTS and
# KAFKA_CONTROLLER_PORTS list them (comma-separated; the test harness picks free ones), and keeps its data, pid file
# and server.log in KAFKA_DATA_DIR/node-I. The node count of a data folder is remembered there (KAFKA_DATA_DIR/nodes).
#
# Environment (all optional):
#   KAFKA_PORT             client listener port (node 1)        (default 39092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (node 1)       (default 39093)
#   KAFKA_PORTS            client ports of all nodes, a,b,c     (cluster only)
#   KAFKA_CONTROLLER_PORTS controller ports of all nodes        (cluster only)
#   KAFKA_DATA_DIR         log dirs, pid file and server.log    (default deploy/kafka/run)
#   KAFKA_PROXIED_PORTS    tests only: a second listener per node on these ports, advertised as
#   KAFKA_PROXIED_ADVERTISED  these ports, where a TCP proxy of the test forwards to it. A client that bootstraps
#                          from an advertised port reaches every broker through the proxies only, so a test can
#                          cut that one client off from the whole cluster (issue 21, fault 4).
#   KAFKA_HEAP             JVM heap                              (default 512m)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker        (default 90)
#   KAFKA_WATCH_PID        stop the broker when this process exits (the test harness sets it, so an
#                          interrupted or crashed test run never leaves a broker behind)
#
#   KAFKA_SECURE=1         same as --secure (one node only): two more listeners beside the plaintext one,
#                          SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and SSL requiring a client certificate, with a
#                          test CA made here with openssl (P-256, like test/support/pki.ts). SCRAM users are created when
#                          the store is formatted (kafka-storage --add-scram), so a data folder is secure from its first
#                          start or never. Everything a client needs (ports, CA, client certificate, users and their
#                          password files) is listed in KAFKA_DATA_DIR/secure/connection.json; no secret is printed.
#   KAFKA_SASL_SSL_PORT    SASL_SSL listener port               (default 39190)
#   KAFKA_SSL_PORT         SSL (mutual TLS) listener port       (default 39191)
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
secure_dir="$data_dir/secure"
sasl_ssl_port="${KAFKA_SASL_SSL_PORT:-39190}"
ssl_port="${KAFKA_SSL_PORT:-39191}"
secure=0
[[ "${KAFKA_SECURE:-}" == 1 || -f "$secure_dir/connection.json" ]] && secure=1

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

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# How many nodes: --brokers on start, else what the data folder remembers, else 1.
nodes=1
[[ -f "$data_dir/nodes" ]] && nodes="$(cat "$data_dir/nodes")"

# Node I's ports and folder. A single node keeps the flat layout (data_dir itself) that existing folders have.
node_port() {
  if [[ -n "${KAFKA_PORTS:-}" ]]; then cut -d, -f"$1" <<<"$KAFKA_PORTS"; else echo $((port + 2 * ($1 - 1))); fi
}
node_controller_port() {
  if [[ -n "${KAFKA_CONTROLLER_PORTS:-}" ]]; then
    cut -d, -f"$1" <<<"$KAFKA_CONTROLLER_PORTS"
  else
    echo $((controller_port + 2 * ($1 - 1)))
  fi
}
node_dir() { if ((nodes == 1)); then echo "$data_dir"; else echo "$data_dir/node-$1"; fi; }
node_pid_file() { echo "$(node_dir "$1")/kafka.pid"; }
node_log() { echo "$(node_dir "$1")/server.log"; }
node_running() {
  local f
  f="$(node_pid_file "$1")"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}
bootstrap() {
  local list=() i
  for ((i = 1; i <= nodes; i++)); do list+=("127.0.0.1:$(node_port "$i")"); done
  (IFS=,; echo "${list[*]}")
}

# auto.create.topics.enable=false, as in every deployment file: with it on, any client that merely asks for a
# missing topic (a consumer, a metadata request) creates it with num.partitions=1, which moves every truck's
# records to another partition under a running bridge (issue 13). Topics are created on purpose: by the bridge
# (kafka.createTopics) or by the operator (deploy/bridge/k8s/kafka-topics.yaml).
#
# A cluster gets the production settings (docs/operations.md, "Kafka topics"): replication factor 3 and
# min.insync.replicas 2, so acks=all means "on two brokers at least" and one broker can fail; unclean leader
# election off, so a replica that missed acknowledged records can never become leader. The session and lag
# timeouts are shorter than Kafka's defaults (9 s, 30 s) so a killed node leaves the ISR within seconds: the fault
# tests then see a failover, not a 30 s stall; production keeps the defaults.
write_config() {
  local id=$1 dir voters="" i rf isr
  dir="$(node_dir "$id")"
  for ((i = 1; i <= nodes; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(node_controller_port "$i")"; done
  rf=$((nodes < 3 ? nodes : 3))
  isr=$((rf < 2 ? 1 : 2))
  local listeners="PLAINTEXT://127.0.0.1:$(node_port "$id"),CONTROLLER://127.0.0.1:$(node_controller_port "$id")"
  local advertised="PLAINTEXT://127.0.0.1:$(node_port "$id")"
  if [[ -n "${KAFKA_PROXIED_PORTS:-}" ]]; then
    listeners+=",PROXIED://127.0.0.1:$(cut -d, -f"$id" <<<"$KAFKA_PROXIED_PORTS")"
    advertised+=",PROXIED://127.0.0.1:$(cut -d, -f"$id" <<<"$KAFKA_PROXIED_ADVERTISED")"
  fi
  if ((secure)); then
    listeners+=",SASL_SSL://127.0.0.1:$(secure_port sasl_ssl),SSL://127.0.0.1:$(secure_port ssl)"
    advertised+=",SASL_SSL://127.0.0.1:$(secure_port sasl_ssl),SSL://127.0.0.1:$(secure_port ssl)"
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
log.dirs=$dir/logs
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
EOF
  if ((secure)); then secure_config >>"$dir/server.properties"; fi
  if ((nodes > 1)); then
    cat >>"$dir/server.properties" <<EOF
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
replica.lag.time.max.ms=10000
EOF
  fi
  cat >"$dir/log4j2.properties" <<EOF
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

# --secure: the port of a secure listener; fixed at the first start (secure/ports), so a restart keeps it.
secure_port() {
  if [[ -f "$secure_dir/ports" ]]; then
    grep "^$1=" "$secure_dir/ports" | cut -d= -f2
  elif [[ "$1" == sasl_ssl ]]; then echo "$sasl_ssl_port"; else echo "$ssl_port"; fi
}

# The test PKI and users of --secure, made once per data folder: a CA, the broker's certificate for localhost and
# 127.0.0.1, one client certificate (CN fleetsync-client) for the SSL listener, and random passwords.
make_secure() {
  need openssl "Install openssl (Debian: apt-get install openssl); --secure makes its test CA with it."
  [[ -f "$secure_dir/connection.json" ]] && return 0
  mkdir -p "$secure_dir"
  chmod 700 "$secure_dir"
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes) d="$secure_dir" name ext
  openssl req -x509 "${key[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 -subj "/CN=FleetSync local Kafka CA" \
    2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/broker.ext"
  for name in broker client; do
    ext=()
    [[ $name == broker ]] && ext=(-extfile "$d/broker.ext")
    openssl req "${key[@]}" -keyout "$d/$name.key" -out "$d/$name.csr" \
      -subj "/CN=$([[ $name == broker ]] && echo localhost || echo fleetsync-client)" 2>/dev/null
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -out "$d/$name.pem" \
      -days 30 "${ext[@]}" 2>/dev/null
  done
  # Kafka reads a PEM key store as one file: the private key (PKCS#8, as openssl 3 writes it) and the chain.
  cat "$d/broker.key" "$d/broker.pem" >"$d/broker-keystore.pem"
  for name in plain scram-sha-256 scram-sha-512; do
    (umask 077; openssl rand -hex 16 >"$d/$name.password")
  done
  printf 'sasl_ssl=%s\nssl=%s\n' "$sasl_ssl_port" "$ssl_port" >"$d/ports"
  cat >"$d/connection.json" <<EOF
{
  "plaintext": "127.0.0.1:$(node_port 1)",
  "saslSsl": "127.0.0.1:$sasl_ssl_port",
  "ssl": "127.0.0.1:$ssl_port",
  "caFile": "$d/ca.pem",
  "client": { "certFile": "$d/client.pem", "keyFile": "$d/client.key" },
  "users": {
    "plain": { "username": "fleetplain", "passwordFile": "$d/plain.password" },
    "scram-sha-256": { "username": "fleetscram256", "passwordFile": "$d/scram-sha-256.password" },
    "scram-sha-512": { "username": "fleetscram512", "passwordFile": "$d/scram-sha-512.password" }
  }
}
EOF
}

# The listener settings of --secure (appended to server.properties). The broker's own traffic stays on PLAINTEXT.
secure_config() {
  cat <<EOF
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_fleetplain="$(cat "$secure_dir/plain.password")";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$secure_dir/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$secure_dir/ca.pem
listener.name.ssl.ssl.client.auth=required
EOF
}

# kafka-storage format arguments that create the SCRAM users (KRaft keeps them in the metadata log), one a line.
scram_users() {
  ((secure)) || return 0
  printf '%s\n' --add-scram "SCRAM-SHA-256=[name=fleetscram256,password=$(cat "$secure_dir/scram-sha-256.password")]"
  printf '%s\n' --add-scram "SCRAM-SHA-512=[name=fleetscram512,password=$(cat "$secure_dir/scram-sha-512.password")]"
}

# The JVM command line, shared by the storage tool and the broker.
jvm() {
  local dir=$1
  shift
  java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$lib/*" "$@"
}

# Formats (once; every node of a cluster with the same cluster id) and launches node I in the background.
launch_node() {
  local id=$1 dir log
  dir="$(node_dir "$id")"
  log="$(node_log "$id")"
  mkdir -p "$dir"
  port_open "$(node_port "$id")" &&
    die "port $(node_port "$id") is already taken by another process; set KAFKA_PORT (or KAFKA_PORTS) to free ports."
  if ((secure)); then make_secure; fi
  write_config "$id"
  if [[ ! -f "$dir/logs/meta.properties" ]]; then
    [[ -s "$data_dir/cluster-id" ]] || jvm "$dir" kafka.tools.StorageTool random-uuid >"$data_dir/cluster-id"
    local users=()
    mapfile -t users < <(scram_users)
    jvm "$dir" kafka.tools.StorageTool format -t "$(cat "$data_dir/cluster-id")" -c "$dir/server.properties" \
      "${users[@]}" >>"$log" 2>&1 || die "formatting the KRaft store of node $id failed; see $log"
    if ((secure)); then touch "$secure_dir/formatted"; fi
  elif ((secure)) && [[ ! -f "$secure_dir/formatted" ]]; then
    die "$data_dir was formatted without --secure (SCRAM users are made at format time); use a new KAFKA_DATA_DIR."
  fi
  # setsid: the broker must outlive the shell (and the terminal) that started it.
  setsid bash "$here/kafka.sh" foreground "$id" >>"$log" 2>&1 </dev/null &
  echo $! >"$(node_pid_file "$id")"
}

log_size() { stat -c %s "$(node_log "$1")" 2>/dev/null || echo 0; }

# Ready means the node finished start-up (it logs this after its listeners accept requests); only lines written
# after byte FROM of its log count, since an earlier start of the same node logged it too. A cluster node finishes
# only once a quorum of controllers is up, so all nodes are launched before any is waited for.
wait_node() {
  local id=$1 from=$2 log deadline=$((SECONDS + timeout_s))
  log="$(node_log "$id")"
  until tail -c +"$((from + 1))" "$log" 2>/dev/null | grep -q "Kafka Server started" &&
    port_open "$(node_port "$id")"; do
    node_running "$id" || die "node $id exited during start-up; last lines of $log:
$(tail -n 20 "$log")"
    ((SECONDS < deadline)) || die "node $id did not become ready within ${timeout_s}s; see $log"
    sleep 0.2
  done
}

start() {
  need java "Install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)."
  ensure_jars
  mkdir -p "$data_dir"
  echo "$nodes" >"$data_dir/nodes"
  local began=$SECONDS i from=()
  for ((i = 1; i <= nodes; i++)); do
    if node_running "$i"; then
      from[i]=-1
    else
      from[i]=$(log_size "$i")
      launch_node "$i"
    fi
  done
  for ((i = 1; i <= nodes; i++)); do ((from[i] < 0)) || wait_node "$i" "${from[i]}"; done
  echo "kafka: $nodes node(s) ready in $((SECONDS - began))s, data in $data_dir" >&2
  bootstrap
}

stop_node() {
  local id=$1 signal=$2 pid pid_file
  pid_file="$(node_pid_file "$id")"
  if ! node_running "$id"; then
    rm -f "$pid_file"
    return 0
  fi
  pid="$(cat "$pid_file")"
  # The pid is the JVM's (the foreground shell exec'd it). KILL is a crash: no shutdown hook, no clean log close.
  kill -"$signal" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
  done
  rm -f "$pid_file"
}

stop() {
  local i any=0
  for ((i = 1; i <= nodes; i++)); do node_running "$i" && any=1; done
  if ((any == 0)); then
    for ((i = 1; i <= nodes; i++)); do rm -f "$(node_pid_file "$i")"; done
    echo "kafka: not running" >&2
    return 0
  fi
  # All nodes at once: a quorum that loses its members one by one makes the last ones wait for it.
  for ((i = 1; i <= nodes; i++)); do stop_node "$i" TERM & done
  wait
  echo "kafka: stopped" >&2
}

status() {
  local i up=0
  for ((i = 1; i <= nodes; i++)); do
    if node_running "$i"; then
      up=$((up + 1))
      echo "node $i running 127.0.0.1:$(node_port "$i") (pid $(cat "$(node_pid_file "$i")"))"
    else
      echo "node $i stopped"
    fi
  done
  ((up > 0)) || exit 3
}

node_arg() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= nodes)) || die "node must be 1..$nodes, got '${1:-}'"
}

case "${1:-}" in
  start)
    shift
    # --secure may come before or after --brokers N.
    args=()
    for a in "$@"; do if [[ "$a" == --secure ]]; then secure=1; else args+=("$a"); fi; done
    set -- "${args[@]}"
    if [[ "${1:-}" == "--brokers" ]]; then
      [[ "${2:-}" =~ ^[1-9]$ ]] || die "--brokers must be 1..9, got '${2:-}'"
      if [[ -f "$data_dir/nodes" && "$nodes" != "$2" ]]; then
        die "$data_dir holds a ${nodes}-node Kafka; use another KAFKA_DATA_DIR (or remove it) for $2 nodes."
      fi
      nodes=$2
    elif [[ -n "${1:-}" ]]; then
      die "usage: kafka.sh start [--brokers N] [--secure]"
    fi
    if ((secure && nodes > 1)); then die "--secure runs one node only (the listeners' ports are per node); drop --brokers."; fi
    start
    # An if, not `((secure)) && echo`: as the branch's last command that list's status (1 without --secure) would be
    # the script's, and every plain start would fail after the brokers came up.
    if ((secure)); then
      echo "kafka: secure listeners SASL_SSL 127.0.0.1:$(secure_port sasl_ssl), SSL 127.0.0.1:$(secure_port ssl); see $secure_dir/connection.json" >&2
    fi
    ;;
  stop) stop ;;
  status) status ;;
  classpath) ensure_jars; echo "$lib/*" ;;
  node-start)
    node_arg "${2:-}"
    if ! node_running "$2"; then
      from=$(log_size "$2")
      launch_node "$2"
      wait_node "$2" "$from"
    fi
    echo "127.0.0.1:$(node_port "$2")" ;;
  node-stop) node_arg "${2:-}"; stop_node "$2" TERM ;;
  node-kill) node_arg "${2:-}"; stop_node "$2" KILL ;;
  foreground)
    id="${2:-1}"
    if [[ -n "${KAFKA_WATCH_PID:-}" ]]; then
      broker_pid=$$
      # A watchdog outside the JVM: when the watched process is gone, stop the broker.
      (while kill -0 "$KAFKA_WATCH_PID" 2>/dev/null && kill -0 "$broker_pid" 2>/dev/null; do sleep 1; done
       kill -TERM "$broker_pid" 2>/dev/null) </dev/null >/dev/null 2>&1 &
    fi
    dir="$(node_dir "$id")"
    exec java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$lib/*" kafka.Kafka "$dir/server.properties" ;;
  *)
    echo "usage: $0 start [--brokers N] | stop | status | classpath | node-start I | node-stop I | node-kill I" >&2
    exit 2 ;;
esac
