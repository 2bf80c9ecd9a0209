#!/usr/bin/env bash
# The long chaos run of issue 13: three Milena nodes on 127.0.0.1, an idempotent acks=all
# producer and a consumer running throughout, and a nemesis that, round after round, kills -9
# the leader of partition 0 and restarts it, or (every other round) freezes it with SIGSTOP for
# longer than the session timeout and lets it go on with SIGCONT (a zombie leader coming back).
# At the end the Jepsen-style checker (tests/support/checker.rs) reads every partition through
# every node and compares the replicas' segment files; any lost acknowledged record, offset
# with two values, duplicate, read past the end or diverging replica fails the run.
#
#   scripts/chaos.sh [rounds]        # default 20 rounds (about 15 s each)
#
# It is the test `repeated_leader_kills_lose_no_acknowledged_record` of tests/replication.rs
# (3 rounds, kills only, in the normal suite) with MILENA_CHAOS_ROUNDS and MILENA_CHAOS_PAUSES.
# Each round's timings and the checker's counts are printed; the node logs are kept on failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-20}
dist=$(bash scripts/install-test-deps.sh | tail -n1)
export MILENA_KAFKA_DIST="$dist"
export MILENA_CHAOS_ROUNDS="$rounds" MILENA_CHAOS_PAUSES=1
# No separate `cargo build --release`: the test build makes target/release/milena itself, and a
# plain release build (without the dev-dependencies' features) would be rebuilt by it at once.
exec cargo test --release --test suite replication::repeated_leader_kills_lose_no_acknowledged_record \
    -- --exact --nocapture --test-threads=1
