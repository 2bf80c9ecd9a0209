# The restart phase of bench/run.sh (sourced by it): how long a broker holding RESTART_MB of log
# in each of RESTART_PARTITIONS partitions takes to serve again (its first Metadata answer that
# names every partition with a leader, bench/lib/ready.py), after a clean stop (SIGTERM) and
# after kill -9. One broker at a time: it is filled once (rdkafka_performance, acks=1, 1 KiB
# records), then each round stops it cleanly and restarts it, then kills it with SIGKILL and
# restarts it. The topic has segment.bytes=RESTART_SEGMENT_BYTES on both brokers, so a crash
# leaves a bounded unflushed tail (the active segment) for recovery to scan. The page cache is
# warm (the data were just written): the figures are the brokers' own start-up work.

RESTART_PARTITIONS=${RESTART_PARTITIONS:-8}
if [ "$QUICK" = 1 ]; then RESTART_MB=${RESTART_MB:-64}; else RESTART_MB=${RESTART_MB:-1024}; fi
RESTART_SEGMENT_BYTES=${RESTART_SEGMENT_BYTES:-134217728}
RESTART_TIMEOUT=${RESTART_TIMEOUT:-300}

restart_wait_exit() { # pid
    local i
    for i in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$1" 2>/dev/null && { log "warning: pid $1 still alive after 60 s; SIGKILL"; kill -KILL "$1"; }
    wait "$1" 2>/dev/null || true
}

# Starts broker $1 on the data of its restart block through ready.py, which times it until it
# serves: sets RS_PID.
restart_launch() { # broker round kind
    local cmd out="$RESULTS/logs/restart-$1-r$2-$3.log"
    if [ "$1" = milena ]; then
        cmd=(taskset -c "$BROKER_CPUS" "$MILENA_BIN" --override log.dirs="$work/restart-milena"
            --override listeners="PLAINTEXT://127.0.0.1:$MILENA_PORT"
            --override advertised.listeners="PLAINTEXT://localhost:$MILENA_PORT")
    else
        cmd=(env LOG_DIR="$work/restart-kafka/logs" KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" taskset -c
            "$BROKER_CPUS" "$DIST/bin/kafka-server-start.sh" "$work/restart-kafka/server.properties")
    fi
    python3 "$here/lib/ready.py" --port "$(broker_port "$1")" --topic restart \
        --partitions "$RESTART_PARTITIONS" --timeout "$RESTART_TIMEOUT" --out "$RESULTS/runs.jsonl" \
        --pidfile "$work/restart.pid" --log "$out" --tag phase=restart --tag workload="restart-$3" \
        --tag broker="$1" --tag round="$2" --tag data_mb="$((RESTART_MB * RESTART_PARTITIONS))" \
        --tag segment_bytes="$RESTART_SEGMENT_BYTES" -- "${cmd[@]}" >"$RESULTS/logs/restart-last.json"
    RS_PID=$(cat "$work/restart.pid")
    log "  $1 $3: $(cat "$RESULTS/logs/restart-last.json")"
}

restart_block() { # broker
    local b=$1 records round
    records=$((RESTART_MB * 1048576 / 1024 * RESTART_PARTITIONS))
    log "restart: filling $b with $records x 1 KiB records in $RESTART_PARTITIONS partitions"
    if [ "$b" = milena ]; then
        start_milena --override log.dirs="$work/restart-milena"
    else
        KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" taskset -c "$BROKER_CPUS" bash scripts/reference-kafka.sh start \
            "$work/restart-kafka" "$KAFKA_PORT" >"$RESULTS/logs/restart-kafka-start.log" 2>&1 ||
            die "kafka did not start (logs/restart-kafka-start.log)"
        KAFKA_PID=$(cat "$work/restart-kafka/kafka.pid")
    fi
    topic_create "$b" restart "$RESTART_PARTITIONS" --config segment.bytes="$RESTART_SEGMENT_BYTES"
    timeout --foreground $((600 + RESTART_MB * RESTART_PARTITIONS / 50)) taskset -c "$CLIENT_CPUS" \
        "$RDKPERF" -P -t restart -b "localhost:$(broker_port "$b")" -s 1024 -a 1 -c "$records" \
        -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
        >"$RESULTS/logs/restart-fill-$b.log" 2>&1 || die "filling $b failed"
    # Let the background flush of the last rolled segments finish, as it would in service.
    sleep 5
    local pid
    for round in $(seq 1 "$ROUNDS"); do
        log "restart round $round/$ROUNDS: $b"
        if [ "$b" = milena ]; then pid=$MILENA_PID; else pid=$KAFKA_PID; fi
        kill -TERM "$pid"
        restart_wait_exit "$pid"
        restart_launch "$b" "$round" clean
        sleep 5
        kill -KILL "$RS_PID"
        restart_wait_exit "$RS_PID"
        restart_launch "$b" "$round" kill9
        if [ "$b" = milena ]; then MILENA_PID=$RS_PID; else KAFKA_PID=$RS_PID; fi
        sleep 5
    done
    if [ "$b" = milena ]; then stop_milena; else
        kill -TERM "$KAFKA_PID"; restart_wait_exit "$KAFKA_PID"; KAFKA_PID=
    fi
    rm -rf "$work/restart-$b"
}

phase_restart() {
    local b
    for b in "${BROKERS[@]}"; do restart_block "$b"; done
}
