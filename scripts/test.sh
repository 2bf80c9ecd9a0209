#!/usr/bin/env bash
# The whole test suite: dependencies, the stock Kafka tools, a release build, cargo test (release, so
# integration tests drive the release binary through CARGO_BIN_EXE_milena).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dist=$(bash scripts/install-test-deps.sh | tail -n1)
export MILENA_KAFKA_DIST="$dist"
echo "test.sh: MILENA_KAFKA_DIST=$MILENA_KAFKA_DIST"

# The test build makes target/release/milena too. A separate `cargo build --release` first would
# compile most dependencies twice: the dev-dependencies turn on more features of shared crates
# (hyper, futures, tokio), so the two builds do not share those artifacts.
cargo test --release --no-run
# Class-data sharing for the stock tools (a speed-up only: without it the tools start as before).
bash scripts/tools-cds.sh "$MILENA_KAFKA_DIST" target/release/milena || true
# ... and for the newest Kafka's tools (the compatibility matrix's java-4.4 and cli-4.4 families).
bash scripts/tools-cds.sh "$(bash scripts/kafka-dist.sh 4.4.0 | tail -n1)" target/release/milena || true
# Every test binary runs even if an earlier one fails; the summary line totals them all.
log=$(mktemp)
set +e
cargo test --release --no-fail-fast -- --test-threads=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
