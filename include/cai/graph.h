/* cai/graph.h — factor graphs over discrete variables.
 *
 * A graph owns its variables (name, cardinality, optional state names) and
 * its factors (a potential plus an ordered scope of distinct variables). Each
 * factor holds its own reference to its potential; many factors may share
 * one. Evidence clamps a variable to a state and is the default evidence of
 * workspaces made from plans of this graph. */
#ifndef CAI_GRAPH_H
#define CAI_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/potential.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_graph cai_graph;

/* How a factor takes part in sum-product. */
typedef enum cai_factor_mode {
    CAI_MODE_NORMAL = 0,     /* ordinary sum-product factor */
    CAI_MODE_EXPECTATION = 1, /* the conditional is copied into q (structured
                                variational inference): its message to the
                                parents is exp(sum_c p(c|pa) log m(c)) and the
                                child's marginal is sum_pa q(pa) p(c|pa). Only
                                for CSR conditionals; ignored by max-product
                                unless the plan asks (max_expectation). */
    CAI_MODE_SUPPORT = 2     /* the factor is the indicator of its potential's
                                support: weight 1 wherever the potential is
                                positive. With max-product this is the alpha -> 0
                                limit of alpha log sum_c p exp(m/alpha): the max
                                over the reachable states. */
} cai_factor_mode;

/* Largest cardinality a variable may have. */
#define CAI_MAX_CARD ((size_t)1 << 40)

/* Sentinel for "no evidence" / "not found". */
#define CAI_NONE ((size_t)-1)

/* New empty graph; free with cai_graph_free(). */
cai_status cai_graph_create(cai_graph **out_g, cai_error *err);

/* Free g, its variables and factors, dropping one reference per factor on
 * the potentials. Accepts NULL. */
void cai_graph_free(cai_graph *g);

/* Add a variable. name must be non-empty and unique; card in 1..CAI_MAX_CARD;
 * state_names NULL or card distinct non-empty strings (copied). *out_var
 * (may be NULL) receives its index, 0, 1, ... in order of addition. */
cai_status cai_graph_add_variable(cai_graph *g, const char *name, size_t card,
                                  const char *const *state_names,
                                  size_t *out_var, cai_error *err);

/* Add a factor: potential p over scope[0..k-1] (k = arity of p, distinct
 * variables whose cardinalities match p's positions). The graph takes its own
 * reference to p; the caller keeps its own. *out_factor may be NULL. */
cai_status cai_graph_add_factor(cai_graph *g, cai_potential *p,
                                const size_t *scope, size_t k,
                                cai_factor_mode mode, size_t *out_factor,
                                cai_error *err);

/* Clamp variable var to state (state < card), or clear it with CAI_NONE. */
cai_status cai_graph_set_evidence(cai_graph *g, size_t var, size_t state,
                                  cai_error *err);

size_t cai_graph_n_variables(const cai_graph *g);
size_t cai_graph_n_factors(const cai_graph *g);

/* Variable accessors; var must be < n_variables. Returned strings are owned
 * by g and live until cai_graph_free(). state_name returns NULL when the
 * variable has no state names. evidence returns CAI_NONE when unclamped. */
const char *cai_graph_variable_name(const cai_graph *g, size_t var);
size_t cai_graph_variable_card(const cai_graph *g, size_t var);
const char *cai_graph_state_name(const cai_graph *g, size_t var, size_t state);
size_t cai_graph_evidence(const cai_graph *g, size_t var);

/* Index of the variable called name, or CAI_NONE. */
size_t cai_graph_find_variable(const cai_graph *g, const char *name);

/* Index of the state called name of variable var, or CAI_NONE. */
size_t cai_graph_find_state(const cai_graph *g, size_t var, const char *name);

/* Factor accessors; f must be < n_factors. The scope array and the
 * potential are owned by g. */
const cai_potential *cai_graph_factor_potential(const cai_graph *g, size_t f);
const size_t *cai_graph_factor_scope(const cai_graph *g, size_t f, size_t *out_k);
cai_factor_mode cai_graph_factor_mode(const cai_graph *g, size_t f);

/* Bytes of potential storage, each distinct potential counted once however
 * many factors share it (this is what tying saves). */
size_t cai_graph_potential_bytes(const cai_graph *g);

/* Number of distinct potentials the factors use. */
size_t cai_graph_n_potentials(const cai_graph *g);

#ifdef __cplusplus
}
#endif
#endif
