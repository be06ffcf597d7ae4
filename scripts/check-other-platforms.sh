#!/usr/bin/env bash
# Type-checks and lints the crates with platform-specific code for targets this machine cannot
# run: macOS and Windows. Where Linux uses linkat, copy_file_range and FS_TOPDIR_FL, other
# systems take fallbacks that no build on this machine compiles otherwise.
#
# Usage: scripts/check-other-platforms.sh
#
# Downloads the targets' standard libraries with rustup on first use. cairn-distribution and
# the CLI are left out: their TLS stack (ring) needs a C cross-compiler to build.
# Uses CARGO_TARGET_DIR if set, else target-xcheck/ at the repository root (so that the host
# build's artifacts are not invalidated).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target-xcheck}"

for target in x86_64-apple-darwin x86_64-pc-windows-gnu; do
    rustup target add "$target" >/dev/null
    echo "==> $target: cairn-cache-key, cairn-fs (with tests), cairn-cache"
    cargo clippy --locked --quiet --target "$target" -p cairn-cache-key -p cairn-fs --all-targets -- -D warnings
    cargo clippy --locked --quiet --target "$target" -p cairn-cache -- -D warnings
done
echo "ok"
