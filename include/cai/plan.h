/* cai/plan.h — plan once, execute many times, then query.
 *
 * cai_plan_create analyses a graph once: factors of arity >= 2 whose scope is
 * a subset of another factor's scope are absorbed into that factor's cluster
 * (so a chain with separate reward, prior and transition factors is a tree),
 * one-variable factors become local terms of their variable, the cluster
 * graph is checked to be a forest, each tree is rooted and ordered, and the
 * message layout is fixed. The plan is read-only afterwards, keeps its own
 * references to the potentials and does not refer to the graph.
 *
 * cai_plan_execute runs the plan on a workspace (messages, evidence,
 * results): an upward pass of messages toward each root, then a downward pass
 * that writes marginals (sum-product) or the MAP assignment (max-product).
 * Executes on different workspaces may run concurrently; executing twice
 * gives identical results.
 *
 * Roots: the root of each tree is its lowest-indexed variable, unless the
 * options name one, or expectation-mode factors require another (the root
 * must lie on the parents' side of every expectation-mode conditional; a
 * parentless one fixes its child as root). MAP ties are broken towards the
 * lowest index: the root takes its lowest maximising state, then each factor,
 * from the root down, the lowest maximising joint assignment (row-major) of
 * its variables further from the root. */
#ifndef CAI_PLAN_H
#define CAI_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_plan cai_plan;
typedef struct cai_workspace cai_workspace;

typedef enum cai_algorithm {
    CAI_SUM_PRODUCT = 0, /* marginals, beliefs, log Z (ELBO with expectation factors) */
    CAI_MAX_PRODUCT = 1  /* MAP assignment and its log score */
} cai_algorithm;

typedef struct cai_plan_options {
    cai_algorithm algorithm;
    size_t root; /* preferred root variable, CAI_NONE for the default */
    bool max_expectation; /* max-product honours expectation-mode factors (the
                             alpha -> 0 limit of structured variational
                             inference: message to the parents
                             sum_c p(c|pa) m(c), max over the free variables).
                             Such a plan answers log Z (the optimal value),
                             upward messages and cavities; it has no MAP. */
    bool upward_only;     /* execute only the upward pass and keep one vector
                             per variable: log Z, upward messages and
                             cavities (so conditionals) are answered;
                             marginals, factor beliefs and the MAP are not
                             (CAI_ERR_STATE). For value functions of long
                             horizons: memory is the sum of the
                             cardinalities, not three times it. */
} cai_plan_options;

/* Defaults: sum-product, default roots, max-product ignores expectation. */
cai_plan_options cai_plan_options_default(void);

/* Analyse g for opt (NULL = defaults). Errors: CAI_ERR_CYCLE naming a
 * variable on a cycle; CAI_ERR_STRUCTURE for expectation-mode factors that
 * cannot all have the root on their parents' side, or for an expectation
 * factor that is not a CSR conditional; CAI_ERR_OVERFLOW when sizes overflow.
 * *out_plan is written only on success; free with cai_plan_free(). */
cai_status cai_plan_create(const cai_graph *g, const cai_plan_options *opt,
                           cai_plan **out_plan, cai_error *err);

/* Accepts NULL. */
void cai_plan_free(cai_plan *plan);

cai_algorithm cai_plan_algorithm(const cai_plan *plan);

/* Number of clusters (maximal factors after absorption) and of trees. */
size_t cai_plan_n_clusters(const cai_plan *plan);
size_t cai_plan_n_trees(const cai_plan *plan);

/* Root variable of the tree containing var. */
size_t cai_plan_root_of(const cai_plan *plan, size_t var);

/* Bytes of message storage one workspace of this plan needs. */
size_t cai_plan_workspace_bytes(const cai_plan *plan);

/* A workspace for plan: message storage, evidence (initially the graph's
 * evidence at plan time) and results. It borrows plan, which must outlive
 * it. Free with cai_workspace_free(). */
cai_status cai_workspace_create(const cai_plan *plan, cai_workspace **out_ws,
                                cai_error *err);

/* Accepts NULL. */
void cai_workspace_free(cai_workspace *ws);

/* A place to keep the message array of a freed workspace for the next one
 * of about the same size (at most a quarter larger): repeated solves of one
 * model then pay no page faults for it (a fresh array of 10^7 doubles is
 * zeroed by the kernel one page at a time). The kept memory is given back to
 * the kernel lazily, so it is reclaimed under memory pressure; it is
 * released for good by cai_buffer_cache_free. Safe to share between threads.
 * No library state lives outside such caches. */
typedef struct cai_buffer_cache cai_buffer_cache;

cai_status cai_buffer_cache_create(cai_buffer_cache **out_cache, cai_error *err);

/* Accepts NULL. */
void cai_buffer_cache_free(cai_buffer_cache *cache);

/* cai_workspace_create, its message array taken from cache when the one
 * kept there fits, and given back to it by cai_workspace_free; cache (NULL:
 * none) must outlive the workspace. */
cai_status cai_workspace_create_cached(const cai_plan *plan, cai_buffer_cache *cache,
                                       cai_workspace **out_ws, cai_error *err);

/* Clamp var to state for the next execute, or clear with CAI_NONE. The plan
 * is reused as it is. */
