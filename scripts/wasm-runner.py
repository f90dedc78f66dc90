#!/usr/bin/env python3
"""Cargo runner for wasm32-wasip1: runs a test or example binary under wasmtime.

Enables SIMD128 and relaxed-simd, passes argv and the environment through,
preopens the working directory and the workspace root (at their host paths, so
paths baked in at compile time resolve), and exits with the guest's exit code.

wasmtime (PyPI) rather than node: node 20 executes relaxed integer dot products
wrongly.
"""
import os
import sys

import wasmtime


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: wasm-runner.py FILE.wasm [ARGS...]", file=sys.stderr)
        return 2
    wasm = sys.argv[1]
    config = wasmtime.Config()
    config.wasm_simd = True
    config.wasm_relaxed_simd = True
    # One fixed semantics for relaxed ops, so a run is reproducible anywhere.
    config.wasm_relaxed_simd_deterministic = True
    engine = wasmtime.Engine(config)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    wasi = wasmtime.WasiConfig()
    wasi.argv = [os.path.basename(wasm)] + sys.argv[2:]
    wasi.inherit_env()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    cwd = os.getcwd()
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    wasi.preopen_dir(cwd, ".")
    for d in sorted({cwd, root}):
        wasi.preopen_dir(d, d)

    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    module = wasmtime.Module.from_file(engine, wasm)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    except wasmtime.Trap as e:
        print(f"wasm trap: {e}", file=sys.stderr)
        return 134
    return 0


if __name__ == "__main__":
    sys.exit(main())
