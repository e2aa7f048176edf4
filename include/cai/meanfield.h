/* cai/meanfield.h — mean-field variational message passing.
 *
 * q factorises over blocks of variables, q(x) = prod_b q_b(x_b), and is
 * fitted by coordinate ascent on the ELBO
 *     ELBO(q) = sum_f E_q[log f] + sum_b H(q_b)  <=  log Z,
 * over every factor f (one-variable factors included) and every block b
 * (0 log 0 = 0). By default (options.blocks NULL) every variable is its own
 * block: the fully factorised q = prod_i q_i. One sweep visits the blocks in
 * index order and sets
 *     q_b(x_b) ∝ exp(sum_{f touching b} E_{q_-b}[log f | x_b])
 * from the latest q of the other blocks, which maximises the ELBO over q_b
 * exactly, so the ELBO never decreases from sweep to sweep (up to
 * rounding). A clamped variable (evidence) is a point mass; when every
 * block is a single variable it is never updated.
 *
 * Clusters (structured mean field, options.blocks given). Updating block b
 * means solving, exactly, the subgraph over b's variables whose factors are
 * the factors inside b (the same potentials, shared) and, per factor f
 * crossing b, a table over scope(f) ∩ b holding E_{q_-b}[log f] (the other
 * blocks' parts of scope(f) distributed as their current q). The subgraph is
 * solved by a junction tree (cai/jtree.h; trees are planned directly), with
 * the clamped variables as its evidence; it gives q_b's marginals, the joints
 * q_b needs to hand to the other blocks (over scope(f) ∩ b for every factor f
 * with two or more variables in b, read from the subgraph's factor beliefs:
 * a factor inside b, or the crossing table of f, covers exactly those
 * variables) and log Z_b, from which
 *     H(q_b) = log Z_b - E_{q_b}[sum of the subgraph's log factors].
 * A block of one variable inside a cluster run is updated the same way
 * (which is the factorised update). When EVERY block is a single variable
 * the run is the fully factorised algorithm sweeping the variables in block
 * order (with blocks[v] = v, bit-identical to blocks NULL). Restrictions:
 * each block's junction tree must fit the default max_clique_entries (1e8;
 * cai_meanfield_create fails with CAI_ERR_OVERFLOW naming the block
 * otherwise), and note that a crossing factor's table links all of its
 * variables in the block, so a block's cliques can be larger than those of
 * its inside factors alone; expectation-mode factors count as ordinary
 * factors (as everywhere in mean field).
 *
 * Cost of the cluster variant. Every block update builds fresh crossing
 * tables and a fresh junction tree of the block's subgraph (triangulation,
 * plan, one sum-product pass), then reads the marginals and the factor
 * beliefs it needs: the potentials are immutable and the junction tree
 * compiles factor values into clique tables, so nothing of it can be reused.
 * Every crossing factor is enumerated densely over its whole scope (every
 * joint assignment, CSR conditionals expanded row by row) once per update of
 * each block it crosses, and every factor once per ELBO. So a sweep costs
 * about sum_b (junction tree of b) + sum_f (blocks f crosses + 1 + [f inside
 * some block]) * prod(cards of scope(f)). Fine for models of modest factor
 * scopes; a run allocates, and fails (CAI_ERR_NOMEM) only when memory runs
 * out.
 *
 * Zeros. E_q[log f] is -INFINITY exactly when q puts mass on an assignment
 * of f's scope where f is zero (an entry of q that is positive, however
 * small, counts as mass; zeros elsewhere are ignored: 0 log 0 = 0). So a
 * state x of variable i gets q_i(x) = 0 when the others' q reaches a zero of
 * some factor with x_i = x, and stays 0 afterwards (mean field is zero
 * forcing). When EVERY state of a variable is -INFINITY (the others' q
 * reaches a zero of some factor whatever x_i is: a zero-weight model,
 * evidence of probability zero, or just a uniform start on factors with a
 * zero in every row) the ELBO is -INFINITY for any q_i; q_i then becomes the
 * point mass on the state whose zeros carry the least q-mass of the others
 * (summed over its factors; ties to the lowest state), which lets the next
 * updates move q off the zeros. This is a heuristic: it is still coordinate
 * ascent (the ELBO is -INFINITY before and after), and once the ELBO is
 * finite it is never used again. On a zero-weight model (log Z = -INFINITY)
 * the ELBO stays -INFINITY and q is some such point mass product. A run
 * whose ELBO is -INFINITY after two consecutive sweeps stops there (the
 * point masses could otherwise cycle until max_iterations); it reports
 * converged when the last sweep changed q by at most tol. The ELBO is never
 * NaN: it is finite or -INFINITY.
 *
 * Zeros with clusters follow the same rules: an expected log is -INFINITY
 * when the other blocks' q puts mass on a zero of f, so q_b is zero there;
 * when log Z_b is -INFINITY (the ELBO is -INFINITY for any q_b) q_b becomes
 * the point mass on the joint state of b, consistent with the evidence, that
 * minimises the same zero mass sum_{f touching b} (1 - the other blocks'
 * q-mass on f's nonzero entries given x_b), a factor inside b counting 1 at
 * its zeros. It is found by max-product on the block's junction tree, then
 * ties (within 1e-12 * max(1, |best|)) go to the lowest joint state, the
 * block's variables in index order, by fixing one variable at a time (one
 * max-product run per state tried). For a single-variable block this is the
 * factorised rule above, up to that tie margin.
 *
 * Factor modes. Support-mode factors count as the 0/1 pattern of their
 * potential (log 1 = 0 on the support). Expectation-mode factors are treated
 * as ordinary factors: under mean field every factor already enters through
 * E_q[log f].
 *
 * Cost (fully factorised). Updating q_i visits the stored entries of every
 * factor touching i once: every entry of a table, only the nonzeros of a CSR
 * conditional (it is never expanded; its zeros are detected by counting). One sweep, plus the
 * ELBO after it, is therefore about (arity + 1) passes over every factor's
 * stored entries, with one log per CSR nonzero visited (not cached). Fine
 * for small and sparse models; the ELBO is the price of the monotone
 * guarantee and of the trace.
 *
 * The object keeps its own references to the potentials and does not refer
 * to the graph afterwards. Runs and evidence changes modify it; queries only
 * read it. Deterministic: the same graph and options give bit-identical
 * results. */
