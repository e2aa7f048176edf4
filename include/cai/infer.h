/* cai/infer.h — one front for every inference method on a factor graph.
 *
 * The same graph can be planned with several methods; each plan takes the
 * method, the algorithm (sum- or max-product) and the method's own options,
 * and answers the same queries:
 *
 *   CAI_METHOD_EXACT      the tree engine on forests, a junction tree on
 *                         loopy graphs (cai/jtree.h); exact log Z and
 *                         marginals, or the MAP assignment
 *   CAI_METHOD_LOOPY      loopy belief propagation (cai/loopy.h); the Bethe
 *                         estimate of log Z and beliefs, or a decoded
 *                         max-product assignment
 *   CAI_METHOD_MEANFIELD  mean-field variational message passing
 *                         (cai/meanfield.h), fully factorised or over
 *                         clusters; the ELBO (a lower bound on log Z) and q,
 *                         and the argmax of each q_i as its "MAP"
 *
 * A cai_infer owns the method's object; it keeps its own references to the
 * potentials and does not refer to the graph afterwards. Runs and evidence
 * changes modify it; queries only read it. */
#ifndef CAI_INFER_H
#define CAI_INFER_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/jtree.h"
#include "cai/loopy.h"
#include "cai/meanfield.h"
#include "cai/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_infer cai_infer;

typedef enum cai_method {
    CAI_METHOD_EXACT = 0,
    CAI_METHOD_LOOPY = 1,
    CAI_METHOD_MEANFIELD = 2
} cai_method;

typedef struct cai_infer_options {
    cai_method method;
    /* CAI_SUM_PRODUCT or CAI_MAX_PRODUCT (exact and loopy); mean field has
     * no max-product and takes CAI_SUM_PRODUCT only. Overrides the
     * algorithm fields of the method options below. */
    cai_algorithm algorithm;
    cai_jtree_options exact;         /* CAI_METHOD_EXACT: max_clique_entries */
    cai_loopy_options loopy;         /* CAI_METHOD_LOOPY (its trace is replaced
                                        by the one below when that is set) */
    cai_meanfield_options meanfield; /* CAI_METHOD_MEANFIELD (likewise) */
    /* Iterative methods: called after every iteration (NULL: never) with its
     * number (1, 2, ...), the convergence residual after it (loopy: the
     * largest message change; mean field: NaN) and the log Z estimate at
     * that point (loopy: Bethe estimate or decoded log score; mean field:
     * the ELBO). The exact method never calls it. */
    void (*trace)(void *ctx, size_t iteration, double residual, double log_z);
    void *trace_ctx;
} cai_infer_options;

/* Defaults: exact sum-product, every method's own defaults, no trace. */
cai_infer_options cai_infer_options_default(void);

/* "exact", "loopy", "meanfield"; NULL for an unknown method. */
const char *cai_method_name(cai_method method);

/* The method named name (as cai_method_name), or CAI_ERR_INVALID naming it
 * and the known ones. */
cai_status cai_method_parse(const char *name, cai_method *out, cai_error *err);

/* Plan g for opt (NULL = defaults) with the method's own create function
 * and its errors; in addition CAI_ERR_INVALID for an unknown method or
 * CAI_ERR_RANGE for max-product mean field. *out is written only on
 * success; free with cai_infer_free(). */
cai_status cai_infer_create(const cai_graph *g, const cai_infer_options *opt,
                            cai_infer **out, cai_error *err);

/* Accepts NULL. */
void cai_infer_free(cai_infer *inf);

cai_method cai_infer_method(const cai_infer *inf);
cai_algorithm cai_infer_algorithm(const cai_infer *inf);

/* Clamp var to state for the next runs, or clear it with CAI_NONE. */
cai_status cai_infer_set_evidence(cai_infer *inf, size_t var, size_t state,
                                  cai_error *err);

/* Run the method (exact: one pass; iterative: until converged or the
 * iteration cap, which is not an error). */
cai_status cai_infer_run(cai_infer *inf, cai_error *err);

/* ---- queries: valid after a successful run ---- */

/* Iterations (exact: 1) and whether the run converged (exact: true). */
size_t cai_infer_iterations(const cai_infer *inf);
bool cai_infer_converged(const cai_infer *inf);

/* Sum-product: log Z (exact), its Bethe estimate (loopy) or the ELBO (mean
 * field). Max-product: the log score of the returned assignment. NaN
 * before a run. */
double cai_infer_log_z(const cai_infer *inf);

/* Sum-product: the (approximate) marginal of var into out[0..card-1]
 * (exact marginal, loopy belief, mean-field q_var). CAI_ERR_STATE before a
 * run or for max-product. */
cai_status cai_infer_marginal(const cai_infer *inf, size_t var, double *out,
                              cai_error *err);

/* Sum-product, exact and loopy: the (approximate) joint belief over factor
 * f's scope, in the scope's order, row-major with the last variable fastest
 * (as cai_query_factor_belief). CAI_ERR_STATE for max-product and for mean
 * field (whose q is a product over blocks: take the marginals). */
cai_status cai_infer_factor_belief(const cai_infer *inf, size_t f, double *out,
                                   cai_error *err);

/* Max-product (exact, loopy): the assignment and its log score; mean field:
 * the argmax of each q_i, with *out_log_score NaN. out and out_log_score may
 * be NULL. CAI_ERR_STATE for sum-product exact or loopy. */
cai_status cai_infer_map(const cai_infer *inf, size_t *out, double *out_log_score,
                         cai_error *err);

/* Loopy: the largest residual and its message (cai_loopy_max_residual);
 * other methods: NaN, with *out_factor and *out_var CAI_NONE. */
double cai_infer_max_residual(const cai_infer *inf, size_t *out_factor, size_t *out_var);

/* Bytes of message storage the method holds for its runs: exact, the
 * workspace of the plan (cai_plan_workspace_bytes) plus the clique tables
 * of a junction tree; loopy, its messages, beliefs and scratch; mean field,
 * cai_meanfield_message_bytes. The memory the method needs beyond the
 * graph's potentials, for comparing methods; allocator overhead is not
 * counted. */
size_t cai_infer_message_bytes(const cai_infer *inf);

/* The method's own object, for its specific queries (NULL when inf is of
 * another method). */
const cai_jtree *cai_infer_jtree(const cai_infer *inf);
const cai_loopy *cai_infer_loopy(const cai_infer *inf);
const cai_meanfield *cai_infer_meanfield(const cai_infer *inf);

#ifdef __cplusplus
}
#endif
#endif
