/* lib/engine/vecmath.c — exp and log over arrays, vectorized.
 *
 * Each function loops over an inline kernel with no branch and no table,
 * so GCC vectorizes the loop, and the scalar remainder runs the same IEEE
 * operations and gives the same bits. The kernels write their
 * multiply-adds as madd(): fused (rounded once) in the version for x86-64
 * CPUs with AVX2 and FMA, a multiply and an add in the unfused versions
 * (the project builds with -ffp-contract=off, so nothing else is fused).
 * The fused version runs ~25% faster and can differ from the unfused ones
 * in a result's last bit; both are faithful. Special inputs
 * never leave the vector loop: exp clamps its argument, log selects their
 * results lane by lane, in blocks that hold any (a check of each block
 * lets the others skip that work).
 *
 * exp(a): a is clamped to [-746, 746] (exp is 0 or inf there already; NaN
 * passes), k = round(a / ln 2) through the 0x1.8p52 shifter, and
 * r = a - k ln 2 in [-0.347, 0.347] is kept as r + rl (Cody-Waite: with a
 * 42-bit ln2_hi, k ln2_hi and a - k ln2_hi are exact). Then
 *     exp(r + rl) = (1 + r) + rl (1 + r) + r^2 / 2 + r^3 q(r),
 * with 1 + r split exactly into s + e1 and q of degree 9 (a degree-10
 * minimax fit of (e^r - 1 - r) / r^2 on [-0.35, 0.35], error of r^2 times
 * it below 2^-61.8, less its constant 1/2). Only the last addition rounds
 * at the result's scale. 2^k is applied as two exact powers 2^floor(k/2)
 * and 2^ceil(k/2), so a normal result is rounded once and a subnormal one
 * once more, and 2^1024 or 2^-1076 never has to be built.
 *
 * log(x): x = 2^k m with m in [sqrt(1/2), sqrt(2)) from the bits (a
 * subnormal x is scaled by 2^52 first), f = m - 1 (exact) and
 *     log(x) = k ln2_hi + (f - f^2/2) + [k ln2_lo + s (f^2/2 + R(s^2))],
 * s = f / (2 + f), R fdlibm's degree-7 polynomial in s^2 (error below
 * 2^-58.45 for |s| <= 0.1716). f^2/2 is split into hh + hl with hh exact
 * by cutting f to 26 bits, and k ln2_hi + f - hh is summed with two
 * Fast2Sums, so again only the last addition rounds at the result's scale;
 * the bracket's own error is mostly the rounding of s.
 *
 * Measured against long double on 6.7e7 random arguments: at most 0.61
 * ulp for exp with a normal result, 0.76 with a subnormal one, and 0.67
 * ulp for log (glibc 2.36: 0.51 and 0.52); the fused version, on 3.3e7
 * each: 0.61, 0.75 and 0.59. Both are faithful, as glibc's are, so within
 * 1 ulp of glibc. */
#include "vecmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* On x86-64 GCC builds each function four times: unfused for SSE2 and for
 * AVX2 (four lanes instead of two, ~2x as fast; the two give the same
 * bits), picked at load time, and fused for AVX2 with FMA and for AVX-512
 * (eight lanes; the same operations, so the same bits as the AVX2 fused
 * version -- checked over 3.3e7 arguments, specials included), picked at
 * each call where the CPU has them. The AVX-512 version took ~6% off a
 * variational solve at 10^5 states, where 4 exps per state are ~10% of
 * the time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VM_CLONES __attribute__((target_clones("avx2", "default")))
#define VM_FMA_TARGET __attribute__((target("avx2,fma")))
#define VM_HAS_FMA() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#define VM_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define VM_HAS_AVX512() (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") \
                         && __builtin_cpu_supports("avx512vl"))
#else
#define VM_CLONES
#endif

/* The kernels must be inlined for the loops to vectorize; log's, used in
 * four loops (two per clone), is past GCC's limits for plain inline. */
