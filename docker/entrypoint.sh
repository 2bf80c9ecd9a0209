#!/usr/bin/env bash
# Entrypoint of the Milena image: container defaults, then exec the broker.
#
# The broker itself reads the apache/kafka image's variables (src/config/env.rs): every
# KAFKA_FOO_BAR=x sets foo.bar=x ("_" is ".", "__" is "_", "___" is "-") and CLUSTER_ID sets
# cluster.id. This script only fills in what a container needs and a laptop does not, for keys
# the user set neither in the environment nor in a properties file given as the first argument:
#
#   listeners              PLAINTEXT://0.0.0.0:9092 (unless KAFKA_ADVERTISED_LISTENERS is set:
#                          the broker then binds every advertised port on 0.0.0.0, as Kafka's image does)
#   log.dirs               $MILENA_DATA_DIR/data (MILENA_DATA_DIR defaults to /var/lib/milena, the volume)
#   milena.http.listener   0.0.0.0:9644 (Prometheus /metrics, and the healthcheck)
#   milena.log.format      $MILENA_LOG_FORMAT if set (text, json or kafka)
#
# Arguments: none, a properties file, and/or `--override key=value` options go to milena;
# `milena ...` runs milena with those arguments; any other command runs instead of milena
# (`docker run -it milena bash`). MILENA_BIN names the binary (default /usr/local/bin/milena):
# tests run this script outside a container with their own binary and data directory.
set -euo pipefail

milena=${MILENA_BIN:-/usr/local/bin/milena}

if [[ $# -gt 0 && $1 == milena ]]; then
    shift
elif [[ $# -gt 0 && $1 != -* && ! -f $1 ]]; then
    exec "$@"
fi

# A properties file as the first argument holds settings the defaults must not override
# (the environment wins over the file in the broker, so a default would).
config=
if [[ $# -gt 0 && $1 != -* ]]; then
    config=$1
fi

# Whether the user set `key` (variable `var`) in the environment or in the properties file.
user_set() {
    local var=$1 key=$2
    [[ -n ${!var+x} ]] && return 0
    [[ -n $config ]] && grep -Eq "^[[:space:]]*${key//./\\.}[[:space:]]*[=:]" "$config"
}

# Exports `var=value` unless the user set it (as `var` or as `key` in the file).
default() {
    local var=$1 key=$2 value=$3
    if ! user_set "$var" "$key"; then
        export "$var=$value"
    fi
}

if ! user_set KAFKA_ADVERTISED_LISTENERS advertised.listeners; then
    default KAFKA_LISTENERS listeners "PLAINTEXT://0.0.0.0:9092"
fi
default KAFKA_LOG_DIRS log.dirs "${MILENA_DATA_DIR:-/var/lib/milena}/data"
default KAFKA_MILENA_HTTP_LISTENER milena.http.listener "0.0.0.0:9644"
if [[ -n ${MILENA_LOG_FORMAT:-} ]]; then
    default KAFKA_MILENA_LOG_FORMAT milena.log.format "$MILENA_LOG_FORMAT"
fi

# exec: milena becomes the container's main process and gets SIGTERM from `docker stop`
# directly, so it shuts down cleanly (closes its logs, hands over leadership) before the kill.
exec "$milena" "$@"
