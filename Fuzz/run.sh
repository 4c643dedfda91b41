#!/usr/bin/env bash
# Builds the libFuzzer targets (address sanitizer on) and runs each for a number of executions.
#
#   Fuzz/run.sh [RUNS] [TARGET…]     RUNS defaults to 1000000; targets default to all of them
#
# New inputs go to Fuzz/.work/<target>/ (the committed seeds in Fuzz/corpus/<target>/ are only
# read), crashes, timeouts and out-of-memory inputs to Fuzz/findings/<target>/, logs to
# Fuzz/.work/<target>.log. Prints one line per target: executions, seconds, findings.
# Replay one input: Fuzz/.build/release/FuzzSafetensors Fuzz/findings/safetensors/crash-….
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${1:-1000000}
shift || true
ALL=(safetensors tokenizer jsonl template gguf)
TARGETS=("${@:-${ALL[@]}}")
declare -A EXE=([safetensors]=FuzzSafetensors [tokenizer]=FuzzTokenizer [jsonl]=FuzzJSONL [template]=FuzzTemplate [gguf]=FuzzGGUF)
declare -A DICT=([safetensors]=json [tokenizer]=json [jsonl]=json [template]=jinja [gguf]=gguf)
declare -A MAXLEN=([safetensors]=4096 [tokenizer]=8192 [jsonl]=4096 [template]=4096 [gguf]=8192)

swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >&2
BIN=$(swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -g --show-bin-path)

status=0
for t in "${TARGETS[@]}"; do
    mkdir -p ".work/$t" "findings/$t"
    log=".work/$t.log"
    # Errors thrown are fine; crashes, sanitizer reports, >10 s per input or >2 GiB RSS /
    # >256 MiB in one allocation (from an input of at most a few KiB) are findings.
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 \
    "$BIN/${EXE[$t]}" ".work/$t" "corpus/$t" -runs="$RUNS" -max_len="${MAXLEN[$t]}" -dict="dict/${DICT[$t]}.dict" \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1 \
        -artifact_prefix="findings/$t/" >"$log" 2>&1 || status=1
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    found=$(find "findings/$t" -type f | wc -l)
    echo "$t: executions $runs, seconds $secs, coverage $cov, findings $found"
done
exit $status
