#!/usr/bin/env bash
# Checks that the C header and the shared library agree:
#  - every symbol the library exports (nm -D --defined-only) is declared in the
#    header: a C file that includes only the header and takes each one's address
#    must compile (an undeclared name is a compile error naming it), as C and,
#    where a C++ compiler is installed, as C++;
#  - every function the header declares (a line `type name(`) is exported.
#
#   scripts/check-blas-header.sh target/release/libgemmkit_blas.so [capi/include/gemmkit_blas.h]
set -euo pipefail
lib=${1:?usage: $0 path/to/libgemmkit_blas.so [header]}
header=$(realpath "${2:-$(dirname "$0")/../capi/include/gemmkit_blas.h}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u > "$work/exported"
[ -s "$work/exported" ] || { echo "FAILED: $lib exports nothing" >&2; exit 1; }

{
  printf '#include "%s"\n' "$header"
  printf 'const void *const exported[] = {\n'
  sed 's/.*/    (const void *)\&&,/' "$work/exported"
  printf '};\n'
} > "$work/exported.c"
status=0
if ! cc -std=c11 -Wall -Werror -c "$work/exported.c" -o "$work/c.o" 2> "$work/c.err"; then
  echo "FAILED: exported symbols missing from $(basename "$header") (C):"; grep -E 'error' "$work/c.err"; status=1
fi
if command -v c++ >/dev/null; then
  if ! c++ -Wall -Werror -x c++ -c "$work/exported.c" -o "$work/cxx.o" 2> "$work/cxx.err"; then
    echo "FAILED: $(basename "$header") as C++:"; grep -E 'error' "$work/cxx.err"; status=1
  fi
fi

grep -oE '^[A-Za-z_][A-Za-z0-9_ ]*[ *]([A-Za-z_][A-Za-z0-9_]*)\(' "$header" |
  sed -E 's/.*[ *]([A-Za-z_][A-Za-z0-9_]*)\($/\1/' | sort -u > "$work/declared"
if missing=$(comm -23 "$work/declared" "$work/exported") && [ -n "$missing" ]; then
  echo "FAILED: declared in $(basename "$header") but not exported by $(basename "$lib"):" $missing; status=1
fi

[ $status = 0 ] && echo "header check: $(wc -l < "$work/exported") exported symbols all declared in $(basename "$header"), $(wc -l < "$work/declared") declared functions all exported"
exit $status
