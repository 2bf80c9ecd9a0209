#!/usr/bin/env bash
# Scenarios as kcat (Debian's, on librdkafka 2.0.2) sees them.
#
#   kcat.sh SCENARIO BOOTSTRAP PREFIX
#
# Prints the normalised observation on stdout (names without PREFIX); exit 0 = the scenario's own
# checks passed, 64 = not applicable (kcat cannot create topics, join a group with a kill, or run
# transactions), anything else = failed. Topics are auto-created by the first produce (both
# brokers run with auto.create.topics.enable=true, num.partitions=1).
set -uo pipefail
scenario=$1 boot=$2 prefix=$3
K=(kcat -b "$boot" -X partitioner=murmur2_random -X api.version.request=true)

consume() { # TOPIC COUNT [extra kcat args] -> "p o k v" lines
    local t=$1 n=$2
    shift 2
    timeout 30 "${K[@]}" -C -t "$prefix$t" -o beginning -c "$n" -e -q "$@"
}

case $scenario in
quickstart)
    printf '%s\n' "This is a message" "This is another message" "第三条消息" \
        | timeout 30 "${K[@]}" -P -t "${prefix}quickstart" || exit 1
    consume quickstart 3 -f 'consumed p=%p o=%o v=%s\n' || exit 1
    # kcat -L: the topic's partition, leader, replicas and isrs (broker host:port masked)
    timeout 30 "${K[@]}" -L -t "${prefix}quickstart" \
        | sed -n "s/^  topic \"$prefix\(.*\)\" with \(.*\):$/topic \1 \2/p; s/^ *partition \([0-9]*\), leader \([0-9]*\), replicas: \(.*\), isrs: \(.*\)$/describe p=\1 leader=\2 replicas=\3 isr=\4/p"
    ;;
codecs)
    for codec in none gzip snappy lz4 zstd; do
        for i in $(seq 0 9); do printf "$codec-$i-%.0s" $(seq 20); echo; done \
            | timeout 30 "${K[@]}" -P -t "${prefix}codec-$codec" -z "$codec" -X linger.ms=50 || exit 1
        got=$(consume "codec-$codec" 10 -f '%o %s\n')
        want=$(for i in $(seq 0 9); do printf "$((i)) "; printf "$codec-$i-%.0s" $(seq 20); echo; done)
        ok=False; [ "$got" = "$want" ] && ok=True
        echo "codec $codec consumed=$(grep -c . <<<"$got") values-ok=$ok"
    done
    ;;
headers)
    echo "with-headers" | timeout 30 "${K[@]}" -P -t "${prefix}headers" -k k -H h1=a -H h2=b -H h1=c -H empty= || exit 1
    consume headers 1 -f 'record o=%o k=%k v=%s type-and-ts-present=%T headers=%h\n' \
        | sed 's/type-and-ts-present=[0-9]*/type-and-ts-present=yes/'
    ;;
large)
    # kcat cannot set topic configs: the broker default (1048588) bounds it; 900000 fits, 2000000 does not.
    { head -c 900000 /dev/zero | tr '\0' x; echo; } | timeout 30 "${K[@]}" -P -t "${prefix}large" || exit 1
    if { head -c 2000000 /dev/zero | tr '\0' y; echo; } | timeout 30 "${K[@]}" -P -t "${prefix}large" -X message.max.bytes=3000000 2>err.txt; then
        echo "over-limit ok"
    else
        echo "over-limit $(grep -o 'Broker: [A-Za-z ]*\|Local: [A-Za-z ]*' err.txt | head -n1)"
    fi
    consume large 1 -f '%o:%S\n'
    ;;
errors)
    # Consuming an unknown topic with auto-creation off on the client side.
    timeout 30 "${K[@]}" -C -t "${prefix}no-such-topic" -o beginning -e -X allow.auto.create.topics=false 2>&1 >/dev/null \
        | grep -o 'Topic [^ ]* error: [A-Za-z :]*' | head -n1 | sed "s/$prefix//"
    exit 0
    ;;
*)
    echo "n/a: kcat has no $scenario scenario"
    exit 64
    ;;
esac
