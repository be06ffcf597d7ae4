#!/usr/bin/env bash
# The long run of the property suites of every parser of untrusted input (the `prop_*.rs`
# tests: zip records, index pages, requirements files, METADATA/WHEEL/RECORD/entry points,
# cache pointers and records, wheel names and URLs), with many more cases than `cargo test`.
#
# Usage:
#   scripts/fuzz-long.sh -c CASES [-l LOG]          every suite once, CASES cases per property
#   scripts/fuzz-long.sh -m MINUTES [-f FACTOR] [-l LOG]
#                                                   passes over every suite until MINUTES are
#                                                   up; each pass runs a suite with FACTOR times
#                                                   its default cases (default 10)
#   Options: -t SECONDS  a suite run taking longer is a hang, reported as a finding (1800)
#            -l LOG      the log (default /tmp/cairn-fuzz-<date>.log); the output of each
#                        failed run is kept beside it in LOG.d/
#
# The log has one line per suite run (properties, cases, rounds = properties x cases, seconds,
# result) and a summary per suite. A failure (a panic, a wrong answer, a property that does not
# hold) or a hang is a finding: its test names and proptest's minimal failing input are logged,
# proptest saves the case under crates/<crate>/proptest-regressions/ (commit that file with the
# fix, and add a named regression test), and the script exits 1. Every run draws new random
# cases. Set CARGO_TARGET_DIR to build elsewhere; run from anywhere in the repository.
set -euo pipefail

cases=""
minutes=""
factor=10
hang_seconds=1800
log="/tmp/cairn-fuzz-$(date -u +%Y%m%dT%H%M%SZ).log"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
}

while getopts "c:m:f:t:l:h" option; do
    case "$option" in
        c) cases="$OPTARG" ;;
        m) minutes="$OPTARG" ;;
        f) factor="$OPTARG" ;;
        t) hang_seconds="$OPTARG" ;;
        l) log="$OPTARG" ;;
        *) usage ;;
    esac
done
if [[ -z "$cases" && -z "$minutes" ]] || [[ -n "$cases" && -n "$minutes" ]]; then
    echo "fuzz-long: give either -c CASES or -m MINUTES" >&2
    usage
fi
for number in ${cases:+"$cases"} ${minutes:+"$minutes"} "$factor" "$hang_seconds"; do
    if ! [[ "$number" =~ ^[1-9][0-9]*$ ]]; then
        echo "fuzz-long: '$number' is not a positive whole number" >&2
        exit 2
    fi
done

cd "$(dirname "$0")/.."

# crate, test file, default cases per property (the DEFAULT_CASES of the file).
suites=(
    "cairn-types prop_types 512"
    "cairn-zip prop_zip 160"
    "cairn-cache prop_records 256"
    "cairn-python prop_requirements 256"
    "cairn-python prop_metadata 256"
    "cairn-install prop_install_records 48"
    "cairn-index prop_pages 128"
)

mkdir -p "$(dirname "$log")" "$log.d"
: >"$log"
say() { echo "$*" | tee -a "$log"; }

# The property tests of a file: the `fn`s inside its `proptest! { … }` blocks.
properties_of() {
    awk '/^proptest! \{/ { inside = 1; next } inside && /^\}/ { inside = 0 } inside && /^    fn / { n++ } END { print n + 0 }' "$1"
}

say "# cairn fuzz-long: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$cases" ]]; then
    say "# mode: once, $cases cases per property"
else
    say "# mode: $minutes minutes, $factor x default cases per property per pass"
fi

# Built one suite at a time, exactly as each is run below: building them together would unify
# features differently and make every run rebuild.
say "# building"
for suite in "${suites[@]}"; do
    read -r crate test _ <<<"$suite"
    if ! cargo test --no-run -q -p "$crate" --test "$test" >>"$log.d/build.out" 2>&1; then
        say "build of $crate/$test failed: see $log.d/build.out"
        exit 2
    fi
done

declare -A rounds runs failures
findings=0
deadline=$(($(date +%s) + ${minutes:-0} * 60))
pass=0

run_suite() {
    local crate=$1 test=$2 default=$3
    local file="crates/$crate/tests/$test.rs"
    local properties per_property started elapsed status out
    properties=$(properties_of "$file")
    per_property=${cases:-$((default * factor))}
    out="$log.d/$crate-$test-pass$pass.out"
    started=$(date +%s)
    status=0
    PROPTEST_CASES=$per_property timeout --signal=KILL "$hang_seconds" \
        cargo test -q -p "$crate" --test "$test" >"$out" 2>&1 || status=$?
    elapsed=$(($(date +%s) - started))
    local key="$crate/$test"
    runs[$key]=$((${runs[$key]:-0} + 1))
    if [[ $status -eq 0 ]]; then
        rounds[$key]=$((${rounds[$key]:-0} + properties * per_property))
        say "pass=$pass suite=$key properties=$properties cases=$per_property rounds=$((properties * per_property)) seconds=$elapsed result=ok"
        rm -f "$out"
    else
        findings=$((findings + 1))
        failures[$key]=$((${failures[$key]:-0} + 1))
        local what="failed (exit $status)"
        [[ $status -eq 137 ]] && what="hang: killed after ${hang_seconds}s"
        say "pass=$pass suite=$key properties=$properties cases=$per_property seconds=$elapsed result=FINDING $what; output in $out"
        # Each distinct line once: proptest repeats the panic while it shrinks the case.
        grep -E -A1 "^---- |minimal failing input|Test failed:|panicked at" "$out" |
            grep -v -E "^--$|^stack backtrace:" | awk '!seen[$0]++' | head -40 |
            sed 's/^/    /' | tee -a "$log" || true
    fi
}

while :; do
    pass=$((pass + 1))
    for suite in "${suites[@]}"; do
        read -r crate test default <<<"$suite"
        if [[ -n "$minutes" && $(date +%s) -ge $deadline ]]; then
            break 2
        fi
        run_suite "$crate" "$test" "$default"
    done
    [[ -n "$cases" ]] && break
done

say "# summary: suite, runs, rounds (properties x cases of the runs that passed), findings"
for suite in "${suites[@]}"; do
    read -r crate test _ <<<"$suite"
    key="$crate/$test"
    say "summary suite=$key runs=${runs[$key]:-0} rounds=${rounds[$key]:-0} findings=${failures[$key]:-0}"
done
say "# findings: $findings"
[[ $findings -eq 0 ]]