#if defined(__GNUC__)
#define VM_KERNEL static inline __attribute__((always_inline))
#else
#define VM_KERNEL static inline
#endif

static inline uint64_t as_u64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double as_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* a b + c, fused (rounded once) when `fused` (a constant in each caller). */
VM_KERNEL double madd(double a, double b, double c, int fused)
{
    return fused ? fma(a, b, c) : a * b + c;
}

/* log's masks and selections work on the bits: GCC 12 vectorizes neither
 * a C conditional with arithmetic that only one arm uses (it sinks the
 * arithmetic into that arm, and the loop has a branch) nor a double
 * comparison converted to a 64-bit integer (with SSE2), but it does
 * vectorize 64-bit integer arithmetic. */

#define SIGN_BIT 0x8000000000000000ULL
#define INF_BITS 0x7ff0000000000000ULL

/* All ones when a < b, else zero, for a and b below 2^63. */
static inline uint64_t below(uint64_t a, uint64_t b)
{
    return (uint64_t)0 - ((a - b) >> 63);
}

/* The bits of a where m is all ones, those of b where it is zero. */
static inline uint64_t pick(uint64_t m, uint64_t a, uint64_t b)
{
    return (a & m) | (b & ~m);
}

/* ---- exp ---------------------------------------------------------------- */

#define SHIFTER 0x1.8p52
#define INV_LN2 0x1.71547652b82fep0
#define LN2_HI 0x1.62e42fefa3800p-1 /* 42 bits: k LN2_HI exact, |k| < 2^11 */
#define LN2_LO 0x1.ef35793c76730p-45

/* (e^r - 1 - r) / r^2 on [-0.35, 0.35], minimax, highest degree last. */
#define E0 0x1.0000000000000p-1
#define E1 0x1.5555555555557p-3
#define E2 0x1.5555555555558p-5
#define E3 0x1.111111110ff8bp-7
#define E4 0x1.6c16c16c14fd9p-10
#define E5 0x1.a01a01ac9dfedp-13
#define E6 0x1.a01a01adc39d9p-16
#define E7 0x1.71ddfff620d8ep-19
#define E8 0x1.27e4caed19d16p-22
#define E9 0x1.af52830b334ecp-26
#define E10 0x1.1f8e71e659288p-29

/* exp(a) for every a, given lo = -746 and hi = 746; `fused` a constant. */
VM_KERNEL double exp_one(double a, double lo, double hi, int fused)
{
    a = a < lo ? lo : a;
    a = a > hi ? hi : a;
    /* k = round(a / ln 2) sits in the low bits of kd: k + 2^51 */
    double kd = madd(a, INV_LN2, SHIFTER, fused);
    uint64_t ki = as_u64(kd);
    kd -= SHIFTER;
    double rh = madd(-kd, LN2_HI, a, fused);
    double t = kd * LN2_LO;
    double r = rh - t;
    double rl = (rh - r) - t;
    double s = 1.0 + r;
    double e1 = (1.0 - s) + r;
    /* Estrin (Horner's 20-deep chain left the loop latency-bound) for all
     * but the r^2 / 2 term, so that its roundings are scaled down by r^3 */
    double r2 = r * r;
    double r4 = r2 * r2;
    double q12 = madd(E2, r, E1, fused);
    double q34 = madd(E4, r, E3, fused);
    double q56 = madd(E6, r, E5, fused);
    double q78 = madd(E8, r, E7, fused);
    double q9x = madd(E10, r, E9, fused);
    double q14 = madd(r2, q34, q12, fused);
    double q58 = madd(r2, q78, q56, fused);
    double q = madd(r4 * r4, q9x, madd(r4, q58, q14, fused), fused);
    /* exp(r + rl) = e^r (1 + rl) and e^r ~ s to the accuracy rl needs */
    double y = s + (madd(rl, s, e1, fused) + madd(r2 * r, q, E0 * r2, fused));
    /* 2^k = 2^k1 2^k2, k1 = floor(k / 2), both normal for |k| <= 1076;
     * u = k + 2048 >= 0, so a logical shift halves it */
    uint64_t u = ki - (0x4338000000000000ULL - 2048);
    double s1 = as_f64(((u >> 1) - 1) << 52);
    double s2 = as_f64((u - (u >> 1) - 1) << 52);
    return y * s1 * s2;
}

