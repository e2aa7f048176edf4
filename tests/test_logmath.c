/* tests/test_logmath.c — cai_logsumexp, the streaming cai_lse_* form and the
 * checked size arithmetic, against closed forms and a naive
 * log(sum(exp(x))) on values where the naive form is exact enough. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "cai/logmath.h"

static double lse_stream(const double *x, size_t n)
{
    cai_lse a;
    cai_lse_init(&a);
    for (size_t i = 0; i < n; i++)
        cai_lse_add(&a, x[i]);
    return cai_lse_result(&a);
}

static void test_empty(void)
{
    double dummy = 1.0;
    double r = cai_logsumexp(&dummy, 0);
    CU_ASSERT(isinf(r) && r < 0);
    r = cai_logsumexp(NULL, 0);
    CU_ASSERT(isinf(r) && r < 0);
    r = lse_stream(NULL, 0);
    CU_ASSERT(isinf(r) && r < 0);
}

static void test_all_neg_inf(void)
{
    double x[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (size_t n = 1; n <= 5; n++) {
        double r = cai_logsumexp(x, n);
        CU_ASSERT(isinf(r) && r < 0);
        CU_ASSERT(!isnan(r));
        r = lse_stream(x, n);
        CU_ASSERT(isinf(r) && r < 0);
        CU_ASSERT(!isnan(r));
    }
}

static void test_some_neg_inf(void)
{
    /* -inf terms contribute nothing */
    double x[4] = {-INFINITY, log(2.0), -INFINITY, log(3.0)};
    CAI_ASSERT_CLOSE(cai_logsumexp(x, 4), log(5.0), 1e-15);
    CAI_ASSERT_CLOSE(lse_stream(x, 4), log(5.0), 1e-15);
    double y[3] = {-INFINITY, -INFINITY, -7.25};
    CU_ASSERT(cai_logsumexp(y, 3) == -7.25);
    CAI_ASSERT_CLOSE(lse_stream(y, 3), -7.25, 1e-15);
}

static void test_pos_inf(void)
{
    double x[4] = {1.0, INFINITY, -INFINITY, 3.0};
    double r = cai_logsumexp(x, 4);
    CU_ASSERT(isinf(r) && r > 0);
    r = lse_stream(x, 4);
    CU_ASSERT(isinf(r) && r > 0);
    /* +inf first and last, and twice */
    double y[3] = {INFINITY, 0.0, INFINITY};
    r = cai_logsumexp(y, 3);
    CU_ASSERT(isinf(r) && r > 0);
    r = lse_stream(y, 3);
    CU_ASSERT(isinf(r) && r > 0);
    double z[1] = {INFINITY};
    r = cai_logsumexp(z, 1);
    CU_ASSERT(isinf(r) && r > 0);
    r = lse_stream(z, 1);
    CU_ASSERT(isinf(r) && r > 0);
}

static void test_nan(void)
{
    double x[4] = {1.0, NAN, 2.0, -INFINITY};
    CU_ASSERT(isnan(cai_logsumexp(x, 4)));
    CU_ASSERT(isnan(lse_stream(x, 4)));
    double y[3] = {NAN, -INFINITY, -INFINITY};
    CU_ASSERT(isnan(cai_logsumexp(y, 3)));
    CU_ASSERT(isnan(lse_stream(y, 3)));
    double z[3] = {-INFINITY, 5.0, NAN};
    CU_ASSERT(isnan(cai_logsumexp(z, 3)));
    CU_ASSERT(isnan(lse_stream(z, 3)));
}

static void test_large_magnitudes(void)
{
    /* exp(1e6) overflows and exp(-1e6) underflows: the max must be
     * subtracted first */
    double a[2] = {1e6, 1e6};
    CAI_ASSERT_CLOSE(cai_logsumexp(a, 2), 1e6 + log(2.0), 1e-15);
    CAI_ASSERT_CLOSE(lse_stream(a, 2), 1e6 + log(2.0), 1e-15);
    CU_ASSERT(isfinite(cai_logsumexp(a, 2)));

    double b[3] = {-1e6, -1e6 - 1.0, -1e6 + 2.0};
    double want = -1e6 + log(1.0 + exp(-1.0) + exp(2.0));
    CAI_ASSERT_CLOSE(cai_logsumexp(b, 3), want, 1e-15);
    CAI_ASSERT_CLOSE(lse_stream(b, 3), want, 1e-15);
    /* absolute accuracy too: the offset from -1e6 is right to ~1e-9 */
    CU_ASSERT(fabs((cai_logsumexp(b, 3) + 1e6) - log(1.0 + exp(-1.0) + exp(2.0))) < 1e-9);

    double c[3] = {1e6, -1e6, 0.0};
    CAI_ASSERT_CLOSE(cai_logsumexp(c, 3), 1e6, 1e-15);
    CAI_ASSERT_CLOSE(lse_stream(c, 3), 1e6, 1e-15);

    double d[2] = {1e308, 1e308};
    CU_ASSERT(isfinite(cai_logsumexp(d, 2)));
    CAI_ASSERT_CLOSE(cai_logsumexp(d, 2), 1e308, 1e-15);
    CU_ASSERT(isfinite(lse_stream(d, 2)));

    double e[2] = {-1e308, -1e308};
    CAI_ASSERT_CLOSE(cai_logsumexp(e, 2), -1e308, 1e-15);
    CAI_ASSERT_CLOSE(lse_stream(e, 2), -1e308, 1e-15);

    /* streaming with an increasing sequence rescales as it goes */
    double f[4] = {-1e6, 0.0, 1e3, 1e6};
    CAI_ASSERT_CLOSE(lse_stream(f, 4), 1e6, 1e-15);
    double g[4] = {1e6, 1e3, 0.0, -1e6};
    CAI_ASSERT_CLOSE(lse_stream(g, 4), 1e6, 1e-15);
}

