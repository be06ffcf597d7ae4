#!/usr/bin/env bash
# Install real wheels with pip --target, uv --target and cairn side by side and report, file by
# file, where the three trees differ.
#
# Usage: scripts/compare-installers.sh [--max-bytes N] [--out FILE] [--keep] [WHEEL[,WHEEL...]]...
#
#   --max-bytes N  leave out corpus wheels larger than N bytes (default 40000000: no torch)
#   --out FILE     write the markdown report to FILE (default: standard output)
#   --keep         keep the scratch directory (wheels, targets, logs)
#   WHEEL          a wheel file to install; `a.whl,b.whl` installs several in one command.
#                  Without any, the cases are: each wheel of the corpus (scripts/fetch-corpus.sh)
#                  and of scripts/compare/wheels.tsv alone, then in one command each the
#                  nvidia pair and the backports pair (which share an identical `__init__.py`)
#                  and jwt + pyjwt (which both write `jwt/__init__.py`, with different content).
#
# What it does:
#   1. builds cairn (`cargo build --release -p cairn`, honouring CARGO_TARGET_DIR);
#   2. fetches the corpus into corpus/, and the wheels of scripts/compare/wheels.tsv with
#      `pip download --no-deps --only-binary=:all: --require-hashes` into the scratch directory;
#   3. installs uv $UV_VERSION (default 0.13.9) from PyPI into a throwaway venv;
#   4. installs each case three times, each into a fresh target, offline, without dependencies,
#      all for the real interpreter behind `python3` (not a pyenv shim):
#        pip:   python -m pip install --isolated --no-deps --no-index --no-compile --target A
#        uv:    uv pip install --no-config --no-deps --no-index --offline --python PY --target B
#        cairn: cairn --offline install --python PY --target C
#      pip compiles `.pyc` files by default, even with --target; uv and cairn do not, hence
#      --no-compile (and `__pycache__` is left out of the comparison anyway);
#   5. compares the trees with scripts/compare/compare.py: paths, file types and symlinks,
#      sha256 of contents (interpreter of `#!…python` lines normalised; shebangs compared on
#      their own), executable bits, and in dist-info RECORD rows as sets, INSTALLER,
#      direct_url.json and REQUESTED; and prints the report.
#
# A tool that fails a case is reported with the end of its output; the others are still compared.
# Scratch data lives in a temporary directory under ${TMPDIR:-/tmp}, removed at exit.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helpers="$repo_root/scripts/compare"
uv_version="${UV_VERSION:-0.13.9}"
max_bytes=40000000
out=""
keep=0
cases_given=()
invocation="scripts/compare-installers.sh${*:+ $*}"

die() {
    echo "compare-installers: error: $*" >&2
    exit 1
}

note() {
    echo "compare-installers: $*" >&2
}

usage() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

while (($# > 0)); do
    case "$1" in
        --max-bytes | --out)
            (($# >= 2)) || die "$1 needs a value"
            case "$1" in
                --max-bytes)
                    [[ "$2" =~ ^[0-9]+$ ]] || die "--max-bytes takes a whole number, not '$2'"
                    max_bytes="$2"
                    ;;
                --out) out="$(realpath -m -- "$2")" ;;
            esac
            shift 2
            ;;
        --keep)
            keep=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            usage >&2
            die "unknown argument '$1'"
            ;;
        *)
            spec=""
            IFS=',' read -r -a parts <<<"$1"
            for part in "${parts[@]}"; do
                [[ -f "$part" ]] || die "no wheel file '$part'"
                spec+="${spec:+,}$(realpath -- "$part")"
            done
            cases_given+=("$spec")
            shift
            ;;
    esac
done

for tool in cargo python3 git sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
python3 -c 'import venv' 2>/dev/null || die "python3 cannot create venvs (Debian: apt-get install -y python3-venv)"

# The interpreter itself, not a pyenv shim in front of it: all three tools get this one.
python="$(python3 -c 'import sys; print(sys.executable)')"
[[ -x "$python" ]] || die "python3 reports sys.executable '$python', which is not executable"
"$python" -m pip --version >/dev/null 2>&1 || die "$python has no pip"

# Nothing from the caller's environment may steer any tool.
while IFS= read -r variable; do
    unset "$variable"
done < <(env | sed -n 's/^\(\(UV\|CAIRN\|PIP\)_[A-Za-z0-9_]*\)=.*/\1/p')
export NO_COLOR=1

