/* cai/mdp.h — finite MDPs, compiled into factor graphs with optimality
 * variables and solved as inference (Levine 2018).
 *
 * Conventions (../shared/DESIGN.md, "Control as inference"): states s,
 * actions a, initial rho(s), dynamics P(s'|s,a) (sparse), reward r(s,a),
 * optional terminal reward rT(s), action prior pi0(a|s) (default uniform),
 * temperature alpha >= 0. p(O_t = 1 | s_t, a_t) = exp(r(s_t, a_t) / alpha).
 * Horizon T: actions at t = 0..T-1, states s_0..s_T.
 *   V_T(s)   = rT(s)
 *   exact:       Q_t(s,a) = r(s,a) + alpha log sum_s' P(s'|s,a) exp(V_{t+1}(s')/alpha)
 *   variational: Q_t(s,a) = r(s,a) + sum_s' P(s'|s,a) V_{t+1}(s')
 *   V_t(s)   = alpha log sum_a pi0(a|s) exp(Q_t(s,a)/alpha)
 *   pi_t(a|s) = pi0(a|s) exp((Q_t(s,a) - V_t(s))/alpha)
 *   log_evidence (exact) = log sum_s rho(s) exp(V_0(s)/alpha)
 *   objective            = sum_s rho(s) V_0(s)
 * Discount gamma in (0,1): an absorbing zero-reward "death" state reached
 * with probability 1 - gamma; solved to a stationary fixed point.
 * alpha = 0 is the hard limit (log-sum-exp becomes max; the policy is uniform
 * over the maximisers within a relative 1e-9).
 *
 * None of these equations is coded here as a loop: the solver builds a graph
 * (one tied CSR transition potential, one tied reward/prior potential) and
 * reads every quantity from engine queries (upward messages, cavities,
 * marginals, log Z / ELBO, MAP). */
#ifndef CAI_MDP_H
#define CAI_MDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/plan.h"
#include "cai/potential.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_mdp cai_mdp;

/* Everything that defines an MDP; arrays are copied by cai_mdp_create. */
typedef struct cai_mdp_spec {
    size_t n_states, n_actions;
    const char *const *state_names;  /* n_states distinct names, or NULL: "0", "1", ... */
    const char *const *action_names; /* n_actions distinct names, or NULL */
    const double *initial;           /* rho, n_states entries summing to 1 within 1e-9 */
    const size_t *row_ptr;           /* n_states * n_actions + 1; row s * A + a */
    const size_t *next;              /* successor states of each row, increasing */
    const double *prob;              /* their probabilities; rows sum to 1 within 1e-9 */
    const double *reward;            /* r(s,a), n_states * n_actions finite values */
    const double *terminal;          /* rT(s), n_states values, or NULL (finite horizon only) */
    const double *action_prior;      /* pi0(a|s), S * A rows summing to 1, or NULL: uniform */
    size_t horizon;                  /* T >= 1, or 0 with a discount */
    double discount;                 /* gamma in (0, 1), or 0 with a horizon */
    double temperature;              /* alpha >= 0, finite */
} cai_mdp_spec;

/* Check spec completely and build the MDP. Errors name the offending state,
 * action or entry (CAI_ERR_NUMERIC for probabilities and non-finite numbers,
 * CAI_ERR_RANGE for sizes, CAI_ERR_INVALID otherwise). *out_mdp is written
 * only on success; free with cai_mdp_free(). */
cai_status cai_mdp_create(const cai_mdp_spec *spec, cai_mdp **out_mdp, cai_error *err);

/* Accepts NULL. */
void cai_mdp_free(cai_mdp *m);

size_t cai_mdp_n_states(const cai_mdp *m);
size_t cai_mdp_n_actions(const cai_mdp *m);
const char *cai_mdp_state_name(const cai_mdp *m, size_t s);  /* owned by m */
const char *cai_mdp_action_name(const cai_mdp *m, size_t a); /* owned by m */
size_t cai_mdp_find_state(const cai_mdp *m, const char *name);  /* or CAI_NONE */
size_t cai_mdp_find_action(const cai_mdp *m, const char *name); /* or CAI_NONE */
size_t cai_mdp_horizon(const cai_mdp *m);     /* 0 when discounted */
double cai_mdp_discount(const cai_mdp *m);    /* 0 for a finite horizon */
double cai_mdp_temperature(const cai_mdp *m);
size_t cai_mdp_n_transitions(const cai_mdp *m); /* stored nonzeros of P */

/* Model arrays, owned by m: rho (S), reward (S*A), terminal (S, zeros when
 * none), action prior (S*A; NULL when it is uniform, 1/A everywhere, which
 * is then not stored). */
const double *cai_mdp_initial(const cai_mdp *m);
const double *cai_mdp_reward(const cai_mdp *m);
const double *cai_mdp_terminal(const cai_mdp *m);
const double *cai_mdp_action_prior(const cai_mdp *m);

