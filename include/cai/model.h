/* cai/model.h — loading models from YAML files (libyaml).
 *
 * A model file is one YAML mapping with a `kind`. This module reads it,
 * checks it completely and builds the engine objects through the public
 * builder APIs. Every error names the file, the 1-based line and column of
 * the offending YAML node and what is wrong, in err (code CAI_ERR_SYNTAX for
 * YAML that is not well-formed, CAI_ERR_MODEL for content, CAI_ERR_IO when
 * the file cannot be read). Nothing is returned on failure.
 *
 * kind: factor_graph
 *
 *     kind: factor_graph
 *     name: example                  # optional
 *     variables:                     # required, may be []
 *       - {name: A, card: 2}
 *       - {name: B, card: 3, states: [lo, mid, hi]}
 *     factors:                       # required, may be []
 *       - {scope: [A, B], table: [0.1, 2, 0, 1, 1, 3]}
 *       - {scope: [B], log_table: [0, -1.5, -.inf]}
 *     evidence: {A: 0, B: hi}        # optional
 *
 * Variables: name (unique, non-empty), card (integer in 1..CAI_MAX_CARD) and
 * optional states (card distinct names; card may then be left out). Factors:
 * scope (distinct variables, in order) and exactly one of table (nonnegative
 * linear values) or log_table (finite or -inf), prod(cards) entries,
 * row-major with the LAST scope variable fastest, and an optional mode:
 * normal (the default), expectation (structured variational inference for
 * this factor, cai/graph.h: the table must be a conditional of the last
 * scope variable given the others, rows summing to 1, and is stored as a
 * sparse conditional) or support (only the table's zero pattern counts). Evidence maps a variable
 * to a state: a plain integer is a state index, anything else a state name
 * (quote "1" to mean the state called 1). Numbers are plain YAML scalars in
 * decimal notation or .inf, -.inf, .nan, inf, -inf, nan (any case); quoted
 * scalars are strings. Unknown or repeated keys are errors.
 *
 * kind: mdp and kind: gridworld (an MDP, cai_model_mdp)
 *
 *     kind: mdp
 *     states: [s0, s1, s2]           # or a count n: states "0".."n-1"
 *     actions: [left, right]         # or a count
 *     initial: {s0: 1.0}             # missing = 0; sums to 1 within 1e-9
 *     transitions:                   # every (state, action) covered
 *       - {state: s0, action: right, next: {s1: 0.9, s0: 0.1}}
 *       - {state: "*", action: "*", next: {s2: 1.0}}
 *     rewards: [{state: s1, value: 1.0}]   # state/action default "*"
 *     reward_default: 0              # optional
 *     terminal_rewards: {s2: 10}     # optional, finite horizon only
 *     action_prior: [{state: "*", probs: {left: 0.5, right: 0.5}}]
 *     horizon: 20                    # or discount: 0.95 (exactly one)
 *     temperature: 1.0               # default 1
 *
 *     kind: gridworld
 *     map: |                         # S start . floor # wall G goal X pit
 *       S..#
 *       .#.G
 *     slip: 0.1                      # default 0
 *     rewards: {step: -1, goal: 10, pit: -10}   # defaults -1, 0, -100
 *     horizon: 30                    # or discount
 *     temperature: 1
 *
 * kind: factored_mdp (a factored MDP, cai/factored.h; cai_model_graph is
 * its unrolled dynamic Bayes net, cai_model_flatten gives the flat MDP)
 *
 *     kind: factored_mdp
 *     name: sysadmin 4               # optional
 *     variables:                     # required, non-empty; states: names or a count
 *       - {name: m0, states: [down, up]}
 *       - {name: m1, states: [down, up]}
 *     actions: [noop, reboot0, reboot1]   # names or a count
 *     initial:                       # every variable exactly once; missing
 *       - {variable: m0, probs: {up: 1}}  # states 0; sums to 1 within 1e-9
 *       - {variable: m1, probs: {down: 0.5, up: 0.5}}
 *     transitions:                   # every variable exactly once
 *       - {variable: m0, parents: [m0, m1], table: [...]}
 *     rewards:                       # optional: a sum of local terms
 *       - {scope: [m0], values: [0, 1]}
 *       - {scope: [], action: true, values: [0, -0.5, -0.5]}
 *     horizon: 20                    # required, >= 1 (no discount)
 *     temperature: 1                 # default 1, must be > 0
 *
 * A transition is p(x' | parents, a) with parents CURRENT-time variables
 * (distinct, any order, the variable itself included or not): `table` is
 * flat, prod(card(parents)) * A rows of card(x) numbers, the rows being the
 * joint (parents..., action) assignments row-major with the ACTION LAST
 * (fastest) and the columns the states of x'. Entries in [0, 1], each row
 * summing to 1 within 1e-9. A reward term r_k(scope..., [a]) has
 * prod(card(scope)) (times A with action: true, the action last) finite
 * values, row-major, last fastest; the step reward is their sum, earned at
 * t = 0..T-1. Variable names may not contain '@' nor be "action" (the
 * unrolled graph names its variables NAME@t and action@t). Sizes: at most
 * CAI_FACTORED_MAX_VARIABLES variables, CAI_FACTORED_MAX_CARD states or
 * actions, CAI_FACTORED_MAX_TABLE entries per table, and
 * (T + 1) * (n + 1) <= CAI_FACTORED_MAX_GRAPH.
 *
 * Wildcards ("*") in transitions, rewards and action_prior: the most
 * specific entry wins (state and action > state > action > both); two
 * entries of one specificity for the same pair are an error. The full rules
 * are at the top of lib/io/mdp.c and lib/io/gridworld.c.
 *
 * kind: lqr (linear-quadratic control as inference, cai/lqr.h; the model
 * has no discrete graph: cai_model_graph is NULL)
 *
 *     kind: lqr
 *     name: double integrator        # optional
 *     A: [[1, 0.1], [0, 1]]          # n x n, rows; n is A's row count
 *     B: [[0.005], [0.1]]            # n x m; m is B's column count
 *     c: [0, 0]                      # optional, default 0
 *     noise: [[0, 0], [0, 0.01]]     # Sigma, optional, default 0 (symmetric PSD)
 *     Q: [[1, 0], [0, 0.1]]          # n x n symmetric
 *     R: [[0.01]]                    # m x m symmetric positive definite
 *     QT: [[10, 0], [0, 1]]          # optional, default Q
 *     x0: [1, 0]                     # start mean
 *     x0_cov: [[0, 0], [0, 0]]       # optional, default 0 (a known start)
 *     horizon: 50                    # or discount: gamma in (0, 1] (infinite horizon)
 *     temperature: 1                 # default 1, must be > 0
 *
 * Every matrix is a sequence of rows of numbers; errors name the matrix
 * and, for symmetry and definiteness, the entry or pivot at fault.
 *
 * kind: lgssm (a linear-Gaussian state-space model with observations,
 * Kalman smoothing as inference, cai/lgssm.h; cai_model_graph is NULL)
 *
 *     kind: lgssm
 *     name: random walk              # optional
 *     A: [[1, 1], [0, 1]]            # n x n dynamics, rows; n is A's row count
 *     c: [0, 0]                      # optional, default 0
 *     Q: [[0, 0], [0, 0.01]]         # process noise, n x n symmetric PSD (may be singular)
 *     C: [[1, 0]]                    # p x n observation matrix; p is C's row count
 *     d: [0]                         # optional, default 0
 *     R: [[0.25]]                    # observation noise, p x p symmetric positive definite
 *     x0: [0, 1]                     # mean of x_0
 *     x0_cov: [[1, 0], [0, 1]]       # covariance of x_0, symmetric PSD (0: known)
 *     observations:                  # y_0 .. y_T-1: T >= 1 rows of p numbers
 *       - [0.9]
 *       - [2.2]
 *
 * x_t+1 = A x_t + c + w_t, w_t ~ N(0, Q); y_t = C x_t + d + v_t,
 * v_t ~ N(0, R). Matrices as for lqr; a row of the wrong length, an empty
 * `observations` or a non-finite number is an error at that node.
 *
 * Messages number variables, factors, states and table entries from 0, as
 * the graph does ("factor 2" is cai_graph factor 2, the third in the file,
 * the same factor the planner's messages name); the line and column are
 * those of the offending node. */
