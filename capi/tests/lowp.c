/* The low-precision C entry points against exact references written here:
 * gemmkit_gemm_u8s8s32 / _s8s8s32 (exact: int64 sums, then the documented
 * rounding), gemmkit_gemm_bf16bf16f32 and cblas_sbgemm (a double reference,
 * with a tolerance from K). Random shapes (0, 1, odd, 2^n +- 1 up to 70), every
 * transpose, every offsetc, extreme offsets and data, exact and inexact
 * alpha/beta, leading dimensions wider than needed; C sits in a buffer of
 * guard values (before, after, and in the ldc padding) that must survive.
 * Where oneDNN 2.6 (libdnnl.so.2) is installed, the same calls go to it too
 * (for K > 0, where its semantics are the same) and must agree.
 * Bad arguments: each returns 2 (or reaches xerbla_ / cblas_xerbla, defined
 * below, with OpenBLAS's numbering) and leaves the whole buffer untouched. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gemmkit_blas.h"

static int fails = 0, checks = 0;
#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        checks++;                                                           \
        if (!(cond)) {                                                      \
            if (++fails <= 40) { printf("FAIL: " __VA_ARGS__); printf("\n"); } \
        }                                                                   \
    } while (0)

/* ---- the error reporters: this program's win over the library's ---- */
static int xerbla_info = -1, cblas_info = -1;
static char xerbla_name[16], cblas_name[32];

void xerbla_(const char *srname, const int *info, size_t len) {
    xerbla_info = *info;
    memset(xerbla_name, 0, sizeof xerbla_name);
    memcpy(xerbla_name, srname, len < sizeof xerbla_name - 1 ? len : sizeof xerbla_name - 1);
}

void cblas_xerbla(int info, const char *rout, const char *form, ...) {
    (void)form;
    cblas_info = info;
    snprintf(cblas_name, sizeof cblas_name, "%s", rout);
}

/* ---- random numbers ---- */
static uint64_t seed = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static int64_t pick(const int64_t *v, size_t n) { return v[rnd() % n]; }
#define PICK(arr) pick(arr, sizeof arr / sizeof arr[0])
static float pickf(const float *v, size_t n) { return v[rnd() % n]; }
#define PICKF(arr) pickf(arr, sizeof arr / sizeof arr[0])

static const int64_t dims[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70};

/* ---- C inside guards: `pre` elements, M rows of ldc (the columns past N are
 * guards too), `post` elements; every guard is a random value kept aside. ---- */
enum { PRE = 7, POST = 9 };
typedef struct {
    size_t len;
    void *buf, *keep; /* the buffer and a copy of it as it was */
} guarded;

static guarded guard_new(size_t elem, int64_t rows, int64_t ldc) {
    guarded g;
    g.len = (PRE + (size_t)rows * (size_t)ldc + POST) * elem;
    g.buf = malloc(g.len + 1);
    g.keep = malloc(g.len + 1);
    unsigned char *b = g.buf;
    for (size_t i = 0; i < g.len; i++) b[i] = (unsigned char)rnd();
    return g;
}
static void guard_snapshot(guarded *g) { memcpy(g->keep, g->buf, g->len); }
/* Whether only elements (i, j) with i < M, j < N changed. */
static int guard_intact(const guarded *g, size_t elem, int64_t m, int64_t n, int64_t ldc) {
    const unsigned char *b = g->buf, *k = g->keep;
    for (size_t byte = 0; byte < g->len; byte++) {
        size_t e = byte / elem;
        int inside = 0;
        if (e >= PRE && e < PRE + (size_t)m * (size_t)ldc) {
            size_t off = e - PRE;
            inside = (int64_t)(off % (size_t)ldc) < n;
        }
        if (!inside && b[byte] != k[byte]) return 0;
    }
    return 1;
}
static int guard_untouched(const guarded *g) { return memcmp(g->buf, g->keep, g->len) == 0; }
static void guard_free(guarded *g) {
    free(g->buf);
    free(g->keep);
}

/* ---- the int8 reference ---- */

/* round to nearest even and saturate, as documented */
static int32_t round_sat(float x) {
    if (x >= 2147483648.0f) return INT32_MAX;
    if (x < -2147483648.0f) return INT32_MIN;
    return (int32_t)nearbyintf(x);
}

/* alpha * s + beta * c + co, exact and wrapping where alpha == 1 and beta is
 * 0 or 1, else in float left to right (each operation rounded, no fma). */
