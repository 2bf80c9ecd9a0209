# The factors phase of bench/run.sh (sourced by it; PHASES=factors, not in the default PHASES):
# which difference between two ways of measuring moves a broker's produce figure (issue 14).
#
# One workload, FACTOR_SIZE-byte records, acks=all, FACTOR_PARTITIONS partitions (1 KiB, 8), and
# six factors, each with two levels (the first is the suite's own way, bench/run.sh's produce
# phase):
#
#   client   debian | current   rdkafka_performance on Debian's librdkafka 2.0.2, or on 2.12.1
#                               (the rdkafka-sys crate's, built by build_rdkafka_current); a
#                               suffix +nodelay or +nagle adds -X socket.nagle.disable=true or
#                               false (2.0.2 leaves Nagle's algorithm on, 2.12.1 turns it off: the
#                               one producer default the two versions do not share)
#   bound    time | count       WARMUP s unmeasured + DURATION s measured inside one run (the
#                               suite), or a run of FACTOR_COUNT_MB MiB of records timed by the
#                               tool from its first record to the last delivery report
#   warm     none | round       nothing before the measured run, or one unmeasured run of the same
#                               kind (same client and bound) on a scratch topic first
#   seg      default | big      the topic's segment.bytes: the broker's default (log.segment.bytes
#                               1 GiB on both), or FACTOR_BIG_SEGMENT (2^31-1, the largest Kafka
#                               takes: no roll before 2 GiB per partition); a number is taken as is
#   cache    keep | drop        the page cache as it is after `sync`, or emptied
#                               (sync; echo 3 > /proc/sys/vm/drop_caches) right before the run
#   pin      pinned | free      broker on BROKER_CPUS and client on CLIENT_CPUS (taskset), or both
#                               free on every core
#
# A cell is one combination, written client,bound,warm,seg,cache,pin. Every cell starts both
# brokers fresh (one after the other, never side by side: Milena, then Kafka) on an empty data
# directory, so "warm=none" meets a broker that has served nothing yet (a cold JVM for Kafka).
# FACTOR_DESIGN picks the cells:
#   oat   (default) one factor at a time from each of two baselines: the suite's way
#         (debian,time,none,default,keep,pinned) and the other harness of issue 14
#         (current,count,round,default,keep,pinned), and for each baseline its client with the
#         other version's Nagle default (debian+nodelay, current+nagle); 16 cells
#   full  all 64 combinations
# or FACTOR_CELLS lists the cells explicitly (space-separated). Each cell runs FACTOR_ROUNDS
# times (default ROUNDS). Rows go to runs.jsonl as phase=factors (workload factors-<cell>, with a
# tag per factor); `report.py factors` prints the table (factors.md, also a section of
# summary.md): per cell each broker's median MB/s, the Milena/Kafka ratio, and each broker's
# figure relative to the suite's baseline cell.

FACTOR_CLIENTS=${FACTOR_CLIENTS:-"debian current"}     # the clients the cells may name (built first)
FACTOR_SIZE=${FACTOR_SIZE:-1024}
FACTOR_PARTITIONS=${FACTOR_PARTITIONS:-8}
FACTOR_COUNT_MB=${FACTOR_COUNT_MB:-2048}               # MiB of record values per count-bounded run
FACTOR_BIG_SEGMENT=${FACTOR_BIG_SEGMENT:-2147483647}   # segment.bytes of seg=big
FACTOR_DESIGN=${FACTOR_DESIGN:-oat}
FACTOR_ROUNDS=${FACTOR_ROUNDS:-$ROUNDS}
FACTOR_BASE_SUITE="debian,time,none,default,keep,pinned"
FACTOR_BASE_OTHER="current,count,round,default,keep,pinned"

factor_levels() { # factor index (0-5) -> its two levels
    case $1 in
    0) echo "debian current" ;; 1) echo "time count" ;; 2) echo "none round" ;;
    3) echo "default big" ;; 4) echo "keep drop" ;; 5) echo "pinned free" ;;
    esac
}

