#!/usr/bin/env bash
# Healthcheck of the Milena image: healthy once the broker answers on its HTTP listener.
#
# The HTTP listener starts serving only after the broker has opened its data directory and its
# Kafka listeners (a port that merely accepts connections could still be recovering logs), so a
# `200` from /metrics (the listener's one fixed page; rendered from counters, cheap every 30 s)
# means "serving". No curl or wget in the image: bash's /dev/tcp does the request.
# The address comes from KAFKA_MILENA_HTTP_LISTENER (host:port; an empty or 0.0.0.0 host is probed
# on 127.0.0.1), defaulting to the entrypoint's 0.0.0.0:9644.
set -uo pipefail

listener=${KAFKA_MILENA_HTTP_LISTENER:-0.0.0.0:9644}
host=${listener%:*}
port=${listener##*:}
case $host in
    "" | 0.0.0.0 | "[::]" | ::) host=127.0.0.1 ;;
esac
host=${host#[}
host=${host%]}

# fd 3: the connection; read the status line only, within 5 seconds.
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS=' ' read -r -t 5 version status _ <&3 || exit 1
exec 3<&-
[[ $version == HTTP/1.* && $status == 200 ]]