/* The loop of vm_exp_shift, inlined into each version. */
VM_KERNEL void exp_loop(double *out, const double *x, double shift, size_t n, int fused)
{
    /* Read through volatile so that GCC does not know the bounds: with
     * constants, its PRE folds the whole kernel for the clamped values
     * into the arms of the clamp and the loop no longer if-converts. The
     * clamps then become maxpd and minpd. */
    volatile double vlo = -746.0, vhi = 746.0;
    double lo = vlo, hi = vhi;
#ifdef _OPENMP
#pragma omp simd
#endif
    for (size_t i = 0; i < n; i++)
        out[i] = exp_one(x[i] - shift, lo, hi, fused);
}

VM_CLONES
void vm_exp_shift_unfused(double *out, const double *x, double shift, size_t n)
{
    exp_loop(out, x, shift, n, 0);
}

#ifdef VM_FMA_TARGET
VM_FMA_TARGET
static void exp_fused(double *out, const double *x, double shift, size_t n)
{
    exp_loop(out, x, shift, n, 1);
}

VM_AVX512_TARGET
static void exp_fused512(double *out, const double *x, double shift, size_t n)
{
    exp_loop(out, x, shift, n, 1);
}
#endif

void vm_exp_shift(double *out, const double *x, double shift, size_t n)
{
#ifdef VM_FMA_TARGET
    if (VM_HAS_AVX512()) {
        exp_fused512(out, x, shift, n);
        return;
    }
    if (VM_HAS_FMA()) {
        exp_fused(out, x, shift, n);
        return;
    }
#endif
    vm_exp_shift_unfused(out, x, shift, n);
}

/* ---- log ---------------------------------------------------------------- */

#define SQRT_HALF_BITS 0x3fe6a09e667f3bcdULL /* sqrt(1/2) rounded */
#define NORMAL_MIN_BITS 0x0010000000000000ULL
#define LOG_BLOCK 256 /* elements checked, then computed, in one pass */
#define EXP_MASK 0xfff0000000000000ULL
#define HALF_MASK 0xfffffffff8000000ULL /* keeps 26 significant bits */

/* fdlibm e_log.c: R(z) = Lg1 z + ... + Lg7 z^7, z = s^2 */
#define LG1 6.666666666666735130e-01
#define LG2 3.999999999940941908e-01
#define LG3 2.857142874366239149e-01
#define LG4 2.222219843214978396e-01
#define LG5 1.818357216161805012e-01
#define LG6 1.531383769920937332e-01
#define LG7 1.479819860511658591e-01

/* log(x) for positive normal x when all is 0; for every x when it is 1.
 * Both give the same bits for a positive normal x. */
