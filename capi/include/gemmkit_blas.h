/* gemmkit BLAS/CBLAS ABI: link with -lgemmkit_blas (pkg-config gemmkit-blas), or preload it over a BLAS.
 *
 * Fortran symbols follow the reference BLAS (column-major, arguments by
 * reference; gfortran's hidden string lengths may be passed or not). CBLAS
 * symbols follow the reference CBLAS. Invalid arguments are reported through
 * xerbla_ (Fortran numbering) or cblas_xerbla (layout/transpose, CBLAS numbering)
 * and nothing is written. Both are defined here and print a message; a program
 * that defines its own wins. */
#ifndef GEMMKIT_BLAS_H
#define GEMMKIT_BLAS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The reference CBLAS's names: CBLAS_LAYOUT, with CBLAS_ORDER kept as an alias
 * for older code (as netlib's cblas.h does), so `enum CBLAS_ORDER`, `CBLAS_ORDER`,
 * `enum CBLAS_LAYOUT` and `CBLAS_LAYOUT` all name the same type. */
typedef enum CBLAS_LAYOUT { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_LAYOUT;
typedef enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 } CBLAS_TRANSPOSE;
#define CBLAS_ORDER CBLAS_LAYOUT

void sgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
            const float *beta, float *c, const int *ldc);
void dgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
            const double *alpha, const double *a, const int *lda, const double *b, const int *ldb,
            const double *beta, double *c, const int *ldc);

void cblas_sgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n,
                 int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc);
void cblas_dgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n,
                 int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta,
                 double *c, int ldc);

/* y = alpha * op(A) x + beta * y, A m x n; negative increments read the vector
 * backwards, as in the reference BLAS. */
void sgemv_(const char *trans, const int *m, const int *n, const float *alpha, const float *a,
            const int *lda, const float *x, const int *incx, const float *beta, float *y,
            const int *incy);
void dgemv_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
            const int *lda, const double *x, const int *incx, const double *beta, double *y,
            const int *incy);

void cblas_sgemv(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE trans, int m, int n, float alpha,
                 const float *a, int lda, const float *x, int incx, float beta, float *y, int incy);
void cblas_dgemv(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE trans, int m, int n, double alpha,
                 const double *a, int lda, const double *x, int incx, double beta, double *y,
                 int incy);

/* Threads: GEMM runs on rayon's global pool, at most this many threads (0: all).
 * GEMMKIT_NUM_THREADS sets the initial cap. */
void gemmkit_set_num_threads(int threads);
int gemmkit_get_num_threads(void);

/* Error reporters (the reference BLAS/CBLAS signatures). */
void xerbla_(const char *srname, const int *info, size_t srname_len);
void cblas_xerbla(int info, const char *rout, const char *form, ...);

#ifdef __cplusplus
}
#endif

#endif /* GEMMKIT_BLAS_H */