static void test_single_and_exact(void)
{
    double x[1] = {-3.5};
    CU_ASSERT(cai_logsumexp(x, 1) == -3.5);
    CAI_ASSERT_CLOSE(lse_stream(x, 1), -3.5, 1e-16);
    /* n copies of v: v + log n */
    double y[1000];
    for (size_t i = 0; i < 1000; i++)
        y[i] = 123.25;
    CAI_ASSERT_CLOSE(cai_logsumexp(y, 1000), 123.25 + log(1000.0), 1e-14);
    CAI_ASSERT_CLOSE(lse_stream(y, 1000), 123.25 + log(1000.0), 1e-14);
    /* only the first n entries are read */
    double z[3] = {0.0, 0.0, 1e300};
    CAI_ASSERT_CLOSE(cai_logsumexp(z, 2), log(2.0), 1e-15);
}

static void test_vs_naive(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12345);
    double x[64];
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = 1 + gsl_rng_uniform_int(r, 64);
        long double naive = 0.0L;
        for (size_t i = 0; i < n; i++) {
            x[i] = -30.0 + 60.0 * gsl_rng_uniform(r);
            if (gsl_rng_uniform(r) < 0.1)
                x[i] = -INFINITY;
            naive += expl((long double)x[i]);
        }
        double a = cai_logsumexp(x, n);
        double s = lse_stream(x, n);
        if (naive == 0.0L) {
            CU_ASSERT(isinf(a) && a < 0);
            CU_ASSERT(isinf(s) && s < 0);
            continue;
        }
        double want = (double)logl(naive);
        CAI_ASSERT_CLOSE(a, want, 1e-13);
        CAI_ASSERT_CLOSE(s, want, 1e-13);
        CAI_ASSERT_CLOSE(s, a, 1e-13);
        /* permutation invariance up to rounding */
        for (size_t i = 0; i + 1 < n; i += 2) {
            double t = x[i];
            x[i] = x[i + 1];
            x[i + 1] = t;
        }
        CAI_ASSERT_CLOSE(cai_logsumexp(x, n), want, 1e-13);
        CAI_ASSERT_CLOSE(lse_stream(x, n), want, 1e-13);
    }
    gsl_rng_free(r);
}

static void test_shifted(void)
{
    /* lse(x + c) = lse(x) + c, checked at very different scales */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 777);
    double x[20], y[20];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + gsl_rng_uniform_int(r, 20);
        long double naive = 0.0L;
        for (size_t i = 0; i < n; i++) {
            x[i] = -5.0 + 10.0 * gsl_rng_uniform(r);
            naive += expl((long double)x[i]);
        }
        double base = (double)logl(naive);
        double shifts[4] = {1e5, -1e5, 700.0, -745.0};
        for (int k = 0; k < 4; k++) {
            for (size_t i = 0; i < n; i++)
                y[i] = x[i] + shifts[k];
            /* absolute accuracy relative to the size of the shift */
            CU_ASSERT(fabs(cai_logsumexp(y, n) - (base + shifts[k]))
                      <= 1e-13 * (1.0 + fabs(shifts[k])));
            CU_ASSERT(fabs(lse_stream(y, n) - (base + shifts[k]))
                      <= 1e-13 * (1.0 + fabs(shifts[k])));
        }
    }
    gsl_rng_free(r);
}

