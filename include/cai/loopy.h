/* cai/loopy.h — loopy belief propagation on graphs with cycles.
 *
 * cai_loopy_create analyses a graph once, like cai_plan_create, but accepts
 * any graph: cycles are allowed, and the answers are approximate where there
 * are any. The object keeps its own references to the potentials (a potential
 * shared by many factors is referenced, never copied) and does not refer to
 * the graph afterwards. cai_loopy_run passes messages until they settle or an
 * iteration cap is reached; the queries read the last run.
 *
 * Clusters. As in cai_plan, a factor of arity >= 2 whose variables are a
 * subset of another factor's is absorbed into it (the host is the factor of
 * largest arity containing it, the lowest index among equals), and
 * one-variable factors and evidence are local terms of their variable. The
 * messages run between these clusters and the variables, so every graph that
 * cai_plan_create accepts is a tree here and loopy BP is exact on it (an MDP
 * chain with separate reward and dynamics factors included).
 *
 * Messages. Cluster -> variable and variable -> cluster messages are log
 * vectors normalised to log-sum-exp 0 (sum-product) or to max 0
 * (max-product); they start uniform. Damping d mixes each new cluster ->
 * variable message with the old one in the log domain, (1 - d) new + d old
 * (a state impossible in either stays impossible), then renormalises.
 *
 * Residual. The change of a message is the sup-norm of the difference of the
 * old and new normalised LOG messages (0 where both are -inf, +inf where only
 * one is). One iteration updates every cluster -> variable message once
 * (flooding, sequential) or makes as many updates as there are messages
 * (residual). A run has converged when its measure is <= tol: for flooding
 * and sequential the largest change made in the last iteration, for residual
 * the largest pending residual (the change the next update of a message
 * would make, damping included). A damped update moves a message (1 - d) of
 * the way, so an undamped update would still change it by about
 * residual / (1 - d). Without damping the messages of a forest become exact
 * and stop changing, so converged answers there are exact to rounding.
 *
 * Cost. A cluster sends through its potential's message kernels (a CSR
 * conditional is never expanded to a table); when an absorbed factor touches
 * the host's last variable it visits the host's stored entries one by one.
 * The message into a cluster is summed from the variable's other messages
 * when needed, so a variable in d clusters costs O(d^2) per iteration.
 *
 * Threads: runs and evidence changes modify the object; the queries only
 * read it, so they may run concurrently with each other. */
#ifndef CAI_LOOPY_H
#define CAI_LOOPY_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_loopy cai_loopy;

typedef enum cai_schedule {
    CAI_SCHEDULE_FLOODING = 0,   /* every message from the previous iteration's
                                    messages, then all replaced at once */
    CAI_SCHEDULE_SEQUENTIAL = 1, /* clusters one at a time, each sending all
                                    its messages from the latest ones: in the
                                    order of their host factors on odd
                                    iterations, the reverse on even ones */
    CAI_SCHEDULE_RESIDUAL = 2    /* the message with the largest pending
                                    residual first (residual BP, Elidan et al.
                                    2006), ties to the lowest message */
} cai_schedule;

typedef struct cai_loopy_options {
    cai_algorithm algorithm; /* CAI_SUM_PRODUCT or CAI_MAX_PRODUCT */
    cai_schedule schedule;
    double damping;          /* in [0, 1); 0 = none */
    double tol;              /* > 0: convergence threshold on the residual */
    size_t max_iterations;   /* >= 1 */
    /* Called after every iteration (NULL: never) with its number (1, 2, ...),
     * the convergence measure after it, and the log Z estimate of the
     * messages at that point (sum-product: the Bethe estimate; max-product:
     * the log score of the assignment they decode). Computing that estimate
     * costs about one more pass over the clusters per iteration. */
    void (*trace)(void *ctx, size_t iteration, double max_residual, double log_z);
    void *trace_ctx;
} cai_loopy_options;

/* Defaults: sum-product, sequential, no damping, tol 1e-10, at most 1000
 * iterations, no trace. */
cai_loopy_options cai_loopy_options_default(void);

/* Analyse g for opt (NULL = defaults). The graph's evidence at this time is
 * the evidence of the runs (change it with cai_loopy_set_evidence).
 * Errors: CAI_ERR_INVALID for NULL arguments or an unknown algorithm or
 * schedule; CAI_ERR_RANGE for damping outside [0, 1), tol <= 0, NaN, or
 * max_iterations 0; CAI_ERR_STRUCTURE naming the first expectation-mode
 * factor (structured variational inference is not loopy BP: plan such graphs
 * with cai_plan_create); CAI_ERR_OVERFLOW when sizes overflow. Support-mode
 * factors count as the 0/1 pattern of their potential. *out_lp is written
 * only on success; free with cai_loopy_free(). */
