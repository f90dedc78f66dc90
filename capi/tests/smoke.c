/* C smoke test of the header and the ABI: row- and column-major CBLAS, the
 * Fortran symbol, and error reporting through a host-defined xerbla_ that wins
 * over the library's own (nothing written on error). */
#include <stdio.h>
#include <string.h>
#include "gemmkit_blas.h"

static int last_info = 0;
static char last_name[8];

/* The host's xerbla_: must be called instead of the library's. */
void xerbla_(const char *srname, const int *info, size_t len) {
    last_info = *info;
    memset(last_name, 0, sizeof last_name);
    memcpy(last_name, srname, len < 7 ? len : 7);
}

static int fails = 0;
#define CHECK(cond, ...) do { if (!(cond)) { fails++; printf("FAIL: " __VA_ARGS__); printf("\n"); } } while (0)

int main(void) {
    /* CBLAS_ORDER is the reference CBLAS's old name of CBLAS_LAYOUT: both compile. */
    enum CBLAS_ORDER old_name = CblasRowMajor;
    CBLAS_LAYOUT row_major = old_name;

    /* 2x3 * 3x2, row-major. */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {9, 9, 9, 9};
    cblas_sgemm(row_major, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
    CHECK(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11, "row-major sgemm: %g %g %g %g", c[0], c[1], c[2], c[3]);

    /* Column-major, A transposed, beta = 1. */
    double at[4] = {1, 2, 3, 4}, bd[4] = {1, 1, 1, 1}, cd[4] = {1, 1, 1, 1};
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, 2, 2, 2, 2.0, at, 2, bd, 2, 1.0, cd, 2);
    /* op(A) = A^T = [[1,2],[3,4]]; op(A)*B = [[3,3],[7,7]]; C = 2*that + 1 (column-major). */
    CHECK(cd[0] == 7 && cd[1] == 15 && cd[2] == 7 && cd[3] == 15, "col-major dgemm: %g %g %g %g", cd[0], cd[1], cd[2], cd[3]);

    /* Fortran symbol, lowercase transpose characters. */
    int m = 2, n = 2, k = 3, lda = 2, ldb = 3, ldc = 2;
    float fa[6] = {1, 4, 2, 5, 3, 6}, fb[6] = {1, 0, 1, 0, 1, 1}, fc[4] = {0, 0, 0, 0}, one = 1.0f, zero = 0.0f;
    sgemm_("n", "n", &m, &n, &k, &one, fa, &lda, fb, &ldb, &zero, fc, &ldc);
    CHECK(fc[0] == 4 && fc[1] == 10 && fc[2] == 5 && fc[3] == 11, "sgemm_: %g %g %g %g", fc[0], fc[1], fc[2], fc[3]);

    /* Errors: reported through this program's xerbla_, C untouched. */
    float keep[4] = {7, 7, 7, 7};
    int bad_ldc = 1;
    sgemm_("N", "N", &m, &n, &k, &one, fa, &lda, fb, &ldb, &zero, keep, &bad_ldc);
    CHECK(last_info == 13 && strncmp(last_name, "SGEMM", 5) == 0, "sgemm_ bad ldc: info %d name %s", last_info, last_name);
    CHECK(keep[0] == 7 && keep[3] == 7, "sgemm_ wrote C on error");
    sgemm_("X", "N", &m, &n, &k, &one, fa, &lda, fb, &ldb, &zero, keep, &ldc);
    CHECK(last_info == 1, "sgemm_ bad transa: info %d", last_info);
    /* Row-major: an invalid M is N of the swapped Fortran call (4). */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, -1, 2, 3, 1.0f, a, 3, b, 2, 0.0f, keep, 2);
    CHECK(last_info == 4, "row-major bad M: info %d", last_info);
    CHECK(keep[0] == 7, "cblas_sgemm wrote C on error");

    printf("%d passed, %d failed\n", 8 - fails, fails);
    return fails != 0;
}
