/* MKL's packed GEMM (cblas_sgemm_pack_get_size / cblas_sgemm_pack /
 * cblas_sgemm_compute) against a double reference: both layouts, every
 * transpose, A packed, B packed and both, alpha != 1, beta 0 (C full of NaN,
 * which must not leak) and not 0, m/n/k of 1, odd, and k past a block of k.
 * C sits between guard values (before, after, and in the ldc padding) that
 * must survive. One packed buffer serves several computes (other A or B,
 * other C, another m for a packed B), and a memcpy'd copy at another
 * alignment computes the same. Bad arguments reach this program's
 * cblas_xerbla with the documented numbers and write nothing, and so does a
 * buffer packed on another target: the test runs itself again with
 * HWY_TARGET=fallback on a buffer this process packed, saved to a file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gemmkit_blas.h"

static int fails = 0, checks = 0;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            if (++fails <= 40) { printf("FAIL: " __VA_ARGS__); printf("\n"); }  \
        }                                                                       \
    } while (0)

/* ---- the error reporters: this program's win over the library's ---- */
static int cblas_info = -1, xerbla_calls = 0;
static char cblas_name[40];

void cblas_xerbla(int info, const char *rout, const char *form, ...) {
    (void)form;
    cblas_info = info;
    snprintf(cblas_name, sizeof cblas_name, "%s", rout);
}

void xerbla_(const char *srname, const int *info, size_t len) {
    (void)srname, (void)info, (void)len;
    xerbla_calls++;
}

/* ---- random numbers ---- */
static uint64_t seed = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}
static float unit(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }
static void fill(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = unit();
}

/* Element (i, j) of an r x c matrix stored with leading dimension ld. */
static size_t at(CBLAS_LAYOUT layout, size_t i, size_t j, int ld) {
    return layout == CblasRowMajor ? i * (size_t)ld + j : j * (size_t)ld + i;
}
/* op(X)(i, j) of a stored X. */
static float op_at(CBLAS_LAYOUT layout, int trans, const float *x, int ld, int i, int j) {
    return trans ? x[at(layout, j, i, ld)] : x[at(layout, i, j, ld)];
}

/* An operand: op(X) is rows x cols, stored transposed or not. */
typedef struct {
    int trans, ld;
    size_t len;
    float *x;
} operand;

static operand operand_new(CBLAS_LAYOUT layout, int trans, int rows, int cols) {
    operand o;
    int sr = trans ? cols : rows, sc = trans ? rows : cols;
    int least = layout == CblasRowMajor ? sc : sr;
    o.trans = trans;
    o.ld = (least < 1 ? 1 : least) + (int)(rnd() % 3);
    int lines = layout == CblasRowMajor ? sr : sc;
    o.len = (size_t)(lines < 1 ? 1 : lines) * (size_t)o.ld;
    o.x = malloc(o.len * sizeof(float));
    fill(o.x, o.len);
    return o;
}

/* C (m x n, ldc) between PRE and POST guard elements. */
enum { PRE = 5, POST = 7 };
typedef struct {
    int ldc;
    size_t len;
    float *buf, *keep; /* the buffer, and C's values (and guards) before the call */
} guarded;

static guarded c_new(CBLAS_LAYOUT layout, int m, int n, int nan_inside) {
    guarded g;
    int least = layout == CblasRowMajor ? n : m;
    g.ldc = (least < 1 ? 1 : least) + (int)(rnd() % 3);
    int lines = layout == CblasRowMajor ? m : n;
    g.len = PRE + (size_t)lines * (size_t)g.ldc + POST;
    g.buf = malloc(g.len * sizeof(float));
    g.keep = malloc(g.len * sizeof(float));
    fill(g.buf, g.len);
    if (nan_inside)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) g.buf[PRE + at(layout, i, j, g.ldc)] = NAN;
    memcpy(g.keep, g.buf, g.len * sizeof(float));
    return g;
}

/* Whether only C's m x n elements changed. */
static int guards_intact(CBLAS_LAYOUT layout, const guarded *g, int m, int n) {
    for (size_t e = 0; e < g->len; e++) {
        int inside = 0;
        if (e >= PRE && e < g->len - POST) {
            size_t off = e - PRE, line = off / (size_t)g->ldc, pos = off % (size_t)g->ldc;
            inside = layout == CblasRowMajor ? (line < (size_t)m && pos < (size_t)n)
                                             : (line < (size_t)n && pos < (size_t)m);
        }
        if (!inside && memcmp(&g->buf[e], &g->keep[e], sizeof(float)) != 0) return 0;
    }
    return 1;
}
static int untouched(const guarded *g) { return memcmp(g->buf, g->keep, g->len * sizeof(float)) == 0; }

