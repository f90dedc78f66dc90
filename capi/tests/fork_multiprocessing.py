"""Fork safety as numpy users meet it: numpy's float32 matmul runs through our
cblas_sgemm (the library is preloaded), on threads, and then multiprocessing
forks workers that multiply again. Each worker must finish, with the same error
against a float64 reference as the parent. Run with Debian's numpy:

    LD_PRELOAD=target/release/libgemmkit_blas.so /usr/bin/python3 capi/tests/fork_multiprocessing.py
"""
import ctypes
import multiprocessing as mp
import sys

import numpy as np

N = 300  # past the small path: the blocked driver shares it between threads


def error(seed):
    r = np.random.default_rng(seed)
    a = r.standard_normal((N, N), dtype=np.float32)
    b = r.standard_normal((N, N), dtype=np.float32)
    return float(np.abs((a @ b) - (a.astype(np.float64) @ b.astype(np.float64))).max())


def main():
    lib = ctypes.CDLL(None)
    if not hasattr(lib, "gemmkit_get_num_threads"):
        sys.exit("FAIL: libgemmkit_blas.so is not preloaded")
    threads = lib.gemmkit_get_num_threads()
    if threads < 2:
        sys.exit(f"FAIL: expected a threaded pool, got {threads} thread(s)")
    mp.set_start_method("fork")
    want = [error(s) for s in range(4)]  # the parent's threads run before the fork
    with mp.Pool(2) as pool:
        got = pool.map_async(error, range(4)).get(timeout=120)  # a hang fails here
    if got != want or max(got) > 1e-3:
        sys.exit(f"FAIL: children {got}, parent {want}")
    print(f"multiprocessing fork test: 4 forked workers computed numpy matmuls ({threads} threads)")


if __name__ == "__main__":
    main()
