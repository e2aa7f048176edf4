/* cai/logmath.h — log-domain arithmetic and checked sizes.
 *
 * Values are stored as logs; log 0 is -INFINITY. cai_logsumexp is the one
 * log-sum-exp of the library: every reduction goes through it or through
 * the streaming form below, which computes the same thing one term at a
 * time. */
#ifndef CAI_LOGMATH_H
#define CAI_LOGMATH_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* log(sum_i exp(x[i])) with the maximum subtracted first. Returns -INFINITY
 * when n == 0 or every x[i] is -INFINITY, +INFINITY if any is +INFINITY,
 * NaN if any is NaN. */
double cai_logsumexp(const double *x, size_t n);

/* Streaming log-sum-exp: start with cai_lse_init, add terms, read the
 * result. Same value as cai_logsumexp over the same terms, up to rounding. */
typedef struct cai_lse {
    double max; /* largest term so far */
    double sum; /* sum of exp(term - max) */
} cai_lse;

static inline void cai_lse_init(cai_lse *a) { a->max = -__builtin_inf(); a->sum = 0.0; }
void cai_lse_add(cai_lse *a, double x);
double cai_lse_result(const cai_lse *a);

/* *out = a * b; returns false (and leaves *out alone) on overflow. */
bool cai_size_mul(size_t a, size_t b, size_t *out);

/* *out = a + b; returns false (and leaves *out alone) on overflow. */
bool cai_size_add(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif
#endif
