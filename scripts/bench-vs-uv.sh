#!/usr/bin/env bash
# Benchmark `cairn install` against `uv pip install`, side by side, on the real wheels of the corpus.
#
# Usage: scripts/bench-vs-uv.sh [--runs N] [--quick] [--max-bytes N] [--procs N] [--warmup N]
#                               [--out FILE] [--keep]
#
#   --runs N       timed runs per tool and case (default 5; --quick: 3)
#   --quick        leave out torch and run fewer times: a run of a couple of minutes
#   --max-bytes N  leave out wheels larger than N bytes (passed to scripts/fetch-corpus.sh)
#   --procs N      processes racing for one wheel in the concurrency case (default 8)
#   --warmup N     untimed rounds before each case's timed runs (default 1)
#   --out FILE     the report to write (default docs/benchmarks.md; the chart goes beside it,
#                  with the extension .svg)
#   --keep         keep the scratch directory (caches, targets, logs, raw results)
#
# What it does:
#   1. builds cairn (`cargo build --release -p cairn`, honouring CARGO_TARGET_DIR);
#   2. fetches the corpus with scripts/fetch-corpus.sh into corpus/;
#   3. installs uv $UV_NEW (default 0.13.9) and uv $UV_OLD (default 0.8.24) from PyPI into two
#      throwaway venvs (`python3 -m venv`, pip);
#   4. times, for each tool, interleaved run by run (cairn, uv new, uv old, then the next run
#      with the order rotated), each timed run preceded by an untimed preparation that deletes
#      what the case must not find (cache, target) and runs `sync`:
#        - cold: each wheel into an empty cache and a new target (hardlink mode for both tools);
#        - warm: each wheel from a populated cache into a new target, --link-mode hardlink, copy;
#        - all wheels in one command, cold and warm (hardlink);
#        - --procs processes installing the largest wheel (torch) at once into one empty cache,
#          each into its own target: wall time of the whole race, and the number of unpacked
#          copies of the wheel left in the cache's archive bucket (uv old, which leaves one copy
#          per process, races after the others: see bench_race);
#      Wall time comes from `date +%s.%N` around each process, peak RSS from `/usr/bin/time`.
#   5. prints a table of medians and writes the report (date, machine, load, versions, command,
#      table, SVG chart) to --out.
#
# Both tools get the real interpreter behind `python3` (not a pyenv shim) and --offline; uv also
# gets --no-index, --no-deps and --no-config. Scratch data lives in a temporary directory on the
# repository's filesystem (so hard links work and tmpfs does not flatter anyone), removed at exit.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helpers="$repo_root/scripts/bench"
uv_new="${UV_NEW:-0.13.9}"
uv_old="${UV_OLD:-0.8.24}"
runs=""
quick=0
max_bytes=""
procs=8
warmup=1
out="$repo_root/docs/benchmarks.md"
keep=0
invocation="scripts/bench-vs-uv.sh${*:+ $*}"

die() {
    echo "bench-vs-uv: error: $*" >&2
    exit 1
}

note() {
    echo "bench-vs-uv: $*" >&2
}

usage() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

whole_number() {
    [[ "$2" =~ ^[0-9]+$ ]] || die "$1 takes a whole number, not '$2'"
}

while (($# > 0)); do
    case "$1" in
        --runs | --max-bytes | --procs | --warmup | --out)
            (($# >= 2)) || die "$1 needs a value"
            case "$1" in
                --runs) whole_number "$1" "$2" && runs="$2" ;;
                --max-bytes) whole_number "$1" "$2" && max_bytes="$2" ;;
                --procs) whole_number "$1" "$2" && procs="$2" ;;
                --warmup) whole_number "$1" "$2" && warmup="$2" ;;
                --out) out="$(realpath -m -- "$2")" ;;
            esac
            shift 2
            ;;
        --quick)
            quick=1
            shift
            ;;
        --keep)
            keep=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown argument '$1'"
            ;;
    esac
done
if [[ -z "$runs" ]]; then
    runs=$((quick ? 3 : 5))