#ifndef CAI_MEANFIELD_H
#define CAI_MEANFIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cai/error.h"
#include "cai/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_meanfield cai_meanfield;

/* How q starts (clamped variables always start as their point mass). */
typedef enum cai_meanfield_init {
    CAI_MEANFIELD_INIT_UNIFORM = 0, /* every q_i uniform */
    CAI_MEANFIELD_INIT_RANDOM = 1   /* every q_i drawn from a fixed generator
                                       seeded with options.seed: weights
                                       uniform in [0.05, 1.05), normalised
                                       (so no state starts at zero) */
} cai_meanfield_init;

typedef struct cai_meanfield_options {
    size_t max_iterations; /* >= 1: sweeps at most */
    /* > 0: converged when a sweep changes no entry of q by more than tol
     * (sup-norm, probabilities: every q_v and, with clusters, the stored
     * joints of each q_b) AND changes the ELBO by at most
     * tol * max(1, |ELBO|) (two -INFINITY ELBOs count as no change). */
    double tol;
    cai_meanfield_init init;
    uint64_t seed; /* for CAI_MEANFIELD_INIT_RANDOM */
    /* Called after every sweep (NULL: never) with its number (1, 2, ...) and
     * the ELBO after it. */
    void (*trace)(void *ctx, size_t iteration, double elbo);
    void *trace_ctx;
    /* NULL: every variable its own block (fully factorised). Otherwise
     * n_variables entries, blocks[v] the block of variable v; the indices
     * must be 0..n_blocks-1 with every index used. Copied at create. */
    const size_t *blocks;
} cai_meanfield_options;

