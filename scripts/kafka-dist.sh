#!/usr/bin/env bash
# Assemble the stock Apache Kafka tools (bin/, libs/, config/) from Maven Central, idempotently.
#
#   scripts/kafka-dist.sh            # Kafka 4.1.2, the reference (the version in the pom)
#   scripts/kafka-dist.sh 4.4.0      # the newest Kafka, for the newest-clients tests
#                                    # (prints the distribution path as the last line of stdout)
#
# Where: ${MILENA_CACHE:-$HOME/.cache/milena}/kafka-<version>/   (Maven's own cache stays in ~/.m2)
# The reference version is pinned in scripts/kafka-dist/pom.xml (<kafka.version>); another version
# is one of the `case` entries below, which override the pom's properties with Maven -D flags (the
# versions of log4j and jackson that this Kafka's own poms declare). A marker file holds a hash of
# the pom, this script and the version: when it matches, nothing is done (fast path, well under 1 s).
#
# bin/*.sh run the same main classes as the official Apache Kafka scripts of that version (checked
# against the jars at assembly time: a missing class fails the assembly). bin/kafka-run-class.sh is a
# trimmed copy of the stock one: same environment variables (KAFKA_HEAP_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS, LOG_DIR, JAVA_HOME, JMX_PORT) and flags
# (-daemon, -name, -loggc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom="$here/kafka-dist/pom.xml"
[ -f "$pom" ] || { echo "kafka-dist.sh: missing $pom" >&2; exit 1; }

pom_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n1)
[ -n "$pom_version" ] || { echo "kafka-dist.sh: no <kafka.version> in $pom" >&2; exit 1; }
version=${1:-$pom_version}
# Maven -D overrides of the pom's properties, per version.
case "$version" in
"$pom_version") overrides=() ;;
4.4.0)
    # kafka-streams-examples and connect-file (the FileStream connectors) are served up to 4.3.1
    # (not 4.3.2, not 4.4.0): the newest is taken. Streams runs on the pom's direct kafka-streams
    # 4.4.0 (nearest wins), the connectors on connect-runtime/connect-api 4.4.0.
    overrides=(-Dkafka.version=4.4.0 -Dkafka.streams.examples.version=4.3.1 -Dconnect.file.version=4.3.1
               -Dlog4j2.version=2.25.5 -Djackson.version=2.21.7) ;;