fi
((runs >= 1)) || die "--runs must be at least 1"
((procs >= 1)) || die "--procs must be at least 1"

for tool in cargo python3 sync findmnt git; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required for peak memory (Debian: apt-get install -y time)"
python3 -c 'import venv' 2>/dev/null || die "python3 cannot create venvs (Debian: apt-get install -y python3-venv)"

# The corpus list, as scripts/fetch-corpus.sh finds it.
corpus_tsv="${CAIRN_CORPUS_TSV:-$repo_root/benches/data/corpus.tsv}"
[[ -r "$corpus_tsv" ]] || die "cannot read the corpus list '$corpus_tsv' (set CAIRN_CORPUS_TSV to its path)"

# ---------------------------------------------------------------------------------------------
# 1. Build cairn.
note "building cairn (release)"
(cd "$repo_root" && cargo build --release --quiet -p cairn) || die "cargo build --release -p cairn failed"
cairn="${CARGO_TARGET_DIR:-$repo_root/target}/release/cairn"
[[ "$cairn" == /* ]] || cairn="$repo_root/$cairn"
[[ -x "$cairn" ]] || die "the build left no executable at $cairn (is CARGO_TARGET_DIR set differently?)"

# ---------------------------------------------------------------------------------------------
# 2. The corpus: every wheel of the list, less torch with --quick and big ones with --max-bytes.
names=()
versions=()
filenames=()
sizes=()
line_number=0
while IFS=$'\t' read -r name version filename bytes _rest || [[ -n "${name:-}" ]]; do
    line_number=$((line_number + 1))
    ((line_number == 1)) && continue
    [[ -z "$name" ]] && continue
    ((quick)) && [[ "$name" == torch ]] && continue
    [[ -n "$max_bytes" ]] && ((bytes > max_bytes)) && continue
    names+=("$name")
    versions+=("$version")
    filenames+=("$filename")
    sizes+=("$bytes")
done <"$corpus_tsv"
((${#names[@]} > 0)) || die "no wheel of $corpus_tsv is left to benchmark (check --max-bytes)"

corpus_dir="$repo_root/corpus"
fetch_args=(--dir "$corpus_dir")
for name in "${names[@]}"; do
    fetch_args+=(--only "$name")
done
note "fetching the corpus: ${names[*]}"
"$repo_root/scripts/fetch-corpus.sh" "${fetch_args[@]}" >&2 || die "scripts/fetch-corpus.sh failed"

# ---------------------------------------------------------------------------------------------
# Scratch space on the repository's filesystem: hard links need one filesystem, and a tmpfs
# /tmp would time memory, not a disk.
tmp_base="${TMPDIR:-/tmp}"
if [[ ! -d "$tmp_base" ]] || [[ "$(stat -c %d -- "$tmp_base")" != "$(stat -c %d -- "$repo_root")" ]]; then
    tmp_base="$repo_root"
fi
scratch="$(mktemp -d -- "$tmp_base/bench-vs-uv.XXXXXX")"
cleanup() {
    local status=$?
    # Background racers of an interrupted concurrency case must not outlive the script.
    local pids
    pids="$(jobs -p)"
    if [[ -n "$pids" ]]; then
        # shellcheck disable=SC2086 # one pid per word
        kill $pids 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    if ((keep)); then
        note "kept the scratch directory $scratch"
    else
        rm -rf -- "$scratch"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fstype="$(findmnt -n -o FSTYPE -T "$scratch")"
note "scratch directory $scratch ($fstype)"

# ---------------------------------------------------------------------------------------------
# 3. uv, two releases, each in its own venv.
install_uv() {
    local version="$1" venv="$scratch/venv-uv-$1"
    note "installing uv==$version into a throwaway venv"
    python3 -m venv "$venv" || die "python3 -m venv $venv failed"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version" >&2 ||
        die "pip install uv==$version failed"
    [[ -x "$venv/bin/uv" ]] || die "pip installed uv==$version without a uv executable"
}
install_uv "$uv_new"
install_uv "$uv_old"
uv_new_bin="$scratch/venv-uv-$uv_new/bin/uv"
uv_old_bin="$scratch/venv-uv-$uv_old/bin/uv"

# The interpreter itself: a pyenv shim in front of it would add a shell script to every query.
python="$(python3 -c 'import sys; print(sys.executable)')"
[[ -x "$python" ]] || die "python3 reports sys.executable '$python', which is not executable"

# Nothing from the caller's environment may steer either tool.
while IFS= read -r variable; do
    unset "$variable"
done < <(env | sed -n 's/^\(\(UV\|CAIRN\)_[A-Za-z0-9_]*\)=.*/\1/p')

tools=(cairn "uv-$uv_new" "uv-$uv_old")

# Sets the array `cmd` to TOOL's command installing SPECS into TARGET through CACHE.
# MODE is a link mode, passed to both tools.
tool_command() {
    local tool="$1" cache="$2" target="$3" mode="$4"
    shift 4
    case "$tool" in
        cairn)
            cmd=("$cairn" --cache-dir "$cache" --offline --quiet install
                --find-links "$corpus_dir" --target "$target" --python "$python"
                --link-mode "$mode" "$@")
            ;;
        uv-*)
            local bin="$uv_new_bin"
            [[ "$tool" == "uv-$uv_old" ]] && bin="$uv_old_bin"
            cmd=("$bin" pip install --quiet --no-config --python "$python" --target "$target"
                --cache-dir "$cache" --offline --no-index --no-deps --find-links "$corpus_dir"
                --link-mode "$mode" "$@")
            ;;
        *) die "unknown tool $tool" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# 4. Timing.