VM_KERNEL double log_one(double x, int all, int fused)
{
    double xs = x, kadj = 0.0;
    if (all) {
        /* subnormal x times 2^52, the others times 1 and kd minus 0 (both
         * exact); zero and negative x, whose mask is meaningless, are
         * replaced below */
        uint64_t sub = below(as_u64(x), NORMAL_MIN_BITS);
        xs = x * as_f64(pick(sub, as_u64(0x1p52), as_u64(1.0)));
        kadj = as_f64(pick(sub, as_u64(52.0), as_u64(0.0)));
    }
    uint64_t ix = as_u64(xs);
    uint64_t t = ix - SQRT_HALF_BITS;
    /* k = t >> 52 as a signed shift; (t ^ 2^63) >> 52 = k + 2048, made a
     * double through the 2^52 mantissa */
    double kd = as_f64(0x4330000000000000ULL | ((t ^ SIGN_BIT) >> 52))
                - (0x1p52 + 2048.0) - kadj;
    double m = as_f64(ix - (t & EXP_MASK));
    double f = m - 1.0;
    double s = f / (2.0 + f);
    double z = s * s;
    double z2 = z * z;
    double R01 = madd(z, LG2, LG1, fused);
    double R23 = madd(z, LG4, LG3, fused);
    double R45 = madd(z, LG6, LG5, fused);
    double R = z * madd(z2 * z2, madd(z2, LG7, R45, fused), madd(z2, R23, R01, fused), fused);
    /* f^2 / 2 = hh + hl with hh exact */
    double fh = as_f64(as_u64(f) & HALF_MASK);
    double fl = f - fh;
    double hh = 0.5 * (fh * fh);
    double hl = 0.5 * (fl * (f + fh));
    double corr = s * ((hh + hl) + R);
    double t1 = f - hh;
    double e1 = (f - t1) - hh;
    double kh = kd * LN2_HI;
    double hi = kh + t1;
    double e2 = t1 - (hi - kh);
    double lo = (madd(kd, LN2_LO, e1, fused) + e2) + (corr - hl);
    double y = hi + lo;
    if (!all)
        return y;
    /* log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, log(NaN) = NaN */
    uint64_t bx = as_u64(x);
    uint64_t neg = (uint64_t)0 - (bx >> 63);
    uint64_t ax = bx & ~SIGN_BIT;
    uint64_t zero = (uint64_t)0 - ((ax - 1) >> 63);
    uint64_t special = pick(neg, as_u64(NAN), bx);
    special = pick(zero, as_u64(-INFINITY), special);
    uint64_t fine = below(ax, INF_BITS) & ~(neg | zero);
    return as_f64(pick(fine, as_u64(y), special));
}

/* The loop of vm_log, inlined into each version. */
VM_KERNEL void log_loop(double *out, const double *x, size_t n, int fused)
{
    /* A block without zero, subnormal, negative, inf or NaN elements (the
     * usual case) skips their handling, a fifth of the work. Both loops
     * are vectorized, and a positive normal element gets the same bits in
     * either. */
    for (size_t b = 0; b < n; b += LOG_BLOCK) {
        size_t m = n - b < LOG_BLOCK ? n - b : LOG_BLOCK;
        const double *xb = x + b;
        double *ob = out + b;
        /* the top bit is set unless x is positive, normal and finite: in
         * the first term for ix < 2^52 or ix >= 2^63 + 2^52, in the second
         * for ix in [0x7ff0000000000000, 2^64 - 2^52) */
        uint64_t odd = 0;
#ifdef _OPENMP
#pragma omp simd reduction(| : odd)
#endif
        for (size_t i = 0; i < m; i++) {
            uint64_t ix = as_u64(xb[i]);
            odd |= (ix - NORMAL_MIN_BITS) | (ix + NORMAL_MIN_BITS);
        }
        if (odd >> 63) {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (size_t i = 0; i < m; i++)
                ob[i] = log_one(xb[i], 1, fused);
        } else {
#ifdef _OPENMP
#pragma omp simd
#endif
            for (size_t i = 0; i < m; i++)
                ob[i] = log_one(xb[i], 0, fused);
        }
    }
}

VM_CLONES
void vm_log_unfused(double *out, const double *x, size_t n)
{
    log_loop(out, x, n, 0);
}

#ifdef VM_FMA_TARGET
VM_FMA_TARGET
static void log_fused(double *out, const double *x, size_t n)
{
    log_loop(out, x, n, 1);
}

VM_AVX512_TARGET
static void log_fused512(double *out, const double *x, size_t n)
{
    log_loop(out, x, n, 1);
}
#endif

void vm_log(double *out, const double *x, size_t n)
{
#ifdef VM_FMA_TARGET
    if (VM_HAS_AVX512()) {
        log_fused512(out, x, n);
        return;
    }
    if (VM_HAS_FMA()) {
        log_fused(out, x, n);
        return;
    }
#endif
    vm_log_unfused(out, x, n);
}
