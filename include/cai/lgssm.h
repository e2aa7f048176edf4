/* cai/lgssm.h — Kalman smoothing as inference: a linear-Gaussian
 * state-space model answered by the Gaussian engine (cai/gauss.h), the
 * other direction of the LQR duality (cai/lqr.h).
 *
 *   x_t+1 = A x_t + c + w_t,   w_t ~ N(0, Q)   (Q positive semidefinite,
 *                                               possibly singular or 0)
 *   y_t   = C x_t + d + v_t,   v_t ~ N(0, R)   (R positive definite)
 *   x_0 ~ N(x0, x0_cov)        (x0_cov positive semidefinite; 0: known)
 *
 * with observations y_0 .. y_T-1 (T >= 1). The model is compiled into a
 * chain of Gaussian variables x0 y0 x1 y1 ... (named so: engine errors name
 * the time step), each y_t clamped to its observation, with one tied
 * dynamics potential N(x_t+1; A x_t + c, Q), one tied observation potential
 * N(y_t; C x_t + d, R) and the prior on x0. Every answer is a query:
 *
 *   log_likelihood  log Z of the chain = log p(y_0 .. y_T-1)
 *   smoothed        the marginals p(x_t | y_0 .. y_T-1), the chain rooted at
 *                   x0 with both passes; the upward pass toward x0 is a
 *                   backward information filter, and every dynamics factor
 *                   sees its child away from the root, so Q may be singular
 *                   (the engine substitutes instead of inverting Q)
 *   filtered        p(x_t | y_0 .. y_t), the upward messages of a second
 *                   plan of the same chain rooted at x_T-1 (upward pass
 *                   only): x_t's upward message is then p(x_t, y_0 .. y_t)
 *                   as a function of x_t, normalised (at t = 0 times the
 *                   prior, which the engine keeps out of upward messages).
 *                   Rooted at the end the dynamics are densities of their
 *                   child and the filtered distributions are canonical-form
 *                   messages, so this needs Q positive definite (unless
 *                   T = 1) and x0_cov positive definite (rank as the engine
 *                   decides it, cai_gauss_potential_rank); otherwise it is
 *                   not offered (cai_lgssm_result_has_filtered is false;
 *                   the smoothed marginals are still exact).
 *
 * Matrices are row-major double arrays (p x n: entry (i, j) at [i*n + j]),
 * copied by cai_lgssm_create. */
#ifndef CAI_LGSSM_H
#define CAI_LGSSM_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_lgssm cai_lgssm;
typedef struct cai_lgssm_result cai_lgssm_result;

/* Largest state or observation dimension. */
#define CAI_LGSSM_MAX_DIM 1024
/* Largest number of observations T. */
#define CAI_LGSSM_MAX_STEPS 100000000

typedef struct cai_lgssm_spec {
    size_t n, p;          /* state and observation dimensions, >= 1 */
    const double *A;      /* n x n */
    const double *c;      /* n; NULL = 0 */
    const double *Q;      /* n x n symmetric positive semidefinite */
    const double *C;      /* p x n */
    const double *d;      /* p; NULL = 0 */
    const double *R;      /* p x p symmetric positive definite */
    const double *x0;     /* n; NULL = 0 */
    const double *x0_cov; /* n x n symmetric positive semidefinite; NULL = 0 */
    size_t T;             /* number of observations, >= 1 */
    const double *y;      /* T x p: row t is y_t */
} cai_lgssm_spec;

/* Check and copy spec. Errors (CAI_ERR_INVALID for a missing A, Q, C, R or
 * y; CAI_ERR_RANGE for dimensions or T out of range; CAI_ERR_NUMERIC naming
 * the matrix and the entry or pivot): NaN or infinite entries, Q or x0_cov
 * not symmetric positive semidefinite, R not symmetric positive definite
 * (symmetric within 1e-10 of the matrix's largest entry, as
 * cai_gauss_matrix_check). *out is written only on success; free it with
 * cai_lgssm_free(). */
cai_status cai_lgssm_create(const cai_lgssm_spec *spec, cai_lgssm **out, cai_error *err);

/* Accepts NULL. */
void cai_lgssm_free(cai_lgssm *lg);

size_t cai_lgssm_n(const cai_lgssm *lg);
size_t cai_lgssm_p(const cai_lgssm *lg);
size_t cai_lgssm_steps(const cai_lgssm *lg); /* T */

/* Compile the chain, plan it (twice when the filtered distributions are
 * offered) and run the engine. The result does not refer to lg. Errors:
 * CAI_ERR_NUMERIC from the engine (naming the matrix and the variable, so
 * the time step), CAI_ERR_NOMEM. *out is written only on success; free it
 * with cai_lgssm_result_free(). */
cai_status cai_lgssm_smooth(const cai_lgssm *lg, cai_lgssm_result **out, cai_error *err);

/* Accepts NULL. */
void cai_lgssm_result_free(cai_lgssm_result *r);

size_t cai_lgssm_result_n(const cai_lgssm_result *r);
size_t cai_lgssm_result_steps(const cai_lgssm_result *r); /* T */

/* log p(y_0 .. y_T-1). */
double cai_lgssm_result_log_likelihood(const cai_lgssm_result *r);

/* The smoothed distribution p(x_t | y_0 .. y_T-1), t = 0..T-1: mean n,
 * covariance n x n (may be singular); either may be NULL. Errors:
 * CAI_ERR_RANGE for t >= T. Outputs are written only on success. */
cai_status cai_lgssm_result_smoothed(const cai_lgssm_result *r, size_t t, double *out_mean,
                                     double *out_cov, cai_error *err);

/* Whether cai_lgssm_result_filtered answers (see the top of this file). */
bool cai_lgssm_result_has_filtered(const cai_lgssm_result *r);

/* The filtered distribution p(x_t | y_0 .. y_t), t = 0..T-1: mean n,
 * covariance n x n; either may be NULL. At t = T-1 it is the smoothed one.
 * Errors: CAI_ERR_RANGE for t >= T; CAI_ERR_STATE when not offered (the
 * message says why); CAI_ERR_NOMEM. Outputs are written only on success. */
cai_status cai_lgssm_result_filtered(const cai_lgssm_result *r, size_t t, double *out_mean,
                                     double *out_cov, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