#ifndef CAI_MODEL_H
#define CAI_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/factored.h"
#include "cai/graph.h"
#include "cai/lgssm.h"
#include "cai/lqr.h"
#include "cai/mdp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_model cai_model;

typedef enum cai_model_kind {
    CAI_MODEL_FACTOR_GRAPH = 1, /* kind: factor_graph */
    CAI_MODEL_MDP = 2,          /* kind: mdp */
    CAI_MODEL_GRIDWORLD = 3,    /* kind: gridworld */
    CAI_MODEL_FACTORED_MDP = 4, /* kind: factored_mdp */
    CAI_MODEL_LQR = 5,          /* kind: lqr */
    CAI_MODEL_LGSSM = 6         /* kind: lgssm */
} cai_model_kind;

/* Read and check the model at path. *out_model is written only on success;
 * free with cai_model_free(). */
cai_status cai_model_load(const char *path, cai_model **out_model,
                          cai_error *err);

/* Same from a string in memory; name is used as the file name in errors. */
cai_status cai_model_load_string(const char *text, size_t len,
                                 const char *name, cai_model **out_model,
                                 cai_error *err);

/* Accepts NULL. */
void cai_model_free(cai_model *m);

cai_model_kind cai_model_get_kind(const cai_model *m);

/* "factor_graph", ... */
const char *cai_model_kind_name(cai_model_kind kind);

