/* cai/lqr.h — linear-quadratic control as inference (DESIGN.md,
 * "Linear-Gaussian").
 *
 *   x_t+1 = A x_t + B u_t + c + w_t,   w_t ~ N(0, Sigma)
 *   r(x, u) = -1/2 (x'Qx + u'Ru),      terminal -1/2 x'Q_T x
 *   x_0 ~ N(x0, x0_cov) (x0_cov = 0: a known start), improper uniform
 *   (Lebesgue) prior on every u_t, temperature alpha > 0.
 *
 * The problem is compiled into a chain of Gaussian variables x0 u0 x1 u1
 * ... xT (cai/gauss.h): one tied dynamics potential, one tied reward
 * quadratic blockdiag(Q, R) / alpha over (x_t, u_t), the terminal quadratic
 * and the prior on x0 — and every answer is an inference query on it:
 *
 *   exact        sum-product: V_t / alpha is the upward message of x_t,
 *                V_t(x) = -1/2 x'P_t x + p_t'x + const; the risk-seeking
 *                Riccati recursion P~ = P (I + Sigma P / alpha)^-1;
 *                log_evidence = log Z (log of the integral over all
 *                trajectories of rho exp(sum r / alpha))
 *   variational  the dynamics factor in expectation mode: certainty
 *                equivalence (the Sigma = 0 recursion for P); log Z is the
 *                ELBO, the objective alpha times it
 *
 * The posterior policy at t is the conditional p(u_t | x_t) of the chain,
 * N(K_t x + k_t, policy_cov_t) with policy_cov_t = alpha (R + B'P~_t+1 B)^-1
 * (exact; P_t+1 for variational). With Sigma = 0 both are the LQR
 * recursion, whatever alpha.
 *
 * Infinite horizon (horizon 0, discount gamma in (0, 1]): one slice
 * x u x' is iterated, x's upward message fed back into x' multiplied by
 * gamma (the discounted soft Bellman backup, V(x) = max-soft over u of
 * r + alpha log E exp(gamma V(x') / alpha)), until P and p change by at most
 * tol relative; with Sigma = 0 the fixed point solves the discounted DARE
 * P = Q + g A'PA - g^2 A'PB (R + g B'PB)^-1 B'PA. With gamma = 1 the
 * constant of V grows without bound: P, p, K, k converge, the objective is
 * NaN. The arrays then have one entry (t = 0).
 *
 * Matrices are row-major double arrays (n x m: entry (i, j) at [i*m + j]),
 * copied by cai_lqr_create. */
#ifndef CAI_LQR_H
#define CAI_LQR_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/mdp.h" /* cai_control_algorithm */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_lqr cai_lqr;
typedef struct cai_lqr_solution cai_lqr_solution;

/* Largest state or action dimension. */
#define CAI_LQR_MAX_DIM 1024
/* Largest finite horizon. */
#define CAI_LQR_MAX_HORIZON 100000000

typedef struct cai_lqr_spec {
    size_t n, m;          /* state and action dimensions, >= 1 */
    const double *A;      /* n x n */
    const double *B;      /* n x m */
    const double *c;      /* n; NULL = 0 */
    const double *noise;  /* Sigma, n x n symmetric positive semidefinite; NULL = 0 */
    const double *Q;      /* n x n symmetric */
    const double *R;      /* m x m symmetric positive definite */
    const double *QT;     /* n x n symmetric; NULL = Q */
    const double *x0;     /* n; NULL = 0 */
    const double *x0_cov; /* n x n symmetric positive semidefinite; NULL = 0 */
    size_t horizon;       /* T >= 1, or 0 for the infinite horizon */
    double discount;      /* infinite horizon: gamma in (0, 1]; ignored otherwise */
    double temperature;   /* alpha > 0 */
} cai_lqr_spec;

/* Check and copy spec. Errors (CAI_ERR_RANGE or CAI_ERR_NUMERIC, naming the
 * matrix and the entry): dimensions out of range, NaN or infinite entries,
 * Q, R, QT, noise or x0_cov not symmetric (within 1e-10 of the matrix's
 * largest entry), R not positive definite, noise or x0_cov not positive
 * semidefinite, a horizon above CAI_LQR_MAX_HORIZON, a discount outside
 * (0, 1] for the infinite horizon, alpha not > 0. */