/* Defaults: at most 1000 sweeps, tol 1e-10, uniform start, seed 0, no
 * trace, no blocks (fully factorised). */
cai_meanfield_options cai_meanfield_options_default(void);

/* Analyse g for opt (NULL = defaults). The graph's evidence at this time is
 * the evidence of the runs (change it with cai_meanfield_set_evidence).
 * Errors: CAI_ERR_INVALID for NULL arguments or an unknown init;
 * CAI_ERR_RANGE for tol <= 0 or NaN, max_iterations 0, or block indices
 * that are out of range or leave an index unused (naming the variable);
 * CAI_ERR_OVERFLOW when a block's junction tree is too large (naming the
 * block) or a size overflows; CAI_ERR_NOMEM. With blocks of two or more
 * variables, each block's subgraph and junction tree are built once here
 * to check them. *out_mf is written only on success; free with
 * cai_meanfield_free(). */
cai_status cai_meanfield_create(const cai_graph *g, const cai_meanfield_options *opt,
                                cai_meanfield **out_mf, cai_error *err);

/* Accepts NULL. */
void cai_meanfield_free(cai_meanfield *mf);

/* Clamp var to state for the next runs, or clear it with CAI_NONE. Results
 * of earlier runs are discarded (queries fail until the next run). */
cai_status cai_meanfield_set_evidence(cai_meanfield *mf, size_t var, size_t state,
                                      cai_error *err);

/* Initialise q (see cai_meanfield_init; with clusters, every q_b starts as
 * the product of its variables' q_v) and sweep until converged or
 * max_iterations. Not converging is not an error. Running twice gives
 * identical results. Fully factorised: allocates nothing and fails only on
 * a NULL argument. Clusters: every block update allocates its junction tree
 * and tables, so it may also fail with CAI_ERR_NOMEM (the results are then
 * discarded, as after cai_meanfield_set_evidence). */
cai_status cai_meanfield_run(cai_meanfield *mf, cai_error *err);

/* ---- queries: valid after a successful run ---- */

/* Sweeps the last run made (>= 1) and whether it converged; 0 / false
 * before a run. */
size_t cai_meanfield_iterations(const cai_meanfield *mf);
bool cai_meanfield_converged(const cai_meanfield *mf);

/* Bytes of inference state the object holds, an estimate for comparing
 * methods' peak message memory (allocator overhead not counted): q (every
 * q_v) and the factorised sweeps' scratch; with clusters also the stored
 * joints of q_b over the scopes other blocks need, the entropies, the
 * enumeration scratch, the crossing tables held by the block subgraphs
 * (cai_potential_bytes) and the largest block's junction tree
 * (cai_jtree_message_bytes; one exists at a time, during its block's
 * update). Not counted: the graph structure copied at create (scopes,
 * factor lists, the subgraphs' variables) and the potentials shared with
 * the graph. 0 for NULL. Valid right after create. */
size_t cai_meanfield_message_bytes(const cai_meanfield *mf);

/* The ELBO of the returned q (a lower bound on log Z; -INFINITY when q
 * reaches a zero of the model, see the top of this file). NaN before a
 * run. */
double cai_meanfield_elbo(const cai_meanfield *mf);

/* q_var into out[0..card-1] (probabilities summing to one; the point mass
 * for a clamped variable). CAI_ERR_STATE before a run, CAI_ERR_INVALID for
 * NULL or an unknown variable. */
cai_status cai_meanfield_marginal(const cai_meanfield *mf, size_t var, double *out,
                                  cai_error *err);

/* The argmax of every q_i into out[0..n_variables-1], ties to the lowest
 * state. Errors as for cai_meanfield_marginal. */
cai_status cai_meanfield_map(const cai_meanfield *mf, size_t *out, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
