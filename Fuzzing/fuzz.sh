#!/usr/bin/env bash
# Builds the fuzz targets under libFuzzer + AddressSanitizer and runs each for FUZZ_SECONDS
# (README.md, "Fuzzing"). Usage, from the repository root (what `make fuzz` runs):
#   FUZZ_SECONDS=60 Fuzzing/fuzz.sh [target …]       # default: every target
# FUZZ_RUNS=N also stops a target after N executions, whichever comes first.
# Scratch corpora grow in .build-fuzz/corpus/<target> (seeded from Fuzzing/corpus/<target>, which
# is never written), crashing inputs land in .build-fuzz/crashes/<target>/, logs in
# .build-fuzz/logs/<target>.log. Exit status 1 when any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
RUNS=${FUZZ_RUNS:--1}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(png audio safetensors checkpoint npy captions grounding config)
SCRATCH=.build-fuzz

# Longest input per target: a few times the largest seed.
max_len() {
    case $1 in
        audio | checkpoint) echo 8192 ;;
        png) echo 4096 ;;
        safetensors | captions | grounding) echo 2048 ;;
        npy | config) echo 1024 ;;
    esac
}

# Swift code gets coverage and ASan from -sanitize; the C shim (CPNG) from -fsanitize. lld, because
# gold stops with an internal error on the instrumented debug objects.
(cd Fuzzing && nice -n 10 swift build --scratch-path "../$SCRATCH" --product glassbox-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=fuzzer-no-link,address)
FUZZER=$SCRATCH/debug/glassbox-fuzz

summary=()
failed=0
for target in "${TARGETS[@]}"; do
    corpus=$SCRATCH/corpus/$target crashes=$SCRATCH/crashes/$target log=$SCRATCH/logs/$target.log
    mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
    cp -n Fuzzing/corpus/"$target"/* "$corpus"/
    dict=()
    [ -f Fuzzing/dict/"$target".dict ] && dict=(-dict=Fuzzing/dict/"$target".dict)
    echo "fuzzing $target for $SECONDS_PER_TARGET s (log: $log)"
    status=0
    # Swift's own crash handler would trip AddressSanitizer: leave crashes to libFuzzer.
    SWIFT_BACKTRACE=enable=no nice -n 10 "$FUZZER" "$target" "${dict[@]}" \
        -max_total_time="$SECONDS_PER_TARGET" -runs="$RUNS" -max_len="$(max_len "$target")" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        failed=1
        result="FOUND A PROBLEM (status $status): $(grep -ao "Test unit written to .*" "$log" | tail -1)"
    fi
    summary+=("$(printf '%-12s %12s executions %8s exec/s  cov %6s  %s' "$target" "${executions:-?}" "${per_second:-?}" "${coverage:-?}" "$result")")
done

echo
printf '%s\n' "${summary[@]}"
exit $failed