/* C against alpha * op(A) op(B) + beta * C0 in double, with a tolerance from
 * the magnitudes summed; returns the number of bad elements. */
static int compare(CBLAS_LAYOUT layout, const guarded *g, int m, int n, int k, double alpha, const operand *a,
                   const operand *b, double beta) {
    int bad = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double x = op_at(layout, a->trans, a->x, a->ld, i, p), y = op_at(layout, b->trans, b->x, b->ld, p, j);
                s += x * y;
                mag += fabs(x * y);
            }
            double c0 = g->keep[PRE + at(layout, i, j, g->ldc)];
            double want = alpha * s + (beta == 0 ? 0 : beta * c0);
            double tol = 4 * 1.2e-7 * (k + 4) * (fabs(alpha) * mag + (beta == 0 ? 0 : fabs(beta * c0))) + 1e-30;
            double got = g->buf[PRE + at(layout, i, j, g->ldc)];
            if (!(fabs(got - want) <= tol)) {
                if (bad == 0 && fails < 40)
                    printf("  (%d, %d): got %.9g want %.9g (tol %.3g)\n", i, j, got, want, tol);
                bad++;
            }
        }
    return bad;
}

/* A packed buffer of cblas_sgemm_pack_get_size bytes, packed. */
static float *pack(CBLAS_LAYOUT layout, CBLAS_IDENTIFIER id, const operand *o, int m, int n, int k, float alpha) {
    size_t bytes = cblas_sgemm_pack_get_size(id, m, n, k);
    CHECK(bytes > 0, "get_size(%d, %d, %d, %d) = 0", id, m, n, k);
    float *buf = malloc(bytes);
    cblas_info = -1;
    cblas_sgemm_pack(layout, id, o->trans ? CblasTrans : CblasNoTrans, m, n, k, alpha, o->x, o->ld, buf);
    CHECK(cblas_info == -1, "pack reported %d", cblas_info);
    return buf;
}

static const char *name_of(int packed) { return packed == 1 ? "A" : packed == 2 ? "B" : "A and B"; }

