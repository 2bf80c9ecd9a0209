# The conversion phase of bench/run.sh (sourced by it; PHASES=conversion, not in the default
# PHASES): what message format conversion costs (issue 17 item 5, old clients).
#
# Clients of message formats v0/v1 make the broker convert: up on produce (their message sets
# become v2 batches), down on fetch (stored v2 batches become message sets). The same load
# generator, rdkafka_performance (Debian's librdkafka 2.0.2), runs in two modes:
#
#   modern  its defaults: ApiVersions, Produce v7 / Fetch v11 with v2 batches (no conversion)
#   old     -X api.version.request=false -X broker.version.fallback=0.9.0: Produce v1 / Fetch v1
#           with magic 0 message sets (converted both ways; magic 0 and 1 cost the same work)
#
# against Milena and against Apache Kafka 3.9.1 (Kafka 4 serves no v0/v1 at all; 3.9.1 is the
# last line that converts), each started fresh on an empty data directory, one after the other,
# never side by side (the suite's other brokers are stopped). Kafka 3.9.1 is assembled from Maven
# Central by lib/kafka-3.9/pom.xml into ~/.cache/milena/bench/kafka-3.9.1 (once) and runs in
# KRaft combined mode with the suite's heap (KAFKA_HEAP_OPTS) on KAFKA_PORT.
#
# Workloads, CONV_SIZE-byte records (1 KiB) in CONV_PARTITIONS partitions (8), each codec of
# CONV_CODECS (none lz4), each mode:
#   produce  acks=1, time-bounded (WARMUP + DURATION), as the produce phase: records/s and MB/s
#   consume  catch-up of a CONV_BACKLOG_MB backlog written once per broker and codec by the
#            modern producer (so stored as v2 batches), read from the beginning with -e: time
#            from the first record to the end of every partition
# Rounds: CONV_ROUNDS (default ROUNDS); within a round the broker starts once, and runs every
# workload in both modes. Rows go to runs.jsonl as phase=conversion (broker milena or kafka,
# tag kafka=3.9.1, tag mode=modern|old); `report.py` prints the table (section "Message format
# conversion" of summary.md): per broker the median MB/s of each mode and old/modern (the
# conversion's cost on that broker), and Milena/Kafka 3.9.1 per mode.

CONV_SIZE=${CONV_SIZE:-1024}
CONV_PARTITIONS=${CONV_PARTITIONS:-8}
CONV_CODECS=${CONV_CODECS:-"none lz4"}
CONV_ROUNDS=${CONV_ROUNDS:-$ROUNDS}
if [ "$QUICK" = 1 ]; then
    CONV_BACKLOG_MB=${CONV_BACKLOG_MB:-128}
else
    CONV_BACKLOG_MB=${CONV_BACKLOG_MB:-1024}
fi
KAFKA39_VERSION=3.9.1
KAFKA39_DIR=
KAFKA39_PID=
CONV_OLD_FLAGS=(-X api.version.request=false -X broker.version.fallback=0.9.0)

conversion_estimate() { # seconds
    local run=$((WARMUP + DURATION)) n_codec
    n_codec=$(wc -w <<<"$CONV_CODECS")
    # Per round and broker: a start (Kafka ~20 s), per codec two produce runs, the backlog's
    # write (~150 MB/s) and two catch-up reads (the old one slower, ~100 MB/s).
    echo $((CONV_ROUNDS * 2 * (25 + n_codec * (2 * (run + 6) + CONV_BACKLOG_MB / 150 + CONV_BACKLOG_MB / 100 + CONV_BACKLOG_MB / 250 + 12))))
}

kafka39_libs() { # -> the directory of Kafka 3.9.1's jars (assembled once from Maven Central)
    local dir="${MILENA_CACHE:-$HOME/.cache/milena}/bench/kafka-$KAFKA39_VERSION"
    if [ ! -f "$dir/.complete" ]; then
        log "assembling Apache Kafka $KAFKA39_VERSION (lib/kafka-3.9/pom.xml) into $dir"
        rm -rf "$dir"
        mvn -q -B -f "$here/lib/kafka-3.9/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dir" \
            >"$RESULTS/logs/kafka39-mvn.log" 2>&1 || die "assembling Kafka $KAFKA39_VERSION failed (logs/kafka39-mvn.log)"
        [ -f "$dir/kafka_2.13-$KAFKA39_VERSION.jar" ] || die "no kafka_2.13-$KAFKA39_VERSION.jar in $dir"
        touch "$dir/.complete"
    fi
    echo "$dir"
}

