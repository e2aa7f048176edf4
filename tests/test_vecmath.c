/* tests/test_vecmath.c — vm_exp_shift and vm_log against glibc's exp and
 * log: within 1 ulp on millions of random arguments over the whole range,
 * the same IEEE results on special values, and the same bits for an element
 * whatever the length, alignment and position of the array it is in. Each
 * test runs on both versions: the one the library calls (fused on a CPU
 * with FMA) and the unfused one. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "../lib/engine/vecmath.h"

/* Version v of each function: 0 the one the library calls (fused
 * multiply-adds on a CPU with FMA), 1 the unfused one every CPU runs. */
static void exp_v(int v, double *out, const double *x, double shift, size_t n)
{
    if (v)
        vm_exp_shift_unfused(out, x, shift, n);
    else
        vm_exp_shift(out, x, shift, n);
}

static void log_v(int v, double *out, const double *x, size_t n)
{
    if (v)
        vm_log_unfused(out, x, n);
    else
        vm_log(out, x, n);
}

/* random arguments per batch, and batches per range */
#define BATCH 4096
#define BATCHES 256 /* 2^20 arguments */

/* Uniform on [0, 1) with all 53 bits random (gsl_rng_uniform has 32). */
static double uniform53(gsl_rng *r)
{
    unsigned long a = gsl_rng_get(r) >> 5, b = gsl_rng_get(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) * 0x1p-53;
}

/* The spacing of doubles just above |v| (just below for DBL_MAX). */
static double ulp_of(double v)
{
    v = fabs(v);
    double up = nextafter(v, INFINITY);
    return isinf(up) ? v - nextafter(v, 0.0) : up - v;
}

/* |got - want| in ulps of want; 0 when both are the same inf or both NaN,
 * inf when only one of them is NaN or inf. */
static double ulp_err(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0.0 : INFINITY;
    if (isinf(want) || isinf(got))
        return got == want ? 0.0 : INFINITY;
    return fabs(got - want) / ulp_of(want);
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* A range's worst ulp error and how many results differ from libm's at
 * all: both functions are faithful, and about 1% of their results are the
 * other neighbour of the exact value than glibc's (nearly always correctly
 * rounded) ones; a share above 3% means an error grew, even when no
 * result is 1 ulp off yet. */
typedef struct range_err {
    double worst;
    size_t differ, count;
} range_err;

static void tally(range_err *e, double got, double want)
{
    e->worst = fmax(e->worst, ulp_err(got, want));
    e->differ += bits(got) != bits(want);
    e->count++;
}

static void check_range(const range_err *e)
{
    CU_ASSERT(e->worst <= 1.0);
    CU_ASSERT((double)e->differ <= 0.03 * (double)e->count);
}

static void exp_batch(int v, range_err *e, const double *x, double shift, size_t n)
{
    static double out[BATCH];
    exp_v(v, out, x, shift, n);
    for (size_t i = 0; i < n; i++)
        tally(e, out[i], exp(x[i] - shift));
}

static void log_batch(int v, range_err *e, const double *x, size_t n)
{
    static double out[BATCH];
    log_v(v, out, x, n);
    for (size_t i = 0; i < n; i++)
        tally(e, out[i], log(x[i]));
}

static void exp_random(int v)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2024);
    static double x[BATCH];
    range_err all = {0}, dense = {0}, shifted = {0};
    for (int b = 0; b < BATCHES; b++) {
        /* everything from underflow to overflow */
        for (size_t i = 0; i < BATCH; i++)
            x[i] = -750.0 + 1460.0 * uniform53(r);
        exp_batch(v, &all, x, 0.0, BATCH);
        /* x - max <= 0, the kernels' case */
        for (size_t i = 0; i < BATCH; i++)
            x[i] = -40.0 * uniform53(r);
        exp_batch(v, &dense, x, 0.0, BATCH);
    }
    /* a shift the subtraction rounds with */
    for (int b = 0; b < BATCHES / 4; b++) {
        double shift = -1000.0 + 2000.0 * uniform53(r);
        for (size_t i = 0; i < BATCH; i++)
            x[i] = shift - 60.0 + 70.0 * uniform53(r);
        exp_batch(v, &shifted, x, shift, BATCH);
    }
    check_range(&all);
    check_range(&dense);
    check_range(&shifted);
    gsl_rng_free(r);
}