/* One case: `packed` 1 (A), 2 (B) or 3 (both). */
static void run_case(CBLAS_LAYOUT layout, int packed, int ta, int tb, int m, int n, int k, float alpha, float beta) {
    const char *lay = layout == CblasRowMajor ? "row" : "col";
    operand a = operand_new(layout, ta, m, k), b = operand_new(layout, tb, k, n);
    /* Both packed: alpha from A's pack times alpha_b from B's. */
    float alpha_b = packed == 3 ? 2.0f : alpha, alpha_a = alpha;
    float *pa = packed & 1 ? pack(layout, CblasAMatrix, &a, m, n, k, alpha_a) : NULL;
    float *pb = packed & 2 ? pack(layout, CblasBMatrix, &b, m, n, k, alpha_b) : NULL;
    double eff = packed == 3 ? (double)alpha_a * alpha_b : alpha;
    int transa = pa ? CblasPacked : (ta ? CblasTrans : CblasNoTrans);
    int transb = pb ? CblasPacked : (tb ? (rnd() % 2 ? CblasTrans : CblasConjTrans) : CblasNoTrans);
    /* Rounds: 0 as packed; 1 with the unpacked operand and C drawn again
     * (reuse); 2 from memcpy'd copies of the packed buffers at another
     * alignment, the originals overwritten and freed. */
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            if (!pa) fill(a.x, a.len);
            if (!pb) fill(b.x, b.len);
        }
        if (round == 2) {
            float **bufs[2] = {&pa, &pb};
            CBLAS_IDENTIFIER ids[2] = {CblasAMatrix, CblasBMatrix};
            for (int w = 0; w < 2; w++) {
                if (!*bufs[w]) continue;
                size_t bytes = cblas_sgemm_pack_get_size(ids[w], m, n, k);
                /* 64-byte aligned plus 4 (or 8) bytes: another alignment than malloc's. */
                char *base = aligned_alloc(64, (bytes + 64 + 63) / 64 * 64);
                float *copy = (float *)(base + 4 + 4 * (rnd() % 2));
                memcpy(copy, *bufs[w], bytes);
                memset(*bufs[w], 0x5A, bytes);
                free(*bufs[w]);
                *bufs[w] = copy;
            }
        }
        float r_beta = round == 1 && beta != 0 ? -beta : beta;
        guarded c = c_new(layout, m, n, r_beta == 0);
        cblas_info = -1;
        cblas_sgemm_compute(layout, transa, transb, m, n, k, pa ? pa : a.x, pa ? 0 : a.ld, pb ? pb : b.x,
                            pb ? 0 : b.ld, r_beta, c.buf + PRE, c.ldc);
        CHECK(cblas_info == -1, "%s-major %s packed %dx%dx%d: compute reported %d", lay, name_of(packed), m, n, k,
              cblas_info);
        int bad = compare(layout, &c, m, n, k, eff, &a, &b, r_beta);
        CHECK(bad == 0, "%s-major, %s packed, ta %d tb %d, %dx%dx%d, alpha %g beta %g, round %d: %d bad elements", lay,
              name_of(packed), ta, tb, m, n, k, eff, r_beta, round, bad);
        CHECK(guards_intact(layout, &c, m, n), "%s-major %s packed %dx%dx%d round %d: guard overwritten", lay,
              name_of(packed), m, n, k, round);
        free(c.buf);
        free(c.keep);
    }
    /* A packed B serves another m, a packed A another n. */
    if (packed == 2 || packed == 1) {
        int m2 = packed == 2 ? m + 3 : m, n2 = packed == 1 ? n + 2 : n;
        operand o = packed == 2 ? operand_new(layout, ta, m2, k) : operand_new(layout, tb, k, n2);
        guarded c = c_new(layout, m2, n2, 0);
        cblas_info = -1;
        if (packed == 2)
            cblas_sgemm_compute(layout, transa, CblasPacked, m2, n2, k, o.x, o.ld, pb, 0, 0.5f, c.buf + PRE, c.ldc);
        else
            cblas_sgemm_compute(layout, CblasPacked, transb, m2, n2, k, pa, 0, o.x, o.ld, 0.5f, c.buf + PRE, c.ldc);
        CHECK(cblas_info == -1, "%s-major %s packed, other %s: reported %d", lay, name_of(packed),
              packed == 2 ? "m" : "n", cblas_info);
        int bad = packed == 2 ? compare(layout, &c, m2, n2, k, alpha, &o, &b, 0.5) : compare(layout, &c, m2, n2, k, alpha, &a, &o, 0.5);
        CHECK(bad == 0, "%s-major %s packed, other %s (%dx%dx%d): %d bad elements", lay, name_of(packed),
              packed == 2 ? "m" : "n", m2, n2, k, bad);
        CHECK(guards_intact(layout, &c, m2, n2), "other m/n: guard overwritten");
        free(o.x);
        free(c.buf);
        free(c.keep);
    }
    /* The copies (round 2) came from aligned_alloc at base + 4 or + 8. */
    if (pa) free((char *)pa - ((uintptr_t)pa % 64));
    if (pb) free((char *)pb - ((uintptr_t)pb % 64));
    free(a.x);
    free(b.x);
}

/* ---- bad arguments: reported, numbered, nothing written ---- */
static void expect(int info, const char *routine, const char *what) {
    CHECK(cblas_info == info && strcmp(cblas_name, routine) == 0, "%s: %s reported %d (%s), want %d", what, routine,
          cblas_info, cblas_name, info);
    cblas_info = -1;
}