results="$scratch/results.tsv"
printf 'case\tlabel\ttool\trun\tseconds\trss_kb\tcopies\tload1\n' >"$results"
logs="$scratch/logs"
mkdir -p "$logs"

now() {
    date +%s.%N
}

elapsed() {
    awk -v start="$1" -v end="$2" 'BEGIN { printf "%.4f", end - start }'
}

load1() {
    cut -d' ' -f1 /proc/loadavg
}

fail_with_log() {
    local log="$1"
    shift
    echo "---- last lines of $log" >&2
    tail -n 20 -- "$log" >&2 || true
    die "$*"
}

# The dist-info directory a wheel installs, from its file name: NAME-VERSION.dist-info.
dist_info_of() {
    local filename="$1"
    local name="${filename%%-*}" rest="${filename#*-}"
    echo "$name-${rest%%-*}.dist-info"
}

# Runs TOOL once through /usr/bin/time, checks that TARGET holds every DIST_INFO, and prints
# "SECONDS RSS_KB".
run_once() {
    local log="$1" target="$2" dist_infos="$3"
    shift 3
    local rss_file="$log.rss" start end info
    start="$(now)"
    if ! /usr/bin/time -f '%M' -o "$rss_file" "$@" </dev/null >"$log" 2>&1; then
        fail_with_log "$log" "command failed: $*"
    fi
    end="$(now)"
    for info in $dist_infos; do
        [[ -d "$target/$info" ]] || fail_with_log "$log" "$target has no $info after: $*"
    done
    echo "$(elapsed "$start" "$end") $(tail -n 1 -- "$rss_file")"
}

# The untimed preparation before each run: delete what the case must not find, then flush
# the previous run's writes so that they are not charged to this one.
prepare() {
    rm -rf -- "$@"
    sync
}

# Orders the tools for run number RUN: rotated, so that no tool always goes first.
rotation() {
    local run="$1" count=${#tools[@]} i
    for ((i = 0; i < count; i++)); do
        echo "${tools[$(((run + i) % count))]}"
    done
}

record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
}