cai_status cai_loopy_create(const cai_graph *g, const cai_loopy_options *opt,
                            cai_loopy **out_lp, cai_error *err);

/* Accepts NULL. */
void cai_loopy_free(cai_loopy *lp);

/* Clamp var to state for the next runs, or clear it with CAI_NONE. Results
 * of earlier runs are discarded (queries fail until the next run). */
cai_status cai_loopy_set_evidence(cai_loopy *lp, size_t var, size_t state,
                                  cai_error *err);

/* Number of clusters (see above) and of cluster -> variable messages (the
 * updates one iteration makes). */
size_t cai_loopy_n_clusters(const cai_loopy *lp);
size_t cai_loopy_n_messages(const cai_loopy *lp);

/* Bytes of the run state: messages (current and pending), local terms,
 * beliefs, residuals and heap, the row terms of absorbed factors it
 * expanded, and kernel scratch; not the potentials. 0 for NULL. */
size_t cai_loopy_message_bytes(const cai_loopy *lp);

/* Run from uniform messages until converged or max_iterations. Not
 * converging is not an error: ask cai_loopy_converged (and
 * cai_loopy_max_residual for where). Running twice gives identical results.
 * Allocates nothing; fails only on a NULL argument. */
cai_status cai_loopy_run(cai_loopy *lp, cai_error *err);

/* ---- queries: valid after a successful run ---- */

/* Iterations the last run made (>= 1), and whether it converged. 0 / false
 * before a run. */
size_t cai_loopy_iterations(const cai_loopy *lp);
bool cai_loopy_converged(const cai_loopy *lp);

/* The convergence measure of the last run (see the top of this file) and
 * the message it belongs to: the host factor of the sending cluster and the
 * receiving variable (both may be NULL; CAI_NONE when there are no
 * messages). NaN before a run. */
double cai_loopy_max_residual(const cai_loopy *lp, size_t *out_factor,
                              size_t *out_var);

/* Sum-product: the Bethe estimate of log Z, -F_Bethe of the returned
 * beliefs, with
 *   F = sum_c sum_xc b_c (log b_c - log psi_c) - sum_i sum_xi b_i log phi_i
 *       - sum_i (d_i - 1) sum_xi b_i log b_i
 * over clusters c (psi_c: host and absorbed factors), variables i (phi_i:
 * local terms and evidence; d_i: clusters containing i), 0 log 0 = 0. This
 * is the usual factor-graph formula with one-variable factors counted as
 * factors (their belief is b_i). Exact on trees at convergence; -INFINITY
 * when a belief has no mass (every assignment impossible as far as BP can
 * tell). Max-product: the log score (sum of log factors) of the
 * cai_loopy_map assignment, -INFINITY when it has zero weight. NaN before a
 * run. */
double cai_loopy_log_z(const cai_loopy *lp);

/* The belief of var into out[0..card-1]: sum-product, probabilities summing
 * to one; max-product, the max-marginal scaled to a largest entry of one.
 * NaN everywhere when the sum-product log Z is -INFINITY or the
 * max-marginal has no mass. */
cai_status cai_loopy_marginal(const cai_loopy *lp, size_t var, double *out,
                              cai_error *err);

/* The belief over factor f's scope, in the scope's order, row-major with the
 * last variable fastest (as cai_query_factor_belief): the belief of its
 * cluster, summed (sum-product; summing to one) or maximised (max-product;
 * largest entry one) over the cluster's other variables. A one-variable
 * factor's belief is its variable's. NaN as for marginals. Fails with
 * CAI_ERR_OVERFLOW when the scope has more than 2^26 joint states. */
cai_status cai_loopy_factor_belief(const cai_loopy *lp, size_t f, double *out,
                                   cai_error *err);

/* Max-product: an assignment into out[0..n_variables-1] and its log score.
 * Decoded like libDAI's BP::findMaximum: variables in index order, each not
 * yet set taking the lowest state maximising its max-marginal, then,
 * breadth first from it, each cluster reached setting its unset variables to
 * the lowest (row-major) joint state maximising the cluster's max-belief
 * among those agreeing with the variables already set. On trees this is a MAP
 * assignment, ties included. On loopy graphs it is NOT guaranteed to be the
 * MAP, nor even consistent with every cluster's belief. Variables whose
 * beliefs have no mass take their evidence or state 0. */
cai_status cai_loopy_map(const cai_loopy *lp, size_t *out,
                         double *out_log_score, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
