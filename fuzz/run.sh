#!/bin/sh
# Runs every fuzz target (or the TARGETs named) for SECONDS each (default 600), JOBS at a
# time (default 1), on stable Rust (cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1
# enables them).
# Usage: fuzz/run.sh [SECONDS] [JOBS] [TARGET...]; logs in fuzz/logs/<target>.log, crashes in
# fuzz/artifacts/<target>/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-600}
jobs=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
cd "$here"
[ -d corpus ] || ./seed.sh
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
mkdir -p logs
targets=${*:-$(cargo fuzz list)}
run() {
    cargo fuzz run -O "$1" "corpus/$1" -- -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 > "logs/$1.log" 2>&1 \
        || echo "$1: CRASH (see logs/$1.log)"
    grep -E '^stat::number_of_executed_units|^Done' "logs/$1.log" | sed "s/^/$1: /" || true
}
set -- $targets
while [ $# -gt 0 ]; do
    n=0
    while [ $# -gt 0 ] && [ $n -lt "$jobs" ]; do
        run "$1" &
        shift
        n=$((n + 1))
    done
    wait
done