static void test_exp_random(void)
{
    exp_random(0);
    exp_random(1);
}

static void log_random(int v)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4048);
    static double x[BATCH];
    const double lo = log(1e-320), hi = log(1e308);
    range_err all = {0}, dense = {0}, near = {0};
    for (int b = 0; b < BATCHES; b++) {
        /* log-uniform from subnormal to near DBL_MAX */
        for (size_t i = 0; i < BATCH; i++)
            x[i] = exp(lo + (hi - lo) * uniform53(r));
        log_batch(v, &all, x, BATCH);
        for (size_t i = 0; i < BATCH; i++)
            x[i] = 0.5 + 1.5 * uniform53(r);
        log_batch(v, &dense, x, BATCH);
    }
    /* 1 +- 2^-52 .. 2^-4, where the result is small */
    for (int b = 0; b < BATCHES / 4; b++) {
        for (size_t i = 0; i < BATCH; i++) {
            double d = ldexp(1.0 + uniform53(r), -4 - (int)gsl_rng_uniform_int(r, 49));
            x[i] = gsl_rng_uniform(r) < 0.5 ? 1.0 - d : 1.0 + d;
        }
        log_batch(v, &near, x, BATCH);
    }
    check_range(&all);
    check_range(&dense);
    check_range(&near);
    gsl_rng_free(r);
}

static void test_log_random(void)
{
    log_random(0);
    log_random(1);
}

static const double exp_specials[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, -1e-300, 0x1p-60, -0x1p-60,
    0x1.62e42fefa39efp-1, -0x1.62e42fefa39efp-2, 0x1.62e42fefa39efp-2,
    20.0, -20.0, 700.0, 709.0, 709.78, 709.782712893383973, 709.7827128933841,
    709.79, 710.0, 745.0, 746.0, 1000.0, 1e308, DBL_MAX,
    -708.3964185322641, -708.39641853226412, -708.4, -709.0, -720.0,
    -740.0, -744.44007192138126, -745.0, -745.1332191019411,
    -745.13321910194122, -745.2, -746.0, -750.0, -1000.0, -1e308, -DBL_MAX,
    INFINITY, -INFINITY, NAN, -NAN,
};