# One case: CASE LABEL KIND MODE SPECS... where KIND is cold (empty cache, new target) or warm
# (the tool's populated cache, new target).
bench_case() {
    local case_id="$1" label="$2" kind="$3" mode="$4"
    shift 4
    local specs=("$@") dist_infos="" spec i
    for spec in "${specs[@]}"; do
        for i in "${!names[@]}"; do
            if [[ "${names[$i]}==${versions[$i]}" == "$spec" ]]; then
                dist_infos+=" $(dist_info_of "${filenames[$i]}")"
            fi
        done
    done
    local total=$((warmup + runs)) run tool cache target log measured
    for ((run = 1; run <= total; run++)); do
        local timed=$((run > warmup)) number=$((run - warmup))
        while IFS= read -r tool; do
            target="$scratch/target"
            if [[ "$kind" == cold ]]; then
                cache="$scratch/cache"
                prepare "$cache" "$target"
            else
                cache="$scratch/warm-cache-$tool"
                prepare "$target"
            fi
            tool_command "$tool" "$cache" "$target" "$mode" "${specs[@]}"
            log="$logs/$case_id.$tool.$run.log"
            measured="$(run_once "$log" "$target" "$dist_infos" "${cmd[@]}")"
            if ((timed)); then
                record "$case_id" "$label" "$tool" "$number" "${measured% *}" "${measured#* }" "" "$(load1)"
                note "$label  $tool  run $number/$runs: ${measured% *} s, ${measured#* } KiB"
            else
                note "$label  $tool  warm-up: ${measured% *} s"
            fi
        done < <(rotation "$run")
    done
    prepare "$scratch/cache" "$scratch/target"
}

# PROCS processes install one wheel at once into one empty cache, each into its own target.
# uv 0.8.24 leaves PROCS unpacked copies (some 100,000 inodes for torch). Deleting them right
# before another tool's run would charge that run for ext4 stepping over the freshly freed
# inodes one by one (`recently_deleted`, for a minute after a delete on a file system without a
# journal, like this one), seconds of system time. So the tools that keep one copy alternate,
# and uv 0.8.24 runs after them.
bench_race() {
    local case_id="$1" label="$2" index="$3"
    local run tool
    for ((run = 1; run <= runs; run++)); do
        while IFS= read -r tool; do
            [[ "$tool" == "uv-$uv_old" ]] || race_once "$case_id" "$label" "$index" "$tool" "$run"
        done < <(rotation "$run")
    done
    for ((run = 1; run <= runs; run++)); do
        race_once "$case_id" "$label" "$index" "uv-$uv_old" "$run"
    done
    prepare "$scratch/cache" "$scratch/race"
}

# One timed race of TOOL: CASE LABEL INDEX TOOL RUN.
race_once() {
    local case_id="$1" label="$2" index="$3" tool="$4" run="$5"
    local spec="${names[$index]}==${versions[$index]}"
    local dist_info
    dist_info="$(dist_info_of "${filenames[$index]}")"
    local cache="$scratch/cache" p
    prepare "$cache" "$scratch/race"
    mkdir -p "$scratch/race"
    local start end pids=()
    start="$(now)"
    for ((p = 1; p <= procs; p++)); do
        tool_command "$tool" "$cache" "$scratch/race/target-$p" hardlink "$spec"
        /usr/bin/time -f '%M' -o "$scratch/race/$p.rss" "${cmd[@]}" \
            </dev/null >"$scratch/race/$p.log" 2>&1 &
        pids+=($!)
    done
    local failed=0
    for p in "${!pids[@]}"; do
        wait "${pids[$p]}" || failed=$((p + 1))
    done
    end="$(now)"
    if ((failed)); then
        cp -- "$scratch/race/$failed.log" "$logs/$case_id.$tool.$run.$failed.log"
        fail_with_log "$logs/$case_id.$tool.$run.$failed.log" "$tool: racer $failed of $procs failed"
    fi
    local rss=0 value
    for ((p = 1; p <= procs; p++)); do
        [[ -d "$scratch/race/target-$p/$dist_info" ]] ||
            fail_with_log "$scratch/race/$p.log" "$tool: racer $p left no $dist_info"
        value="$(tail -n 1 -- "$scratch/race/$p.rss")"
        if ((value > rss)); then
            rss="$value"
        fi
    done
    # Unpacked copies: directories of the archive bucket that hold the wheel's dist-info.
    local copies
    copies="$(find "$cache/archive-v0" -mindepth 2 -maxdepth 4 -type d -name "$dist_info" | wc -l)"
    local seconds
    seconds="$(elapsed "$start" "$end")"
    record "$case_id" "$label" "$tool" "$run" "$seconds" "$rss" "$copies" "$(load1)"
    note "$label  $tool  run $run/$runs: $seconds s, max $rss KiB, $copies unpacked copies"
}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
all_specs=()
for i in "${!names[@]}"; do
    all_specs+=("${names[$i]}==${versions[$i]}")
