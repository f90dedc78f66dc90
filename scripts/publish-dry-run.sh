#!/usr/bin/env bash
# What `cargo publish` would upload: each crate's files, built from the packaged
# copies alone (gemmkit against the packaged gemmkit-generated, through cargo's
# local overlay of the workspace's packages).
#
# Cargo treats a packaged version as immutable. It unpacks the overlay's crates
# under $CARGO_HOME/registry/src/-<hash of the target folder>/ and never unpacks
# a version it has seen there again, and it keeps their builds in the target
# folder. So a second dry run at the same version, after the code changed, would
# verify the new gemmkit against the old gemmkit-generated (CI failed so once,
# where CARGO_HOME outlived a run). Both are removed first; the dry run builds in
# its own target folder, so the workspace's builds are left alone.
# --allow-dirty: the contents are checked, not the git state.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}/publish-dry-run
rm -rf "$target" "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/gemmkit*
CARGO_TARGET_DIR=$target cargo publish -q --dry-run --allow-dirty --workspace "$@"
