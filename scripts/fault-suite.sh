#!/usr/bin/env bash
# The fault suite: drives the real `cairn` binary through SIGKILLs at random moments, 16 racing
# installers beside prune and clean, a disk that fills, a misbehaving HTTP server, read-only
# targets and caches, umask 000 and a shared cache; each case states its expected outcome and
# the suite exits 1 when any observed outcome differs. Prints a table: case, iterations,
# expected, observed, result.
#
# Usage: scripts/fault-suite.sh [--short | --long [--minutes N]] [--cairn BIN] [--work DIR]
#                               [--keep] [--only GROUP|WORD]...
#   --short        CI form: a few iterations per case (a few minutes on 2 cores, debug binary).
#                  The default. Uses target/debug/cairn when --cairn is not given (built when
#                  missing).
#   --long         Many iterations, spread over --minutes N (default 15); prints the figures
#                  docs/reliability.md quotes. Builds target/release/cairn when --cairn is not
#                  given.
#   --cairn BIN    The binary to test.
#   --work DIR     Scratch directory (default: a new mktemp dir), removed at the end unless --keep.
#   --only X       Only the group X (kill, race, disk, http, perm) or the SIGKILL cases whose
#                  name contains X (repeatable).
#
# Needs python3 and network access to files.pythonhosted.org for the pinned wheels
# (crates/cairn-test-support/src/pypi.rs; $CAIRN_TEST_WHEELS is reused when it holds them).
# Mount, setpriv and useradd cases need root; without it they are skipped with a message.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=short
minutes=15
cairn=""
work=""
keep=0
only=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

while (($#)); do
    case "$1" in
        --short) mode=short ;;
        --long) mode=long ;;
        --minutes) minutes="${2:?--minutes needs a number}"; shift ;;
        --cairn) cairn="${2:?--cairn needs a path}"; shift ;;
        --work) work="${2:?--work needs a directory}"; shift ;;
        --keep) keep=1 ;;
        --only) only+=(--only "${2:?--only needs a group or word}"); shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "fault-suite: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

command -v python3 >/dev/null || { echo "fault-suite: python3 is required" >&2; exit 2; }

if [[ -z "$cairn" ]]; then
    target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
    if [[ "$mode" == long ]]; then
        (cd "$repo_root" && cargo build -p cairn --release --locked)
        cairn="$target_dir/release/cairn"
    else
        if [[ ! -x "$target_dir/debug/cairn" ]]; then
            (cd "$repo_root" && cargo build -p cairn --locked)
        fi
        cairn="$target_dir/debug/cairn"
    fi
fi
[[ -x "$cairn" ]] || { echo "fault-suite: '$cairn' is not an executable" >&2; exit 2; }

if [[ -z "$work" ]]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fault.XXXXXX")"
fi
mkdir -p "$work"

cleanup() {
    # Mounts the suite made under the work dir go first (a case cut short may leave one).
    local point
    if [[ -d "$work" ]] && command -v findmnt >/dev/null; then
        while read -r point; do
            if [[ "$point" == "$work"/* ]]; then
                umount -l "$point" 2>/dev/null || true
            fi
        done < <(findmnt -rn -o TARGET | sort -r)
    fi
    if ((keep)); then
        echo "fault-suite: kept $work"
    else
        chmod -R u+w "$work" 2>/dev/null || true
        rm -rf "$work"
    fi
}
trap cleanup EXIT

args=(--cairn "$cairn" --work "$work" --repo "$repo_root" ${only[@]+"${only[@]}"})
if [[ "$mode" == long ]]; then
    args+=(--long --minutes "$minutes")
fi
PYTHONDONTWRITEBYTECODE=1 python3 "$repo_root/scripts/fault/suite.py" "${args[@]}"