/* The model's `name`, or "" when it has none. Owned by m. */
const char *cai_model_name(const cai_model *m);

/* The `inference:` defaults of a factor_graph model: what `cai solve` uses
 * for the options the command line does not give.
 *
 *     inference: {algorithm: loopy, schedule: residual, damping: 0.5,
 *                 tol: 1e-8, max_iterations: 500}
 *     inference: {algorithm: meanfield, clusters: [[x1, x2], [x3]]}
 *
 * algorithm: exact, map, loopy or meanfield; schedule: flooding, sequential
 * or residual; damping in [0, 1); tol > 0; max_iterations an integer >= 1;
 * clusters: the blocks of structured mean field, a sequence of non-empty,
 * disjoint sequences of variable names, e.g. [[x1, x2], [x3]] (only with
 * algorithm meanfield or no algorithm; variables not listed are each their
 * own block); every key optional. Unset members are NULL / false. */
typedef struct cai_model_inference {
    const char *algorithm; /* static strings, or NULL */
    const char *schedule;
    bool has_damping, has_tol, has_max_iterations;
    double damping, tol;
    size_t max_iterations;
    /* clusters: n_variables block indices, ready for
     * cai_meanfield_options.blocks: cluster i (in file order) is block i,
     * then the unlisted variables in index order, one block each. NULL
     * without clusters. Owned by the model, valid until cai_model_free(). */
    size_t *blocks;
} cai_model_inference;

/* m's inference defaults (all unset for models without `inference:`). */
cai_model_inference cai_model_inference_defaults(const cai_model *m);

/* The factor graph of a factor_graph model (evidence applied), or of a
 * factored_mdp model its unrolled dynamic Bayes net (cai_factored_graph at
 * the model's temperature and horizon). Owned by m, valid until
 * cai_model_free(). */
const cai_graph *cai_model_graph(const cai_model *m);

/* The MDP of an mdp or gridworld model, or of a factored_mdp model after
 * cai_model_flatten(); NULL otherwise. Owned by m, valid until
 * cai_model_free(). */
const cai_mdp *cai_model_mdp(const cai_model *m);

/* The factored MDP of a factored_mdp model, NULL for other kinds. Owned by
 * m, valid until cai_model_free(). */
const cai_factored_mdp *cai_model_factored(const cai_model *m);

/* The linear-quadratic problem of an lqr model, NULL for other kinds.
 * Owned by m, valid until cai_model_free(). */
const cai_lqr *cai_model_lqr(const cai_model *m);

/* The state-space model of an lgssm model, NULL for other kinds. Owned by
 * m, valid until cai_model_free(). */
const cai_lgssm *cai_model_lgssm(const cai_model *m);

/* factored_mdp models: build the flat MDP (cai_factored_flatten with
 * max_states; <= 0: the default 1e6) so that cai_model_mdp() returns it.
 * Does nothing when already flat. CAI_ERR_INVALID for other kinds,
 * CAI_ERR_RANGE when the joint state space is too large. */
cai_status cai_model_flatten(cai_model *m, double max_states, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
