/* gemmkit BLAS/CBLAS ABI: link with -lgemmkit_blas (pkg-config gemmkit-blas), or preload it over a BLAS.
 *
 * Fortran symbols follow the reference BLAS (column-major, arguments by
 * reference; gfortran's hidden string lengths may be passed or not). CBLAS
 * symbols follow the reference CBLAS; cblas_sbgemm has OpenBLAS's signature.
 * Invalid arguments are reported through xerbla_ (Fortran numbering: TRANSA 1,
 * TRANSB 2, M 3, N 4, K 5, LDA 8, LDB 10, LDC 13; for a row-major CBLAS call,
 * the numbering of the column-major call with A/B and M/N swapped, as the
 * reference CBLAS and OpenBLAS number them) or cblas_xerbla (layout 1,
 * transposes 2 and 3, CBLAS numbering), and nothing is written. A pointer that
 * is null or misaligned where the call would use it (M and N not 0, the operand
 * not empty) is reported too, by its Fortran position (A 7, B 9, C 12). Both reporters are defined here and print
 * a message; a program that defines its own wins.
 *
 * cblas_sgemm_pack_get_size / cblas_sgemm_pack / cblas_sgemm_compute are
 * MKL's packed GEMM (see their comment below).
 *
 * gemmkit_gemm_u8s8s32 / _s8s8s32 / _bf16bf16f32 have oneDNN 2.6's arguments
 * and row-major conventions (dnnl_gemm_*) and return its status: 0 on success,
 * 2 (dnnl_invalid_arguments) for an invalid argument, with nothing written.
 * See their comments below. */
#ifndef GEMMKIT_BLAS_H
#define GEMMKIT_BLAS_H

#include <stddef.h>
#include <stdint.h>

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

/* bf16 as its raw 16 bits (the upper half of an IEEE binary32), as OpenBLAS
 * declares it. OpenBLAS's openblas_config.h (guard OPENBLAS_CONFIG_H) has the
 * same typedef: skipped here if that came first; if it comes after, the
 * repeated identical typedef is valid C11 and C++. */
#if !defined(GEMMKIT_BFLOAT16_DEFINED) && !defined(OPENBLAS_CONFIG_H)
#define GEMMKIT_BFLOAT16_DEFINED
typedef uint16_t bfloat16;
#endif

/* C := alpha * op(A) * op(B) + beta * C with bf16 A and B and f32 alpha, beta
 * and C; products and sums in f32. OpenBLAS's signature, cblas_sgemm's checks;
 * every error goes to cblas_xerbla, numbered as these arguments (1 to 14). */
void cblas_sbgemm(CBLAS_LAYOUT layout, CBLAS_TRANSPOSE transa, CBLAS_TRANSPOSE transb, int m, int n,
                  int k, float alpha, const bfloat16 *a, int lda, const bfloat16 *b, int ldb, float beta,
                  float *c, int ldc);

/* oneDNN 2.6's low-precision GEMMs (dnnl_gemm_u8s8s32, dnnl_gemm_s8s8s32,
 * dnnl_gemm_bf16bf16f32), row-major:
 *   C := alpha * (op(A) - ao) * (op(B) - bo) + beta * C + co   (int8)
 *   C := alpha * op(A) * op(B) + beta * C                       (bf16)
 * - transa/transb: 'N' or 'T', either case. C is M x N (ldc >= max(1, N));
 *   A is M x K (lda >= max(1, K)), or K x M (lda >= max(1, M)) for 'T';
 *   B is K x N (ldb >= max(1, N)), or N x K (ldb >= max(1, K)) for 'T'.
 *   The minimums hold even where a dimension is 0, as in oneDNN.
 * - offsetc: 'F' adds co[0] to every element; 'C' adds co[i] to row i (M
 *   values, a column vector); 'R' adds co[j] to column j (N values, a row
 *   vector); either case.
 * - int8 rounding: where alpha == 1 and beta is 0 or 1 the result is exact
 *   (integer arithmetic, wrapping in int32); otherwise each element is
 *   alpha * s + beta * C + co in float from the exact int32 sum s, rounded to
 *   nearest even and saturated to int32.
 * - BLAS rules, unlike oneDNN (which returns without touching C where K == 0):
 *   K == 0 or alpha == 0 still gives beta * C (+ co); beta == 0 never reads C.
 * - Returns 0, or 2 (dnnl_invalid_arguments) with nothing written for: a bad
 *   character, a negative dimension, a leading dimension below its minimum, A,
 *   B, C or co null (whatever the dimensions), a misaligned pointer, a matrix
 *   that does not fit the address space, or (int8) a non-finite alpha or beta.
 *   oneDNN crashes on a null co or transa/transb 'P' and computes garbage for a
 *   NaN alpha; here they are errors. */
