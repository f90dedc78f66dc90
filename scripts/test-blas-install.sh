#!/usr/bin/env bash
# Tests scripts/install-blas.sh on the library that `cargo build --release -p
# gemmkit-blas` built, in temporary folders (seconds; no root needed):
#  1. a staged install (DESTDIR) lays out the library, its symlinks, the header
#     and a .pc file that names PREFIX, not DESTDIR;
#  2. an install into a temporary PREFIX: capi/tests/smoke.c is compiled with
#     `pkg-config --cflags --libs gemmkit-blas` alone, loads the library by its
#     SONAME from that prefix, and passes; so do the guide's examples,
#     capi/examples/gemm.c (also built with pkg-config) and gemm_ctypes.py
#     (/usr/bin/python3, ctypes);
#  3. uninstall removes every file it installed.
#
#   scripts/test-blas-install.sh        (CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

# The crate's version, as install-blas.sh reads it.
toml_version() { # $1 file, $2 section header
  awk -v sect="$2" '/^\[/ { on = ($0 == sect) } on && /^version *=/ {
    gsub(/^version *= *"|".*$/, ""); print; exit }' "$1"
}
version=$(toml_version capi/Cargo.toml "[package]")
[ -n "$version" ] || version=$(toml_version Cargo.toml "[workspace.package]")
major=${version%%.*}

echo "== staged: DESTDIR=$tmp/stage PREFIX=/opt/gemmkit"
DESTDIR="$tmp/stage" PREFIX=/opt/gemmkit scripts/install-blas.sh install
lib=$tmp/stage/opt/gemmkit/lib
[ -f "$lib/libgemmkit_blas.so.$version" ] && [ ! -L "$lib/libgemmkit_blas.so.$version" ] || fail "no $lib/libgemmkit_blas.so.$version"
[ "$(readlink "$lib/libgemmkit_blas.so.$major")" = "libgemmkit_blas.so.$version" ] || fail ".so.$major is not a link to .so.$version"
[ "$(readlink "$lib/libgemmkit_blas.so")" = "libgemmkit_blas.so.$major" ] || fail ".so is not a link to .so.$major"
[ -f "$tmp/stage/opt/gemmkit/include/gemmkit_blas.h" ] || fail "no header"
pc=$lib/pkgconfig/gemmkit-blas.pc
grep -qx 'prefix=/opt/gemmkit' "$pc" || fail "$pc: prefix is not /opt/gemmkit"
! grep -q "$tmp" "$pc" || fail "$pc names DESTDIR"
[ "$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --modversion gemmkit-blas)" = "$version" ] || fail "pkg-config --modversion"
flags=$(echo $(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --cflags --libs gemmkit-blas)) # (pkgconf ends with a space)
[ "$flags" = "-I/opt/gemmkit/include -L/opt/gemmkit/lib -lgemmkit_blas" ] || fail "pkg-config --cflags --libs: $flags"
echo "   ok: layout, symlinks, .pc names PREFIX"

prefix=$tmp/prefix
echo "== PREFIX=$prefix: smoke.c built with pkg-config against the installed copy"
PREFIX="$prefix" scripts/install-blas.sh install
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# Only pkg-config's flags: the header and library must come from the prefix.
cc -O1 -Wall -Werror capi/tests/smoke.c $(pkg-config --cflags --libs gemmkit-blas) \
  -Wl,-rpath,"$(pkg-config --variable=libdir gemmkit-blas)" -o "$tmp/smoke"
echo "== the guide's examples (capi/README.md) against the installed copy"
cc -O2 capi/examples/gemm.c $(pkg-config --cflags --libs gemmkit-blas) -o "$tmp/gemm"
LD_LIBRARY_PATH="$prefix/lib" "$tmp/gemm"
LD_LIBRARY_PATH="$prefix/lib" /usr/bin/python3 capi/examples/gemm_ctypes.py
needed=$(objdump -p "$tmp/smoke" | awk '$1 == "NEEDED" && /gemmkit/ { print $2 }')
[ "$needed" = "libgemmkit_blas.so.$major" ] || fail "smoke needs '$needed', not the SONAME libgemmkit_blas.so.$major"
loaded=$(ldd "$tmp/smoke" | awk '/gemmkit/ { print $3 }')
[ "$loaded" = "$prefix/lib/libgemmkit_blas.so.$major" ] || fail "smoke loads '$loaded'"
"$tmp/smoke"
echo "== the guide's examples (capi/README.md) against the installed copy"
cc -O2 capi/examples/gemm.c $(pkg-config --cflags --libs gemmkit-blas) -o "$tmp/gemm"
LD_LIBRARY_PATH="$prefix/lib" "$tmp/gemm"
LD_LIBRARY_PATH="$prefix/lib" /usr/bin/python3 capi/examples/gemm_ctypes.py

echo "== uninstall"
PREFIX="$prefix" scripts/install-blas.sh uninstall
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "install test: passed"
