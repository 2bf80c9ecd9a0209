#!/usr/bin/env bash
# What the compatibility matrix needs, pinned and idempotent (quiet and fast when all is present).
# Sourced by run.sh; sets MILENA_KAFKA_DIST, COMPAT_KAFKA_DIST_NEWEST, COMPAT_JAVA_CP,
# COMPAT_JAVA_NEWEST_CP, COMPAT_NODE_PATH, COMPAT_GO_BIN.
#
#   - scripts/install-test-deps.sh: kcat, librdkafka, confluent-kafka, kafka-python, the Kafka dists
#     (4.1.2, the reference, and $COMPAT_KAFKA_NEWEST, the newest Java client, tools, Connect, Streams)
#   - Python codec modules kafka-python needs for snappy, lz4 and zstd (pinned below)
#   - kafkajs (npm, version in families/package.json) into $cache/compat-js-<hash>/node_modules
#   - franz-go and sarama programs (versions in go/go.mod + go.sum), built once into
#     $cache/compat-go-<hash>/
#   - Compat.java compiled once against the dist's kafka-clients into $cache/compat-java-<hash>/
# $cache is ${MILENA_CACHE:-$HOME/.cache/milena}; <hash> covers the sources, so an edit rebuilds.

compat_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
compat_cache="${MILENA_CACHE:-$HOME/.cache/milena}"
compat_fail() { echo "compat-tests/install.sh: ERROR: $*" >&2; return 1; }
mkdir -p "$compat_cache"
# One installer at a time (the Rust test runs two families at once); released at the end.
exec {compat_lock}>"$compat_cache/.compat-install.lock"
command -v flock >/dev/null && flock "$compat_lock"

MILENA_KAFKA_DIST=$(bash "$compat_here/../scripts/install-test-deps.sh" | tail -n1) || compat_fail "install-test-deps.sh failed" || return 1
export MILENA_KAFKA_DIST
# The newest Apache Kafka (families java-4.4 and cli-4.4); scripts/kafka-dist.sh knows how to
# assemble it. Fast path when install-test-deps.sh has already done so.
COMPAT_KAFKA_NEWEST=4.4.0
COMPAT_KAFKA_DIST_NEWEST=$(bash "$compat_here/../scripts/kafka-dist.sh" "$COMPAT_KAFKA_NEWEST" | tail -n1) || compat_fail "kafka-dist.sh $COMPAT_KAFKA_NEWEST failed" || return 1
export COMPAT_KAFKA_NEWEST COMPAT_KAFKA_DIST_NEWEST

# --- Python codecs for kafka-python ---------------------------------------------------------
COMPAT_PY_CODECS=(lz4==4.4.4 zstandard==0.23.0 python-snappy==0.7.3)
if ! python3 - "${COMPAT_PY_CODECS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if all(version(s.split("==")[0]) == s.split("==")[1] for s in sys.argv[1:]) else 1)
EOF
then
    echo "compat-tests/install.sh: pip install ${COMPAT_PY_CODECS[*]}" >&2
    pipflags=(--quiet --disable-pip-version-check --no-input)
    if python3 -c 'import sys; sys.exit(0 if sys.prefix == sys.base_prefix else 1)' \
        && ls "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"/EXTERNALLY-MANAGED >/dev/null 2>&1; then
        pipflags+=(--break-system-packages)
    fi
    python3 -m pip install "${pipflags[@]}" "${COMPAT_PY_CODECS[@]}" >&2 || compat_fail "pip install failed" || return 1
fi

compat_hash() { cat "$@" | sha256sum | cut -c1-12; }

# --- kafkajs ---------------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || compat_fail "node and npm are needed (apt-get install nodejs npm)" || return 1
js_dir="$compat_cache/compat-js-$(compat_hash "$compat_here/families/package.json" "$compat_here/families/package-lock.json")"
if [ ! -f "$js_dir/.complete" ]; then
    echo "compat-tests/install.sh: npm ci (kafkajs) into $js_dir" >&2
    rm -rf "$js_dir" && mkdir -p "$js_dir"
    cp "$compat_here/families/package.json" "$compat_here/families/package-lock.json" "$js_dir/"
    (cd "$js_dir" && npm ci --silent --no-audit --no-fund >&2) || compat_fail "npm ci failed" || return 1
    touch "$js_dir/.complete"
fi
export COMPAT_NODE_PATH="$js_dir/node_modules"

# --- franz-go and sarama -----------------------------------------------------------------------
command -v go >/dev/null || compat_fail "go is needed" || return 1
go_dir="$compat_cache/compat-go-$(compat_hash "$compat_here"/go/go.mod "$compat_here"/go/go.sum "$compat_here"/go/*/*.go)"
if [ ! -f "$go_dir/.complete" ]; then
    echo "compat-tests/install.sh: go build franz-go and sarama programs into $go_dir" >&2
    mkdir -p "$go_dir"
    (cd "$compat_here/go" && export GOTOOLCHAIN=local && go build -o "$go_dir/franz" ./franz && go build -o "$go_dir/sarama" ./sarama) >&2 \
        || compat_fail "go build failed" || return 1
    touch "$go_dir/.complete"
fi
export COMPAT_GO_BIN="$go_dir"

# --- Java ---------------------------------------------------------------------------------------
# compat_javac DIST -> prints the class path running Compat against DIST's kafka-clients. The dist's
# jars come first, so that the class-data-sharing archive of scripts/tools-cds.sh (dumped for
# DIST/libs/*) applies when there is one.
compat_javac() {
    local dist=$1 dir
    dir="$compat_cache/compat-java-$(compat_hash "$compat_here/families/Compat.java" "$dist/.milena-dist-complete")"
    if [ ! -f "$dir/.complete" ]; then
        echo "compat-tests/install.sh: javac Compat.java against $dist into $dir" >&2
        mkdir -p "$dir"
        javac -nowarn -d "$dir" -cp "$dist/libs/*" "$compat_here/families/Compat.java" >&2 || return 1
        touch "$dir/.complete"
    fi
    echo "$dist/libs/*:$dir"
}
COMPAT_JAVA_CP=$(compat_javac "$MILENA_KAFKA_DIST") || compat_fail "javac failed" || return 1
COMPAT_JAVA_NEWEST_CP=$(compat_javac "$COMPAT_KAFKA_DIST_NEWEST") || compat_fail "javac failed" || return 1
export COMPAT_JAVA_CP COMPAT_JAVA_NEWEST_CP

exec {compat_lock}>&-
