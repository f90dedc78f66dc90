#!/usr/bin/env bash
# Installs (or uninstalls) the C library that `cargo build --release -p
# gemmkit-blas` built, as a distribution package lays it out:
#
#   $LIBDIR/libgemmkit_blas.so.X.Y.Z    the library (SONAME libgemmkit_blas.so.X)
#   $LIBDIR/libgemmkit_blas.so.X        -> .so.X.Y.Z  (what programs load at run time)
#   $LIBDIR/libgemmkit_blas.so          -> .so.X      (what -lgemmkit_blas links)
#   $INCLUDEDIR/gemmkit_blas.h
#   $PKGCONFIGDIR/gemmkit-blas.pc       (pkg-config: --cflags/--libs gemmkit-blas)
#
# X.Y.Z is the crate's version. Everything is written under $DESTDIR (for
# staging a package; empty by default), but the .pc file names the final paths.
#
#   PREFIX      /usr/local          LIBDIR      $PREFIX/lib
#   DESTDIR     (empty)             INCLUDEDIR  $PREFIX/include
#                                   PKGCONFIGDIR $LIBDIR/pkgconfig
#
# The library is taken from ${CARGO_TARGET_DIR:-target}/release. Needs no cargo,
# so it runs under sudo:
#
#   cargo build --release -p gemmkit-blas
#   sudo scripts/install-blas.sh                           # into /usr/local
#   PREFIX=$HOME/.local scripts/install-blas.sh            # no root needed
#   PREFIX=/usr/local scripts/install-blas.sh uninstall
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

action=${1:-install}
case $action in install | uninstall) ;; *)
  echo "usage: $0 [install|uninstall]" >&2; exit 2 ;;
esac

prefix=${PREFIX:-/usr/local}
prefix=${prefix%/}
libdir=${LIBDIR:-$prefix/lib}
includedir=${INCLUDEDIR:-$prefix/include}
pcdir=${PKGCONFIGDIR:-$libdir/pkgconfig}
dest=${DESTDIR:-}
for d in "$prefix" "$libdir" "$includedir" "$pcdir"; do
  [[ $d == /* ]] || { echo "error: install paths must be absolute: $d" >&2; exit 2; }
done

# The crate's version: capi/Cargo.toml's own, or the workspace's it inherits.
toml_version() { # $1 file, $2 section header
  awk -v sect="$2" '/^\[/ { on = ($0 == sect) } on && /^version *=/ {
    gsub(/^version *= *"|".*$/, ""); print; exit }' "$1"
}
version=$(toml_version "$root/capi/Cargo.toml" "[package]")
[ -n "$version" ] || version=$(toml_version "$root/Cargo.toml" "[workspace.package]")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "error: no version X.Y.Z in capi/Cargo.toml or Cargo.toml (got '$version')" >&2; exit 1; }
major=${version%%.*}

name=libgemmkit_blas.so
soname=$name.$major
real=$name.$version
files=("$libdir/$real" "$libdir/$soname" "$libdir/$name" "$includedir/gemmkit_blas.h" "$pcdir/gemmkit-blas.pc")

# Refresh the run-time linker's cache after a real install into a directory it
# covers (such as /usr/local/lib on Debian); a staged or private prefix needs none.
refresh_cache() {
  if [ -z "$dest" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null &&
     cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep -qxF "$libdir"; then
    ldconfig
  fi
}

if [ "$action" = uninstall ]; then
  for f in "${files[@]}"; do
    if [ -e "$dest$f" ] || [ -L "$dest$f" ]; then rm -f "$dest$f"; echo "removed $dest$f"; fi
  done
  refresh_cache
  exit 0
fi

built=$(cd "$root" && realpath -m "${CARGO_TARGET_DIR:-target}")/release/$name
[ -f "$built" ] || { echo "error: $built not found: run cargo build --release -p gemmkit-blas first" >&2; exit 1; }
got=$(objdump -p "$built" 2>/dev/null | awk '$1 == "SONAME" { print $2 }') || true
[ "$got" = "$soname" ] || { echo "error: $built has SONAME '$got', not $soname: rebuild it (cargo build --release -p gemmkit-blas)" >&2; exit 1; }

# In the .pc file, paths under the prefix are written as ${prefix}/... so that
# pkgconf --define-prefix can relocate them.
pcpath() { case $1 in "$prefix"/*) printf '${prefix}%s' "${1#"$prefix"}" ;; *) printf '%s' "$1" ;; esac; }

install -d "$dest$libdir" "$dest$includedir" "$dest$pcdir"
install -m 755 "$built" "$dest$libdir/$real"
ln -sfn "$real" "$dest$libdir/$soname"
ln -sfn "$soname" "$dest$libdir/$name"
install -m 644 "$root/capi/include/gemmkit_blas.h" "$dest$includedir/gemmkit_blas.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$(pcpath "$libdir")|" \
    -e "s|@INCLUDEDIR@|$(pcpath "$includedir")|" -e "s|@VERSION@|$version|" \
    "$root/capi/gemmkit-blas.pc.in" > "$dest$pcdir/gemmkit-blas.pc"
chmod 644 "$dest$pcdir/gemmkit-blas.pc"
for f in "${files[@]}"; do
  if [ -L "$dest$f" ]; then echo "installed $dest$f -> $(readlink "$dest$f")"; else echo "installed $dest$f"; fi
done
refresh_cache
