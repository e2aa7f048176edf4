/* cai/meanfield.h — mean-field variational message passing.
 *
 * Fully factorised q(x) = prod_i q_i(x_i) over the graph's variables, fitted
 * by coordinate ascent on the ELBO
 *     ELBO(q) = sum_f E_q[log f] + sum_i H(q_i)  <=  log Z,
 * over every factor f (one-variable factors included) and every variable i
 * (0 log 0 = 0). One sweep visits the variables in index order and sets
 *     q_i(x) ∝ exp(sum_{f touching i} E_{q_-i}[log f | x_i = x])
 * from the latest q of the others, so the ELBO never decreases from sweep to
 * sweep (up to rounding). A clamped variable (evidence) is a point mass and
 * is never updated. Clusters (structured mean field) are NOT supported: every
 * variable is its own block.
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
 * Factor modes. Support-mode factors count as the 0/1 pattern of their
 * potential (log 1 = 0 on the support). Expectation-mode factors are treated
 * as ordinary factors: under mean field every factor already enters through
 * E_q[log f].
 *
 * Cost. Updating q_i visits the stored entries of every factor touching i
 * once: every entry of a table, only the nonzeros of a CSR conditional (it is
 * never expanded; its zeros are detected by counting). One sweep, plus the
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
     * (sup-norm, probabilities) AND changes the ELBO by at most
     * tol * max(1, |ELBO|) (two -INFINITY ELBOs count as no change). */
    double tol;
    cai_meanfield_init init;
    uint64_t seed; /* for CAI_MEANFIELD_INIT_RANDOM */
    /* Called after every sweep (NULL: never) with its number (1, 2, ...) and
     * the ELBO after it. */
    void (*trace)(void *ctx, size_t iteration, double elbo);
    void *trace_ctx;
} cai_meanfield_options;

/* Defaults: at most 1000 sweeps, tol 1e-10, uniform start, seed 0, no
 * trace. */
cai_meanfield_options cai_meanfield_options_default(void);

/* Analyse g for opt (NULL = defaults). The graph's evidence at this time is
 * the evidence of the runs (change it with cai_meanfield_set_evidence).
 * Errors: CAI_ERR_INVALID for NULL arguments or an unknown init;
 * CAI_ERR_RANGE for tol <= 0 or NaN, or max_iterations 0; CAI_ERR_NOMEM,
 * CAI_ERR_OVERFLOW. *out_mf is written only on success; free with
 * cai_meanfield_free(). */
cai_status cai_meanfield_create(const cai_graph *g, const cai_meanfield_options *opt,
                                cai_meanfield **out_mf, cai_error *err);

/* Accepts NULL. */
void cai_meanfield_free(cai_meanfield *mf);

/* Clamp var to state for the next runs, or clear it with CAI_NONE. Results
 * of earlier runs are discarded (queries fail until the next run). */
cai_status cai_meanfield_set_evidence(cai_meanfield *mf, size_t var, size_t state,
                                      cai_error *err);

/* Initialise q (see cai_meanfield_init) and sweep until converged or
 * max_iterations. Not converging is not an error. Running twice gives
 * identical results. Allocates nothing; fails only on a NULL argument. */
cai_status cai_meanfield_run(cai_meanfield *mf, cai_error *err);

/* ---- queries: valid after a successful run ---- */

/* Sweeps the last run made (>= 1) and whether it converged; 0 / false
 * before a run. */
size_t cai_meanfield_iterations(const cai_meanfield *mf);
bool cai_meanfield_converged(const cai_meanfield *mf);

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
