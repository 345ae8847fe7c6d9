#!/usr/bin/env bash
# A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM), on
# loopback, for the service suites. No Docker and no download site: the broker is the
# org.apache.kafka:kafka_2.13 jar and its dependencies from Maven Central, resolved by Maven
# into $STRATUS_SERVICES_DIR/kafka/lib (once; later starts reuse them).
#   kafka.sh start   installs if missing, formats a fresh log dir, starts, waits until the
#                    port answers, prints `export STRATUS_TEST_KAFKA=127.0.0.1:<port>`
#   kafka.sh stop    stops the broker this script started
#   kafka.sh restart stops it and starts it again on the same log dir (topics, messages and
#                    committed offsets kept): the scale-out scenario's broker restart
# Everything but the export line goes to stderr. Versions: KAFKA_VERSION (default 3.9.1:
# the last line that still speaks the older protocol versions kafkajs uses; 4.x dropped them).
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SCALA="2.13"
base="${STRATUS_SERVICES_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/.services}/kafka"
lib="$base/lib-$KAFKA_VERSION"
pidfile="$base/kafka.pid"
port="${STRATUS_KAFKA_PORT:-19092}"
controller_port="${STRATUS_KAFKA_CONTROLLER_PORT:-19093}"

log() { echo "kafka: $*" >&2; }

# Java 17 and Maven from Debian when missing (a clean machine); Maven's repository is kept
# under $base/m2 (in the gitignored .services/), so a later run downloads nothing.
tools() {
  command -v java >/dev/null && command -v mvn >/dev/null && return 0
  log "installing Java 17 and Maven from Debian"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless maven >&2
}

install() {
  tools
  [ -f "$lib/.complete" ] && return 0
  log "resolving kafka_$SCALA $KAFKA_VERSION and its dependencies from Maven Central into $lib"
  mkdir -p "$base/pom"
  cat >"$base/pom/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>stratus.test</groupId>
  <artifactId>kafka-server</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$lib"
  mvn -B -q -Dmaven.repo.local="$base/m2" -f "$base/pom/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >&2
  touch "$lib/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  install
  if running; then log "already running (pid $(cat "$pidfile"))"; echo "export STRATUS_TEST_KAFKA=127.0.0.1:$port"; return 0; fi
  if answers; then log "port $port is taken by something else"; exit 1; fi
  local data="$base/data"
  local keep="${1:-fresh}"
  if [ "$keep" != keep ] || [ ! -f "$data/meta.properties" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    keep=fresh
  fi
  cat >"$base/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
  cat >"$base/log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
  local cp="$lib/*"
  local jvm=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j.configuration=file:$base/log4j.properties" -cp "$cp")
  if [ "$keep" = fresh ]; then
    local cluster_id
    cluster_id="$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    log "formatting $data (cluster $cluster_id)"
    "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$base/server.properties" >&2
  fi
  log "starting on 127.0.0.1:$port"
  nohup "${jvm[@]}" kafka.Kafka "$base/server.properties" >>"$base/kafka.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 240); do
    if answers; then
      log "up (pid $(cat "$pidfile"))"
      echo "export STRATUS_TEST_KAFKA=127.0.0.1:$port"
      return 0
    fi
    if ! running; then log "exited early; last lines of $base/kafka.log:"; tail -30 "$base/kafka.log" >&2; exit 1; fi
    sleep 0.5
  done
  log "did not answer on port $port in 120 s"; tail -30 "$base/kafka.log" >&2
  stop
  exit 1
}

stop() {
  if ! running; then rm -f "$pidfile"; return 0; fi
  local pid
  pid="$(cat "$pidfile")"
  log "stopping pid $pid"
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.5; done
  log "still running after 30 s; killing"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start keep ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
