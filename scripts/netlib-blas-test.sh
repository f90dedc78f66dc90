#!/usr/bin/env bash
# Runs the netlib reference BLAS test programs (Debian's libblas-test) with
# gemmkit's BLAS library preloaded over the reference libblas.so.3, including
# the error-exit tests: level 3 for GEMM (xblat3s, xblat3d, xscblat3,
# xdcblat3) and level 2 for GEMV (xblat2s, xblat2d, xscblat2, xdcblat2). Only
# GEMM, or GEMV, is switched on (a tester calls no other routine then); N
# takes sizes that hit every tail.
#
#   scripts/netlib-blas-test.sh target/release/libgemmkit_blas.so
set -euo pipefail

lib=$(realpath "${1:?usage: $0 path/to/libgemmkit_blas.so}")
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
blas=/usr/lib/$arch/blas
[ -x "$blas/xblat3s" ] || { echo "error: $blas/xblat3s not found: apt-get install libblas-test" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes="1 4 7 8 15 16 17 33 65"


# Input files: the packaged ones with our sizes and only one routine switched on.
mkinput() { # $1 packaged input, $2 routine to keep, $3 output
  awk -v sizes="$sizes" -v n="$(wc -w <<<"$sizes")" -v keep="$2" '
    /NUMBER OF VALUES OF N/ { printf "%-18sNUMBER OF VALUES OF N\n", n; next }
    /VALUES OF N/           { printf "%s VALUES OF N\n", sizes; next }
    /PUT F FOR NO TEST/     { name = $1; flag = (name == keep) ? "T" : "F"
                              sub(/ [TF] PUT/, " " flag " PUT"); print; next }
    { print }' "$1" > "$3"
}

status=0
run() { # $1 program, $2 packaged input, $3 routine, $4... lines that must appear
  local prog=$1 input=$2 routine=$3; shift 3
  mkinput "$blas/$input" "$routine" "$work/$prog.in"
  echo "== $prog ($routine, N = $sizes)"
  local out="$work/$prog.out"
  rm -f "$work"/*blat[23].out
  (cd "$work" && LD_LIBRARY_PATH="$blas" LD_PRELOAD="$lib" "$blas/$prog" < "$prog.in" > "$out" 2>&1) || {
    echo "FAILED: $prog exited non-zero"; cat "$out"; status=1; return; }
  # The Fortran testers write their summary to the file their input names.
  cat "$work"/*blat[23].out >> "$out" 2>/dev/null || true
  # The routine must have been bound to gemmkit, not the reference library.
  local sym; sym=$(tr '[:upper:]' '[:lower:]' <<<"${routine#cblas_}")
  [[ $routine == cblas_* ]] && sym="cblas_$sym" || sym="${sym}_"
  if ! (cd "$work" && LD_DEBUG=bindings LD_LIBRARY_PATH="$blas" LD_PRELOAD="$lib" "$blas/$prog" < "$prog.in" 2>&1 >/dev/null) \
      | grep "normal symbol \`$sym'" | grep -q "$(basename "$lib")"; then
    echo "FAILED: $sym was not bound to $(basename "$lib")"; status=1
  fi
  for line in "$@"; do
    if grep -Eq -- "$line" "$out"; then echo "   ok: $line"; else echo "FAILED: missing \"$line\""; status=1; fi
  done
  if grep -Eq 'FAIL|SUSPECT|\*\*\*\*\*' "$out"; then
    echo "FAILED: $prog reported failures:"; grep -E 'FAIL|SUSPECT|\*\*\*\*\*' "$out" | head -20; status=1
  fi
}

# Required summary lines (extended regexes; the testers pad names with spaces).
run xblat3s sblat3.in SGEMM "SGEMM +PASSED THE TESTS OF ERROR-EXITS" "SGEMM +PASSED THE COMPUTATIONAL TESTS"
run xblat3d dblat3.in DGEMM "DGEMM +PASSED THE TESTS OF ERROR-EXITS" "DGEMM +PASSED THE COMPUTATIONAL TESTS"
run xscblat3 sin3 cblas_sgemm "cblas_sgemm +PASSED THE TESTS OF ERROR-EXITS" \
  "cblas_sgemm +PASSED THE COLUMN-MAJOR +COMPUTATIONAL TESTS" "cblas_sgemm +PASSED THE ROW-MAJOR +COMPUTATIONAL TESTS"
run xdcblat3 din3 cblas_dgemm "cblas_dgemm +PASSED THE TESTS OF ERROR-EXITS" \
  "cblas_dgemm +PASSED THE COLUMN-MAJOR +COMPUTATIONAL TESTS" "cblas_dgemm +PASSED THE ROW-MAJOR +COMPUTATIONAL TESTS"

# Level 2, GEMV only (sizes 0 to 65 for M and N, increments 1, 2, -1, -2).
sizes="0 1 4 7 15 16 17 33 65"
run xblat2s sblat2.in SGEMV "SGEMV +PASSED THE TESTS OF ERROR-EXITS" "SGEMV +PASSED THE COMPUTATIONAL TESTS"
run xblat2d dblat2.in DGEMV "DGEMV +PASSED THE TESTS OF ERROR-EXITS" "DGEMV +PASSED THE COMPUTATIONAL TESTS"
run xscblat2 sin2 cblas_sgemv "cblas_sgemv +PASSED THE TESTS OF ERROR-EXITS" \
  "cblas_sgemv +PASSED THE COLUMN-MAJOR +COMPUTATIONAL TESTS" "cblas_sgemv +PASSED THE ROW-MAJOR +COMPUTATIONAL TESTS"
run xdcblat2 din2 cblas_dgemv "cblas_dgemv +PASSED THE TESTS OF ERROR-EXITS" \
  "cblas_dgemv +PASSED THE COLUMN-MAJOR +COMPUTATIONAL TESTS" "cblas_dgemv +PASSED THE ROW-MAJOR +COMPUTATIONAL TESTS"

[ $status -eq 0 ] && echo "netlib BLAS level-3 GEMM and level-2 GEMV tests: all passed"
exit $status
