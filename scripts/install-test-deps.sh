#!/usr/bin/env bash
# Everything the test suite needs, idempotent; quiet and fast (< 2 s) when all is present.
#   - Debian packages: kcat librdkafka-dev cmake pkg-config unzip, and the headers the rdkafka
#     crate needs to build a current librdkafka from source (curl, ssl, zlib, zstd) (+ maven, a JDK,
#     nodejs and npm if missing; openssl and the JDK's keytool make the TLS tests' certificates;
#     prometheus scrapes the broker in tests/metrics_http.rs; chromium and chromium-driver run the
#     web console's browser test in tests/console_http.rs)
#   - Python clients: confluent-kafka, kafka-python (pinned); selenium drives chromium
#   - old clients (tests/old_formats.rs): kafka-python 1.4.7 and the Java kafka-clients 2.8.2 and
#     0.10.2.2, each in a directory of its own under ${MILENA_CACHE:-$HOME/.cache/milena}
#   - the stock Apache Kafka tools: scripts/kafka-dist.sh, 4.1.2 (the reference; its path is printed)
#     and 4.4.0 (the newest, for the compatibility matrix's java-4.4 and cli-4.4 families)
# Prints the Kafka distribution path as the last line of stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "install-test-deps.sh: ERROR: $*" >&2; exit 1; }

CONFLUENT_KAFKA_VERSION=2.16.2
KAFKA_PYTHON_VERSION=3.0.12
SELENIUM_VERSION=4.45.0
# An old client (message format v0/v1, tests/old_formats.rs), in its own directory so that it does
# not replace the kafka-python above; the tests put it on PYTHONPATH.
KAFKA_PYTHON_OLD_VERSION=1.4.7
KAFKA_PYTHON_OLD_DIR="${MILENA_CACHE:-$HOME/.cache/milena}/kafka-python-$KAFKA_PYTHON_OLD_VERSION"
# Old Apache Kafka Java clients (tests/old_formats.rs): the newest 2.x, and 0.10.2.2, the last
# line whose producer writes message format v1 (magic 1) and fetches with Fetch v3; each in
# ${MILENA_CACHE:-$HOME/.cache/milena}/kafka-clients-<version>/ with its dependencies.
OLD_JAVA_CLIENT_VERSIONS=(2.8.2 0.10.2.2)
# The newest Apache Kafka (compat-tests/install.sh names the same version).
KAFKA_NEWEST_VERSION=4.4.0

# --- Debian packages --------------------------------------------------------------------------
missing=()
for pkg in kcat librdkafka-dev cmake pkg-config unzip libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
# tests/security_tls.rs makes its CA and certificates with openssl and keytool (the JDK's).
command -v openssl >/dev/null || missing+=(openssl)
# compat-tests/ (kafkajs); its franz-go and sarama programs need Go >= 1.26, which Debian lacks: checked there.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# tests/metrics_http.rs: a real Prometheus server scrapes the broker's /metrics.
command -v prometheus >/dev/null || missing+=(prometheus)
# tests/console_http.rs: a headless browser loads the web console's pages.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)

if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || fail "missing packages (${missing[*]}) and no apt-get to install them"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || fail "missing packages (${missing[*]}); run as root or install sudo"
        SUDO="sudo"
    fi
    echo "install-test-deps.sh: apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        fail "apt-get install ${missing[*]} failed"
    fi
    rm -f "$log"
fi
for c in kcat java keytool openssl mvn unzip pkg-config prometheus chromium chromedriver; do
    command -v "$c" >/dev/null || fail "'$c' still not found after installing packages"
done

# --- Python clients ---------------------------------------------------------------------------
command -v python3 >/dev/null || fail "python3 not found"
if ! python3 - "$CONFLUENT_KAFKA_VERSION" "$KAFKA_PYTHON_VERSION" "$SELENIUM_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("confluent-kafka"), version("kafka-python"), version("selenium")) == tuple(sys.argv[1:4]) else 1)
EOF
then
    echo "install-test-deps.sh: pip install confluent-kafka==$CONFLUENT_KAFKA_VERSION kafka-python==$KAFKA_PYTHON_VERSION selenium==$SELENIUM_VERSION" >&2
    log=$(mktemp)
    pipflags=(--quiet --disable-pip-version-check --no-input)
    # Debian's system python refuses global installs (PEP 668) unless told otherwise.
    if python3 -c 'import sys; sys.exit(0 if sys.prefix == sys.base_prefix else 1)' \
        && ls "$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"/EXTERNALLY-MANAGED >/dev/null 2>&1; then
        pipflags+=(--break-system-packages)
    fi
    if ! python3 -m pip install "${pipflags[@]}" \
            "confluent-kafka==$CONFLUENT_KAFKA_VERSION" "kafka-python==$KAFKA_PYTHON_VERSION" \
            "selenium==$SELENIUM_VERSION" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        fail "pip install of the Python Kafka clients failed"
    fi
    rm -f "$log"
    python3 -c 'import confluent_kafka, kafka, selenium' || fail "Python clients do not import after pip install"
fi

if ! PYTHONPATH="$KAFKA_PYTHON_OLD_DIR" python3 -c "import kafka, sys; sys.exit(kafka.__version__ != '$KAFKA_PYTHON_OLD_VERSION')" 2>/dev/null; then
    echo "install-test-deps.sh: pip install --target $KAFKA_PYTHON_OLD_DIR kafka-python==$KAFKA_PYTHON_OLD_VERSION" >&2
    log=$(mktemp)
    rm -rf "$KAFKA_PYTHON_OLD_DIR"
    if ! python3 -m pip install --quiet --disable-pip-version-check --no-input --no-deps \
            --target "$KAFKA_PYTHON_OLD_DIR" "kafka-python==$KAFKA_PYTHON_OLD_VERSION" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        fail "pip install of kafka-python $KAFKA_PYTHON_OLD_VERSION failed"
    fi
    rm -f "$log"
fi

for v in "${OLD_JAVA_CLIENT_VERSIONS[@]}"; do
    dir="${MILENA_CACHE:-$HOME/.cache/milena}/kafka-clients-$v"
    [ -f "$dir/.complete" ] && [ -f "$dir/kafka-clients-$v.jar" ] && continue
    echo "install-test-deps.sh: kafka-clients $v into $dir" >&2
    rm -rf "$dir"
    log=$(mktemp)
    if ! mvn -q -B -f "$here/old-java-clients/pom.xml" dependency:copy-dependencies \
            -Dkafka.clients.version="$v" -DoutputDirectory="$dir" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"
        fail "kafka-clients $v: mvn dependency:copy-dependencies failed"
    fi
    rm -f "$log"
    [ -f "$dir/kafka-clients-$v.jar" ] || fail "kafka-clients $v: no jar in $dir"
    touch "$dir/.complete"
done

# --- the stock Kafka tools --------------------------------------------------------------------
bash "$here/kafka-dist.sh" "$KAFKA_NEWEST_VERSION" >/dev/null || fail "scripts/kafka-dist.sh $KAFKA_NEWEST_VERSION failed"
dist=$(bash "$here/kafka-dist.sh" | tail -n1) || fail "scripts/kafka-dist.sh failed"
[ -x "$dist/bin/kafka-topics.sh" ] || fail "no Kafka tools at '$dist'"
echo "$dist"
