/* lib/engine/vecmath.h — exp and log over arrays, for the kernels' hot
 * loops.
 *
 * Internal to libcai (not installed). GCC vectorizes both loops (two lanes
 * with SSE2; on x86-64 an AVX2 version with four, with fused multiply-adds
 * where the CPU has FMA, and one with eight where it has AVX-512), and
 * special arguments are handled inside them.
 * Results are faithfully rounded, as glibc's are, so every one is within 1
 * ulp of glibc's exp or log, and the IEEE results for inf, NaN, overflow,
 * underflow, zero and negative arguments are glibc's; errno is never set.
 * An element's result depends only on its argument and on whether the CPU
 * has FMA, not on n, alignment or position, so it is the same on every
 * thread of a machine. Nothing is allocated and both arrays stay the
 * caller's; out may be x itself (in place) but must not otherwise overlap
 * it. */
#ifndef CAI_ENGINE_VECMATH_H
#define CAI_ENGINE_VECMATH_H

#include <stddef.h>

/* out[i] = exp(x[i] - shift) for i < n, the argument rounded to double as
 * the C expression rounds it. Measured error at most 0.61 ulp (0.76 for
 * subnormal results); exp(0) = 1, arguments below ~-745.13 give 0, above
 * ~709.78 inf, -inf 0 and NaN NaN. */
void vm_exp_shift(double *out, const double *x, double shift, size_t n);

/* out[i] = log(x[i]) for i < n. Measured error at most 0.67 ulp, subnormal
 * x included; log(1) = +0, log(+-0) = -inf, log(x < 0) = NaN, log(inf) =
 * inf and log(NaN) = NaN. */
void vm_log(double *out, const double *x, size_t n);

/* The versions vm_exp_shift and vm_log run on a CPU without FMA, whatever
 * the CPU (on one with FMA they round a few multiply-adds once, which can
 * change a result's last bit): for tests of both on any machine. */
void vm_exp_shift_unfused(double *out, const double *x, double shift, size_t n);
void vm_log_unfused(double *out, const double *x, size_t n);

#endif