static int32_t int8_out(float alpha, int64_t s64, float beta, int32_t c, int32_t co) {
    int32_t s = (int32_t)(uint32_t)(uint64_t)s64;
    if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f)) {
        uint32_t r = (uint32_t)s + (uint32_t)co + (beta == 1.0f ? (uint32_t)c : 0u);
        return (int32_t)r;
    }
    volatile float x = alpha * (float)s; /* volatile: one rounding per step */
    volatile float y = beta == 0.0f ? 0.0f : beta * (float)c;
    volatile float z = x + y;
    volatile float w = z + (float)co;
    return round_sat(w);
}

typedef int (*dnnl_u8_fn)(char, char, char, int64_t, int64_t, int64_t, float, const uint8_t *, int64_t, uint8_t,
                          const int8_t *, int64_t, int8_t, float, int32_t *, int64_t, const int32_t *);
typedef int (*dnnl_s8_fn)(char, char, char, int64_t, int64_t, int64_t, float, const int8_t *, int64_t, int8_t,
                          const int8_t *, int64_t, int8_t, float, int32_t *, int64_t, const int32_t *);
typedef int (*bf16_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t, const uint16_t *,
                       int64_t, float, float *, int64_t);

static dnnl_u8_fn dnnl_u8;
static dnnl_s8_fn dnnl_s8;
static bf16_fn dnnl_bf16;
static int dnnl_compared = 0;

/* Calls our int8 GEMM (or oneDNN's) with the A type of `is_s8`. */
static int call_i8(int use_dnnl, int is_s8, char ta, char tb, char oc, int64_t m, int64_t n, int64_t k, float alpha,
                   const void *a, int64_t lda, int ao, const int8_t *b, int64_t ldb, int8_t bo, float beta, int32_t *c,
                   int64_t ldc, const int32_t *co) {
    if (is_s8) {
        dnnl_s8_fn f = use_dnnl ? dnnl_s8 : gemmkit_gemm_s8s8s32;
        return f(ta, tb, oc, m, n, k, alpha, a, lda, (int8_t)ao, b, ldb, bo, beta, c, ldc, co);
    }
    dnnl_u8_fn f = use_dnnl ? dnnl_u8 : gemmkit_gemm_u8s8s32;
    return f(ta, tb, oc, m, n, k, alpha, a, lda, (uint8_t)ao, b, ldb, bo, beta, c, ldc, co);
}

static int is_t(char t) { return t == 'T' || t == 't'; }