int gemmkit_gemm_u8s8s32(char transa, char transb, char offsetc, int64_t M, int64_t N, int64_t K,
                         float alpha, const uint8_t *A, int64_t lda, uint8_t ao, const int8_t *B,
                         int64_t ldb, int8_t bo, float beta, int32_t *C, int64_t ldc, const int32_t *co);
int gemmkit_gemm_s8s8s32(char transa, char transb, char offsetc, int64_t M, int64_t N, int64_t K,
                         float alpha, const int8_t *A, int64_t lda, int8_t ao, const int8_t *B,
                         int64_t ldb, int8_t bo, float beta, int32_t *C, int64_t ldc, const int32_t *co);
/* A and B are bf16 bits (bfloat16 above), as oneDNN's bfloat16_t. */
int gemmkit_gemm_bf16bf16f32(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                             const uint16_t *A, int64_t lda, const uint16_t *B, int64_t ldb, float beta,
                             float *C, int64_t ldc);

/* MKL's packed GEMM for f32, with MKL's signatures and enum values
 * (mkl_cblas.h: CBLAS_STORAGE { CblasPacked = 151 }, CBLAS_IDENTIFIER
 * { CblasAMatrix = 161, CblasBMatrix = 162 }), so code written for it runs
 * unchanged:
 *   size_t bytes = cblas_sgemm_pack_get_size(CblasBMatrix, m, n, k);
 *   float *bp = malloc(bytes);
 *   cblas_sgemm_pack(layout, CblasBMatrix, transb, m, n, k, alpha, b, ldb, bp);
 *   cblas_sgemm_compute(layout, transa, CblasPacked, m, n, k, a, lda, bp, 0, beta, c, ldc);
 * - pack stores alpha * op(src) for the GEMM m x n x k: op(A) is m x k
 *   (identifier CblasAMatrix), op(B) k x n (CblasBMatrix). dest holds
 *   cblas_sgemm_pack_get_size(identifier, m, n, k) bytes (0 for an invalid
 *   identifier or a negative dimension), allocated by the caller, aligned for
 *   float. The buffer holds no pointers: it may be copied (memcpy) and used
 *   from the copy, which MKL forbids.
 * - compute: C := op(A) * op(B) + beta * C (alpha is the packed operand's, the
 *   product of both where both are packed). transa/transb are a
 *   CBLAS_TRANSPOSE or CblasPacked; a packed operand's lda/ldb are ignored.
 *   Either operand, or both, may be packed; with neither, alpha is 1.
 * - A packed buffer must come from this library on the same CPU target (the
 *   one computing) for the same operand, with the dimensions it has (A: m
 *   and k; B: k and n; the other dimension may differ from the pack's).
 *   Otherwise, and for every invalid argument, cblas_xerbla is called
 *   (numbered as the arguments: pack layout 1, identifier 2, trans 3, m 4,
 *   n 5, k 6, src 8, ld 9, dest 10; compute layout 1, transa 2, transb 3,
 *   m 4, n 5, k 6, a 7, lda 8, b 9, ldb 10, c 12, ldc 13) and nothing is
 *   written. A buffer does not depend on the layout it was packed with (MKL
 *   requires the same layout for pack and compute; here either works). */
typedef enum CBLAS_STORAGE { CblasPacked = 151 } CBLAS_STORAGE;
typedef enum CBLAS_IDENTIFIER { CblasAMatrix = 161, CblasBMatrix = 162 } CBLAS_IDENTIFIER;
size_t cblas_sgemm_pack_get_size(CBLAS_IDENTIFIER identifier, int m, int n, int k);
void cblas_sgemm_pack(CBLAS_LAYOUT layout, CBLAS_IDENTIFIER identifier, CBLAS_TRANSPOSE trans, int m, int n,
                      int k, float alpha, const float *src, int ld, float *dest);
void cblas_sgemm_compute(CBLAS_LAYOUT layout, int transa, int transb, int m, int n, int k, const float *a,
                         int lda, const float *b, int ldb, float beta, float *c, int ldc);

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
