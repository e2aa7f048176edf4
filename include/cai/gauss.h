/* cai/gauss.h — Gaussian variables, canonical-form messages and exact
 * sum-product (and expectation mode) on trees of linear-Gaussian factors.
 *
 * Conventions. Vectors and matrices are plain double arrays, matrices
 * row-major (n x n: entry (i, j) at [i * n + j]); every input is copied and
 * checked (finite; symmetric within 1e-10 of its largest entry, then stored
 * symmetrised). A function over several vector variables takes the vectors
 * stacked in scope order, z = (x_0, x_1, ...), and a matrix over z in blocks
 * in the same order.
 *
 * Messages are in canonical (information) form
 *     m(x) = exp(-1/2 x'Jx + h'x + c)
 * with the log-normaliser c tracked exactly; J may be singular (flat
 * directions) or zero. Moment form (mean, covariance) is computed on request
 * and needs J positive definite.
 *
 * Potentials (reference counted, immutable, shared by any number of
 * factors: a time-homogeneous model stores A, B, Sigma, Q, R once):
 *   quadratic        exp(-1/2 z'Hz + h'z + c) over k positions (H symmetric,
 *                    any sign: rewards divided by the temperature);
 *   linear-Gaussian  p(x' | x_0..x_{k-2}) = N(x'; A z + c, Sigma) over k-1
 *                    parent positions and the child last; Sigma positive
 *                    semidefinite, possibly singular or zero (deterministic).
 *                    The engine never inverts Sigma: it writes
 *                    x' = A z + c + L w with Sigma = L L' (L of Sigma's rank)
 *                    and w ~ N(0, I), so Sigma = 0 is a substitution;
 *   prior            N(x; mean, cov), a linear-Gaussian with no parents;
 *                    cov = 0 is a point mass.
 *
 * Graph and plan (plan once, execute many times, as cai/plan.h). Factors of
 * arity >= 2 whose scope is a subset of another factor's are absorbed into
 * that factor's cluster (an LQR step's reward over (x_t, u_t) joins the
 * dynamics over (x_t, u_t, x_t+1)); one-variable quadratics are local terms
 * of their variable; one-variable linear-Gaussians (priors) belong to the
 * cluster above their variable (at a root: to the final integral). The
 * clusters must form a forest. Each tree is rooted at a variable; a variable
 * without factors has the flat (Lebesgue) measure, which is how the improper
 * prior on actions is expressed: add no factor.
 *
 * The upward pass integrates each cluster's variables away from the root,
 * giving one canonical message per variable; the downward pass gives
 * marginals in moment form. Inside a cluster a linear-Gaussian whose child is
 * away from the root is a substitution (Sigma may be singular or zero); one
 * whose child is the variable toward the root, or is clamped by evidence, is
 * evaluated as a density and needs Sigma positive definite. The plan picks,
 * per tree, the lowest-indexed root that lets every conditional with a
 * singular Sigma and every expectation-mode factor see its child away from
 * the root (or the root the options name).
 *
 * Expectation mode (CAI_MODE_EXPECTATION, linear-Gaussians only): the
 * factor's message to its parents is exp(E_{p(x'|pa)}[log m(x')]), m being
 * everything on the child's side; the factor is copied into q, so the child's
 * marginal is the parents' pushed through p(x'|pa), log Z is the ELBO, and a
 * dynamics factor in this mode gives certainty equivalence (the Sigma = 0
 * recursion, constants lowered by 1/2 tr(J Sigma)).
 *
 * Linear-quadratic control (DESIGN.md "Linear-Gaussian") as a chain
 * x0 u0 x1 u1 ... xT rooted at x0: dynamics N(x_t+1; A x_t + B u_t + c,
 * Sigma) over (x_t, u_t, x_t+1), reward quadratic over (x_t, u_t) with
 * H = blockdiag(Q, R) / alpha, terminal over x_T, prior on x0, nothing on u.
 * The upward message of x_t is then J = P_t / alpha, h = p_t / alpha, and
 * cai_gauss_query_conditional(u_t | x_t) is the posterior policy
 * N(K x + k, alpha (R + B'P~B)^-1).
 *
 * Numerics: CBLAS (OpenBLAS) and GSL; positive-definite systems through a
 * Cholesky factor and triangular solves (never an explicit inverse where a
 * solve serves); every stored symmetric matrix (messages, covariances,
 * potentials) is symmetrised after it is computed. Errors that a matrix is not
 * positive definite name the matrix and the variable (so the time step when
 * the builder names variables by it). */