/* One random int8 case, against the reference and (where usable) oneDNN. */
static void int8_case(int is_s8) {
    static const char trans[] = "NnTt", offs[] = "FfCcRr";
    static const float alphas[] = {1.0f, 1.0f, 1.0f, 0.0f, -1.0f, 0.5f, 1.7f, 3.0e-5f, -2.25f};
    static const float betas[] = {0.0f, 0.0f, 1.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1.3f};
    int64_t m = PICK(dims), n = PICK(dims), k = PICK(dims);
    char ta = trans[rnd() % 4], tb = trans[rnd() % 4], oc = offs[rnd() % 6];
    float alpha = PICKF(alphas), beta = PICKF(betas);
    int extreme = rnd() % 5 == 0; /* all data at its extremes */
    int wide = rnd() % 4 == 0;    /* C and co near the int32 limits: wrapping, saturation */
    /* Stored shapes: A is m x k (k x m transposed), B k x n (n x k). */
    int64_t ar = is_t(ta) ? k : m, ac = is_t(ta) ? m : k, br = is_t(tb) ? n : k, bc = is_t(tb) ? k : n;
    int64_t lda = (ac > 1 ? ac : 1) + (int64_t)(rnd() % 3), ldb = (bc > 1 ? bc : 1) + (int64_t)(rnd() % 3);
    int64_t ldc = (n > 1 ? n : 1) + (int64_t)(rnd() % 3);
    int ao, bo;
    if (is_s8) ao = extreme ? -128 : (rnd() % 3 ? (int)(rnd() % 256) - 128 : 0);
    else ao = extreme ? 255 : (rnd() % 3 ? (int)(rnd() % 256) : 0);
    bo = extreme ? -128 : (rnd() % 3 ? (int)(rnd() % 256) - 128 : 0);
    if (rnd() % 8 == 0) { ao = is_s8 ? 127 : 0; bo = 127; }

    size_t alen = (size_t)(ar * lda + 1), blen = (size_t)(br * ldb + 1);
    unsigned char *a = malloc(alen);
    int8_t *b = malloc(blen);
    /* Extremes: u8 A all 255 (s8: -128) against B all -128, largest products. */
    for (size_t i = 0; i < alen; i++) a[i] = extreme ? (is_s8 ? 0x80 : 0xFF) : (unsigned char)rnd();
    for (size_t i = 0; i < blen; i++) b[i] = extreme ? -128 : (int8_t)rnd();
    int64_t co_len = (oc == 'F' || oc == 'f') ? 1 : (oc == 'C' || oc == 'c') ? m : n;
    int32_t *co = malloc(sizeof(int32_t) * (size_t)(co_len + 1));
    for (int64_t i = 0; i <= co_len; i++)
        co[i] = wide ? (rnd() % 2 ? INT32_MAX - (int32_t)(rnd() % 100) : INT32_MIN + (int32_t)(rnd() % 100))
                     : (int32_t)(rnd() % 20001) - 10000;

    guarded g = guard_new(sizeof(int32_t), m, ldc);
    int32_t *c = (int32_t *)g.buf + PRE;
    if (!wide)
        for (int64_t i = 0; i < m * ldc; i++) c[i] = (int32_t)(rnd() % 2000001) - 1000000;
    guard_snapshot(&g);

    /* The reference, from the snapshot of C. */
    const int32_t *c0 = (const int32_t *)g.keep + PRE;
    int32_t *want = malloc(sizeof(int32_t) * (size_t)(m * n + 1));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            int64_t s = 0;
            for (int64_t p = 0; p < k; p++) {
                int64_t av = is_s8 ? (int8_t)a[is_t(ta) ? p * lda + i : i * lda + p]
                                   : a[is_t(ta) ? p * lda + i : i * lda + p];
                int64_t bv = b[is_t(tb) ? j * ldb + p : p * ldb + j];
                s += (av - ao) * (bv - bo);
            }
            int32_t off = co[(oc == 'F' || oc == 'f') ? 0 : (oc == 'C' || oc == 'c') ? i : j];
            want[i * n + j] = int8_out(alpha, s, beta, c0[i * ldc + j], off);
        }

    const char *name = is_s8 ? "s8s8s32" : "u8s8s32";
    int st = call_i8(0, is_s8, ta, tb, oc, m, n, k, alpha, a, lda, ao, b, ldb, (int8_t)bo, beta, c, ldc, co);
    CHECK(st == 0, "%s %c%c%c m=%lld n=%lld k=%lld: status %d", name, ta, tb, oc, (long long)m, (long long)n,
          (long long)k, st);
    int bad = 0;
    for (int64_t i = 0; i < m && !bad; i++)
        for (int64_t j = 0; j < n && !bad; j++)
            if (c[i * ldc + j] != want[i * n + j]) {
                bad = 1;
                CHECK(0, "%s %c%c%c m=%lld n=%lld k=%lld alpha=%g beta=%g ao=%d bo=%d: (%lld,%lld) got %d want %d",
                      name, ta, tb, oc, (long long)m, (long long)n, (long long)k, alpha, beta, ao, bo, (long long)i,
                      (long long)j, c[i * ldc + j], want[i * n + j]);
            }
    if (!bad) checks++;
    CHECK(guard_intact(&g, sizeof(int32_t), m, n, ldc), "%s %c%c%c m=%lld n=%lld k=%lld: wrote outside C", name, ta,
          tb, oc, (long long)m, (long long)n, (long long)k);

    /* oneDNN on the same inputs: it skips K == 0 (leaving C), and near the
     * int32 limits its rounding order is its own, so only the other cases. */
    if ((is_s8 ? dnnl_s8 != NULL : dnnl_u8 != NULL) && k > 0 && !wide) {
        memcpy(g.buf, g.keep, g.len);
        st = call_i8(1, is_s8, ta, tb, oc, m, n, k, alpha, a, lda, ao, b, ldb, (int8_t)bo, beta, c, ldc, co);
        CHECK(st == 0, "oneDNN %s status %d", name, st);
        bad = 0;
        for (int64_t i = 0; i < m && !bad; i++)
            for (int64_t j = 0; j < n && !bad; j++) {
                int64_t d = (int64_t)c[i * ldc + j] - want[i * n + j];
                /* Exact cases agree exactly; others within one unit in the
                 * last place of f32 (oneDNN may fuse or order the terms). */
                int exact = alpha == 1.0f && (beta == 0.0f || beta == 1.0f);
                double ulp = ldexp(fabs((double)want[i * n + j]), -23) + 1.0;
                if (exact ? d != 0 : fabs((double)d) > ulp) {
                    bad = 1;
                    CHECK(0, "oneDNN %s %c%c%c m=%lld n=%lld k=%lld alpha=%g beta=%g: (%lld,%lld) oneDNN %d ours %d",
                          name, ta, tb, oc, (long long)m, (long long)n, (long long)k, alpha, beta, (long long)i,
                          (long long)j, c[i * ldc + j], want[i * n + j]);
                }
            }
        if (!bad) checks++;
        dnnl_compared++;
    }
    guard_free(&g);
    free(a);
    free(b);
    free(co);
    free(want);
}

