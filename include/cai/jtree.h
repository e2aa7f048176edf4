/* cai/jtree.h — exact inference on any graph small enough: a junction tree.
 *
 * cai_jtree_create compiles a graph with cycles into a TREE-shaped graph that
 * the exact engine (cai_plan) solves unchanged:
 *   1. the moral graph of the variables (two variables are adjacent when they
 *      share a factor) is triangulated by min-fill elimination: each step
 *      eliminates the variable whose neighbours miss the fewest edges among
 *      themselves, ties to the lowest variable index;
 *   2. the maximal elimination cliques, numbered in elimination order, each
 *      with its variables in increasing index order, are joined by a maximum
 *      weight spanning tree on separator sizes (Kruskal; equal weights in
 *      increasing order of the lower, then the higher clique index; only
 *      cliques that share a variable are joined, so a disconnected graph gives
 *      a forest);
 *   3. clique c becomes a variable "c<c>" whose states are the clique's joint
 *      states, row-major over its variables in increasing index order with the
 *      LAST (highest-index) variable fastest; each tree edge becomes a
 *      separator variable "s<e>" (the separator's joint states, same order)
 *      and two deterministic CSR conditionals p(s | c_i) and p(s | c_j) whose
 *      one-hot rows pick the separator's part of the clique state;
 *   4. every factor goes to the lowest-indexed clique containing its scope,
 *      and all the factors of a clique are multiplied into ONE table over its
 *      joint states (a one-variable local term of the clique variable). A
 *      potential tied by many factors is expanded once per factor, and only
 *      inside its clique. Support-mode factors enter as the indicator of their
 *      potential's positive entries.
 * Consistent assignments of the tree correspond one to one to assignments of
 * the graph, with the same weight, so log Z, marginals, factor beliefs and the
 * MAP (sum-product and max-product) are exact.
 *
 * Before anything of clique size is allocated, the joint state count of every
 * clique is computed (overflow-checked); when the largest passes
 * max_clique_entries, creation fails with CAI_ERR_OVERFLOW and a message that
 * names that clique's size, its variables and the limit.
 *
 * Evidence is not compiled in: the jtree starts with the graph's evidence at
 * create time and cai_jtree_set_evidence changes it between runs. Each run
 * turns the evidence into soft evidence (0 / -inf logs) on the clique variable
 * of the lowest-indexed clique containing the clamped variable ("home"
 * clique), so changing evidence never recompiles.
 *
 * Forests. When cai_plan_create accepts the graph (it is a forest of clusters)
 * and compile_forests is false, the jtree simply plans the graph itself: the
 * answers are cai_plan's, expectation-mode factors are honoured, and
 * max_clique_entries is not checked (the largest table is the user's own).
 * On graphs with cycles expectation-mode factors are refused
 * (CAI_ERR_STRUCTURE naming the factor).
 *
 * MAP ties. The tree is decoded by the engine's rule (each tree's root clique,
 * its lowest-indexed clique, takes its lowest maximising joint state, each
 * clique below the lowest maximising state consistent with the separator
 * above it). The result is a maximiser, deterministic, but in general not the
 * lexicographically lowest maximiser in terms of the original variables.
 *
 * The jtree owns the compiled tree graph, its plan and a workspace, and keeps
 * no pointer to the graph it was made from. Runs and evidence changes modify
 * it; queries only read it and may run concurrently with each other. */
#ifndef CAI_JTREE_H
#define CAI_JTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_jtree cai_jtree;

typedef struct cai_jtree_options {
    cai_algorithm algorithm;   /* CAI_SUM_PRODUCT or CAI_MAX_PRODUCT */
    double max_clique_entries; /* >= 1: largest clique joint allowed (default 1e8) */
    bool compile_forests;      /* compile a forest too instead of planning it
                                  directly (default false; for testing) */
} cai_jtree_options;

/* Defaults: sum-product, max_clique_entries 1e8, forests planned directly. */
cai_jtree_options cai_jtree_options_default(void);

/* Compile g for opt (NULL = defaults). Errors: CAI_ERR_INVALID (NULL g or
 * out), CAI_ERR_RANGE (max_clique_entries < 1 or NaN, unknown algorithm),
 * CAI_ERR_OVERFLOW (the largest clique passes max_clique_entries or a size
 * overflows), CAI_ERR_STRUCTURE (an expectation-mode factor in a graph with
 * cycles), CAI_ERR_NOMEM, and cai_plan_create's errors on forests. *out_jt is
 * written only on success; free with cai_jtree_free(). */
cai_status cai_jtree_create(const cai_graph *g, const cai_jtree_options *opt,
                            cai_jtree **out_jt, cai_error *err);

/* Accepts NULL. */
void cai_jtree_free(cai_jtree *jt);

/* Clamp variable var of the original graph to state for the next run, or
 * clear it with CAI_NONE. Results of an earlier run are invalidated. */
cai_status cai_jtree_set_evidence(cai_jtree *jt, size_t var, size_t state,
                                  cai_error *err);

/* Run the tree (sum-product or max-product, as created). */
cai_status cai_jtree_run(cai_jtree *jt, cai_error *err);

/* ---- queries: valid after a successful run ---- */

/* Sum-product: log Z; max-product: the log score of the MAP assignment;
 * -INFINITY when every assignment has zero weight; NaN before a run. */
double cai_jtree_log_z(const cai_jtree *jt);

/* Sum-product: p(var) into out[0..card-1]; NaN when the total weight is 0.
 * CAI_ERR_STATE before a run or on a max-product jtree. */
cai_status cai_jtree_marginal(const cai_jtree *jt, size_t var, double *out,
                              cai_error *err);

/* Sum-product: the joint belief over factor f's scope in the scope's order,
 * row-major with the last variable fastest (as cai_query_factor_belief). */
cai_status cai_jtree_factor_belief(const cai_jtree *jt, size_t f, double *out,
                                   cai_error *err);

/* Max-product: the MAP assignment of the original variables into
 * out[0..n_variables-1] (may be NULL) and its log score (may be NULL). */
cai_status cai_jtree_map(const cai_jtree *jt, size_t *out, double *out_log_score,
                         cai_error *err);

/* ---- structure ---- */

/* Bytes of inference state: the plan's workspace (cai_plan_workspace_bytes)
 * plus, when compiled, the clique tables and separator links it expanded.
 * 0 for NULL. */
size_t cai_jtree_message_bytes(const cai_jtree *jt);

/* True when the graph was compiled into a clique tree, false when it was a
 * forest planned directly. */
bool cai_jtree_is_compiled(const cai_jtree *jt);

/* Number of maximal cliques (for a forest planned directly: its clusters
 * plus the variables in no factor of arity >= 2). */
size_t cai_jtree_n_cliques(const cai_jtree *jt);

/* Joint states of the largest clique. */
size_t cai_jtree_max_clique_entries(const cai_jtree *jt);

/* Treewidth of the triangulation: variables of the largest clique minus one
 * (0 for a graph without variables). */
size_t cai_jtree_treewidth(const cai_jtree *jt);

/* Compiled jtrees only: the variables of clique c (c < n_cliques), in
 * increasing order, k of them in *out_k; owned by jt. NULL otherwise. */
const size_t *cai_jtree_clique(const cai_jtree *jt, size_t c, size_t *out_k);

/* The compiled tree graph (owned by jt; cliques are variables 0..n_cliques-1,
 * separators follow), or NULL for a forest planned directly. */
const cai_graph *cai_jtree_tree_graph(const cai_jtree *jt);

#ifdef __cplusplus
}
#endif
#endif