static void test_size_mul(void)
{
    size_t out = 42;
    CU_ASSERT(cai_size_mul(3, 5, &out));
    CU_ASSERT(out == 15);
    CU_ASSERT(cai_size_mul(0, SIZE_MAX, &out));
    CU_ASSERT(out == 0);
    CU_ASSERT(cai_size_mul(SIZE_MAX, 0, &out));
    CU_ASSERT(out == 0);
    CU_ASSERT(cai_size_mul(1, SIZE_MAX, &out));
    CU_ASSERT(out == SIZE_MAX);
    CU_ASSERT(cai_size_mul(SIZE_MAX / 2, 2, &out));
    CU_ASSERT(out == SIZE_MAX - 1);

    out = 42;
    CU_ASSERT(!cai_size_mul(SIZE_MAX / 2 + 1, 2, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(!cai_size_mul(SIZE_MAX, 2, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(!cai_size_mul(SIZE_MAX, SIZE_MAX, &out));
    CU_ASSERT(out == 42);
    size_t half = (size_t)1 << (sizeof(size_t) * 4); /* 2^32 on 64-bit */
    CU_ASSERT(!cai_size_mul(half, half, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(cai_size_mul(half - 1, half + 1, &out)); /* 2^64 - 1 */
    CU_ASSERT(out == SIZE_MAX);
    out = 42;
    CU_ASSERT(!cai_size_mul(half, half + 1, &out));
    CU_ASSERT(out == 42);
    /* the cardinality limit squared and cubed */
    size_t lim = (size_t)1 << 40;
    CU_ASSERT(!cai_size_mul(lim, lim, &out));
    CU_ASSERT(out == 42);

    /* random operands against the compiler's checked multiply */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 99);
    for (int i = 0; i < 100000; i++) {
        unsigned bits_a = (unsigned)gsl_rng_uniform_int(r, sizeof(size_t) * 8 + 1);
        unsigned bits_b = (unsigned)gsl_rng_uniform_int(r, sizeof(size_t) * 8 + 1);
        size_t a = 0, b = 0;
        for (int w = 0; w < 4; w++) {
            a = (a << 16) ^ (size_t)gsl_rng_uniform_int(r, 65536);
            b = (b << 16) ^ (size_t)gsl_rng_uniform_int(r, 65536);
        }
        a = bits_a >= sizeof(size_t) * 8 ? a : (a & (((size_t)1 << bits_a) - 1));
        b = bits_b >= sizeof(size_t) * 8 ? b : (b & (((size_t)1 << bits_b) - 1));
        size_t want;
        bool ovf = __builtin_mul_overflow(a, b, &want);
        out = 7;
        bool ok = cai_size_mul(a, b, &out);
        CU_ASSERT(ok == !ovf);
        CU_ASSERT(out == (ok ? want : 7));
    }
    gsl_rng_free(r);
}

static void test_size_add(void)
{
    size_t out = 42;
    CU_ASSERT(cai_size_add(3, 5, &out));
    CU_ASSERT(out == 8);
    CU_ASSERT(cai_size_add(0, 0, &out));
    CU_ASSERT(out == 0);
    CU_ASSERT(cai_size_add(SIZE_MAX - 1, 1, &out));
    CU_ASSERT(out == SIZE_MAX);
    CU_ASSERT(cai_size_add(0, SIZE_MAX, &out));
    CU_ASSERT(out == SIZE_MAX);
    out = 42;
    CU_ASSERT(!cai_size_add(SIZE_MAX, 1, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(!cai_size_add(1, SIZE_MAX, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(!cai_size_add(SIZE_MAX, SIZE_MAX, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(!cai_size_add(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, &out));
    CU_ASSERT(out == 42);
    CU_ASSERT(cai_size_add(SIZE_MAX / 2, SIZE_MAX / 2 + 1, &out));
    CU_ASSERT(out == SIZE_MAX);

    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 101);
    for (int i = 0; i < 100000; i++) {
        size_t a = 0, b = 0;
        for (int w = 0; w < 4; w++) {
            a = (a << 16) ^ (size_t)gsl_rng_uniform_int(r, 65536);
            b = (b << 16) ^ (size_t)gsl_rng_uniform_int(r, 65536);
        }
        if (gsl_rng_uniform(r) < 0.5)
            b >>= gsl_rng_uniform_int(r, sizeof(size_t) * 8);
        size_t want;
        bool ovf = __builtin_add_overflow(a, b, &want);
        out = 7;
        bool ok = cai_size_add(a, b, &out);
        CU_ASSERT(ok == !ovf);
        CU_ASSERT(out == (ok ? want : 7));
    }
    gsl_rng_free(r);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("logmath", NULL, NULL);
    CU_add_test(s, "logsumexp of nothing is -inf", test_empty);
    CU_add_test(s, "logsumexp of all -inf is -inf, not NaN", test_all_neg_inf);
    CU_add_test(s, "-inf terms are ignored", test_some_neg_inf);
    CU_add_test(s, "+inf anywhere gives +inf", test_pos_inf);
    CU_add_test(s, "NaN anywhere gives NaN", test_nan);
    CU_add_test(s, "magnitudes 1e6 and 1e308 do not overflow", test_large_magnitudes);
    CU_add_test(s, "single terms and n equal terms", test_single_and_exact);
    CU_add_test(s, "logsumexp and streaming vs naive log(sum(exp))", test_vs_naive);
    CU_add_test(s, "shift invariance at large offsets", test_shifted);
    CU_add_test(s, "cai_size_mul detects overflow", test_size_mul);
    CU_add_test(s, "cai_size_add detects overflow", test_size_add);
}