/* ---- bf16 ---- */
static float bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint16_t rnd_bf16(void) {
    /* sign, exponent 2^-3 .. 2^3, random 7-bit mantissa: products and sums stay normal */
    uint32_t sign = (uint32_t)(rnd() & 1) << 15, exp = 124 + (uint32_t)(rnd() % 7), man = (uint32_t)(rnd() & 0x7F);
    return (uint16_t)(sign | exp << 7 | man);
}

/* One random bf16 case through gemmkit_gemm_bf16bf16f32 (api 0), cblas_sbgemm
 * row-major (1) or column-major (2), or oneDNN (3), against a double reference:
 * |got - want| <= (K + 2) * 2^-23 * (|alpha| sum|a b| + |beta c|), f32 sums. */
static void bf16_case(int api) {
    static const float alphas[] = {1.0f, 0.0f, -1.0f, 0.75f, 2.5f};
    static const float betas[] = {0.0f, 0.0f, 1.0f, -1.0f, 0.5f};
    int64_t m = PICK(dims), n = PICK(dims), k = PICK(dims);
    int ta = (int)(rnd() % 2), tb = (int)(rnd() % 2);
    float alpha = PICKF(alphas), beta = PICKF(betas);
    /* oneDNN only where its semantics are BLAS's: it leaves C as it was for
     * K == 0, and for alpha == beta == 0 it scales C by 0 (NaN stays NaN). */
    if (api == 3 && k == 0) k = 1;
    if (api == 3 && alpha == 0.0f && beta == 0.0f) alpha = 1.0f;
    /* The stored operands, row-major: A is m x k (k x m transposed), B k x n. */
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = (ac > 1 ? ac : 1) + (int64_t)(rnd() % 3), ldb = (bc > 1 ? bc : 1) + (int64_t)(rnd() % 3);
    /* Column-major (api 2) is the same call on the transposed problem:
     * C^T (n x m, column-major = C row-major) = op(B)^T op(A)^T. */
    int64_t ldc = (n > 1 ? n : 1) + (int64_t)(rnd() % 3);
    size_t alen = (size_t)(ar * lda + 1), blen = (size_t)(br * ldb + 1);
    uint16_t *a = malloc(alen * 2), *b = malloc(blen * 2);
    for (size_t i = 0; i < alen; i++) a[i] = rnd_bf16();
    for (size_t i = 0; i < blen; i++) b[i] = rnd_bf16();
    guarded g = guard_new(sizeof(float), m, ldc);
    float *c = (float *)g.buf + PRE;
    for (int64_t i = 0; i < m * ldc; i++) c[i] = beta == 0.0f ? NAN : (float)((int)(rnd() % 2001) - 1000) / 64.0f;
    guard_snapshot(&g);
    const float *c0 = (const float *)g.keep + PRE;

    char cta = ta ? 'T' : 'N', ctb = tb ? 't' : 'n';
    CBLAS_TRANSPOSE xa = ta ? (rnd() % 2 ? CblasTrans : CblasConjTrans) : CblasNoTrans;
    CBLAS_TRANSPOSE xb = tb ? CblasTrans : CblasNoTrans;
    int st = 0;
    switch (api) {
    case 0: st = gemmkit_gemm_bf16bf16f32(cta, ctb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
    case 1:
        cblas_sbgemm(CblasRowMajor, xa, xb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c,
                     (int)ldc);
        break;
    case 2:
        cblas_sbgemm(CblasColMajor, xb, xa, (int)n, (int)m, (int)k, alpha, b, (int)ldb, a, (int)lda, beta, c,
                     (int)ldc);
        break;
    case 3: st = dnnl_bf16(cta, ctb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
    }
    static const char *names[] = {"gemmkit_gemm_bf16bf16f32", "cblas_sbgemm row-major", "cblas_sbgemm col-major",
                                  "oneDNN bf16bf16f32"};
    CHECK(st == 0, "%s: status %d", names[api], st);
    int bad = 0;
    for (int64_t i = 0; i < m && !bad; i++)
        for (int64_t j = 0; j < n && !bad; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = bf2f(a[ta ? p * lda + i : i * lda + p]) * (double)bf2f(b[tb ? j * ldb + p : p * ldb + j]);
                s += x;
                sa += fabs(x);
            }
            double cv = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j];
            double want = alpha * s + cv, tol = (double)(k + 2) * ldexp(1.0, -23) * (fabs(alpha) * sa + fabs(cv));
            double got = c[i * ldc + j];
            if (!(fabs(got - want) <= tol)) {
                bad = 1;
                CHECK(0, "%s %c%c m=%lld n=%lld k=%lld alpha=%g beta=%g: (%lld,%lld) got %.9g want %.9g tol %.3g",
                      names[api], cta, ctb, (long long)m, (long long)n, (long long)k, alpha, beta, (long long)i,
                      (long long)j, got, want, tol);
            }
        }
    if (!bad) checks++;
    CHECK(guard_intact(&g, sizeof(float), m, n, ldc), "%s m=%lld n=%lld k=%lld: wrote outside C", names[api],
          (long long)m, (long long)n, (long long)k);
    if (api == 3) dnnl_compared++;
    guard_free(&g);
    free(a);
    free(b);
}