/* pi0(a | s), uniform or not; NaN when s or a is out of range. */
double cai_mdp_action_prior_at(const cai_mdp *m, size_t s, size_t a);

/* The dynamics as CSR rows s*A + a (zero probabilities dropped), owned by
 * m. They are the arrays of the one transition potential every solve of m
 * shares (cai_mdp_transition_potential), so the model is stored once. */
void cai_mdp_dynamics(const cai_mdp *m, const size_t **row_ptr, const uint32_t **next,
                      const double **prob);

/* The transition potential P(s' | s, a): a CSR conditional over (s, a, s'),
 * owned by m (take a reference to keep it). */
const cai_potential *cai_mdp_transition_potential(const cai_mdp *m);

/* Gridworld metadata: the map (rows x cols characters, row-major, no
 * newlines) when m was built by cai_gridworld_create, else NULL. */
const char *cai_mdp_grid(const cai_mdp *m, size_t *out_rows, size_t *out_cols);

/* ---- gridworlds (../shared/DESIGN.md, "Gridworld semantics") ---- */

typedef struct cai_gridworld_spec {
    const char *map;    /* lines of S . # G X, all the same length, '\n'-separated */
    double slip;        /* in [0, 1]: the two perpendicular moves share it */
    double step, goal, pit; /* rewards (defaults in the YAML loader: -1, 0, -100) */
    size_t horizon;     /* as in cai_mdp_spec */
    double discount;
    double temperature;
} cai_gridworld_spec;

/* States: the non-wall cells in row-major order named "r<row>c<col>", then
 * "done". Actions up, down, left, right. Exactly one S (the initial state).
 * Errors (bad characters, ragged rows, no S, several S, slip out of range)
 * say which row and column of the map. */
cai_status cai_gridworld_create(const cai_gridworld_spec *spec, cai_mdp **out_mdp,
                                cai_error *err);

/* ---- solving ---- */

typedef enum cai_control_algorithm {
    CAI_CONTROL_EXACT = 0,       /* sum-product on the compiled graph */
    CAI_CONTROL_VARIATIONAL = 1, /* dynamics factors in expectation mode */
    CAI_CONTROL_MAP = 2          /* max-product over the whole trajectory */
} cai_control_algorithm;

/* "exact", "variational", "map". */
const char *cai_control_algorithm_name(cai_control_algorithm a);

typedef struct cai_solve_options {
    cai_control_algorithm algorithm;
    double temperature;    /* NAN: the model's */
    size_t horizon;        /* 0: the model's (finite-horizon models only) */
    double tol;            /* discounted: stop when the sup-norm change of V is <=
                              tol * max(alpha, max |V|) (default 1e-12) */
    size_t max_iterations; /* discounted: iteration cap (default 100000) */
    bool state_marginals;  /* keep what cai_solution_state_marginal needs
                              (default true); false runs the upward pass only
                              and stores one value vector per step */
    cai_sweep sweep;       /* discounted: Jacobi (default) or Gauss-Seidel */
    /* discounted: called after every iteration (NULL: never, the default)
     * with the relative change of V that is compared with tol (see
     * cai_plan_iterate_traced) */
    cai_iterate_trace trace;
    void *trace_ctx;
} cai_solve_options;

cai_solve_options cai_solve_options_default(void);

typedef struct cai_solution cai_solution;

/* Compile m for opt and run inference. Refuses (CAI_ERR_INVALID, saying why)
 * exact inference with a discount when some reward is > 0 (the backup is a
 * contraction only when every p(O=1|s,a) <= 1), map with a discount, and
 * overrides that do not fit the model. The solution borrows m, which must
 * outlive it. m keeps the message array of a freed solution for its next
 * solve of the same size (cai_buffer_cache), released by cai_mdp_free. */
cai_status cai_mdp_solve(const cai_mdp *m, const cai_solve_options *opt,
                         cai_solution **out_sol, cai_error *err);

/* Accepts NULL. */
void cai_solution_free(cai_solution *sol);

cai_control_algorithm cai_solution_algorithm(const cai_solution *sol);

/* The compiled factor graph (owned by sol): s0 a0 s1 ... as variables, one
 * tied transition potential and one tied reward/prior potential whatever
 * the horizon (a discounted solution holds its one slice). */