start_kafka39() { # round: KRaft combined, a fresh data directory, on KAFKA_PORT
    local libs=$1 round=$2
    KAFKA39_DIR="$work/kafka39-r$round"
    mkdir -p "$KAFKA39_DIR/data"
    port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is already in use"
    cat >"$KAFKA39_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$((KAFKA_PORT + 1000))
listeners=PLAINTEXT://localhost:$KAFKA_PORT,CONTROLLER://localhost:$((KAFKA_PORT + 1000))
advertised.listeners=PLAINTEXT://localhost:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA39_DIR/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.delete.delay.ms=0
EOF
    local java=java log4j="-Dlog4j.configuration=file:$here/lib/kafka-3.9/log4j.properties"
    [ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"
    taskset -c "$CLIENT_CPUS" "$java" $FAST_JVM "$log4j" -cp "$libs/*" kafka.tools.StorageTool format \
        -t "$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')" \
        -c "$KAFKA39_DIR/server.properties" >"$RESULTS/logs/kafka39-format-r$round.log" 2>&1 ||
        die "kafka-storage format for Kafka $KAFKA39_VERSION failed (logs/kafka39-format-r$round.log)"
    # The same JVM options as kafka-run-class.sh's defaults, and the suite's heap.
    # shellcheck disable=SC2086
    "${BROKER_WRAP[@]}" taskset -c "$BROKER_CPUS" "$java" $KAFKA_HEAP_OPTS -server -XX:+UseG1GC \
        -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true "$log4j" -cp "$libs/*" kafka.Kafka "$KAFKA39_DIR/server.properties" \
        >"$RESULTS/logs/kafka39-r$round.log" 2>&1 &
    KAFKA39_PID=$!
    local deadline=$((SECONDS + 60))
    until port_open "$KAFKA_PORT"; do
        kill -0 "$KAFKA39_PID" 2>/dev/null || { tail -n 20 "$RESULTS/logs/kafka39-r$round.log" >&2; die "Kafka $KAFKA39_VERSION exited at start"; }
        [ $SECONDS -lt $deadline ] || die "Kafka $KAFKA39_VERSION did not open port $KAFKA_PORT in 60 s"
        sleep 0.2
    done
    check_pinned "$KAFKA39_PID" "kafka $KAFKA39_VERSION"
    KAFKA_PID=$KAFKA39_PID   # broker_pid kafka: measure.py follows this JVM
    log "kafka $KAFKA39_VERSION started: pid $KAFKA39_PID, data $KAFKA39_DIR/data"
}

stop_kafka39() {
    [ -n "${KAFKA39_PID:-}" ] || return 0
    kill -TERM "$KAFKA39_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 600); do kill -0 "$KAFKA39_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$KAFKA39_PID" 2>/dev/null || true
    wait "$KAFKA39_PID" 2>/dev/null || true
    KAFKA39_PID=
    KAFKA_PID=
    rm -rf "$KAFKA39_DIR"
}

conv_flags() { # mode -> rdkafka_performance's extra flags, into FLAGS
    FLAGS=()
    [ "$1" = old ] && FLAGS=("${CONV_OLD_FLAGS[@]}")
    return 0
}

conversion_round() { # broker round
    local b=$1 round=$2 codec mode topic wl records p plist=() FLAGS
    records=$((CONV_BACKLOG_MB * 1048576 / CONV_SIZE))
    for p in $(seq 0 $((CONV_PARTITIONS - 1))); do plist+=(-p "$p"); done
    for codec in $CONV_CODECS; do
        for mode in modern old; do
            wl="conversion-produce-${CONV_SIZE}B-p$CONV_PARTITIONS-$codec-$mode"
            topic="t-$wl-r$round"
            topic_create "$b" "$topic" "$CONV_PARTITIONS"
            conv_flags "$mode"
            settle
            measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$CONV_SIZE" --warmup "$WARMUP" \
                --duration "$DURATION" --timeout 60 --tag phase=conversion --tag workload="$wl" \
                --tag round="$round" --tag tool="$(rdk_tool debian)" --tag kind=produce \
                --tag mode="$mode" --tag codec="$codec" --tag kafka="$KAFKA39_VERSION" \
                --tag size="$CONV_SIZE" --tag partitions="$CONV_PARTITIONS" \
                -- taskset -c "$CLIENT_CPUS" stdbuf -oL "$RDKPERF" -P -t "$topic" -b "$(broker_bootstrap "$b")" \
                -s "$CONV_SIZE" -a 1 -z "$codec" -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
                "${FLAGS[@]}" -u -i 500
            topic_delete "$b" "$topic"
        done
        topic="backlog-$codec-r$round"
        topic_create "$b" "$topic" "$CONV_PARTITIONS"
        log "conversion: writing a backlog of $records x $CONV_SIZE B records ($codec) to $b"
        timeout --foreground $((600 + CONV_BACKLOG_MB)) taskset -c "$CLIENT_CPUS" "$RDKPERF" -P -t "$topic" \
            -b "$(broker_bootstrap "$b")" -s "$CONV_SIZE" -a 1 -c "$records" -z "$codec" \
            -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
            >"$RESULTS/logs/conversion-backlog-$codec-r$round-$b.log" 2>&1 || die "writing the backlog to $b failed"
        for mode in modern old; do
            wl="conversion-consume-${CONV_SIZE}B-p$CONV_PARTITIONS-$codec-$mode"
            conv_flags "$mode"
            settle
            measure rdkafka-consume "$b" "$wl-r$round-$b" --size "$CONV_SIZE" --expect "$records" \
                --timeout $((300 + CONV_BACKLOG_MB / 5)) --tag phase=conversion --tag workload="$wl" \
                --tag round="$round" --tag tool="$(rdk_tool debian)" --tag kind=consume \
                --tag mode="$mode" --tag codec="$codec" --tag kafka="$KAFKA39_VERSION" \
                --tag size="$CONV_SIZE" --tag partitions="$CONV_PARTITIONS" \
                -- taskset -c "$CLIENT_CPUS" "$RDKPERF" -C -t "$topic" "${plist[@]}" -o beginning -e \
                -b "$(broker_bootstrap "$b")" "${FLAGS[@]}"
        done
        topic_delete "$b" "$topic"
    done
}

phase_conversion() {
    local libs round
    libs=$(kafka39_libs)
    echo "conversion_kafka_version=$KAFKA39_VERSION" >>"$RESULTS/meta.txt"
    echo "conversion_backlog_mb=$CONV_BACKLOG_MB" >>"$RESULTS/meta.txt"
    for round in $(seq 1 "$CONV_ROUNDS"); do
        log "conversion round $round/$CONV_ROUNDS (codecs $CONV_CODECS; modern and old clients)"
        start_milena
        conversion_round milena "$round"
        stop_milena
        start_kafka39 "$libs" "$round"
        conversion_round kafka "$round"
        stop_kafka39
    done
}