factor_cells() { # -> the cells to run, one per line, each once
    if [ -n "${FACTOR_CELLS:-}" ]; then
        printf '%s\n' $FACTOR_CELLS
        return
    fi
    case "$FACTOR_DESIGN" in
    full)
        local a b c d e f
        for a in debian current; do for b in time count; do for c in none round; do
            for d in default big; do for e in keep drop; do for f in pinned free; do
                echo "$a,$b,$c,$d,$e,$f"
            done; done; done
        done; done; done ;;
    oat)
        local base i lv v cell
        {
            for base in "$FACTOR_BASE_SUITE" "$FACTOR_BASE_OTHER"; do
                echo "$base"
                IFS=, read -r -a lv <<<"$base"
                cell=("${lv[@]}")
                if [ "${lv[0]}" = debian ]; then cell[0]=debian+nodelay; else cell[0]=${lv[0]}+nagle; fi
                (IFS=,; echo "${cell[*]}")
                for i in 0 1 2 3 4 5; do
                    for v in $(factor_levels "$i"); do
                        [ "$v" = "${lv[i]}" ] && continue
                        cell=("${lv[@]}")
                        cell[i]=$v
                        (IFS=,; echo "${cell[*]}")
                    done
                done
            done
        } | awk '!seen[$0]++' ;;
    *) die "FACTOR_DESIGN must be oat or full (or set FACTOR_CELLS)" ;;
    esac
}

factors_estimate() { # seconds for the whole phase (a guess: ~300 MB/s, Kafka's start ~20 s)
    local cell client bound warm seg cache pin t=0 run
    while IFS=, read -r client bound warm seg cache pin; do
        if [ "$bound" = time ]; then run=$((WARMUP + DURATION)); else run=$((FACTOR_COUNT_MB / 250 + 3)); fi
        [ "$warm" = round ] && run=$((run * 2 + 4))
        t=$((t + 2 * (run + 8) + 25))
    done < <(factor_cells)
    echo $((t * FACTOR_ROUNDS))
}

# One run of a cell's client against broker $1 on topic $2, measured (phase=factors) or not.
factor_run() { # broker topic client[+nodelay|+nagle] bound name measured(0|1) [tags...]
    local b=$1 topic=$2 client=$3 bound=$4 name=$5 measured=$6 records
    shift 6
    rdkafka_produce_cmd "$b" "$topic" "$FACTOR_SIZE" all "${client%%+*}"
    case "$client" in
    *+nodelay) CMD+=(-X socket.nagle.disable=true) ;;
    *+nagle) CMD+=(-X socket.nagle.disable=false) ;;
    esac
    records=$((FACTOR_COUNT_MB * 1048576 / FACTOR_SIZE))
    [ "$bound" = count ] && CMD+=(-c "$records")
    if [ "$measured" = 0 ]; then
        if [ "$bound" = time ]; then
            timeout --foreground -s INT $((WARMUP + DURATION)) "${CMD[@]}" >"$RESULTS/logs/$name.log" 2>&1 || true
        else
            timeout --foreground $((300 + FACTOR_COUNT_MB / 10)) "${CMD[@]}" >"$RESULTS/logs/$name.log" 2>&1 ||
                log "  warning: the warm-up run on $b failed (logs/$name.log)"
        fi
        log "  $b warm-up round: $(grep -E '^\|' "$RESULTS/logs/$name.log" | tail -n1 | awk -F'|' '{gsub(/ /, "", $7); gsub(/ /, "", $8); print $7 " msgs/s, " $8 " MB/s"}') (not measured)"
    elif [ "$bound" = time ]; then
        measure rdkafka-produce "$b" "$name" --size "$FACTOR_SIZE" --warmup "$WARMUP" \
            --duration "$DURATION" --timeout 60 "$@" -- "${CMD[@]}"
    else
        measure rdkafka-produce-count "$b" "$name" --size "$FACTOR_SIZE" --expect "$records" \
            --timeout $((300 + FACTOR_COUNT_MB / 10)) "$@" -- "${CMD[@]}"
    fi
}

