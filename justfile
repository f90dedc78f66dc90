# Recipes for the common workflows. `just --list` shows them all.

qemu := "qemu-aarch64 -L /usr/aarch64-linux-gnu"

# Cargo's output directory: CARGO_TARGET_DIR when set and not empty (relative to
# this folder, where recipes run), else target/.
release := if env("CARGO_TARGET_DIR", "") == "" { "target/release" } else { env("CARGO_TARGET_DIR") / "release" }

# Where `just install` puts the C library: PREFIX=... DESTDIR=... just install.
prefix := env("PREFIX", "/usr/local")
destdir := env("DESTDIR", "")

# Regenerate generated/ from kernels/src.
gen:
    cargo run -p generator

# Everything CI checks that needs no cross toolchain: fmt, clippy, freshness, tests.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps
    cargo run -q -p generator -- --check
    cargo test --workspace

# What `cargo publish` would upload, each crate built from its packaged files
# alone (the runtime against the packaged generated crate).
# (The script clears cargo's unpacked copies of an earlier dry run first.)
package:
    scripts/publish-dry-run.sh

# The test suite on this machine.
test:
    cargo test --workspace

# Accept changed snapshots (the test corpus's emitted code, the diagnostics)
# after reading the diff.
snapshots:
    INSTA_UPDATE=always cargo test -p workspace-tests --test snapshots --test diagnostics

# The runtime's tests (all but the host-only text checks: snapshots, diagnostics,
# freshness; and the fork test, which qemu-user cannot run) and doctests, as CI
# runs them on the cross targets.
cross_tests := "-p gemmkit -p workspace-tests --lib --test differential --test dispatch --test fused --test gemm --test lowp --test plan --test threads --test disasm"

# aarch64 under qemu-user: -cpu max (dotprod + i8mm), neoverse-n1 (dotprod), cortex-a53 (neither).
test-neon:
    for cpu in max neoverse-n1 cortex-a53; do \
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="{{qemu}} -cpu $cpu"; \
      cargo test --target aarch64-unknown-linux-gnu {{cross_tests}} && \
      cargo test --target aarch64-unknown-linux-gnu -p gemmkit -p gemmkit-generated --doc || exit 1; \
    done

# wasm32-wasip1 under wasmtime (PyPI, in .venv), built twice: SIMD128 alone and
# with relaxed-simd.
test-wasm: setup-wasm
    for f in +simd128 +simd128,+relaxed-simd; do \
      export RUSTFLAGS="-C target-feature=$f" RUSTDOCFLAGS="-C target-feature=$f"; \
      cargo test --target wasm32-wasip1 {{cross_tests}} && \
      cargo test --target wasm32-wasip1 -p gemmkit -p gemmkit-generated --doc || exit 1; \
    done

# The wasmtime runner's venv.
setup-wasm:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/python -c 'import wasmtime' 2>/dev/null || .venv/bin/pip install -q 'wasmtime==50.0.1'

# Show the active target and every compiled-in one (set HWY_TARGET to force).
targets:
    cargo run -q -p gemmkit --example targets

# Print one kernel on one target, e.g. `just show microkernel_f32 avx512`.
show kernel target:
    cargo run -q -p generator -- --kernel {{kernel}} --target {{target}}

# What CI runs.
ci:
    bash .ci/run

# The BLAS ABI: the header against the library's exported symbols, a C program
# against the header, the fork tests (C, and Debian's numpy with multiprocessing:
# apt python3-numpy), then the netlib reference BLAS level-3 testers for GEMM and
# level-2 testers for GEMV with
# gemmkit preloaded (apt: libblas-test).
# Test the BLAS ABI as CI does: header, C smoke, low-precision and fork tests, numpy, netlib.
blas-test: build-blas
    scripts/check-blas-header.sh {{release}}/libgemmkit_blas.so
    cc -O1 -Wall -Werror -I capi/include capi/tests/smoke.c -L {{release}} -lgemmkit_blas -o {{release}}/capi-smoke
    LD_LIBRARY_PATH={{release}} {{release}}/capi-smoke
    cc -std=c11 -O1 -Wall -Werror -I capi/include capi/tests/lowp.c -L {{release}} -lgemmkit_blas -lm -ldl -o {{release}}/capi-lowp
    LD_LIBRARY_PATH={{release}} {{release}}/capi-lowp
    cc -std=c11 -O1 -Wall -Werror -I capi/include capi/tests/packed.c -L {{release}} -lgemmkit_blas -lm -o {{release}}/capi-packed
    LD_LIBRARY_PATH={{release}} {{release}}/capi-packed
    cc -O1 -Wall -Werror -I capi/include capi/tests/fork.c -L {{release}} -lgemmkit_blas -o {{release}}/capi-fork
    LD_LIBRARY_PATH={{release}} {{release}}/capi-fork
    RAYON_NUM_THREADS=3 LD_PRELOAD="$(realpath {{release}})/libgemmkit_blas.so" /usr/bin/python3 capi/tests/fork_multiprocessing.py
    scripts/netlib-blas-test.sh {{release}}/libgemmkit_blas.so

# Programs linked against the library load its SONAME, libgemmkit_blas.so.<major>,
# at run time; cargo makes no such file, so it is linked next to the library.
# Build the C library, libgemmkit_blas.so, and its libgemmkit_blas.so.<major> link.
build-blas:
    cargo build --release -p gemmkit-blas
    ln -sf libgemmkit_blas.so {{release}}/$(objdump -p {{release}}/libgemmkit_blas.so | awk '$1 == "SONAME" { print $2 }')

# PREFIX defaults to /usr/local, DESTDIR stages; LIBDIR, INCLUDEDIR, PKGCONFIGDIR
# override the layout (capi/README.md; without just: scripts/install-blas.sh).
# Build and install the C library: .so.X.Y.Z, .so.X and .so links, header, .pc file.
install: build-blas
    PREFIX={{quote(prefix)}} DESTDIR={{quote(destdir)}} scripts/install-blas.sh install

# Remove what `just install` installed (give the same PREFIX and DESTDIR).
uninstall:
    PREFIX={{quote(prefix)}} DESTDIR={{quote(destdir)}} scripts/install-blas.sh uninstall

# The benchmark: gemmkit next to OpenBLAS, BLIS, faer, gemm and matrixmultiply
# (apt: libopenblas0-pthread libblis4-pthread), e.g. `just bench --dtype both`
# or `just bench --threads 2 --shapes 256,1024`.
bench *args:
    cargo run --release -p gemmkit-bench -- {{args}}