/* ---- bad arguments ---- */

/* A valid 3 x 4 x 5 call, row-major, NN, with wide buffers; each bad case
 * changes one argument. */
typedef struct {
    char ta, tb, oc;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const void *a;
    const int8_t *b;
    int32_t *c;
    const int32_t *co;
} i8args;

static unsigned char A8[64];
static int8_t B8[64];
static int32_t CO[8];

static void bad_i8(int is_s8, const char *what, i8args x, int want) {
    guarded g = guard_new(sizeof(int32_t), 4, 8);
    /* C is the buffer's body unless the case passes a pointer of its own (null, misaligned). */
    int32_t *c = x.c == (int32_t *)1 ? (int32_t *)g.buf + PRE
                 : x.c == (int32_t *)2 ? (int32_t *)((char *)g.buf + PRE * 4 + 1)
                                       : x.c;
    guard_snapshot(&g);
    int st = call_i8(0, is_s8, x.ta, x.tb, x.oc, x.m, x.n, x.k, x.alpha, x.a, x.lda, 3, x.b, x.ldb, -2, x.beta, c,
                     x.ldc, x.co);
    CHECK(st == want, "%s: %s: status %d, want %d", is_s8 ? "s8s8s32" : "u8s8s32", what, st, want);
    if (want != 0) CHECK(guard_untouched(&g), "%s: %s: C written on error", is_s8 ? "s8s8s32" : "u8s8s32", what);
    else CHECK(!guard_untouched(&g) || x.m == 0 || x.n == 0, "%s: %s: valid call wrote nothing", is_s8 ? "s8s8s32" : "u8s8s32", what);
    guard_free(&g);
}

static void bad_arguments_i8(int is_s8) {
    const i8args ok = {'N', 'N', 'F', 3, 4, 5, 5, 4, 8, 1.0f, 0.0f, A8, B8, (int32_t *)1, CO};
    i8args x;
#define BAD(what, field, value, want) (x = ok, x.field = value, bad_i8(is_s8, what, x, want))
    bad_i8(is_s8, "valid call", ok, 0);
    BAD("transa 'X'", ta, 'X', 2);
    BAD("transa 'C' (oneDNN refuses it)", ta, 'C', 2);
    BAD("transa 'P' (oneDNN's packed form; it crashes)", ta, 'P', 2);
    BAD("transb 'c'", tb, 'c', 2);
    BAD("transb 0", tb, 0, 2);
    BAD("offsetc 'X'", oc, 'X', 2);
    BAD("offsetc 0", oc, 0, 2);
    BAD("M = -1", m, -1, 2);
    BAD("N = -1", n, -1, 2);
    BAD("K = -1", k, -1, 2);
    BAD("M = INT64_MIN", m, INT64_MIN, 2);
    BAD("lda < K", lda, 4, 2);
    BAD("ldb < N", ldb, 3, 2);
    BAD("ldc < N", ldc, 3, 2);
    BAD("ldc = -8", ldc, -8, 2);
    BAD("A null", a, NULL, 2);
    BAD("B null", b, NULL, 2);
    BAD("C null", c, NULL, 2);
    BAD("co null (oneDNN crashes)", co, NULL, 2);
    BAD("C misaligned", c, (int32_t *)2, 2);
    BAD("alpha NaN", alpha, NAN, 2);
    BAD("alpha inf", alpha, INFINITY, 2);
    BAD("beta NaN", beta, NAN, 2);
    /* C spans more than the address space: refused before any access. */
    x = ok, x.m = INT64_MAX / 2, bad_i8(is_s8, "M * ldc past the address space", x, 2);
    x = ok, x.ldc = INT64_MAX, bad_i8(is_s8, "ldc = INT64_MAX", x, 2);
    x = ok, x.lda = INT64_MAX / 2, bad_i8(is_s8, "lda huge", x, 2);
    /* Transposed A is K x M: lda >= M (3), not K. */
    x = ok, x.ta = 't', x.lda = 3, bad_i8(is_s8, "transa 't' with lda = M", x, 0);
    x = ok, x.ta = 'T', x.lda = 2, bad_i8(is_s8, "transa 'T' with lda < M", x, 2);
    x = ok, x.tb = 'T', x.ldb = 4, bad_i8(is_s8, "transb 'T' with ldb < K", x, 2);
    /* oneDNN's minimums hold where a dimension is 0, and it refuses null whatever the dimensions. */
    x = ok, x.m = 0, x.ldc = 0, bad_i8(is_s8, "N > 0 = M, ldc = 0", x, 2);
    x = ok, x.n = 0, x.ldc = 0, bad_i8(is_s8, "N = 0, ldc = 0", x, 2);
    x = ok, x.n = 0, x.ldc = 1, x.ldb = 1, bad_i8(is_s8, "N = 0, ldb = ldc = 1", x, 0);
    x = ok, x.m = 0, x.n = 0, x.k = 0, x.a = NULL, bad_i8(is_s8, "all dimensions 0, A null", x, 2);
    x = ok, x.k = 0, x.lda = 0, bad_i8(is_s8, "K = 0, lda = 0", x, 2);
    x = ok, x.oc = 'r', x.m = 0, bad_i8(is_s8, "M = 0, offsetc 'r'", x, 0);
#undef BAD
}