cai_status cai_workspace_set_evidence(cai_workspace *ws, size_t var,
                                      size_t state, cai_error *err);

/* Soft evidence: add log_values[0..card-1] (finite or -INFINITY) to var's
 * local terms for the next executes, or remove it with NULL. The values are
 * copied. Fails with CAI_ERR_NUMERIC on NaN or +inf. */
cai_status cai_workspace_set_soft_evidence(cai_workspace *ws, size_t var,
                                           const double *log_values,
                                           cai_error *err);

/* Run the plan. Fails only on invalid arguments. */
cai_status cai_plan_execute(const cai_plan *plan, cai_workspace *ws,
                            cai_error *err);

/* How cai_plan_iterate feeds a message back. */
typedef enum cai_sweep {
    CAI_SWEEP_JACOBI = 0,      /* every execute uses the previous message */
    CAI_SWEEP_GAUSS_SEIDEL = 1 /* within a sweep, each state's new message is
                                  used at once by the states after it */
} cai_sweep;

/* Stationary fixed points of a one-slice model (a discounted MDP's slice
 * s a s'): the upward message of `from` becomes the soft evidence of `to`,
 * whose first card(from) states stand for from's; the others keep tail[]
 * (logs; NULL when `to` has no more states). Starts from to's current soft
 * evidence (zeros if none) and stops when the sup-norm change of from's
 * message is <= tol * max(1, max |message|), or after max_iterations.
 * Gauss-Seidel needs a sum- or max-product plan of one cluster whose first
 * variable is `from` (its root) and whose last is `to`. On success the
 * workspace is left executed with the final message fed back, so queries
 * (upward messages, cavities) describe the fixed point. */
cai_status cai_plan_iterate(const cai_plan *plan, cai_workspace *ws, size_t from, size_t to,
                            const double *tail, cai_sweep sweep, double tol,
                            size_t max_iterations, size_t *out_iterations,
                            bool *out_converged, cai_error *err);

/* cai_plan_iterate calling trace(ctx, iteration, change) after every
 * iteration (trace may be NULL), with change the sup-norm change of from's
 * message divided by max(1, max |message|): the number compared with tol. */
typedef void (*cai_iterate_trace)(void *ctx, size_t iteration, double change);
cai_status cai_plan_iterate_traced(const cai_plan *plan, cai_workspace *ws, size_t from,
                                   size_t to, const double *tail, cai_sweep sweep,
                                   double tol, size_t max_iterations,
                                   cai_iterate_trace trace, void *trace_ctx,
                                   size_t *out_iterations, bool *out_converged,
                                   cai_error *err);

/* ---- queries: valid after a successful execute ---- */

/* Sum-product: log partition function, sum over trees (exact on forests).
 * With expectation-mode factors it is the ELBO of q, a lower bound.
 * Max-product: the log score of the MAP assignment (the same number
 * cai_query_map reports). -INFINITY when every assignment has zero weight. */
double cai_query_log_z(const cai_workspace *ws);

/* Sum-product: p(var) into out[0..card-1] (probabilities). When the model has
 * zero total weight the marginal is undefined and out is filled with NaN. */
cai_status cai_query_marginal(const cai_workspace *ws, size_t var, double *out,
                              cai_error *err);

/* Sum-product: the joint belief over factor f's scope, in the scope's order,
 * row-major with the last variable fastest (prod of cards entries). Fails
 * with CAI_ERR_OVERFLOW when the enclosing cluster's joint has more than
 * 2^26 entries. */
cai_status cai_query_factor_belief(const cai_workspace *ws, size_t f,
                                   double *out, cai_error *err);

/* Sum-product: p(x | y) for two variables of one factor, where y is the
 * variable of that factor nearer the root (cai_plan_root_of; choose roots
 * with cai_plan_options.root). Computed from the cavity: y's own message is
 * left out, so every row is defined, also where p(y) = 0. out is
 * [card(y)][card(x)], rows summing to one; a row where x is impossible
 * whatever y's side says is NaN. */
cai_status cai_query_conditional(const cai_workspace *ws, size_t x, size_t y,
                                 double *out, cai_error *err);

/* The upward message of var into out[0..card-1], as logs: the weight of
 * everything on var's side away from the root (its own local terms and the
 * factors and variables below it) as a function of var; summed (sum-product),
 * maximised (max-product) or, through expectation factors, their expected
 * log. At a root it is the unnormalised log belief. For a chain rooted at its
 * start this is the backward message (in an MDP: V_t / alpha). */
cai_status cai_query_upward(const cai_workspace *ws, size_t var, double *out,
                            cai_error *err);

/* The cavity as unnormalised logs: out[card(y)][card(x)] = log of the weight
 * of the common factor of x and y and everything on x's side of it, with y's
 * own message left out (the same structure as cai_query_conditional; summed
 * or maximised with the plan's algorithm). cai_query_conditional is this
 * normalised per row. */
cai_status cai_query_cavity(const cai_workspace *ws, size_t x, size_t y,
                            double *out, cai_error *err);

/* Max-product: the MAP assignment into out[0..n_variables-1] and its log
 * score (unnormalised: sum of the log factors). */
cai_status cai_query_map(const cai_workspace *ws, size_t *out,
                         double *out_log_score, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
