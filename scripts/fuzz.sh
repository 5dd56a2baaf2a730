#!/usr/bin/env bash
# Fuzzing with libFuzzer (docs/benchmarks.md, "Fuzzing"): builds the targets of Fuzz/ with the
# fuzzer and address sanitizer (in .build-fuzz), then runs each for SECONDS over its committed
# seed corpus (Fuzz/Corpus/TARGET, read only; new inputs go to a scratch directory). An input
# that crashes, leaks past the RSS limit or takes over 1 s fails the run; its bytes are kept in
# .build-fuzz/artifacts/ (turn each into a regression test). Leak detection is off: the one
# leak LeakSanitizer reports is in compiling rules (Swift's Regex parser among it), once per
# rules load, not per input.
#   scripts/fuzz.sh                 60 s per target
#   scripts/fuzz.sh 600 FuzzRules   one target, ten minutes
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(FuzzJSON FuzzPayload FuzzPhone FuzzTemplate FuzzEngine FuzzRules FuzzIntake)
fi
flags=(-c release --package-path Fuzz --build-path .build-fuzz --sanitize fuzzer --sanitize address -Xswiftc -parse-as-library)
swift build "${flags[@]}" >/dev/null
bin="$(swift build "${flags[@]}" --show-bin-path)"
mkdir -p .build-fuzz/artifacts
failed=0
for t in "${targets[@]}"; do
    scratch="$(mktemp -d)"
    log="$(mktemp)"
    if ASAN_OPTIONS="detect_leaks=0" "$bin/$t" "$scratch" "Fuzz/Corpus/$t" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -detect_leaks=0 \
        -artifact_prefix=".build-fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1; then
        runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')"
        slowest="$(grep -Eo 'slowest_unit_time_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)"
        echo "fuzz: $t: $runs executions in ${seconds} s, 0 crashes, slowest input ${slowest} s"
    else
        failed=1
        echo "fuzz: $t: FAILED"
        grep -E 'ERROR|SUMMARY|Test unit written|Fatal error|timeout' "$log" | head -20
    fi
    rm -rf "$scratch" "$log"
done
exit $failed