scratch="$(mktemp -d -- "${TMPDIR:-/tmp}/compare-installers.XXXXXX")"
cleanup() {
    local status=$?
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
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---------------------------------------------------------------------------------------------
# 1. Build cairn.
note "building cairn (release)"
(cd "$repo_root" && cargo build --release --quiet -p cairn) || die "cargo build --release -p cairn failed"
cairn="${CARGO_TARGET_DIR:-$repo_root/target}/release/cairn"
[[ "$cairn" == /* ]] || cairn="$repo_root/$cairn"
[[ -x "$cairn" ]] || die "the build left no executable at $cairn (is CARGO_TARGET_DIR set differently?)"

# ---------------------------------------------------------------------------------------------
# 2. The wheels, unless the cases were given.
cases=()
if ((${#cases_given[@]} > 0)); then
    cases=("${cases_given[@]}")
else
    corpus_dir="$repo_root/corpus"
    note "fetching the corpus (wheels up to $max_bytes bytes)"
    fetch_log="$scratch/fetch-corpus.log"
    "$repo_root/scripts/fetch-corpus.sh" --dir "$corpus_dir" --max-bytes "$max_bytes" >"$fetch_log" 2>&1 ||
        { cat -- "$fetch_log" >&2; die "scripts/fetch-corpus.sh failed"; }
    # "fetched NAME..." / "present NAME..." lines name the wheels now in corpus/.
    while IFS= read -r filename; do
        cases+=("$corpus_dir/$filename")
    done < <(awk '$1 == "fetched" || $1 == "present" { print $2 }' "$fetch_log")

    wheels_dir="$scratch/wheels"
    mkdir -p "$wheels_dir"
    requirements="$scratch/requirements.txt"
    declare -A pinned=()
    while IFS=$'\t' read -r name version filename sha256 || [[ -n "${name:-}" ]]; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        printf '%s==%s --hash=sha256:%s\n' "$name" "$version" "$sha256" >>"$requirements"
        pinned[$name]="$wheels_dir/$filename"
    done <"$helpers/wheels.tsv"
    note "downloading the pinned wheels of scripts/compare/wheels.tsv"
    "$python" -m pip download --isolated --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --require-hashes -r "$requirements" -d "$wheels_dir" >&2 ||
        die "pip download of scripts/compare/wheels.tsv failed"
    for name in "${!pinned[@]}"; do
        [[ -f "${pinned[$name]}" ]] || die "pip download left no ${pinned[$name]}"
    done
    for name in docutils greenlet ipykernel nvidia-nvtx-cu12 nvidia-cuda-runtime-cu12 \
        backports.tarfile backports.functools-lru-cache; do
        cases+=("${pinned[$name]}")
    done
    cases+=("${pinned[nvidia-nvtx-cu12]},${pinned[nvidia-cuda-runtime-cu12]}")
    cases+=("${pinned[backports.tarfile]},${pinned[backports.functools-lru-cache]}")
    cases+=("${pinned[jwt]},${pinned[pyjwt]}")
fi
((${#cases[@]} > 0)) || die "no wheel to install"

# ---------------------------------------------------------------------------------------------
# 3. uv.
uv_venv="$scratch/venv-uv"
note "installing uv==$uv_version into a throwaway venv"
python3 -m venv "$uv_venv" || die "python3 -m venv $uv_venv failed"
"$uv_venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$uv_version" >&2 ||
    die "pip install uv==$uv_version failed"
uv="$uv_venv/bin/uv"
[[ -x "$uv" ]] || die "pip installed uv==$uv_version without a uv executable"

# Sets the array `cmd` to TOOL's command installing WHEELS into TARGET.
tool_command() {
    local tool="$1" target="$2"
    shift 2
    case "$tool" in
        pip)
            cmd=("$python" -m pip install --isolated --quiet --disable-pip-version-check
                --no-deps --no-index --no-compile --target "$target" "$@")
            ;;
        uv)
            cmd=("$uv" pip install --quiet --no-config --no-deps --no-index --offline
                --cache-dir "$scratch/cache-uv" --python "$python" --target "$target" "$@")
            ;;
        cairn)
            cmd=("$cairn" --cache-dir "$scratch/cache-cairn" --offline --quiet install
                --python "$python" --target "$target" "$@")
            ;;
        *) die "unknown tool $tool" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# 4. Install every case with every tool.
cases_tsv="$scratch/cases.tsv"
printf 'case\twheels\ttool\tstatus\ttarget\tlog\n' >"$cases_tsv"
number=0
for spec in "${cases[@]}"; do
    number=$((number + 1))
    IFS=',' read -r -a wheels <<<"$spec"
    names=()
    label=""
    for wheel in "${wheels[@]}"; do
        base="$(basename -- "$wheel")"
        names+=("$base")
        # NAME-VERSION from the file name.
        project="${base%%-*}" rest="${base#*-}"
        label+="${label:+ + }$project ${rest%%-*}"
    done
    for tool in pip uv cairn; do
        target="$scratch/case-$number/$tool"
        log="$scratch/case-$number/$tool.log"
        mkdir -p "$scratch/case-$number"
        tool_command "$tool" "$target" "${wheels[@]}"
        status=0
        "${cmd[@]}" </dev/null >"$log" 2>&1 || status=$?
        mkdir -p "$target"
        note "$label: $tool exited with $status"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "${names[*]}" "$tool" "$status" "$target" "$log" >>"$cases_tsv"
    done
done

# ---------------------------------------------------------------------------------------------
# 5. Compare and report.
meta="$scratch/meta.tsv"
{
    printf 'started\t%s\n' "$started_at"
    printf 'finished\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'command\t%s\n' "$invocation"
    printf 'python\t%s\n' "$("$python" --version 2>&1) (\`$python\`)"
    printf 'pip_version\t%s\n' "$("$python" -m pip --version | cut -d' ' -f1-2)"
    printf 'uv_version\t%s\n' "$("$uv" --version)"
    printf 'cairn_version\t%s\n' "$("$cairn" --version)"
    printf 'cairn_commit\t%s\n' "$(git -C "$repo_root" rev-parse --short HEAD)$(git -C "$repo_root" diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo ' (with uncommitted changes)')"
    for tool in pip uv cairn; do
        tool_command "$tool" TARGET WHEEL.whl
        line="${cmd[*]}"
        line="${line//$scratch/\$SCRATCH}"
        printf 'command_%s\t%s\n' "$tool" "${line//$repo_root/.}"
    done
} >"$meta"

compare_args=(--cases "$cases_tsv" --meta "$meta" --scratch "$scratch")
[[ -n "$out" ]] && compare_args+=(--out "$out")
python3 "$helpers/compare.py" "${compare_args[@]}" || die "scripts/compare/compare.py failed"
