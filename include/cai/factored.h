/* cai/factored.h — factored MDPs: the state is a vector of discrete
 * variables x_0..x_{n-1}, each with its own conditional p(x_i' | parents,
 * a) over a few CURRENT variables and the action (a dynamic Bayes net), and
 * the reward is a sum of local terms r_k(scope_k, [a]).
 *
 * Conventions (../shared/DESIGN.md, "Control as inference"), finite horizon
 * T only, temperature alpha > 0, uniform action prior 1/A, no terminal
 * reward:
 *   rho(x)       = prod_i rho_i(x_i)                  (independent initials)
 *   P(x'|x,a)    = prod_i p_i(x_i' | x_pa(i), a)
 *   r(x,a)       = sum_k r_k(x_scope(k)[, a])
 * Two compilations give the same log-evidence:
 *   cai_factored_flatten  the joint state space as an ordinary cai_mdp, so
 *                         every MDP solver applies (exact answers);
 *   cai_factored_graph    the dynamic Bayes net unrolled over the horizon as
 *                         a factor graph whose log Z is the log-evidence
 *                         log sum_traj rho prod P prod (1/A) exp(r/alpha);
 *                         loopy in general (junction tree exact, loopy BP
 *                         approximate). */
#ifndef CAI_FACTORED_H
#define CAI_FACTORED_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/mdp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_factored_mdp cai_factored_mdp;

/* Size limits, checked by cai_factored_create (and the YAML loader). */
#define CAI_FACTORED_MAX_VARIABLES 100000
#define CAI_FACTORED_MAX_CARD 1000000
#define CAI_FACTORED_MAX_TABLE 100000000 /* entries of one table */
#define CAI_FACTORED_MAX_GRAPH 100000000 /* (T + 1) * (n + 1) graph variables */

typedef struct cai_factored_variable {
    const char *name;               /* non-empty, unique, without '@', not "action" */
    size_t card;                    /* 1..CAI_FACTORED_MAX_CARD */
    const char *const *state_names; /* card distinct non-empty names, or NULL: "0".. */
    const double *initial;          /* rho_i: card probabilities summing to 1 (1e-9) */
} cai_factored_variable;

/* p(x_i' | parents, a). table has prod(card(parents)) * A rows of card(x_i)
 * entries: rows are the joint (parents..., action) assignments row-major
 * with the action LAST (fastest), columns the states of x_i'; each row sums
 * to 1 within 1e-9, entries in [0, 1]. */
typedef struct cai_factored_transition {
    size_t n_parents;
    const size_t *parents; /* distinct variable indices (current time) */
    const double *table;
} cai_factored_transition;

/* r_k over (scope..., [action]), row-major, last fastest, finite values. */
typedef struct cai_factored_reward {
    size_t n_scope;
    const size_t *scope; /* distinct variable indices (current time) */
    bool action;         /* the term depends on the action too (last position) */
    const double *values;
} cai_factored_reward;

/* Everything that defines a factored MDP; arrays are copied. */
typedef struct cai_factored_spec {
    size_t n_variables;
    const cai_factored_variable *variables;
    const cai_factored_transition *transitions; /* n_variables: [i] is x_i's */
    size_t n_actions;
    const char *const *action_names; /* n_actions distinct names, or NULL */
    size_t n_rewards;
    const cai_factored_reward *rewards;
    size_t horizon;      /* T >= 1 */
    double temperature;  /* alpha > 0, finite */
} cai_factored_spec;

/* Check spec completely and copy it. Errors (CAI_ERR_INVALID, CAI_ERR_RANGE,
 * CAI_ERR_NUMERIC for probabilities and non-finite numbers) name the
 * variable, row or entry. *out is written only on success; free with
 * cai_factored_free(). */
cai_status cai_factored_create(const cai_factored_spec *spec, cai_factored_mdp **out,
                               cai_error *err);

/* Accepts NULL. */
void cai_factored_free(cai_factored_mdp *f);

size_t cai_factored_n_variables(const cai_factored_mdp *f);
size_t cai_factored_n_actions(const cai_factored_mdp *f);
size_t cai_factored_n_rewards(const cai_factored_mdp *f);
size_t cai_factored_horizon(const cai_factored_mdp *f);
double cai_factored_temperature(const cai_factored_mdp *f);
/* prod of the cardinalities as a double (may exceed any size_t). */
double cai_factored_n_joint_states(const cai_factored_mdp *f);

/* The unrolled dynamic Bayes net as a new graph (free with cai_graph_free).
 * Variables, in this order for t = 0..T: "<x_i>@t" for every i (the
 * variable's state names), then, for t < T, "action@t" (the action names):
 * x_i@t is variable t*(n+1)+i, action@t is t*(n+1)+n. Factors: rho_i on
 * x_i@0 (one table per variable); for t = 0..T-1, per variable i one factor
 * of its ONE tied CSR conditional over (parents@t..., action@t, x_i@t+1);
 * per reward term one factor of its ONE tied log-table r_k/alpha over
 * (scope@t..., [action@t]); one factor of the ONE tied uniform action prior
 * log(1/A) on action@t. log Z is the log-evidence of exact inference, equal
 * to cai_solution_log_evidence of the flattened MDP. temperature NAN: the
 * model's (else finite > 0); horizon 0: the model's. */
cai_status cai_factored_graph(const cai_factored_mdp *f, double temperature, size_t horizon,
                              cai_graph **out_g, cai_error *err);

/* The joint state space as an ordinary MDP (free with cai_mdp_free): states
 * row-major over the variables with the LAST variable fastest, named
 * "x0=s,x1=s,..."; actions as given; rho = prod rho_i; P(s'|s,a) = prod_i
 * p_i, stored sparse (only nonzero products); r(s,a) = sum_k r_k; uniform
 * action prior; the model's horizon and temperature. Refused with
 * CAI_ERR_RANGE when the joint space has more than max_states states
 * (<= 0 or NaN: the default 1e6) or P more than 1e8 nonzeros. */
cai_status cai_factored_flatten(const cai_factored_mdp *f, double max_states,
                                cai_mdp **out_mdp, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