static void bad_arguments(void) {
    const int m = 4, n = 5, k = 6;
    CHECK(cblas_sgemm_pack_get_size(CblasAMatrix, m, n, k) > 0, "get_size A");
    CHECK(cblas_sgemm_pack_get_size((CBLAS_IDENTIFIER)151, m, n, k) == 0, "get_size bad identifier");
    CHECK(cblas_sgemm_pack_get_size(CblasBMatrix, m, n, -1) == 0, "get_size k < 0");
    CHECK(cblas_sgemm_pack_get_size(CblasBMatrix, -1, n, k) == 0, "get_size m < 0");
    CHECK(cblas_sgemm_pack_get_size(CblasBMatrix, m, -1, k) == 0, "get_size n < 0");
    CHECK(cblas_info == -1, "get_size reports nothing");

    float a[64], b[64];
    fill(a, 64);
    fill(b, 64);
    size_t bytes = cblas_sgemm_pack_get_size(CblasBMatrix, m, n, k);
    unsigned char *dest = malloc(bytes), *keep = malloc(bytes);
    memset(dest, 0xAB, bytes);
    memcpy(keep, dest, bytes);
    float *d = (float *)dest;
    const char *P = "cblas_sgemm_pack";
    cblas_info = -1;
    cblas_sgemm_pack((CBLAS_LAYOUT)0, CblasBMatrix, CblasNoTrans, m, n, k, 1, b, n, d);
    expect(1, P, "pack layout");
    cblas_sgemm_pack(CblasRowMajor, (CBLAS_IDENTIFIER)0, CblasNoTrans, m, n, k, 1, b, n, d);
    expect(2, P, "pack identifier");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, (CBLAS_TRANSPOSE)CblasPacked, m, n, k, 1, b, n, d);
    expect(3, P, "pack trans CblasPacked");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, -1, n, k, 1, b, n, d);
    expect(4, P, "pack m < 0");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, -1, k, 1, b, n, d);
    expect(5, P, "pack n < 0");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, n, -1, 1, b, n, d);
    expect(6, P, "pack k < 0");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, n, k, 1, NULL, n, d);
    expect(8, P, "pack src NULL");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, n, k, 1, b, n - 1, d);
    expect(9, P, "pack ld < n (row-major B)");
    cblas_sgemm_pack(CblasColMajor, CblasBMatrix, CblasTrans, m, n, k, 1, b, n - 1, d);
    expect(9, P, "pack ld < n (col-major B^T)");
    cblas_sgemm_pack(CblasColMajor, CblasAMatrix, CblasNoTrans, m, n, k, 1, a, m - 1, d);
    expect(9, P, "pack ld < m (col-major A)");
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, n, k, 1, b, n, NULL);
    expect(10, P, "pack dest NULL");
    CHECK(memcmp(dest, keep, bytes) == 0, "pack wrote dest on error");

    /* A good packed B (row-major, k x n, ldb n) for the compute errors. */
    cblas_sgemm_pack(CblasRowMajor, CblasBMatrix, CblasNoTrans, m, n, k, 1, b, n, d);
    CHECK(cblas_info == -1, "good pack");
    const char *C = "cblas_sgemm_compute";
    guarded c = c_new(CblasRowMajor, m, n, 0);
    float *cp = c.buf + PRE;
    int ldc = c.ldc;
    cblas_sgemm_compute((CBLAS_LAYOUT)0, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, cp, ldc);
    expect(1, C, "compute layout");
    cblas_sgemm_compute(CblasRowMajor, 0, CblasPacked, m, n, k, a, k, d, 0, 0, cp, ldc);
    expect(2, C, "compute transa");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, 150, m, n, k, a, k, d, 0, 0, cp, ldc);
    expect(3, C, "compute transb");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, -1, n, k, a, k, d, 0, 0, cp, ldc);
    expect(4, C, "compute m < 0");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, -1, k, a, k, d, 0, 0, cp, ldc);
    expect(5, C, "compute n < 0");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, -1, a, k, d, 0, 0, cp, ldc);
    expect(6, C, "compute k < 0");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, NULL, k, d, 0, 0, cp, ldc);
    expect(7, C, "compute a NULL");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k - 1, d, 0, 0, cp, ldc);
    expect(8, C, "compute lda < k");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, a, k, b, n - 1, 0, cp, ldc);
    expect(10, C, "compute ldb < n");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, NULL, ldc);
    expect(12, C, "compute c NULL");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, cp, n - 1);
    expect(13, C, "compute ldc < n");
    /* Packed buffers that do not fit the call: refused, as their argument. */
    cblas_sgemm_compute(CblasRowMajor, CblasPacked, CblasNoTrans, m, n, k, d, 0, b, n, 0, cp, ldc);
    expect(7, C, "a packed B passed as A");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k - 1, a, k, d, 0, 0, cp, ldc);
    expect(9, C, "packed B with another k");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n + 1, k, a, k, d, 0, 0, cp, ldc + 1);
    expect(9, C, "packed B with another n");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, b, 0, 0, cp, ldc);
    expect(9, C, "an unpacked B passed as packed");
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d + 1, 0, 0, cp, ldc);
    expect(9, C, "a packed B at the wrong address");
    /* Damage the runtime's header (right after the library's 64 bytes): its
     * target name, then its blocks of k. */
    unsigned char *rt = dest + 64;
    rt[16] ^= 0x20;
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, cp, ldc);
    expect(9, C, "packed B with a damaged target name");
    rt[16] ^= 0x20;
    rt[64] ^= 0x01;
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, cp, ldc);
    expect(9, C, "packed B with damaged blocks");
    rt[64] ^= 0x01;
    CHECK(untouched(&c), "compute wrote C on error");
    /* Repaired, it computes. */
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, m, n, k, a, k, d, 0, 0, cp, ldc);
    CHECK(cblas_info == -1, "repaired buffer: reported %d", cblas_info);
    /* M or N zero: nothing read or written, A and B may be anything. */
    memcpy(c.buf, c.keep, c.len * sizeof(float));
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, 0, n, k, NULL, k, NULL, 0, 0, cp, ldc);
    CHECK(cblas_info == -1 && untouched(&c), "m = 0");
    CHECK(xerbla_calls == 0, "xerbla_ was called %d times", xerbla_calls);
    free(c.buf);
    free(c.keep);
    free(dest);
    free(keep);
}