const cai_graph *cai_solution_graph(const cai_solution *sol);
size_t cai_solution_horizon(const cai_solution *sol);  /* 0 when discounted */
double cai_solution_temperature(const cai_solution *sol);
/* log sum_s rho exp(V_0/alpha): exact with alpha > 0, else NaN */
double cai_solution_log_evidence(const cai_solution *sol);
/* sum_s rho(s) V_0(s) */
double cai_solution_objective(const cai_solution *sol);
size_t cai_solution_iterations(const cai_solution *sol); /* 1 for a finite horizon */
/* Bytes of inference state the solution holds: the plan's workspace
 * (messages, cavities, scratch; cai_plan_workspace_bytes) plus the vectors
 * it keeps (the discounted fixed point, hard-limit state distributions, the
 * MAP trajectory); not the model or the compiled graph's potentials. */
size_t cai_solution_message_bytes(const cai_solution *sol);
bool cai_solution_converged(const cai_solution *sol);

/* V_t into out[S]; t in 0..T (ignored when discounted). */
cai_status cai_solution_value(const cai_solution *sol, size_t t, double *out, cai_error *err);

/* Q_t into out[S*A] (row s); t in 0..T-1. -INFINITY where pi0(a|s) = 0. */
cai_status cai_solution_q(const cai_solution *sol, size_t t, double *out, cai_error *err);

/* pi_t(a|s) into out[S*A]; t in 0..T-1. Defined in every state, reachable
 * or not. */
cai_status cai_solution_policy(const cai_solution *sol, size_t t, double *out,
                               cai_error *err);

/* State distribution at t in 0..T (finite horizon only): exact, the
 * posterior p(s_t | O_0..T); variational, rho pushed forward through the
 * policy and the true dynamics; map, the MAP trajectory's state (one-hot);
 * alpha = 0, rho pushed forward through the limiting policy. */
cai_status cai_solution_state_marginal(const cai_solution *sol, size_t t, double *out,
                                       cai_error *err);

/* map only: the most probable optimal trajectory s_0 a_0 s_1 ... s_T
 * (2T + 1 indices) and its log score (log rho + sum log P + sum log pi0 +
 * sum r / alpha + rT / alpha). */
cai_status cai_solution_trajectory(const cai_solution *sol, size_t *out,
                                   double *out_log_score, cai_error *err);

/* Sample count trajectories from the posterior policy under the true
 * dynamics (s_0 ~ rho), deterministic for a seed. Finite horizon: each has
 * T steps; discounted: it ends when the death state is drawn (probability
 * 1 - gamma per step) or after max_steps. out gets count * (2 * max_steps + 1)
 * indices (s_0 a_0 s_1 ..., unused tail CAI_NONE), out_steps the number of
 * actions of each. max_steps is T for a finite horizon. */
cai_status cai_solution_sample(const cai_solution *sol, unsigned long seed, size_t count,
                               size_t max_steps, size_t *out, size_t *out_steps,
                               cai_error *err);

/* ---- the compiled graph, for other tools ---- */

/* The factor graph an exact (sum-product) finite-horizon solve of m
 * builds, as a new graph the caller frees with cai_graph_free(), for
 * cai_model_write_uai / cai_model_write_fg (cai/formats.h): variables
 * s0 a0 s1 a1 ... sT (without state names: states and actions by index in
 * m's order); per step one factor of the tied transition potential
 * P(s'|s,a) (CSR) and one of the tied potential r(s,a)/alpha + log
 * pi0(a|s); rho on s0 and rT/alpha on sT. Its log Z is the log-evidence,
 * its marginals the posterior state and action distributions. temperature
 * NAN: the model's; horizon 0: the model's (at most 10^8). Refused
 * (CAI_ERR_INVALID): discounted models (their solves iterate one slice,
 * which no finite graph holds) and alpha = 0 (the max-product limit, not
 * a product of weights). */
cai_status cai_mdp_export_graph(const cai_mdp *m, double temperature, size_t horizon,
                                cai_graph **out_g, cai_error *err);

/* ---- evaluating a given policy under the true dynamics ---- */

typedef struct cai_evaluation {
    double soft_return;  /* E[sum r - alpha KL(pi(.|s) || pi0(.|s))] from rho */
    double plain_return; /* E[sum r] (plus rT), discounted by gamma when discounted */
} cai_evaluation;

/* policy: [T][S][A] for a finite horizon (or [S][A] used at every t when
 * stationary is true), [S][A] when discounted; rows sum to 1 within 1e-9.
 * alpha is the model's. Computed as the ELBO of the chain the policy induces
 * (every conditional fixed in q). */
cai_status cai_mdp_evaluate(const cai_mdp *m, const double *policy, bool stationary,
                            cai_evaluation *out, cai_error *err);

/* The state distributions p(s_t), t = 0..T, of acting with policy from rho
 * under the true dynamics, into out[(T+1) * S] (T the model's horizon).
 * policy as for cai_mdp_evaluate. Finite horizon only (CAI_ERR_INVALID when
 * discounted). Sum-product on the chain the policy induces. */
cai_status cai_mdp_policy_state_marginals(const cai_mdp *m, const double *policy,
                                         bool stationary, double *out, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
