"""cblas_sgemm from Python through ctypes: the Python example of capi/README.md.

    /usr/bin/python3 capi/examples/gemm_ctypes.py [library]

The library defaults to libgemmkit_blas.so.0, found as any shared library is
(the ld.so cache after an install into /usr/local, or LD_LIBRARY_PATH).
"""
import ctypes
import sys

blas = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else "libgemmkit_blas.so.0")

c_int, c_float = ctypes.c_int, ctypes.c_float
floats = ctypes.POINTER(c_float)
blas.cblas_sgemm.restype = None
blas.cblas_sgemm.argtypes = [c_int, c_int, c_int, c_int, c_int, c_int,  # layout, transa, transb, m, n, k
                             c_float, floats, c_int, floats, c_int,      # alpha, a, lda, b, ldb
                             c_float, floats, c_int]                     # beta, c, ldc
blas.gemmkit_get_num_threads.restype = c_int
ROW_MAJOR, NO_TRANS = 101, 111  # CblasRowMajor, CblasNoTrans

# C = A B: A is 2x3, B is 3x2, row-major.
m, n, k = 2, 2, 3
a = (c_float * (m * k))(1, 2, 3, 4, 5, 6)
b = (c_float * (k * n))(7, 8, 9, 10, 11, 12)
c = (c_float * (m * n))()
blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1.0, a, k, b, n, 0.0, c, n)
print("C =", list(c))
assert list(c) == [58, 64, 139, 154]

# numpy arrays work too (C-contiguous float32), where numpy is installed.
try:
    import numpy as np
except ImportError:
    np = None
if np is not None:
    x = np.random.default_rng(0).standard_normal((300, 200), dtype=np.float32)
    y = np.random.default_rng(1).standard_normal((200, 100), dtype=np.float32)
    z = np.empty((300, 100), dtype=np.float32)
    ptr = lambda arr: arr.ctypes.data_as(floats)
    blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, 300, 100, 200, 1.0, ptr(x), 200, ptr(y), 100, 0.0, ptr(z), 100)
    err = np.abs(z - (x.astype(np.float64) @ y)).max()
    print(f"numpy 300x200 @ 200x100: max error {err:.1e}")
    assert err < 1e-3
print("threads:", blas.gemmkit_get_num_threads())