/* ---- another target: this program again, on a saved buffer ---- */
enum { OM = 3, ON = 4, OK_ = 5 };

/* The child: computes from the buffer in `path` (packed B, OM x ON x OK_);
 * exits with the number cblas_xerbla got (0: none), 100 if C changed. */
static int child(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 101;
    size_t bytes = cblas_sgemm_pack_get_size(CblasBMatrix, OM, ON, OK_);
    float *buf = malloc(bytes + 4096);
    size_t got = fread(buf, 1, bytes + 4096, f);
    fclose(f);
    if (got == 0) return 102;
    float a[OM * OK_];
    fill(a, OM * OK_);
    guarded c = c_new(CblasRowMajor, OM, ON, 0);
    cblas_sgemm_compute(CblasRowMajor, CblasNoTrans, CblasPacked, OM, ON, OK_, a, OK_, buf, 0, 0, c.buf + PRE, c.ldc);
    if (cblas_info != -1 && !untouched(&c)) return 100;
    return cblas_info == -1 ? 0 : cblas_info;
}

static void another_target(const char *self) {
    const char *forced = getenv("HWY_TARGET");
#if defined(__x86_64__)
    int simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(__aarch64__)
    int simd = 1;
#else
    int simd = 0;
#endif
    if (!simd || (forced && strcmp(forced, "fallback") == 0)) {
        printf("NOT CHECKED: a buffer from another target (this process may run the fallback target itself)\n");
        return;
    }
    char path[4096], cmd[8300];
    snprintf(path, sizeof path, "%s.packed-buffer", self);
    float b[OK_ * ON];
    fill(b, OK_ * ON);
    operand o = {0, ON, OK_ * ON, b};
    float *buf = pack(CblasRowMajor, CblasBMatrix, &o, OM, ON, OK_, 1.0f);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fwrite(buf, 1, cblas_sgemm_pack_get_size(CblasBMatrix, OM, ON, OK_), f);
    fclose(f);
    free(buf);
    snprintf(cmd, sizeof cmd, "HWY_TARGET=fallback '%s' compute '%s'", self, path);
    int status = system(cmd);
    /* The shell's status: the exit code in bits 8-15 (POSIX WEXITSTATUS). */
    int code = (status >> 8) & 0xff;
    CHECK(code == 9, "a buffer packed on this process's target, computed on fallback: child exited %d (want 9)", code);
    remove(path);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "compute") == 0) return child(argv[2]);
    const int shapes[][3] = {{1, 1, 1}, {1, 7, 5}, {6, 1, 9}, {3, 5, 1}, {17, 13, 33}, {33, 65, 7},
                             {5, 40, 1500}, {70, 9, 1100}, {1, 1, 1100}, {96, 100, 130}, {4, 3, 0}, {0, 3, 4},
                             {3, 0, 4}};
    const int nshapes = sizeof shapes / sizeof shapes[0];
    CBLAS_LAYOUT layouts[2] = {CblasRowMajor, CblasColMajor};
    for (int l = 0; l < 2; l++)
        for (int packed = 1; packed <= 3; packed++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int s = 0; s < nshapes; s++) {
                        float alpha = (s % 3 == 0) ? 1.0f : (s % 3 == 1 ? -0.75f : 2.5f);
                        float beta = ((s + ta + tb) % 2 == 0) ? 0.0f : 0.5f;
                        run_case(layouts[l], packed, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], alpha, beta);
                    }
    bad_arguments();
    another_target(argv[0]);
    printf("packed GEMM: %d checks, %d failed\n", checks, fails);
    return fails != 0;
}