static const double log_specials[] = {
    1.0, 2.0, 0.5, 4.0, 10.0, 2.718281828459045, 0x1.6a09e667f3bccp-1,
    0x1.6a09e667f3bcdp-1, 0x1.6a09e667f3bcep-1, 0x1.6a09e667f3bccp0,
    0x1.6a09e667f3bcdp0, 0x1.6a09e667f3bcep0, 0x1.fffffffffffffp-1,
    0x1.0000000000001p0, 0x1.0000000000002p0, 0x1.ffffffffffffep-1,
    DBL_MIN, 0x0.fffffffffffffp-1022, 0x1p-1074, 0x3p-1074, 0x1p-1073,
    0x1p-1040, 0x1.8p-1030, 0x1.0000000000001p-1022, DBL_MAX, 1e300,
    1e-300, 0x1p1023, 0x1p-1022,
    0.0, -0.0, -1.0, -DBL_MIN, -0x1p-1074, -DBL_MAX, INFINITY, -INFINITY,
    NAN, -NAN,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void exp_special(int v)
{
    size_t n = COUNT(exp_specials);
    double out[COUNT(exp_specials)];
    exp_v(v, out, exp_specials, 0.0, n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(ulp_err(out[i], exp(exp_specials[i])) <= 1.0);
    /* the same values reached through a shift */
    double shifted[COUNT(exp_specials)];
    for (size_t i = 0; i < n; i++)
        shifted[i] = exp_specials[i] + 0.25;
    exp_v(v, out, shifted, 0.25, n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(ulp_err(out[i], exp(shifted[i] - 0.25)) <= 1.0);

    /* exact and IEEE cases, each in every position of a short array */
    const double args[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 710.0, -746.0};
    for (size_t k = 0; k < COUNT(args); k++) {
        double in[5] = {0.3, -0.7, 1.5, -2.0, 4.0};
        for (size_t pos = 0; pos < 5; pos++) {
            double w[5];
            memcpy(w, in, sizeof w);
            w[pos] = args[k];
            exp_v(v, w, w, 0.0, 5);
            double e = w[pos];
            int ok;
            if (args[k] == 0.0)
                ok = e == 1.0;
            else if (args[k] == INFINITY || args[k] == 710.0)
                ok = isinf(e) && e > 0;
            else if (args[k] == -INFINITY || args[k] == -746.0)
                ok = e == 0.0 && !signbit(e);
            else
                ok = isnan(e);
            CU_ASSERT(ok);
        }
    }
    /* x - shift is the C expression's: inf - inf is NaN */
    double a[4] = {INFINITY, 1.0, -INFINITY, 3.0};
    exp_v(v, out, a, INFINITY, 4);
    CU_ASSERT(isnan(out[0]));
    CU_ASSERT(out[1] == 0.0);
    CU_ASSERT(out[2] == 0.0);
    CU_ASSERT(out[3] == 0.0);
    exp_v(v, out, a, -INFINITY, 4);
    CU_ASSERT(isinf(out[0]) && out[0] > 0);
    CU_ASSERT(isinf(out[1]) && out[1] > 0);
    CU_ASSERT(isnan(out[2]));
    exp_v(v, out, a, NAN, 4);
    for (size_t i = 0; i < 4; i++)
        CU_ASSERT(isnan(out[i]));
    /* a shift that brings large values back into range */
    double big[3] = {1e3, 1e3 - 1.0, 1e3 - 700.0};
    exp_v(v, out, big, 1e3, 3);
    CU_ASSERT(out[0] == 1.0);
    CU_ASSERT(ulp_err(out[1], exp(-1.0)) <= 1.0);
    CU_ASSERT(ulp_err(out[2], exp(-700.0)) <= 1.0);
}

static void test_exp_special(void)
{
    exp_special(0);
    exp_special(1);
}

static void log_special(int v)
{
    size_t n = COUNT(log_specials);
    double out[COUNT(log_specials)];
    log_v(v, out, log_specials, n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT(ulp_err(out[i], log(log_specials[i])) <= 1.0);

    const double args[] = {1.0, 0.0, -0.0, -1.0, -0x1p-1074, -INFINITY,
                           INFINITY, NAN};
    for (size_t k = 0; k < COUNT(args); k++) {
        double in[5] = {0.3, 7.0, 1.5, 2e-310, 4.0};
        for (size_t pos = 0; pos < 5; pos++) {
            double w[5];
            memcpy(w, in, sizeof w);
            w[pos] = args[k];
            log_v(v, w, w, 5);
            double l = w[pos];
            int ok;
            if (args[k] == 1.0)
                ok = l == 0.0 && !signbit(l);
            else if (args[k] == 0.0)
                ok = isinf(l) && l < 0;
            else if (args[k] == INFINITY)
                ok = isinf(l) && l > 0;
            else
                ok = isnan(l);
            CU_ASSERT(ok);
        }
    }
    /* log(2^k) for every binade, subnormal ones included */
    double p[2098], lp[2098];
    for (int k = -1074; k <= 1023; k++)
        p[k + 1074] = ldexp(1.0, k);
    log_v(v, lp, p, 2098);
    double worst = 0.0;
    for (int k = -1074; k <= 1023; k++)
        worst = fmax(worst, ulp_err(lp[k + 1074], log(p[k + 1074])));
    CU_ASSERT(worst <= 1.0);
}

static void test_log_special(void)
{
    log_special(0);
    log_special(1);
}

/* Random arguments, a share of them special ones. */
static void fill_mixed(gsl_rng *r, double *x, size_t n, int for_log, double share)
{
    for (size_t i = 0; i < n; i++) {
        if (gsl_rng_uniform(r) < share)
            x[i] = for_log ? log_specials[gsl_rng_uniform_int(r, COUNT(log_specials))]
                           : exp_specials[gsl_rng_uniform_int(r, COUNT(exp_specials))];
        else if (for_log)
            x[i] = exp(-700.0 + 1400.0 * uniform53(r));
        else
            x[i] = -750.0 + 1460.0 * uniform53(r);
    }
}

/* Every slice x[off .. off + len) of a 256-element array, alone, at another
 * alignment and in place, gives each element's bits from the whole call. */
static void check_slices(int v, int for_log, double share)
{
    enum { LONG = 256, MAXLEN = 67, OFFS = 8 };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, for_log ? 77 : 78);
    double x[LONG], ref[LONG], out[MAXLEN + OFFS], tmp[MAXLEN + OFFS];
    fill_mixed(r, x, LONG, for_log, share);
    const double shift = 0.375;
    if (for_log)
        log_v(v, ref, x, LONG);
    else
        exp_v(v, ref, x, shift, LONG);
    int bad = 0;
    for (size_t off = 0; off < OFFS; off++) {
        for (size_t len = 1; len <= MAXLEN; len++) {
            size_t at = (off * 3 + len) % OFFS; /* out's own alignment */
            memcpy(tmp + at, x + off, len * sizeof(double));
            if (for_log) {
                log_v(v, out + at, x + off, len);
                log_v(v, tmp + at, tmp + at, len);
            } else {
                exp_v(v, out + at, x + off, shift, len);
                exp_v(v, tmp + at, tmp + at, shift, len);
            }
            for (size_t j = 0; j < len; j++) {
                bad += bits(out[at + j]) != bits(ref[off + j]);
                bad += bits(tmp[at + j]) != bits(ref[off + j]);
            }
        }
    }
    CU_ASSERT(bad == 0);
    gsl_rng_free(r);
}

static void test_exp_slices(void)
{
    for (int v = 0; v < 2; v++) {
        check_slices(v, 0, 0.2);
        check_slices(v, 0, 0.0);
    }
}

static void test_log_slices(void)
{
    for (int v = 0; v < 2; v++) {
        check_slices(v, 1, 0.2);
        check_slices(v, 1, 0.0);
    }
}

/* vm_log checks blocks of elements for special ones and handles those only
 * in blocks that have some: a positive normal element gets the same bits
 * either way, and a special one is found wherever it is. */
static void log_blocks(int v)
{
    enum { N = 2000 };
    static double x[N], ref[N], out[N];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 79);
    fill_mixed(r, x, N, 1, 0.0);
    log_v(v, ref, x, N);
    const double specials[] = {0.0, -1.0, INFINITY, NAN, 0x1p-1060};
    int bad = 0;
    for (size_t k = 0; k < COUNT(specials); k++) {
        for (size_t at = 0; at < N; at += 1 + gsl_rng_uniform_int(r, 97)) {
            double keep = x[at];
            x[at] = specials[k];
            log_v(v, out, x, N);
            for (size_t i = 0; i < N; i++)
                if (i != at)
                    bad += bits(out[i]) != bits(ref[i]);
            bad += ulp_err(out[at], log(specials[k])) > 1.0;
            x[at] = keep;
        }
    }
    CU_ASSERT(bad == 0);
    gsl_rng_free(r);
}

static void test_log_blocks(void)
{
    log_blocks(0);
    log_blocks(1);
}

static void lengths_0_and_1(int v)
{
    double out[2] = {42.0, 42.0};
    const double x[2] = {-1.5, 3.0};
    exp_v(v, out, x, 0.0, 0);
    log_v(v, out, x, 0);
    CU_ASSERT(out[0] == 42.0 && out[1] == 42.0);
    exp_v(v, NULL, NULL, 1.0, 0);
    log_v(v, NULL, NULL, 0);

    exp_v(v, out, x, 0.5, 1);
    CU_ASSERT(ulp_err(out[0], exp(-2.0)) <= 1.0);
    CU_ASSERT(out[1] == 42.0);
    log_v(v, out, x + 1, 1);
    CU_ASSERT(ulp_err(out[0], log(3.0)) <= 1.0);
    CU_ASSERT(out[1] == 42.0);
}

static void test_lengths_0_and_1(void)
{
    lengths_0_and_1(0);
    lengths_0_and_1(1);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("vecmath", NULL, NULL);
    CU_add_test(s, "exp within 1 ulp of libm on 2.3e6 arguments, each version", test_exp_random);
    CU_add_test(s, "log within 1 ulp of libm on 2.3e6 arguments, each version", test_log_random);
    CU_add_test(s, "exp special values, exp(0) = 1, in place", test_exp_special);
    CU_add_test(s, "log special values, log(1) = 0, in place", test_log_special);
    CU_add_test(s, "exp bits independent of length, alignment, aliasing",
                test_exp_slices);
    CU_add_test(s, "log bits independent of length, alignment, aliasing",
                test_log_slices);
    CU_add_test(s, "log bits the same in blocks with special elements",
                test_log_blocks);
    CU_add_test(s, "n = 0 touches nothing, n = 1", test_lengths_0_and_1);
}