factor_cell() { # cell round
    local cell=$1 round=$2 client bound warm seg cache pin b topic segcfg segbytes name tags
    IFS=, read -r client bound warm seg cache pin <<<"$cell"
    local cbase=${client%%+*}
    [ -n "${RDK_BIN[$cbase]:-}" ] || die "cell $cell: client '$cbase' not built (FACTOR_CLIENTS='$FACTOR_CLIENTS')"
    [[ "$client" == "$cbase" || "$client" == *+nodelay || "$client" == *+nagle ]] ||
        die "cell $cell: a client's suffix is +nodelay or +nagle"
    [[ " time count " == *" $bound "* && " none round " == *" $warm "* && " keep drop " == *" $cache "* &&
        " pinned free " == *" $pin "* ]] || die "cell $cell: bad level (see bench/lib/factors.sh)"
    case "$seg" in
    default) segbytes=1073741824 ;;  # log.segment.bytes of both brokers' configurations
    big) segbytes=$FACTOR_BIG_SEGMENT ;;
    *[!0-9]* | '') die "cell $cell: seg must be default, big or a number" ;;
    *) segbytes=$seg ;;
    esac
    segcfg=()
    [ "$seg" = default ] || segcfg=(--config "segment.bytes=$segbytes")
    if [ "$cache" = drop ] && [ ! -w /proc/sys/vm/drop_caches ]; then
        die "cell $cell: dropping the page cache needs root"
    fi
    # pin=free: the broker and the client on every core (check_pinned then expects that).
    local BROKER_CPUS=$BROKER_CPUS CLIENT_CPUS=$CLIENT_CPUS
    if [ "$pin" = free ]; then BROKER_CPUS="0-$(($(nproc --all) - 1))" CLIENT_CPUS=$BROKER_CPUS; fi
    tags=(--tag phase=factors --tag workload="factors-$cell" --tag round="$round"
        --tag tool="$(rdk_tool "$cbase")" --tag client="$client" --tag librdkafka="${RDK_VER[$cbase]}"
        --tag bound="$bound" --tag warm="$warm" --tag seg="$seg" --tag cache="$cache" --tag pin="$pin"
        --tag size="$FACTOR_SIZE" --tag acks=all --tag partitions="$FACTOR_PARTITIONS"
        --tag segment_bytes="$segbytes")
    [ "$bound" = count ] && tags+=(--tag count_mb="$FACTOR_COUNT_MB")
    log "factors: cell $cell round $round/$FACTOR_ROUNDS"
    for b in "${BROKERS[@]}"; do
        if [ "$b" = milena ]; then start_milena; else start_kafka "$work/kafka-factors"; fi
        name="factors-${cell//[,+]/-}-r$round-$b"
        if [ "$warm" = round ]; then
            topic_create "$b" fwarm "$FACTOR_PARTITIONS" "${segcfg[@]}"
            settle
            factor_run "$b" fwarm "$client" "$bound" "$name.warmup" 0
            topic_delete "$b" fwarm
        fi
        topic="f-${cell//[,+]/-}-r$round"
        topic_create "$b" "$topic" "$FACTOR_PARTITIONS" "${segcfg[@]}"
        settle
        if [ "$cache" = drop ]; then echo 3 >/proc/sys/vm/drop_caches; fi
        factor_run "$b" "$topic" "$client" "$bound" "$name" 1 "${tags[@]}"
        if [ "$b" = milena ]; then
            stop_milena
            rm -rf "$work/milena-$milena_starts"
        else
            stop_kafka
            cp "$work/kafka-factors/logs/server.log" "$RESULTS/logs/$name-server.log" 2>/dev/null || true
            rm -rf "$work/kafka-factors"
        fi
    done
}

phase_factors() {
    local cells round cell
    mapfile -t cells < <(factor_cells)
    echo "factor_cells=${cells[*]}" >>"$RESULTS/meta.txt"
    echo "factor_count_mb=$FACTOR_COUNT_MB" >>"$RESULTS/meta.txt"
    echo "factor_big_segment=$FACTOR_BIG_SEGMENT" >>"$RESULTS/meta.txt"
    echo "factor_rounds=$FACTOR_ROUNDS" >>"$RESULTS/meta.txt"
    log "factors: ${#cells[@]} cells x $FACTOR_ROUNDS rounds, ${FACTOR_SIZE} B acks=all ${FACTOR_PARTITIONS} partitions; each cell starts both brokers fresh"
    # The single brokers of the other phases are stopped: every cell starts its own.
    stop_milena
    stop_kafka
    for round in $(seq 1 "$FACTOR_ROUNDS"); do
        for cell in "${cells[@]}"; do factor_cell "$cell" "$round"; done
    done
    python3 "$here/lib/report.py" factors "$RESULTS" | tee -a "$RESULTS/run.log" >&2
}