*) echo "kafka-dist.sh: no entry for Kafka $version (known: $pom_version, 4.4.0)" >&2; exit 1 ;;
esac
streams_examples_version=$(sed -n 's:.*<kafka.streams.examples.version>\(.*\)</kafka.streams.examples.version>.*:\1:p' "$pom" | head -n1)
connect_file_version=$version
for o in "${overrides[@]}"; do
    case "$o" in
    -Dkafka.streams.examples.version=*) streams_examples_version=${o#*=} ;;
    -Dconnect.file.version=*) connect_file_version=${o#*=} ;;
    esac
done

cache="${MILENA_CACHE:-$HOME/.cache/milena}"
dist="$cache/kafka-$version"
marker="$dist/.milena-dist-complete"
stamp=$( { cat "$pom" "${BASH_SOURCE[0]}"; echo "$version ${overrides[*]}"; } | sha256sum | cut -d' ' -f1)

if [ -f "$marker" ] && [ "$(cat "$marker")" = "$stamp" ]; then
    echo "$dist"
    exit 0
fi

command -v mvn >/dev/null || { echo "kafka-dist.sh: mvn (Maven) is not installed" >&2; exit 1; }
command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || { echo "kafka-dist.sh: no java (Java 17+) found" >&2; exit 1; }

mkdir -p "$cache"
# One assembler at a time (parallel CI steps, two shells).
exec 9>"$cache/.kafka-$version.lock"
if command -v flock >/dev/null; then flock 9; fi
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$stamp" ]; then
    echo "$dist"
    exit 0
fi

tmp="$cache/.kafka-$version.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/libs" "$tmp/bin" "$tmp/config"

echo "kafka-dist.sh: assembling Apache Kafka $version into $dist (Maven, first time only)..." >&2
mvnlog="$tmp/mvn.log"
if ! mvn -q -B -Dstyle.color=never -f "$pom" "${overrides[@]}" \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$mvnlog" 2>&1; then
    echo "kafka-dist.sh: Maven failed to resolve the Kafka jars:" >&2
    cat "$mvnlog" >&2
    exit 1
fi
rm -f "$mvnlog"
[ -f "$tmp/libs/kafka_2.13-$version.jar" ] || { echo "kafka-dist.sh: kafka_2.13-$version.jar missing after Maven" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# bin/kafka-run-class.sh (after the stock script, trimmed: no Windows/Cygwin, no dev classpath)
cat >"$tmp/bin/kafka-run-class.sh" <<'EOF'
#!/usr/bin/env bash
# Trimmed from Apache Kafka's bin/kafka-run-class.sh; same variables and flags.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]"
  exit 1
fi

base_dir=$(cd "$(dirname "$0")/.." && pwd)

CLASSPATH="${CLASSPATH:+$CLASSPATH:}$base_dir/libs/*"

if [ -z "$KAFKA_JMX_OPTS" ]; then
  KAFKA_JMX_OPTS="-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false"
fi
if [ -n "$JMX_PORT" ]; then
  KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.port=$JMX_PORT"
  if ! echo "$KAFKA_JMX_OPTS" | grep -qF -- '-Dcom.sun.management.jmxremote.rmi.port=' ; then
    KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.rmi.port=$JMX_PORT"
  fi
fi

if [ -z "$LOG_DIR" ]; then
  LOG_DIR="$base_dir/logs"
fi

if [ -z "$KAFKA_LOG4J_OPTS" ]; then
  # Log to console. This is a tool.
  KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml"
fi
KAFKA_LOG4J_OPTS="-Dkafka.logs.dir=$LOG_DIR $KAFKA_LOG4J_OPTS"

if [ -z "$KAFKA_HEAP_OPTS" ]; then
  KAFKA_HEAP_OPTS="-Xmx256M"
fi

if [ -z "$KAFKA_JVM_PERFORMANCE_OPTS" ]; then
  KAFKA_JVM_PERFORMANCE_OPTS="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"
fi

if [ -z "$JAVA_HOME" ]; then
  JAVA="java"
else
  JAVA="$JAVA_HOME/bin/java"
fi

while [ $# -gt 0 ]; do
  COMMAND=$1
  case $COMMAND in
    -name)
      DAEMON_NAME=$2
      CONSOLE_OUTPUT_FILE=$LOG_DIR/$DAEMON_NAME.out
      shift 2
      ;;
    -loggc)
      if [ -z "$KAFKA_GC_LOG_OPTS" ]; then
        GC_LOG_ENABLED="true"
      fi
      shift
      ;;
    -daemon)
      DAEMON_MODE="true"
      shift
      ;;
    *)
      break
      ;;
  esac
done

if [ "$GC_LOG_ENABLED" = "true" ] || [ "$DAEMON_MODE" = "true" ]; then
  mkdir -p "$LOG_DIR"
fi

if [ "$GC_LOG_ENABLED" = "true" ]; then
  GC_LOG_FILE_NAME=$DAEMON_NAME-gc.log
  KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/$GC_LOG_FILE_NAME:time,tags:filecount=10,filesize=100M"
fi

