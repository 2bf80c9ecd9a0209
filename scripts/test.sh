#!/usr/bin/env bash
# The whole test suite: dependencies, the stock Kafka tools, a release build, cargo test (release, so
# integration tests drive the release binary through CARGO_BIN_EXE_milena).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dist=$(bash scripts/install-test-deps.sh | tail -n1)
export MILENA_KAFKA_DIST="$dist"
echo "test.sh: MILENA_KAFKA_DIST=$MILENA_KAFKA_DIST"

cargo build --release
cargo test --release -- --test-threads=2