static void bad_arguments_bf16(void) {
    static uint16_t a[64], b[64];
    struct {
        const char *what;
        char ta, tb;
        int64_t m, n, k, lda, ldb, ldc;
        int a_null, b_null, c_mode; /* c_mode: 0 buffer, 1 null, 2 misaligned */
        int want;
    } cases[] = {
        {"valid call", 'N', 'N', 3, 4, 5, 5, 4, 8, 0, 0, 0, 0},
        {"transa 'X'", 'X', 'N', 3, 4, 5, 5, 4, 8, 0, 0, 0, 2},
        {"transb 'C'", 'N', 'C', 3, 4, 5, 5, 4, 8, 0, 0, 0, 2},
        {"transa 'P'", 'P', 'N', 3, 4, 5, 5, 4, 8, 0, 0, 0, 2},
        {"M = -1", 'N', 'N', -1, 4, 5, 5, 4, 8, 0, 0, 0, 2},
        {"N = -1", 'N', 'N', 3, -1, 5, 5, 4, 8, 0, 0, 0, 2},
        {"K = -1", 'N', 'N', 3, 4, -1, 5, 4, 8, 0, 0, 0, 2},
        {"lda < K", 'N', 'N', 3, 4, 5, 4, 4, 8, 0, 0, 0, 2},
        {"transa T, lda < M", 'T', 'N', 3, 4, 5, 2, 4, 8, 0, 0, 0, 2},
        {"ldb < N", 'N', 'N', 3, 4, 5, 5, 3, 8, 0, 0, 0, 2},
        {"ldc < N", 'N', 'N', 3, 4, 5, 5, 4, 3, 0, 0, 0, 2},
        {"A null", 'N', 'N', 3, 4, 5, 5, 4, 8, 1, 0, 0, 2},
        {"B null", 'N', 'N', 3, 4, 5, 5, 4, 8, 0, 1, 0, 2},
        {"C null", 'N', 'N', 3, 4, 5, 5, 4, 8, 0, 0, 1, 2},
        {"C misaligned", 'N', 'N', 3, 4, 5, 5, 4, 8, 0, 0, 2, 2},
        {"A null, all dimensions 0", 'N', 'N', 0, 0, 0, 1, 1, 1, 1, 0, 0, 2},
        {"M * ldc past the address space", 'N', 'N', INT64_MAX / 2, 4, 5, 5, 4, 8, 0, 0, 0, 2},
        {"K = 0 (BLAS: C = beta C)", 'N', 'N', 3, 4, 0, 1, 4, 8, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        guarded g = guard_new(sizeof(float), 4, 8);
        float *c = cases[i].c_mode == 1 ? NULL
                   : cases[i].c_mode == 2 ? (float *)((char *)g.buf + PRE * 4 + 2)
                                          : (float *)g.buf + PRE;
        /* finite C, so that beta * C is finite and a write shows */
        for (int j = 0; j < 32; j++) ((float *)g.buf + PRE)[j] = 1.0f + (float)j;
        guard_snapshot(&g);
        int st = gemmkit_gemm_bf16bf16f32(cases[i].ta, cases[i].tb, cases[i].m, cases[i].n, cases[i].k, 1.0f,
                                          cases[i].a_null ? NULL : a, cases[i].lda, cases[i].b_null ? NULL : b,
                                          cases[i].ldb, 2.0f, c, cases[i].ldc);
        CHECK(st == cases[i].want, "bf16bf16f32: %s: status %d, want %d", cases[i].what, st, cases[i].want);
        if (cases[i].want) CHECK(guard_untouched(&g), "bf16bf16f32: %s: C written on error", cases[i].what);
        else CHECK(!guard_untouched(&g), "bf16bf16f32: %s: valid call wrote nothing", cases[i].what);
        guard_free(&g);
    }
}

/* cblas_sbgemm's errors: all through cblas_xerbla, numbered as its own
 * arguments (layout 1, transa 2, transb 3, m 4, n 5, k 6, a 8, lda 9, b 10,
 * ldb 11, c 13, ldc 14), whatever the layout; none through xerbla_. */
static void bad_arguments_sbgemm(void) {
    static uint16_t a[64], b[64];
    struct {
        const char *what;
        int layout, ta, tb, m, n, k, lda, ldb, ldc, null; /* 1: A null, 2: B null */
        int cblas, xerbla; /* the info each reporter must receive, or -1 */
    } cases[] = {
        {"layout 0", 0, CblasNoTrans, CblasNoTrans, 3, 4, 5, 5, 4, 8, 0, 1, -1},
        {"transa 0", CblasRowMajor, 0, CblasNoTrans, 3, 4, 5, 5, 4, 8, 0, 2, -1},
        {"transb 0", CblasRowMajor, CblasNoTrans, 0, 3, 4, 5, 5, 4, 8, 0, 3, -1},
        {"row-major M = -1", CblasRowMajor, CblasNoTrans, CblasNoTrans, -1, 4, 5, 5, 4, 8, 0, 4, -1},
        {"row-major N = -1", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, -1, 5, 5, 4, 8, 0, 5, -1},
        {"row-major K = -1", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, -1, 5, 4, 8, 0, 6, -1},
        {"row-major lda < K", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 4, 4, 8, 0, 9, -1},
        {"row-major ldb < N", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 5, 3, 8, 0, 11, -1},
        {"row-major ldc < N", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 5, 4, 3, 0, 14, -1},
        {"row-major transa, lda < M", CblasRowMajor, CblasTrans, CblasNoTrans, 3, 4, 5, 2, 4, 8, 0, 9, -1},
        {"row-major A null", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 5, 4, 8, 1, 8, -1},
        {"col-major M = -1", CblasColMajor, CblasNoTrans, CblasNoTrans, -1, 4, 5, 5, 5, 8, 0, 4, -1},
        {"col-major lda < M", CblasColMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 2, 5, 8, 0, 9, -1},
        {"col-major ldb < K", CblasColMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 3, 4, 8, 0, 11, -1},
        {"col-major ldc < M", CblasColMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 3, 5, 2, 0, 14, -1},
        {"col-major A null", CblasColMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 3, 5, 8, 1, 8, -1},
        {"A null, M = 0 (nothing read)", CblasRowMajor, CblasNoTrans, CblasNoTrans, 0, 4, 5, 5, 4, 8, 1, -1, -1},
        {"B null, M = 0 (nothing read)", CblasRowMajor, CblasNoTrans, CblasNoTrans, 0, 4, 5, 5, 4, 8, 2, -1, -1},
        {"col-major B null, N = 0", CblasColMajor, CblasNoTrans, CblasNoTrans, 3, 0, 5, 3, 5, 8, 2, -1, -1},
        {"row-major B null", CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 4, 5, 5, 4, 8, 2, 10, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        guarded g = guard_new(sizeof(float), 4, 8);
        guard_snapshot(&g);
        xerbla_info = cblas_info = -1;
        xerbla_name[0] = cblas_name[0] = 0;
        cblas_sbgemm((CBLAS_LAYOUT)cases[i].layout, (CBLAS_TRANSPOSE)cases[i].ta, (CBLAS_TRANSPOSE)cases[i].tb,
                     cases[i].m, cases[i].n, cases[i].k, 1.0f, cases[i].null == 1 ? NULL : a, cases[i].lda,
                     cases[i].null == 2 ? NULL : b, cases[i].ldb, 0.0f, (float *)g.buf + PRE, cases[i].ldc);
        CHECK(cblas_info == cases[i].cblas && xerbla_info == cases[i].xerbla,
              "cblas_sbgemm: %s: cblas_xerbla %d (want %d), xerbla_ %d (want %d)", cases[i].what, cblas_info,
              cases[i].cblas, xerbla_info, cases[i].xerbla);
        if (cases[i].cblas > 0)
            CHECK(strcmp(cblas_name, "cblas_sbgemm") == 0, "cblas_sbgemm: %s: routine '%s'", cases[i].what,
                  cblas_name);
        if (cases[i].xerbla > 0)
            CHECK(strncmp(xerbla_name, "SBGEMM", 6) == 0, "cblas_sbgemm: %s: name '%s'", cases[i].what,
                  xerbla_name);
        if (cases[i].cblas > 0 || cases[i].xerbla > 0)
            CHECK(guard_untouched(&g), "cblas_sbgemm: %s: C written on error", cases[i].what);
        else
            CHECK(guard_untouched(&g), "cblas_sbgemm: %s: wrote with M or N = 0", cases[i].what);
        guard_free(&g);
    }
}

int main(void) {
    /* oneDNN, where installed: loaded here, never linked. */
    void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        /* POSIX: a function's address round-trips through void *. */
        void *p = dlsym(h, "dnnl_gemm_u8s8s32");
        memcpy(&dnnl_u8, &p, sizeof p);
        p = dlsym(h, "dnnl_gemm_s8s8s32");
        memcpy(&dnnl_s8, &p, sizeof p);
        p = dlsym(h, "dnnl_gemm_bf16bf16f32");
        memcpy(&dnnl_bf16, &p, sizeof p);
        /* oneDNN 2.6 exports its bf16 GEMM everywhere but implements it only on
           AVX-512 CPUs (status 3, dnnl_unimplemented, elsewhere): ask once. */
        /* Without VNNI oneDNN 2.6 sums each pair of u8 x s8 products in 16
           bits with saturation (vpmaddubsw): 255 * 127 twice is 64770 exactly,
           32767 saturated. Such a GEMM is not an exact oracle. */
        const uint8_t au[2] = {255, 255};
        const int8_t as[2] = {127, 127}, bs[2] = {127, 127};
        const int32_t co = 0;
        int32_t c8 = 0;
        if (dnnl_u8 && (dnnl_u8('N', 'N', 'F', 1, 1, 2, 1.0f, au, 2, 0, bs, 1, 0, 0.0f, &c8, 1, &co) != 0 || c8 != 64770)) {
            printf("oneDNN's u8s8s32 is not exact on this CPU (%d for 64770): its comparison NOT RUN\n", (int)c8);
            dnnl_u8 = NULL;
        }
        c8 = 0;
        if (dnnl_s8 && (dnnl_s8('N', 'N', 'F', 1, 1, 2, 1.0f, as, 2, 0, bs, 1, 0, 0.0f, &c8, 1, &co) != 0 || c8 != 32258)) {
            printf("oneDNN's s8s8s32 is not exact on this CPU (%d for 32258): its comparison NOT RUN\n", (int)c8);
            dnnl_s8 = NULL;
        }
        if (dnnl_bf16) {
            uint16_t one = 0x3f80;
            float c = 0.0f;
            if (dnnl_bf16('N', 'N', 1, 1, 1, 1.0f, &one, 1, &one, 1, 0.0f, &c, 1) != 0 || c != 1.0f) {
                printf("oneDNN has no bf16 GEMM on this CPU: its bf16 comparison NOT RUN\n");
                dnnl_bf16 = NULL;
            }
        }
    }

    for (int i = 0; i < 300; i++) int8_case(0);
    for (int i = 0; i < 300; i++) int8_case(1);
    for (int i = 0; i < 300; i++) bf16_case(i % 3);
    if (dnnl_bf16)
        for (int i = 0; i < 60; i++) bf16_case(3);
    bad_arguments_i8(0);
    bad_arguments_i8(1);
    bad_arguments_bf16();
    bad_arguments_sbgemm();

    if (dnnl_compared)
        printf("oneDNN comparison: %d calls agreed with the references\n", dnnl_compared);
    else
        printf("oneDNN %s, comparison NOT RUN\n", h ? "has no exact low-precision GEMM here" : "not found");
    printf("%d checks, %d failed\n", checks, fails);
    return fails != 0;
}