# Remove a possible colon prefix from the classpath (happens at lines like `CLASSPATH="$CLASSPATH:$file"` when CLASSPATH is blank)
CLASSPATH=${CLASSPATH#:}

if [ "$DAEMON_MODE" = "true" ]; then
  nohup "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@" > "$CONSOLE_OUTPUT_FILE" 2>&1 < /dev/null &
else
  exec "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@"
fi
EOF

# ---------------------------------------------------------------------------------------------
# Tool wrappers: name -> main class (as in the official Apache Kafka 4.1 and 4.4 bin/ scripts), heap.
# The classes that still live in kafka_2.13 (Scala core) in 4.1: kafka.admin.ConfigCommand,
# kafka.tools.StorageTool, kafka.tools.DumpLogSegments, kafka.Kafka. Later versions moved some to
# kafka-tools (4.4: org.apache.kafka.tools.ConfigCommand, org.apache.kafka.tools.DumpLogSegments):
# `a|b` names both, and the one this version's jars have is used (as its own bin/ script does).
tools=(
    "kafka-topics.sh                      org.apache.kafka.tools.TopicCommand"
    "kafka-console-producer.sh            org.apache.kafka.tools.ConsoleProducer                      -Xmx512M"
    "kafka-console-consumer.sh            org.apache.kafka.tools.consumer.ConsoleConsumer             -Xmx512M"
    "kafka-console-share-consumer.sh      org.apache.kafka.tools.consumer.ConsoleShareConsumer        -Xmx512M"
    "kafka-configs.sh                     kafka.admin.ConfigCommand|org.apache.kafka.tools.ConfigCommand"
    "kafka-consumer-groups.sh             org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
    "kafka-share-groups.sh                org.apache.kafka.tools.consumer.group.ShareGroupCommand"
    "kafka-streams-groups.sh              org.apache.kafka.tools.streams.StreamsGroupCommand"
    "kafka-groups.sh                      org.apache.kafka.tools.GroupsCommand"
    "kafka-get-offsets.sh                 org.apache.kafka.tools.GetOffsetShell"
    "kafka-delete-records.sh              org.apache.kafka.tools.DeleteRecordsCommand"
    "kafka-log-dirs.sh                    org.apache.kafka.tools.LogDirsCommand"
    "kafka-transactions.sh                org.apache.kafka.tools.TransactionsCommand"
    "kafka-producer-perf-test.sh          org.apache.kafka.tools.ProducerPerformance                  -Xmx512M"
    "kafka-consumer-perf-test.sh          org.apache.kafka.tools.ConsumerPerformance                  -Xmx512M"
    "kafka-e2e-latency.sh                 org.apache.kafka.tools.EndToEndLatency"
    "kafka-verifiable-producer.sh         org.apache.kafka.tools.VerifiableProducer                   -Xmx512M"
    "kafka-verifiable-consumer.sh         org.apache.kafka.tools.VerifiableConsumer                   -Xmx512M"
    "kafka-storage.sh                     kafka.tools.StorageTool"
    "kafka-dump-log.sh                    kafka.tools.DumpLogSegments|org.apache.kafka.tools.DumpLogSegments"
    "kafka-metadata-quorum.sh             org.apache.kafka.tools.MetadataQuorumCommand"
    "kafka-features.sh                    org.apache.kafka.tools.FeatureCommand"
    "kafka-broker-api-versions.sh         org.apache.kafka.tools.BrokerApiVersionsCommand"
    "kafka-acls.sh                        org.apache.kafka.tools.AclCommand"
    "kafka-reassign-partitions.sh         org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
    "kafka-leader-election.sh             org.apache.kafka.tools.LeaderElectionCommand"
    "kafka-client-metrics.sh              org.apache.kafka.tools.ClientMetricsCommand"
    "kafka-delegation-tokens.sh           org.apache.kafka.tools.DelegationTokenCommand"
    "kafka-replica-verification.sh        org.apache.kafka.tools.ReplicaVerificationTool"
    "kafka-streams-application-reset.sh   org.apache.kafka.tools.StreamsResetter"
    "kafka-jmx.sh                         org.apache.kafka.tools.JmxTool"
)

command -v unzip >/dev/null || { echo "kafka-dist.sh: unzip is not installed (apt-get install unzip)" >&2; exit 1; }
for j in "$tmp"/libs/*.jar; do unzip -Z1 "$j" 2>/dev/null || true; done >"$tmp/classes.txt"
have_class() { # class -> 0 if some jar in libs/ has it
    grep -qxF "${1//.//}.class" "$tmp/classes.txt"
}

for line in "${tools[@]}"; do
    read -r name classes heap <<<"$line"
    class=""
    IFS='|' read -r -a candidates <<<"$classes"
    for c in "${candidates[@]}"; do
        if have_class "$c"; then class=$c; break; fi
    done
    [ -n "$class" ] || { echo "kafka-dist.sh: main class $classes (for $name) not in libs/" >&2; exit 1; }
    {
        echo '#!/usr/bin/env bash'
        echo "# Same main class as Apache Kafka $version's bin/$name."
        if [ -n "${heap:-}" ]; then
            echo 'if [ -z "$KAFKA_HEAP_OPTS" ]; then'
            echo "    export KAFKA_HEAP_OPTS=\"$heap\""
            echo 'fi'
        fi
        echo "exec \"\$(dirname \"\$0\")/kafka-run-class.sh\" $class \"\$@\""
    } >"$tmp/bin/$name"
done

# connect-file older than kafka-clients (4.4.0 with connect-file 4.3.1, see the `case` above) calls
# org.apache.kafka.common.utils.AppInfoParser.getVersion(), which 4.4 moved to
# ...common.utils.internals: without it Connect cannot load the FileStream connectors. A one-method
# bridge (compiled here, libs/milena-appinfo-bridge.jar) forwards to the moved class; nothing else
# of the connectors or of Connect's runtime is touched.
if ! have_class org.apache.kafka.common.utils.AppInfoParser && have_class org.apache.kafka.common.utils.internals.AppInfoParser; then
    command -v javac >/dev/null || { echo "kafka-dist.sh: javac (a JDK) is needed for the AppInfoParser bridge" >&2; exit 1; }
    mkdir -p "$tmp/bridge/src/org/apache/kafka/common/utils" "$tmp/bridge/classes"
    cat >"$tmp/bridge/src/org/apache/kafka/common/utils/AppInfoParser.java" <<'EOF'
package org.apache.kafka.common.utils;

/** Written by milena's scripts/kafka-dist.sh: the pre-4.4 name that older connect-file jars call. */
public final class AppInfoParser {
    private AppInfoParser() {}

    public static String getVersion() {
        return org.apache.kafka.common.utils.internals.AppInfoParser.getVersion();
    }
}
EOF
    javac -nowarn -d "$tmp/bridge/classes" -cp "$tmp/libs/*" "$tmp/bridge/src/org/apache/kafka/common/utils/AppInfoParser.java" >&2 \
        || { echo "kafka-dist.sh: javac of the AppInfoParser bridge failed" >&2; exit 1; }
    (cd "$tmp/bridge/classes" && jar cf "$tmp/libs/milena-appinfo-bridge.jar" .) \
        || { echo "kafka-dist.sh: jar of the AppInfoParser bridge failed" >&2; exit 1; }
    rm -rf "$tmp/bridge"
fi

for class in kafka.Kafka org.apache.kafka.connect.cli.ConnectStandalone org.apache.kafka.connect.cli.ConnectDistributed; do
    have_class "$class" || { echo "kafka-dist.sh: main class $class not in libs/" >&2; exit 1; }
done

cat >"$tmp/bin/kafka-server-start.sh" <<'EOF'
#!/usr/bin/env bash
# As Apache Kafka's bin/kafka-server-start.sh: runs kafka.Kafka (in kafka_2.13).
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi
base_dir=$(dirname "$0")

if [ -z "$KAFKA_LOG4J_OPTS" ]; then
  export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$base_dir/../config/log4j2.yaml"
fi

if [ -z "$KAFKA_HEAP_OPTS" ]; then
  export KAFKA_HEAP_OPTS="-Xmx1G -Xms1G"
fi

EXTRA_ARGS=${EXTRA_ARGS-'-name kafkaServer -loggc'}

COMMAND=$1
case $COMMAND in
  -daemon)
    EXTRA_ARGS="-daemon "$EXTRA_ARGS
    shift
    ;;
  *)
    ;;
