#!/usr/bin/env bash
# Runs the cargo fuzz targets of fuzz/ (libFuzzer, AddressSanitizer) one after another and
# prints each one's figures; exits 1 if any target crashed (the input is in
# fuzz/artifacts/<target>/, reproduce with `scripts/fuzz.sh repro TARGET FILE`).
#
#   scripts/fuzz.sh ci                  # CI-sized: every target FUZZ_SECONDS (default 30)
#   scripts/fuzz.sh long                # every target FUZZ_SECONDS (default 1800), in turn
#   scripts/fuzz.sh run TARGET [SECS]   # one target
#   scripts/fuzz.sh repro TARGET FILE   # rerun one input (e.g. a crash) through a target
#   scripts/fuzz.sh build               # build only
#
# Every run starts from the committed seeds (fuzz/seeds/<target>) plus the working corpus
# fuzz/corpus/<target> (not committed; it grows run after run). "No unbounded memory":
# a run fails when a process exceeds FUZZ_RSS_MB (default 2048; AddressSanitizer adds
# ~400 MB) or one allocation exceeds it, and a single input that takes over 10 s is a
# crash too. The only toolchain is stable Rust: cargo fuzz needs -Z flags, so
# RUSTC_BOOTSTRAP=1 lets stable rustc accept them. cargo-fuzz is installed if missing.
# FUZZ_TARGET_DIR: where the instrumented build goes (default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0
TARGETS=(boxscore schedule archive flight_batch v2_tensor)
RSS_MB="${FUZZ_RSS_MB:-2048}"
target_dir="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --version 0.13.2
fi

build() {
    local started=$SECONDS
    (cd fuzz && cargo fuzz build --target-dir "$target_dir" "$@")
    echo "fuzz build: $((SECONDS - started)) s"
}

# run TARGET SECONDS: one libFuzzer run, then one line of figures.
run() {
    local t=$1 secs=$2 log
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
    log=$(mktemp)
    local rc=0
    (cd fuzz && cargo fuzz run --target-dir "$target_dir" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -timeout=10 \
        -print_final_stats=1) >"$log" 2>&1 || rc=$?
    local stat
    stat() { grep -m1 "stat::$1:" "$log" | awk '{print $2}'; }
    printf '%-13s %6s s %10s execs %8s exec/s %6s corpus %6s MB peak RSS  %s\n' "$t" "$secs" \
        "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
        "$(find "fuzz/corpus/$t" -type f | wc -l)" "$(stat peak_rss_mb)" \
        "$([ $rc -eq 0 ] && echo ok || echo "CRASH (exit $rc)")"
    if [ $rc -ne 0 ]; then
        grep -E "panicked at|ERROR: |SUMMARY|Test unit written" "$log" | head -8 | sed 's/^/    /'
        echo "    full log: $log"
        return 1
    fi
    rm -f "$log"
}

all() {
    local secs=$1 failed=0
    build
    for t in "${TARGETS[@]}"; do run "$t" "$secs" || failed=1; done
    return $failed
}

case "${1:-ci}" in
    ci) all "${FUZZ_SECONDS:-30}" ;;
    long) all "${FUZZ_SECONDS:-1800}" ;;
    run) build "${2:?target}"; run "$2" "${3:-60}" ;;
    repro)
        input=$(realpath "${3:?file}")
        build "${2:?target}"
        (cd fuzz && cargo fuzz run --target-dir "$target_dir" "$2" "$input")
        ;;
    build) build ;;
    *) echo "usage: $0 ci|long|run TARGET [SECS]|repro TARGET FILE|build" >&2; exit 2 ;;
esac
