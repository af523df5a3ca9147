#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/Harnesses/*) and runs each for FUZZ_SECONDS (default 60), one after
# the other. Seeds: Fuzz/Corpus/<harness>/ (committed); inputs found while fuzzing go to
# Fuzz/.build/corpus/<harness>/; crashes to fuzz-artifacts/<harness>-crash-*. Exits non-zero if any harness
# crashed. FUZZ_HARNESSES="A B" runs only those; extra arguments go to every libFuzzer run.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SECONDS_EACH=${FUZZ_SECONDS:-60}
# Release: libFuzzer needs speed; sanitizer instrumentation is kept (ASan + coverage).
(cd Fuzz && "$SWIFT" build -c release -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -vE "Cannot export local symbol") || exit 1
bin=$(cd Fuzz && "$SWIFT" build -c release -Xswiftc -sanitize=fuzzer,address --show-bin-path)
mkdir -p fuzz-artifacts
harnesses=${FUZZ_HARNESSES:-$(ls Fuzz/Harnesses)}
failed=()
for harness in $harnesses; do
    mkdir -p "Fuzz/.build/corpus/$harness" "Fuzz/Corpus/$harness"
    log="Fuzz/.build/$harness.log"
    echo "== $harness: ${SECONDS_EACH} s"
    SWIFT_BACKTRACE=enable=no "$bin/$harness" -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="fuzz-artifacts/$harness-" "$@" \
        "Fuzz/.build/corpus/$harness" "Fuzz/Corpus/$harness" >"$log" 2>&1
    status=$?
    runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || true)
    rate=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$log" | grep -oE "[0-9]+$" || true)
    cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1 || true)
    echo "   exit $status, ${runs:-?} executions, ${rate:-?}/s, $cov"
    if [ $status -ne 0 ]; then
        failed+=("$harness")
        grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$log" | head -5 | sed 's/^/   /'
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]} (inputs in fuzz-artifacts/; logs in Fuzz/.build/*.log)"
    exit 1
fi
echo "fuzz: no crashes"