esac

exec "$base_dir/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
EOF

for mode in standalone distributed; do
    if [ $mode = standalone ]; then class=org.apache.kafka.connect.cli.ConnectStandalone; name=connectStandalone
    else class=org.apache.kafka.connect.cli.ConnectDistributed; name=connectDistributed; fi
    cat >"$tmp/bin/connect-$mode.sh" <<EOF
#!/usr/bin/env bash
# As Apache Kafka's bin/connect-$mode.sh: runs $class (in connect-runtime).
if [ \$# -lt 1 ]; then
  echo "USAGE: \$0 [-daemon] connect-$mode.properties"
  exit 1
fi
base_dir=\$(dirname "\$0")

if [ -z "\$KAFKA_LOG4J_OPTS" ]; then
  export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=\$base_dir/../config/connect-log4j2.yaml"
fi

if [ -z "\$KAFKA_HEAP_OPTS" ]; then
  export KAFKA_HEAP_OPTS="-Xms256M -Xmx2G"
fi

EXTRA_ARGS=\${EXTRA_ARGS-'-name $name'}

COMMAND=\$1
case \$COMMAND in
  -daemon)
    EXTRA_ARGS="-daemon "\$EXTRA_ARGS
    shift
    ;;
  *)
    ;;
esac

exec "\$base_dir/kafka-run-class.sh" \$EXTRA_ARGS $class "\$@"
EOF
done
chmod +x "$tmp"/bin/*.sh

# ---------------------------------------------------------------------------------------------
# config/
cat >"$tmp/config/tools-log4j2.yaml" <<'EOF'
# Tools: quiet, WARN and above to stderr (stdout stays clean for the tools' own output).
Configuration:
  Properties:
    Property:
      - name: "logPattern"
        value: "[%d] %p %m (%c)%n"
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "${logPattern}"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDERR
EOF

cat >"$tmp/config/log4j2.yaml" <<'EOF'
# Reference broker: INFO to stdout and to ${kafka.logs.dir}/server.log (set LOG_DIR per broker).
Configuration:
  Properties:
    Property:
      - name: "kafka.logs.dir"
        value: "."
      - name: "logPattern"
        value: "[%d] %p %m (%c)%n"
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "${logPattern}"
    File:
      name: ServerAppender
      fileName: "${sys:kafka.logs.dir}/server.log"
      PatternLayout:
        pattern: "${logPattern}"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
        - ref: ServerAppender
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.controller
        level: INFO
      - name: state.change.logger
        level: WARN
EOF

cat >"$tmp/config/connect-log4j2.yaml" <<'EOF'
Configuration:
  Properties:
    Property:
      - name: "kafka.logs.dir"
        value: "."
      - name: "logPattern"
        value: "[%d] %p %X{connector.context}%m (%c:%L)%n"
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "${logPattern}"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: org.reflections
        level: ERROR
      - name: org.apache.kafka.clients
        level: WARN
EOF

cat >"$tmp/config/server.properties" <<'EOF'
# Minimal KRaft combined broker+controller, as Apache Kafka's config/server.properties.
# scripts/reference-kafka.sh writes a per-instance copy with its own ports and log.dirs.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
EOF

cat >"$tmp/config/connect-standalone.properties" <<'EOF'
# As Apache Kafka's config/connect-standalone.properties. All jars (connect-file included) are on the
# classpath, so no plugin.path is needed.
bootstrap.servers=localhost:9092
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=/tmp/connect.offsets
offset.flush.interval.ms=10000
#plugin.path=
EOF

cat >"$tmp/config/connect-file-source.properties" <<'EOF'
name=local-file-source
connector.class=FileStreamSource
tasks.max=1
file=test.txt
topic=connect-test
EOF

cat >"$tmp/config/connect-file-sink.properties" <<'EOF'
name=local-file-sink
connector.class=FileStreamSink
tasks.max=1
file=test.sink.txt
topics=connect-test
EOF

cat >"$tmp/README.milena" <<EOF
Apache Kafka $version tools assembled from Maven Central by milena's scripts/kafka-dist.sh.
libs/ has kafka-streams-examples $streams_examples_version (Maven Central lacks it for some versions,
4.1.x among them), running on kafka-streams $version, and connect-file $connect_file_version (the
FileStream connectors) running on connect-runtime $version; milena-appinfo-bridge.jar, when present,
lets an older connect-file find AppInfoParser where kafka-clients $version moved it.
EOF

rm -f "$tmp/classes.txt"
echo "$stamp" >"$tmp/.milena-dist-complete"
rm -rf "$dist"
mv "$tmp" "$dist"
trap - EXIT
echo "kafka-dist.sh: done ($(ls "$dist/libs" | wc -l) jars)" >&2
echo "$dist"