done

# Populated caches for the warm cases: every wheel, installed once, untimed.
for tool in "${tools[@]}"; do
    note "populating the warm cache of $tool"
    tool_command "$tool" "$scratch/warm-cache-$tool" "$scratch/target" hardlink "${all_specs[@]}"
    "${cmd[@]}" </dev/null >"$logs/populate.$tool.log" 2>&1 ||
        fail_with_log "$logs/populate.$tool.log" "populating the warm cache of $tool failed"
    prepare "$scratch/target"
done

for i in "${!names[@]}"; do
    spec="${names[$i]}==${versions[$i]}"
    bench_case "cold-${names[$i]}" "cold ${names[$i]}" cold hardlink "$spec"
    bench_case "warm-hardlink-${names[$i]}" "warm ${names[$i]} (hardlink)" warm hardlink "$spec"
    bench_case "warm-copy-${names[$i]}" "warm ${names[$i]} (copy)" warm copy "$spec"
done
if ((${#names[@]} > 1)); then
    bench_case cold-all "cold all ${#names[@]} wheels" cold hardlink "${all_specs[@]}"
    bench_case warm-all "warm all ${#names[@]} wheels (hardlink)" warm hardlink "${all_specs[@]}"
fi

largest=0
for i in "${!names[@]}"; do
    if ((sizes[i] > sizes[largest])); then
        largest="$i"
    fi
done
bench_race race "$procs× ${names[$largest]} at once, one cold cache" "$largest"

finished_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------
# 5. Report.
meta="$scratch/meta.tsv"
{
    printf 'started\t%s\n' "$started_at"
    printf 'finished\t%s\n' "$finished_at"
    printf 'command\t%s\n' "$invocation"
    printf 'quick\t%s\n' "$quick"
    printf 'runs\t%s\n' "$runs"
    printf 'warmup\t%s\n' "$warmup"
    printf 'procs\t%s\n' "$procs"
    printf 'race_wheel\t%s\n' "${names[$largest]}"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'memory\t%s\n' "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'filesystem\t%s\n' "$fstype"
    printf 'load_start\t%s\n' "$load_start"
    printf 'load_end\t%s\n' "$load_end"
    printf 'python\t%s\n' "$("$python" --version 2>&1) ($python)"
    printf 'cairn_version\t%s\n' "$("$cairn" --version)"
    printf 'cairn_commit\t%s\n' "$(git -C "$repo_root" rev-parse --short HEAD)$(git -C "$repo_root" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' (with uncommitted changes)')"
    printf 'uv_new\t%s\n' "$("$uv_new_bin" --version)"
    printf 'uv_old\t%s\n' "$("$uv_old_bin" --version)"
    printf 'tools\t%s\n' "${tools[*]}"
    printf 'wheels\t%s\n' "${all_specs[*]}"
    for tool in "${tools[@]}"; do
        tool_command "$tool" CACHE TARGET hardlink "${names[0]}==${versions[0]}"
        line="${cmd[*]}"
        line="${line//$scratch/\$SCRATCH}"
        printf 'command_%s\t%s\n' "$tool" "${line//$repo_root/.}"
    done
} >"$meta"

python3 "$helpers/report.py" --results "$results" --meta "$meta" --repo "$repo_root" \
    --out "$out" || die "scripts/bench/report.py failed (rerun with --keep to keep $results)"