#ifndef CAI_GAUSS_H
#define CAI_GAUSS_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h" /* cai_factor_mode, CAI_NONE */

#ifdef __cplusplus
extern "C" {
#endif

/* Largest dimension of a Gaussian variable or potential position. */
#define CAI_GAUSS_MAX_DIM ((size_t)1 << 12)

/* ---- canonical-form messages ----------------------------------------- */

typedef struct cai_gauss_message cai_gauss_message;

/* The flat message over R^n (J = 0, h = 0, c = 0). Free with
 * cai_gauss_message_free(). Errors: n not in 1..CAI_GAUSS_MAX_DIM. */
cai_status cai_gauss_message_create(size_t n, cai_gauss_message **out_m,
                                    cai_error *err);

/* Accepts NULL. */
void cai_gauss_message_free(cai_gauss_message *m);

/* Set J (n x n, symmetric; NULL = 0), h (NULL = 0) and c. On an error
 * (non-finite or non-symmetric J, non-finite h or c) m is unchanged. */
cai_status cai_gauss_message_set(cai_gauss_message *m, const double *J,
                                 const double *h, double c, cai_error *err);

/* Set m to the normalised density N(mean, cov); cov must be positive
 * definite (a point mass has no canonical form). */
cai_status cai_gauss_message_set_moments(cai_gauss_message *m,
                                         const double *mean, const double *cov,
                                         cai_error *err);

/* Dimension and the stored J, h, c (owned by m, valid until the next set or
 * free). */
size_t cai_gauss_message_dim(const cai_gauss_message *m);
const double *cai_gauss_message_J(const cai_gauss_message *m);
const double *cai_gauss_message_h(const cai_gauss_message *m);
double cai_gauss_message_c(const cai_gauss_message *m);

/* m *= other (J, h, c add). Errors: dimensions differ. */
cai_status cai_gauss_message_multiply(cai_gauss_message *m,
                                      const cai_gauss_message *other,
                                      cai_error *err);

/* log m(x) = -1/2 x'Jx + h'x + c. */
double cai_gauss_message_log_value(const cai_gauss_message *m, const double *x);

/* Moment form: mean = J^-1 h, cov = J^-1 (either output may be NULL) and
 * out_log_mass = log of the integral of m (may be NULL). Fails with
 * CAI_ERR_NUMERIC ("J is not positive definite ...") when m is not a
 * normalisable Gaussian; outputs are written only on success. */
cai_status cai_gauss_message_moments(const cai_gauss_message *m,
                                     double *out_mean, double *out_cov,
                                     double *out_log_mass, cai_error *err);

/* ---- potentials ------------------------------------------------------- */

typedef struct cai_gauss_potential cai_gauss_potential;

typedef enum cai_gauss_potential_kind {
    CAI_GAUSS_QUADRATIC = 1, /* exp(-1/2 z'Hz + h'z + c) */
    CAI_GAUSS_LINEAR = 2     /* N(x'; A z + c, Sigma); priors are this kind */
} cai_gauss_potential_kind;

/* Quadratic log-potential over k >= 1 positions of dimensions dims[0..k-1]
 * (D = their sum): H is D x D, symmetric, any definiteness; h (NULL = 0) has
 * D entries; c is the constant. Errors: CAI_ERR_RANGE for k or a dimension
 * out of range, CAI_ERR_NUMERIC for NaN/inf or H not symmetric (naming "H"
 * and the entry). The new potential holds one reference. */
cai_status cai_gauss_quadratic_create(size_t k, const size_t *dims,
                                      const double *H, const double *h, double c,
                                      cai_gauss_potential **out_p, cai_error *err);

/* Linear-Gaussian conditional over n_parents parent positions of dimensions
 * parent_dims[] (Dp = their sum) and a child of dimension n, the child being
 * the last position: A is n x Dp (the parents' blocks side by side, NULL only
 * when n_parents == 0), c has n entries (NULL = 0), Sigma is n x n symmetric
 * positive semidefinite (NULL = 0: deterministic). Errors: CAI_ERR_RANGE
 * for sizes, CAI_ERR_NUMERIC for NaN/inf, Sigma not symmetric, or Sigma not
 * positive semidefinite (naming "Sigma"). Sigma's rank is decided by a
 * pivoted Cholesky factorisation (pivots below n eps max |Sigma| are zero). */
cai_status cai_gauss_linear_create(size_t n_parents, const size_t *parent_dims,
                                   size_t n, const double *A, const double *c,
                                   const double *Sigma,
                                   cai_gauss_potential **out_p, cai_error *err);

/* Prior N(x; mean, cov) over one position of dimension n: a linear-Gaussian
 * without parents. mean NULL = 0; cov NULL or zero = point mass at mean. */
cai_status cai_gauss_prior_create(size_t n, const double *mean, const double *cov,
                                  cai_gauss_potential **out_p, cai_error *err);

/* Add a reference; returns p. */
cai_gauss_potential *cai_gauss_potential_ref(cai_gauss_potential *p);

/* Drop a reference, freeing at zero; accepts NULL; returns NULL. */
cai_gauss_potential *cai_gauss_potential_unref(cai_gauss_potential *p);

cai_gauss_potential_kind cai_gauss_potential_kind_of(const cai_gauss_potential *p);

/* Number of positions k (parents + 1 for a linear-Gaussian). */
size_t cai_gauss_potential_arity(const cai_gauss_potential *p);

/* Dimension of position i (0 when i >= k). */
size_t cai_gauss_potential_dim(const cai_gauss_potential *p, size_t i);

/* Rank of Sigma for a linear-Gaussian (0 = deterministic); 0 for a
 * quadratic. */
size_t cai_gauss_potential_rank(const cai_gauss_potential *p);

/* Bytes p occupies, counted once however many factors share it. */
size_t cai_gauss_potential_bytes(const cai_gauss_potential *p);

/* ---- graphs ----------------------------------------------------------- */

typedef struct cai_gauss_graph cai_gauss_graph;

/* New empty graph; free with cai_gauss_graph_free(). */
cai_status cai_gauss_graph_create(cai_gauss_graph **out_g, cai_error *err);

/* Free g, dropping one reference per factor. Accepts NULL. */
void cai_gauss_graph_free(cai_gauss_graph *g);

/* Add a vector variable of dimension dim (1..CAI_GAUSS_MAX_DIM); name
 * non-empty and unique (copied). *out_var (may be NULL) receives its index,
 * 0, 1, ... in order of addition. */
cai_status cai_gauss_graph_add_variable(cai_gauss_graph *g, const char *name,
                                        size_t dim, size_t *out_var,
                                        cai_error *err);

/* Add a factor: p over scope[0..k-1] (k = arity of p; distinct variables
 * whose dimensions match p's positions; for a linear-Gaussian the parents
 * then the child). mode is CAI_MODE_NORMAL, or CAI_MODE_EXPECTATION for a
 * linear-Gaussian with at least one parent or a prior. The graph takes its own
 * reference. *out_factor may be NULL. */
cai_status cai_gauss_graph_add_factor(cai_gauss_graph *g, cai_gauss_potential *p,
                                      const size_t *scope, size_t k,
                                      cai_factor_mode mode, size_t *out_factor,
                                      cai_error *err);

/* Clamp var to value[0..dim-1] (copied, finite), or clear with NULL. */
cai_status cai_gauss_graph_set_evidence(cai_gauss_graph *g, size_t var,
                                        const double *value, cai_error *err);

size_t cai_gauss_graph_n_variables(const cai_gauss_graph *g);
size_t cai_gauss_graph_n_factors(const cai_gauss_graph *g);

/* var < n_variables; the name is owned by g. */
const char *cai_gauss_graph_variable_name(const cai_gauss_graph *g, size_t var);
size_t cai_gauss_graph_variable_dim(const cai_gauss_graph *g, size_t var);

/* Index of the variable called name, or CAI_NONE. */
size_t cai_gauss_graph_find_variable(const cai_gauss_graph *g, const char *name);

/* f < n_factors; owned by g. */
const cai_gauss_potential *cai_gauss_graph_factor_potential(const cai_gauss_graph *g,
                                                            size_t f);
const size_t *cai_gauss_graph_factor_scope(const cai_gauss_graph *g, size_t f,
                                           size_t *out_k);

/* Bytes of potential storage, each distinct potential counted once. */
size_t cai_gauss_graph_potential_bytes(const cai_gauss_graph *g);

/* ---- plans, workspaces, execution -------------------------------------- */

typedef struct cai_gauss_plan cai_gauss_plan;
typedef struct cai_gauss_workspace cai_gauss_workspace;

typedef struct cai_gauss_plan_options {
    size_t root;      /* preferred root variable, CAI_NONE for the default */
    bool upward_only; /* keep no marginals: execute runs the upward pass and
                         the root integrals only (log Z, upward messages,
                         conditionals); marginal queries fail with
                         CAI_ERR_STATE */
} cai_gauss_plan_options;

/* Defaults: default roots, both passes. */
cai_gauss_plan_options cai_gauss_plan_options_default(void);

/* Analyse g (its evidence decides which variables are clamped; the values
 * become the workspaces' defaults). Errors: CAI_ERR_CYCLE naming a variable
 * on a cycle; CAI_ERR_STRUCTURE when a conditional with singular Sigma or an
 * expectation-mode factor would have to send toward its child or has a
 * clamped child (naming the factor and the variable), or when no root
 * satisfies them; CAI_ERR_INVALID for a bad root option. The plan keeps its
 * own potential references and does not refer to g. Free with
 * cai_gauss_plan_free(); *out_plan is written only on success. */
cai_status cai_gauss_plan_create(const cai_gauss_graph *g,
                                 const cai_gauss_plan_options *opt,
                                 cai_gauss_plan **out_plan, cai_error *err);

/* Accepts NULL. */
void cai_gauss_plan_free(cai_gauss_plan *plan);

/* Number of clusters (after absorption) and of trees. */
size_t cai_gauss_plan_n_clusters(const cai_gauss_plan *plan);
size_t cai_gauss_plan_n_trees(const cai_gauss_plan *plan);

/* Root variable of the tree containing var (CAI_NONE if var is out of
 * range). */
size_t cai_gauss_plan_root_of(const cai_gauss_plan *plan, size_t var);

/* Bytes one workspace of this plan needs (messages, marginals, scratch). */
size_t cai_gauss_plan_workspace_bytes(const cai_gauss_plan *plan);

/* A workspace: upward messages, marginals, evidence values and scratch. It
 * borrows plan, which must outlive it. Free with
 * cai_gauss_workspace_free(). */
cai_status cai_gauss_workspace_create(const cai_gauss_plan *plan,
                                      cai_gauss_workspace **out_ws,
                                      cai_error *err);

/* Accepts NULL. */
void cai_gauss_workspace_free(cai_gauss_workspace *ws);

/* New value for a variable that was clamped when the plan was made
 * (otherwise CAI_ERR_INVALID: the set of clamped variables is part of the
 * plan). value is copied and must be finite. */
cai_status cai_gauss_workspace_set_evidence(cai_gauss_workspace *ws, size_t var,
                                            const double *value, cai_error *err);

/* Soft evidence: multiply var's local terms by exp(-1/2 x'Jx + h'x + c) for
 * the next executes (J symmetric; NULL J and h are zero), or remove it with
 * J == NULL && h == NULL && c == 0. Copied. (A stationary Riccati iteration
 * feeds x_0's upward message back into x_1 this way.) */
cai_status cai_gauss_workspace_set_soft_evidence(cai_gauss_workspace *ws,
                                                 size_t var, const double *J,
                                                 const double *h, double c,
                                                 cai_error *err);

/* Run the upward pass, the root integrals and (unless upward_only) the
 * downward pass. Errors: CAI_ERR_NUMERIC when an integral inside a cluster
 * diverges, naming the variable whose precision is not positive definite
 * (for an LQR step: "variable 'u3'", i.e. R + B'P~B) or the factor whose
 * I + L'JL is not, or on overflow to NaN. A divergent integral at a root is
 * not an error: log Z is then +INFINITY and that tree's marginals fail. */
cai_status cai_gauss_plan_execute(const cai_gauss_plan *plan,
                                  cai_gauss_workspace *ws, cai_error *err);

/* ---- queries: valid after a successful execute ---- */

/* log Z = log of the integral of the product of all factors (Lebesgue
 * measure on unclamped variables; clamped ones at their values), summed over
 * trees; +INFINITY when it diverges; the ELBO with expectation-mode factors.
 * NaN before an execute. */
double cai_gauss_query_log_z(const cai_gauss_workspace *ws);

/* The upward message of var, everything on var's side away from the root
 * as a function of x_var: its unary quadratics, soft evidence and the
 * clusters below it (not its priors, which belong to the cluster above it).
 * J is n x n, h n, c one number; each output may be NULL. At a root it is
 * the belief before the priors; for a clamped var J = 0, h = 0 and c is the
 * log weight at the clamped value. */
cai_status cai_gauss_query_upward(const cai_gauss_workspace *ws, size_t var,
                                  double *out_J, double *out_h, double *out_c,
                                  cai_error *err);

/* The marginal of var in moment form: mean (n) and covariance (n x n; may be
 * singular, e.g. 0 for a point mass or a clamped variable). Either output
 * may be NULL. Under expectation-mode factors it is q's marginal. Errors:
 * CAI_ERR_STATE for an upward_only plan; CAI_ERR_NUMERIC when var's tree
 * has a divergent integral (improper posterior). */
cai_status cai_gauss_query_marginal(const cai_gauss_workspace *ws, size_t var,
                                    double *out_mean, double *out_cov,
                                    cai_error *err);

/* p(x | y) = N(K y + k, S) for x in a cluster whose variable toward the
 * root is y (unclamped), computed from the cavity (y's own message left
 * out, so it is defined for every y): K is n_x x n_y, k n_x, S n_x x n_x;
 * each output may be NULL. For an LQR step (u_t | x_t) this is the policy.
 * Errors: CAI_ERR_INVALID when y is not x's neighbour toward the root. */
cai_status cai_gauss_query_conditional(const cai_gauss_workspace *ws, size_t x,
                                       size_t y, double *out_K, double *out_k,
                                       double *out_S, cai_error *err);

/* ---- checking matrices ------------------------------------------------ */

/* What cai_gauss_matrix_check tests (flags; 0 = finite entries only). */
#define CAI_GAUSS_SYMMETRIC 1u /* symmetric within 1e-10 of its largest entry */
#define CAI_GAUSS_PSD 2u       /* symmetric positive semidefinite (as Sigma) */
#define CAI_GAUSS_PD 4u        /* symmetric positive definite (Cholesky) */

/* Check the n x n matrix A the way the engine does, with errors naming it
 * as name (CAI_ERR_NUMERIC: "R is not positive definite (the Cholesky
 * factorisation fails at pivot 1)", "Q is not symmetric: Q[0][1] = ..."). */
cai_status cai_gauss_matrix_check(const double *A, size_t n, unsigned check,
                                  const char *name, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
