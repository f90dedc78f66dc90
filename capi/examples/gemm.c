/* C = A B with cblas_dgemm, row-major: the C example of capi/README.md.
 *
 *   cc -O2 capi/examples/gemm.c $(pkg-config --cflags --libs gemmkit-blas) -o gemm && ./gemm */
#include <gemmkit_blas.h>
#include <stdio.h>

int main(void) {
    double a[] = {1, 2, 3,
                  4, 5, 6};   /* 2x3 */
    double b[] = {7, 8,
                  9, 10,
                  11, 12};    /* 3x2 */
    double c[4];              /* 2x2 */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0, a, 3, b, 2, 0.0, c, 2);
    printf("%g %g\n%g %g\n", c[0], c[1], c[2], c[3]);
    return !(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154);
}