cai_status cai_lqr_create(const cai_lqr_spec *spec, cai_lqr **out, cai_error *err);

/* Accepts NULL. */
void cai_lqr_free(cai_lqr *lqr);

size_t cai_lqr_n(const cai_lqr *lqr);
size_t cai_lqr_m(const cai_lqr *lqr);
size_t cai_lqr_horizon(const cai_lqr *lqr);   /* 0: infinite */
double cai_lqr_discount(const cai_lqr *lqr);  /* NaN for a finite horizon */
double cai_lqr_temperature(const cai_lqr *lqr);

typedef struct cai_lqr_options {
    cai_control_algorithm algorithm; /* CAI_CONTROL_EXACT or CAI_CONTROL_VARIATIONAL */
    double temperature;              /* NAN: the model's; else > 0 */
    size_t horizon;                  /* 0: the model's (finite-horizon models) */
    double tol;                      /* infinite horizon: relative change of P
                                        and p (default 1e-12) */
    size_t max_iterations;           /* infinite horizon (default 100000) */
    bool state_marginals;            /* finite horizon: keep what
                                        cai_lqr_solution_state needs (the
                                        downward pass; default true) */
} cai_lqr_options;

cai_lqr_options cai_lqr_options_default(void);

/* Compile and solve. Errors: CAI_ERR_INVALID for map or an override that
 * does not fit; CAI_ERR_NUMERIC from the engine when an integral diverges
 * (naming the matrix and the time step: "variable 'u3'" is R + B'P~B at
 * t = 3); CAI_ERR_NOMEM. An infinite horizon that does not converge within
 * max_iterations is not an error (cai_lqr_solution_converged). */
cai_status cai_lqr_solve(const cai_lqr *lqr, const cai_lqr_options *opt,
                         cai_lqr_solution **out, cai_error *err);

/* Accepts NULL. */
void cai_lqr_solution_free(cai_lqr_solution *sol);

/* T (0: infinite horizon, one stationary entry), iterations (1 for a finite
 * horizon) and convergence. */
size_t cai_lqr_solution_horizon(const cai_lqr_solution *sol);
size_t cai_lqr_solution_iterations(const cai_lqr_solution *sol);
bool cai_lqr_solution_converged(const cai_lqr_solution *sol);
double cai_lqr_solution_temperature(const cai_lqr_solution *sol);

/* The cost-to-go V_t(x) = -1/2 x'P_t x + p_t'x + const at t = 0..T
 * (infinite horizon: t = 0): P n x n, p n. Either may be NULL. */
cai_status cai_lqr_solution_value(const cai_lqr_solution *sol, size_t t, double *out_P,
                                  double *out_p, cai_error *err);

/* The posterior policy at t = 0..T-1 (infinite horizon: t = 0):
 * u ~ N(K x + k, policy_cov); K m x n, k m, policy_cov m x m. Any may be
 * NULL. */
cai_status cai_lqr_solution_policy(const cai_lqr_solution *sol, size_t t, double *out_K,
                                   double *out_k, double *out_cov, cai_error *err);

/* The state distribution at t = 0..T under the posterior (exact) or under q
 * (variational): mean n, covariance n x n. Finite horizon solved with
 * state_marginals only (CAI_ERR_STATE otherwise). */
cai_status cai_lqr_solution_state(const cai_lqr_solution *sol, size_t t, double *out_mean,
                                  double *out_cov, cai_error *err);

/* E_{x0}[V_0(x0)] (the ELBO times alpha for variational); NaN for an
 * undiscounted infinite horizon. */
double cai_lqr_solution_objective(const cai_lqr_solution *sol);

/* exact, finite horizon: log Z; NaN otherwise. */
double cai_lqr_solution_log_evidence(const cai_lqr_solution *sol);

#ifdef __cplusplus
}
#endif
#endif
