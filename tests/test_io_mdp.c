/* tests/test_io_mdp.c — the `kind: mdp` and `kind: gridworld` loaders.
 *
 * Models are loaded from strings written here and the resulting cai_mdp is
 * compared, array by array, with values written by hand in the test: names,
 * rho, r(s,a), rT, pi0 and every CSR row. The wildcard precedence is checked
 * level by level; the gridworld against a transition table worked out by
 * hand from the DESIGN.md semantics. Every error kind has a test of its
 * status, line, column and a key phrase. The example models in models/ are
 * loaded and checked too (the lottery against a hand-written backup of the
 * DESIGN.md equations, for the optimism gap it is meant to show). */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/cai.h"

#include "../lib/io/mdp_impl.h"
#include "../lib/io/model_impl.h"
#include "../lib/io/yaml_fast.h"

/* ---- helpers ----------------------------------------------------------- */

static cai_model *load(const char *text)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_load_string(text, strlen(text), "t.yaml", &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  load failed: %zu:%zu: %s\n", err.line, err.column,
                err.message);
    CU_ASSERT_EQUAL(st, CAI_OK);
    return m;
}

static cai_model *load_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/%s", CAI_SOURCE_ROOT, name);
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_load(path, &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  %s: %zu:%zu: %s\n", name, err.line, err.column,
                err.message);
    CU_ASSERT_EQUAL(st, CAI_OK);
    return m;
}

/* One CSR row as written in a test: successors in increasing order. */
typedef struct trow {
    size_t n;
    size_t next[4];
    double prob[4];
} trow;

static void check_row(const cai_mdp *p, size_t s, size_t a, const trow *want)
{
    const size_t *rp;
    const uint32_t *nx;
    const double *pr;
    cai_mdp_dynamics(p, &rp, &nx, &pr);
    size_t r = s * cai_mdp_n_actions(p) + a;
    size_t got = rp[r + 1] - rp[r];
    CU_ASSERT_EQUAL(got, want->n);
    bool ok = got == want->n;
    for (size_t i = 0; ok && i < got; i++) {
        ok = nx[rp[r] + i] == want->next[i] &&
             fabs(pr[rp[r] + i] - want->prob[i]) <= 1e-12;
    }
    CU_ASSERT(ok);
    if (!ok) {
        fprintf(stderr, "\n  row (%zu, %zu): got", s, a);
        for (size_t i = rp[r]; i < rp[r + 1]; i++)
            fprintf(stderr, " %zu:%.17g", (size_t)nx[i], pr[i]);
        fprintf(stderr, "\n");
    }
}

static void check_array(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fabs(got[i] - want[i]) > 1e-12)
            fprintf(stderr, "\n  entry %zu: got %.17g, want %.17g\n", i, got[i],
                    want[i]);
        CU_ASSERT(fabs(got[i] - want[i]) <= 1e-12);
    }
}

/* pi0 of every (s, a), stored or uniform (then not stored) */
static void check_prior(const cai_mdp *p, const double *want, size_t n)
{
    size_t A = cai_mdp_n_actions(p);
    bool uniform = true;
    for (size_t i = 0; i < n; i++) {
        double got = cai_mdp_action_prior_at(p, i / A, i % A);
        if (fabs(got - want[i]) > 1e-12)
            fprintf(stderr, "\n  prior entry %zu: got %.17g, want %.17g\n", i, got, want[i]);
        CU_ASSERT(fabs(got - want[i]) <= 1e-12);
        uniform &= want[i] == 1.0 / (double)A;
    }
    CU_ASSERT_EQUAL(cai_mdp_action_prior(p) == NULL, uniform);
}

static void check_names(const cai_mdp *p, const char *const *states, size_t S,
                        const char *const *actions, size_t A)
{
    CU_ASSERT_EQUAL_FATAL(cai_mdp_n_states(p), S);
    CU_ASSERT_EQUAL_FATAL(cai_mdp_n_actions(p), A);
    for (size_t s = 0; s < S; s++)
        CU_ASSERT_STRING_EQUAL(cai_mdp_state_name(p, s), states[s]);
    for (size_t a = 0; a < A; a++)
        CU_ASSERT_STRING_EQUAL(cai_mdp_action_name(p, a), actions[a]);
}

/* ---- the example ----------------------------------------------- */

static const char *const EXAMPLE =
    "kind: mdp\n"
    "name: issue example\n"
    "states: [s0, s1, s2]\n"
    "actions: [left, right]\n"
    "initial: {s0: 1.0}\n"
    "transitions:\n"
    "  - {state: s0, action: right, next: {s1: 0.9, s0: 0.1}}\n"
    "  - {state: \"*\", action: \"*\", next: {s2: 1.0}}\n"
    "rewards:\n"
    "  - {state: s1, value: 1.0}\n"
    "reward_default: 0\n"
    "terminal_rewards: {s2: 10}\n"
    "action_prior:\n"
    "  - {state: \"*\", probs: {left: 0.5, right: 0.5}}\n"
    "horizon: 20\n"
    "temperature: 1.0\n";

static void test_example(void)
{
    cai_model *m = load(EXAMPLE);
    if (m == NULL)
        return;
    CU_ASSERT_EQUAL(cai_model_get_kind(m), CAI_MODEL_MDP);
    CU_ASSERT_STRING_EQUAL(cai_model_kind_name(CAI_MODEL_MDP), "mdp");
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "issue example");
    CU_ASSERT_PTR_NULL(cai_model_graph(m));
    const cai_mdp *p = cai_model_mdp(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const S[] = {"s0", "s1", "s2"};
    static const char *const A[] = {"left", "right"};
    check_names(p, S, 3, A, 2);
    CU_ASSERT_EQUAL(cai_mdp_horizon(p), 20);
    CU_ASSERT_EQUAL(cai_mdp_discount(p), 0.0);
    CU_ASSERT_EQUAL(cai_mdp_temperature(p), 1.0);
    CU_ASSERT_PTR_NULL(cai_mdp_grid(p, NULL, NULL));
    static const double rho[] = {1, 0, 0};
    static const double r[] = {0, 0, 1, 1, 0, 0};
    static const double rT[] = {0, 0, 10};
    static const double pi0[] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    check_array(cai_mdp_initial(p), rho, 3);
    check_array(cai_mdp_reward(p), r, 6);
    check_array(cai_mdp_terminal(p), rT, 3);
    check_prior(p, pi0, 6);
    static const trow to_s2 = {1, {2}, {1.0}};
    static const trow s0_right = {2, {0, 1}, {0.1, 0.9}};
    check_row(p, 0, 0, &to_s2);
    check_row(p, 0, 1, &s0_right);
    for (size_t s = 1; s < 3; s++)
        for (size_t a = 0; a < 2; a++)
            check_row(p, s, a, &to_s2);
    CU_ASSERT_EQUAL(cai_mdp_n_transitions(p), 7);
    cai_model_free(m);
}

/* Defaults: no name, rewards, prior or temperature; a discount; zero
 * probabilities not stored. */
static void test_defaults(void)
{
    cai_model *m = load("kind: mdp\n"
                        "states: [a, b]\n"
                        "actions: [go]\n"
                        "initial: {a: 0.25, b: 0.75}\n"
                        "transitions:\n"
                        "  - {state: a, action: go, next: {a: 0, b: 1}}\n"
                        "  - {state: b, action: go, next: {b: 1}}\n"
                        "reward_default: -2.5\n"
                        "discount: 0.9\n");
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "");
    CU_ASSERT_EQUAL(cai_mdp_horizon(p), 0);
    CU_ASSERT_EQUAL(cai_mdp_discount(p), 0.9);
    CU_ASSERT_EQUAL(cai_mdp_temperature(p), 1.0);
    static const double rho[] = {0.25, 0.75}, r[] = {-2.5, -2.5}, zero[] = {0, 0},
                        pi0[] = {1, 1};
    check_array(cai_mdp_initial(p), rho, 2);
    check_array(cai_mdp_reward(p), r, 2);
    check_array(cai_mdp_terminal(p), zero, 2);
    check_prior(p, pi0, 2);
    static const trow to_b = {1, {1}, {1.0}};
    check_row(p, 0, 0, &to_b);
    check_row(p, 1, 0, &to_b);
    CU_ASSERT_EQUAL(cai_mdp_n_transitions(p), 2);
    cai_model_free(m);

    /* temperature 0 is the hard limit; sums within 1e-9 are accepted */
    m = load("kind: mdp\nstates: [a, b]\nactions: [go]\ninitial: {a: 1}\n"
             "transitions: [{state: \"*\", action: go, next: {a: 0.4, b: 0.6000000005}}]\n"
             "horizon: 1\ntemperature: 0\n");
    if (m != NULL)
        CU_ASSERT_EQUAL(cai_mdp_temperature(cai_model_mdp(m)), 0.0);
    cai_model_free(m);
}

/* ---- wildcards --------------------------------------------------------- */

/* All four levels in rewards, transitions and the prior, written from the
 * most specific to the least so that file order cannot be what decides. */
static const char *const LEVELS =
    "kind: mdp\n"
    "states: [s0, s1, s2]\n"
    "actions: [a0, a1, a2]\n"
    "initial: {s0: 1}\n"
    "transitions:\n"
    "  - {state: s2, action: a2, next: {s0: 1}}\n"       /* level 3 */
    "  - {state: s1, action: \"*\", next: {s1: 1}}\n"    /* level 2 */
    "  - {state: \"*\", action: a1, next: {s2: 1}}\n"    /* level 1 */
    "  - {state: \"*\", action: \"*\", next: {s0: 0.5, s2: 0.5}}\n" /* level 0 */
    "rewards:\n"
    "  - {state: s2, action: a2, value: 4}\n"
    "  - {state: s1, value: 3}\n"
    "  - {action: a1, value: 2}\n"
    "  - {value: 1}\n"
    "action_prior:\n"
    "  - {state: s1, probs: {a0: 1}}\n"
    "  - {probs: {a0: 0.5, a1: 0.25, a2: 0.25}}\n"
    "horizon: 3\n";

static void test_wildcard_levels(void)
{
    cai_model *m = load(LEVELS);
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    /* rows s, columns a: s1 is state-given (beats action-given a1);
     * (s2, a2) both given; a1 action-given elsewhere; the rest both "*" */
    static const double r[] = {1, 2, 1, /* s0 */
                               3, 3, 3, /* s1 */
                               1, 2, 4 /* s2 */};
    check_array(cai_mdp_reward(p), r, 9);
    static const trow any = {2, {0, 2}, {0.5, 0.5}}, to_s1 = {1, {1}, {1.0}},
                      to_s2 = {1, {2}, {1.0}}, to_s0 = {1, {0}, {1.0}};
    const trow *want[3][3] = {{&any, &to_s2, &any},
                              {&to_s1, &to_s1, &to_s1},
                              {&any, &to_s2, &to_s0}};
    for (size_t s = 0; s < 3; s++)
        for (size_t a = 0; a < 3; a++)
            check_row(p, s, a, want[s][a]);
    static const double pi0[] = {0.5, 0.25, 0.25, 1, 0, 0, 0.5, 0.25, 0.25};
    check_prior(p, pi0, 9);
    cai_model_free(m);
}

/* States no prior entry covers keep the uniform prior; no entry at all
 * covers a reward pair: reward_default. */
static void test_partial_cover(void)
{
    cai_model *m = load("kind: mdp\nstates: [x, y]\nactions: [p, q]\n"
                        "initial: {y: 1}\n"
                        "transitions: [{state: \"*\", action: \"*\", next: {x: 1}}]\n"
                        "rewards: [{state: y, action: q, value: -1}]\n"
                        "reward_default: 7\n"
                        "action_prior: [{state: x, probs: {q: 1}}]\n"
                        "horizon: 2\n");
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    static const double r[] = {7, 7, 7, -1}, pi0[] = {0, 1, 0.5, 0.5},
                        rho[] = {0, 1};
    check_array(cai_mdp_reward(p), r, 4);
    check_prior(p, pi0, 4);
    check_array(cai_mdp_initial(p), rho, 2);
    cai_model_free(m);
}

/* ---- counts ------------------------------------------------------------ */

static void test_counts(void)
{
    cai_model *m = load("kind: mdp\n"
                        "states: 4\n"
                        "actions: 2\n"
                        "initial: {0: 0.5, \"1\": 0.5}\n"
                        "transitions:\n"
                        "  - {state: 3, action: \"*\", next: {\"3\": 1}}\n"
                        "  - {state: \"3\", action: 1, next: {0: 1}}\n"
                        "  - {state: \"*\", action: \"*\", next: {3: 0.25, 2: 0.75}}\n"
                        "rewards: [{state: \"2\", action: 0, value: 5}]\n"
                        "terminal_rewards: {3: -1}\n"
                        "action_prior: [{state: 0, probs: {\"1\": 1}}]\n"
                        "horizon: 4\n");
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    static const char *const S[] = {"0", "1", "2", "3"}, *const A[] = {"0", "1"};
    check_names(p, S, 4, A, 2);
    static const double rho[] = {0.5, 0.5, 0, 0}, rT[] = {0, 0, 0, -1},
                        r[] = {0, 0, 0, 0, 5, 0, 0, 0},
                        pi0[] = {0, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    check_array(cai_mdp_initial(p), rho, 4);
    check_array(cai_mdp_terminal(p), rT, 4);
    check_array(cai_mdp_reward(p), r, 8);
    check_prior(p, pi0, 8);
    static const trow mix = {2, {2, 3}, {0.75, 0.25}}, to3 = {1, {3}, {1.0}},
                      to0 = {1, {0}, {1.0}};
    for (size_t s = 0; s < 3; s++)
        for (size_t a = 0; a < 2; a++)
            check_row(p, s, a, &mix);
    check_row(p, 3, 0, &to3);
    check_row(p, 3, 1, &to0);
    cai_model_free(m);
}

/* ---- gridworlds -------------------------------------------------------- */

/*   S.#      states (row-major, walls skipped):
 *   ..G        0 r0c0 S   1 r0c1   2 r1c0   3 r1c1   4 r1c2 G
 *   #.X        5 r2c1     6 r2c2 X   7 done
 * slip 0.2: intended 0.8, each perpendicular 0.1. */
static const char *const GRID =
    "kind: gridworld\n"
    "name: tiny\n"
    "map: |\n"
    "  S.#\n"
    "  ..G\n"
    "  #.X\n"
    "slip: 0.2\n"
    "rewards: {step: -1, goal: 10, pit: -5}\n"
    "horizon: 6\n"
    "temperature: 0.5\n";

static void test_gridworld(void)
{
    cai_model *m = load(GRID);
    if (m == NULL)
        return;
    CU_ASSERT_EQUAL(cai_model_get_kind(m), CAI_MODEL_GRIDWORLD);
    CU_ASSERT_STRING_EQUAL(cai_model_kind_name(CAI_MODEL_GRIDWORLD), "gridworld");
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "tiny");
    const cai_mdp *p = cai_model_mdp(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char *const S[] = {"r0c0", "r0c1", "r1c0", "r1c1",
                                    "r1c2", "r2c1", "r2c2", "done"};
    static const char *const A[] = {"up", "down", "left", "right"};
    check_names(p, S, 8, A, 4);
    CU_ASSERT_EQUAL(cai_mdp_horizon(p), 6);
    CU_ASSERT_EQUAL(cai_mdp_discount(p), 0.0);
    CU_ASSERT_EQUAL(cai_mdp_temperature(p), 0.5);
    size_t rows = 0, cols = 0;
    const char *grid = cai_mdp_grid(p, &rows, &cols);
    CU_ASSERT_EQUAL(rows, 3);
    CU_ASSERT_EQUAL(cols, 3);
    CU_ASSERT(grid != NULL && memcmp(grid, "S.#..G#.X", 9) == 0);
    static const double rho[] = {1, 0, 0, 0, 0, 0, 0, 0};
    check_array(cai_mdp_initial(p), rho, 8);

    /* [state][up, down, left, right], worked out by hand: a move into a
     * wall or off the grid stays; G and X go to done; done absorbs. */
    static const trow T[8][4] = {
        /* r0c0: up off -> stay, down r1c0, left off -> stay, right r0c1 */
        {{2, {0, 1}, {0.9, 0.1}},
         {3, {0, 1, 2}, {0.1, 0.1, 0.8}},
         {2, {0, 2}, {0.9, 0.1}},
         {3, {0, 1, 2}, {0.1, 0.8, 0.1}}},
        /* r0c1: up off, down r1c1, left r0c0, right wall */
        {{2, {0, 1}, {0.1, 0.9}},
         {3, {0, 1, 3}, {0.1, 0.1, 0.8}},
         {3, {0, 1, 3}, {0.8, 0.1, 0.1}},
         {2, {1, 3}, {0.9, 0.1}}},
        /* r1c0: up r0c0, down wall, left off, right r1c1 */
        {{3, {0, 2, 3}, {0.8, 0.1, 0.1}},
         {2, {2, 3}, {0.9, 0.1}},
         {2, {0, 2}, {0.1, 0.9}},
         {3, {0, 2, 3}, {0.1, 0.1, 0.8}}},
        /* r1c1: up r0c1, down r2c1, left r1c0, right r1c2 (G) */
        {{3, {1, 2, 4}, {0.8, 0.1, 0.1}},
         {3, {2, 4, 5}, {0.1, 0.1, 0.8}},
         {3, {1, 2, 5}, {0.1, 0.8, 0.1}},
         {3, {1, 4, 5}, {0.1, 0.8, 0.1}}},
        /* r1c2 G */
        {{1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}},
        /* r2c1: up r1c1, down off, left wall, right r2c2 (X) */
        {{3, {3, 5, 6}, {0.8, 0.1, 0.1}},
         {2, {5, 6}, {0.9, 0.1}},
         {2, {3, 5}, {0.1, 0.9}},
         {3, {3, 5, 6}, {0.1, 0.1, 0.8}}},
        /* r2c2 X */
        {{1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}},
        /* done */
        {{1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}, {1, {7}, {1}}},
    };
    for (size_t s = 0; s < 8; s++)
        for (size_t a = 0; a < 4; a++)
            check_row(p, s, a, &T[s][a]);
    static const double r[] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                               -1, -1, -1, -1, -1, 10, 10, 10, 10, -1, -1,
                               -1, -1, -5, -5, -5, -5, 0,  0,  0,  0};
    check_array(cai_mdp_reward(p), r, 32);
    cai_model_free(m);
}

/* Defaults (slip 0, step -1, goal 0, pit -100, temperature 1), a discount,
 * a deeper indentation, empty lines around the rows, a one-line map. */
static void test_gridworld_defaults(void)
{
    cai_model *m = load("kind: gridworld\n"
                        "map: |+\n"
                        "\n"
                        "      SGX\n"
                        "\n"
                        "discount: 0.5\n");
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    CU_ASSERT_EQUAL(cai_mdp_n_states(p), 4);
    CU_ASSERT_EQUAL(cai_mdp_horizon(p), 0);
    CU_ASSERT_EQUAL(cai_mdp_discount(p), 0.5);
    CU_ASSERT_EQUAL(cai_mdp_temperature(p), 1.0);
    /* S: up, down stay; left off -> stay; right to G (slip 0: one outcome) */
    static const trow stay = {1, {0}, {1}}, right = {1, {1}, {1}},
                      done = {1, {3}, {1}};
    check_row(p, 0, 0, &stay);
    check_row(p, 0, 1, &stay);
    check_row(p, 0, 2, &stay);
    check_row(p, 0, 3, &right);
    for (size_t s = 1; s < 4; s++)
        for (size_t a = 0; a < 4; a++)
            check_row(p, s, a, &done);
    static const double r[] = {-1, -1, -1, -1, 0, 0, 0, 0,
                               -100, -100, -100, -100, 0, 0, 0, 0};
    check_array(cai_mdp_reward(p), r, 16);
    cai_model_free(m);

    m = load("kind: gridworld\nmap: S.G\nhorizon: 2\n");
    if (m != NULL)
        CU_ASSERT_EQUAL(cai_mdp_n_states(cai_model_mdp(m)), 4);
    cai_model_free(m);
}

/* ---- example models ---------------------------------------------------- */

/* The optimism gap of the lottery, by a hand-written backup of DESIGN.md's
 * equations (horizon 1, alpha = 1): exact Q = r + log sum P exp(rT),
 * variational Q = r + sum P rT. */
static void test_lottery(void)
{
    cai_model *m = load_file("lottery.yaml");
    if (m == NULL)
        return;
    const cai_mdp *p = cai_model_mdp(m);
    CU_ASSERT_EQUAL(cai_mdp_horizon(p), 1);
    CU_ASSERT_EQUAL(cai_mdp_temperature(p), 1.0);
    size_t start = cai_mdp_find_state(p, "start");
    size_t safe = cai_mdp_find_action(p, "safe"),
           gamble = cai_mdp_find_action(p, "gamble");
    CU_ASSERT_FATAL(start != CAI_NONE && safe != CAI_NONE && gamble != CAI_NONE);
    const size_t *rp;
    const uint32_t *nx;
    const double *pr;
    cai_mdp_dynamics(p, &rp, &nx, &pr);
    const double *rT = cai_mdp_terminal(p), *r = cai_mdp_reward(p);
    size_t A = cai_mdp_n_actions(p);
    double exact[2], var[2];
    size_t acts[2] = {safe, gamble};
    for (int i = 0; i < 2; i++) {
        size_t row = start * A + acts[i];
        double z = 0, e = 0;
        for (size_t j = rp[row]; j < rp[row + 1]; j++) {
            z += pr[j] * exp(rT[nx[j]]);
            e += pr[j] * rT[nx[j]];
        }
        exact[i] = r[row] + log(z);
        var[i] = r[row] + e;
    }
    CU_ASSERT(exact[1] > exact[0] + 1); /* exact: the gamble */
    CU_ASSERT(var[0] > var[1]);         /* variational: safe */
    CAI_ASSERT_CLOSE(exact[1], log(0.05 * exp(10) + 0.95 * exp(-1)), 1e-12);
    CAI_ASSERT_CLOSE(var[1], -0.45, 1e-12);
    cai_model_free(m);
}

static void test_model_files(void)
{
    static const struct {
        const char *file;
        cai_model_kind kind;
        size_t S, A, T;
        double gamma;
    } files[] = {
        {"gridworld.yaml", CAI_MODEL_GRIDWORLD, 21 + 1, 4, 20, 0},
        {"cliff.yaml", CAI_MODEL_GRIDWORLD, 48 + 1, 4, 30, 0},
        {"frozenlake4x4.yaml", CAI_MODEL_GRIDWORLD, 16 + 1, 4, 100, 0},
        {"frozenlake8x8.yaml", CAI_MODEL_GRIDWORLD, 64 + 1, 4, 200, 0},
        {"lottery.yaml", CAI_MODEL_MDP, 4, 2, 1, 0},
        {"chain.yaml", CAI_MODEL_MDP, 50, 2, 60, 0},
        {"discounted.yaml", CAI_MODEL_MDP, 3, 2, 0, 0.9},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        cai_model *m = load_file(files[i].file);
        if (m == NULL)
            continue;
        const cai_mdp *p = cai_model_mdp(m);
        CU_ASSERT_EQUAL(cai_model_get_kind(m), files[i].kind);
        CU_ASSERT_EQUAL(cai_mdp_n_states(p), files[i].S);
        CU_ASSERT_EQUAL(cai_mdp_n_actions(p), files[i].A);
        CU_ASSERT_EQUAL(cai_mdp_horizon(p), files[i].T);
        CU_ASSERT_EQUAL(cai_mdp_discount(p), files[i].gamma);
        if (cai_mdp_n_states(p) != files[i].S)
            fprintf(stderr, "\n  %s: %zu states\n", files[i].file,
                    cai_mdp_n_states(p));
        cai_model_free(m);
    }
    /* frozen lake: slip 2/3, so every move from a floor cell is three ways
     * 1/3 unless walls merge them; the start's `right` goes r0c0 (up, stays),
     * r0c1 (intended), r1c0 (down) */
    cai_model *m = load_file("frozenlake4x4.yaml");
    if (m != NULL) {
        static const trow right = {3, {0, 1, 4}, {1.0 / 3, 1.0 / 3, 1.0 / 3}};
        check_row(cai_model_mdp(m), 0, 3, &right);
    }
    cai_model_free(m);
    /* the discounted model: the wildcards resolve as its comment says */
    m = load_file("discounted.yaml");
    if (m != NULL) {
        const cai_mdp *p = cai_model_mdp(m);
        static const double r[] = {0, -3, -1, -3, -5, -3},
                            pi0[] = {0.8, 0.2, 0.8, 0.2, 0.8, 0.2};
        check_array(cai_mdp_reward(p), r, 6);
        check_prior(p, pi0, 6);
        static const trow repair = {1, {0}, {1}};
        for (size_t s = 0; s < 3; s++)
            check_row(p, s, 1, &repair);
        for (size_t s = 0; s < 3; s++)
            CU_ASSERT(cai_mdp_reward(p)[s * 2] <= 0 &&
                      cai_mdp_reward(p)[s * 2 + 1] <= 0);
    }
    cai_model_free(m);
    /* the corridor: right moves on, left moves back, the end absorbs */
    m = load_file("chain.yaml");
    if (m != NULL) {
        const cai_mdp *p = cai_model_mdp(m);
        for (size_t s = 0; s < 50; s++) {
            trow left = {1, {s == 0 ? 0 : s == 49 ? 49 : s - 1}, {1}};
            trow right = {1, {s == 49 ? 49 : s + 1}, {1}};
            check_row(p, s, 0, &left);
            check_row(p, s, 1, &right);
            CU_ASSERT_EQUAL(cai_mdp_reward(p)[s * 2 + 1], s == 49 ? 5.0 : 0.0);
        }
    }
    cai_model_free(m);
    /* the inventory, from its CSV files: every row and reward against the
     * rule its comment states, worked out here */
    m = load_file("inventory.yaml");
    if (m != NULL) {
        const cai_mdp *p = cai_model_mdp(m);
        CU_ASSERT_EQUAL(cai_mdp_n_states(p), 4);
        CU_ASSERT_EQUAL(cai_mdp_n_actions(p), 2);
        CU_ASSERT_EQUAL(cai_mdp_horizon(p), 30);
        CU_ASSERT_STRING_EQUAL(cai_mdp_state_name(p, 3), "stock 3");
        static const double demand[3] = {0.3, 0.5, 0.2};
        for (size_t s = 0; s < 4 && cai_mdp_n_states(p) == 4; s++)
            for (size_t a = 0; a < 2; a++) {
                size_t shelf = s + 2 * a < 3 ? s + 2 * a : 3;
                double to[4] = {0}, sales = 0.0;
                for (size_t d = 0; d < 3; d++) {
                    to[shelf > d ? shelf - d : 0] += demand[d];
                    sales += demand[d] * (double)(d < shelf ? d : shelf);
                }
                trow want = {0, {0}, {0}};
                for (size_t x = 0; x < 4; x++)
                    if (to[x] > 0) {
                        want.next[want.n] = x;
                        want.prob[want.n++] = to[x];
                    }
                check_row(p, s, a, &want);
                double r = sales - 0.5 * (double)a - 0.1 * (double)s;
                CU_ASSERT_DOUBLE_EQUAL(cai_mdp_reward(p)[s * 2 + a], r, 1e-12);
            }
    }
    cai_model_free(m);
}

/* ---- a large model stays linear ---------------------------------------- */

/* 20000 states x 5 actions x 10 successors = 10^6 transitions, one entry
 * per (state, action), written in the file. Loading must take well under
 * the time a quadratic scan would (S * entries = 2e9 string compares). */
static void test_large(void)
{
    const size_t S = 20000, A = 5, K = 10;
    size_t cap = 64 * 1024 * 1024, n = 0;
    char *t = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    n += (size_t)snprintf(t + n, cap - n, "kind: mdp\nstates:\n");
    for (size_t s = 0; s < S; s++)
        n += (size_t)snprintf(t + n, cap - n, "  - st%zu\n", s);
    n += (size_t)snprintf(t + n, cap - n,
                          "actions: [a0, a1, a2, a3, a4]\ninitial: {st0: 1}\n"
                          "transitions:\n");
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++) {
            n += (size_t)snprintf(t + n, cap - n,
                                  "  - {state: st%zu, action: a%zu, next: {", s, a);
            for (size_t k = 0; k < K; k++)
                n += (size_t)snprintf(t + n, cap - n, "%sst%zu: 0.1",
                                      k ? ", " : "", (s * 7 + a * 13 + k * 1999) % S);
            n += (size_t)snprintf(t + n, cap - n, "}}\n");
        }
    n += (size_t)snprintf(t + n, cap - n,
                          "rewards: [{state: st5, value: -1}]\nhorizon: 10\n");
    CU_ASSERT_FATAL(n < cap);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL(cai_model_load_string(t, n, "big.yaml", &m, &err), CAI_OK);
    if (m != NULL) {
        const cai_mdp *p = cai_model_mdp(m);
        CU_ASSERT_EQUAL(cai_mdp_n_states(p), S);
        CU_ASSERT_EQUAL(cai_mdp_n_transitions(p), S * A * K);
        const size_t *rp;
        const uint32_t *nx;
        cai_mdp_dynamics(p, &rp, &nx, NULL);
        size_t s = 12345, a = 3, row = s * A + a;
        CU_ASSERT_EQUAL(rp[row + 1] - rp[row], K);
        /* successors sorted; each one of the written ones */
        for (size_t j = rp[row]; j < rp[row + 1]; j++) {
            CU_ASSERT(j == rp[row] || nx[j] > nx[j - 1]);
            bool found = false;
            for (size_t k = 0; k < K; k++)
                found |= nx[j] == (s * 7 + a * 13 + k * 1999) % S;
            CU_ASSERT(found);
        }
    }
    cai_model_free(m);
    free(t);
}

/* ---- sections read while composing (lib/io/mdp_stream.c) --------------- */


static unsigned long rnd(unsigned long *x, unsigned long n)
{
    *x = *x * 6364136223846793005UL + 1442695040888963407UL;
    return (*x >> 33) % n;
}

/* A name of state (what 's') or action ('a') i, named or a count's. */
static void put_name(cai_test_text *t, bool named, char what, size_t i)
{
    if (named)
        cai_test_put(t, "%c%zu", what, i);
    else
        cai_test_put(t, "%zu", i);
}

/* key: n names, or the count n. */
static void put_axis(cai_test_text *t, const char *key, bool named, char what, size_t n)
{
    cai_test_put(t, "%s: ", key);
    if (!named) {
        cai_test_put(t, "%zu\n", n);
        return;
    }
    cai_test_put(t, "[");
    for (size_t i = 0; i < n; i++) {
        cai_test_put(t, i ? ", " : "");
        put_name(t, true, what, i);
    }
    cai_test_put(t, "]\n");
}

/* A distribution over S states, maybe with a flaw: 1 an unknown name, 2 a
 * negative probability, 3 a sum of 0.9. */
static void put_dist(cai_test_text *t, unsigned long *x, size_t S, bool named, int flaw)
{
    static const double probs[3][3] = {{1}, {0.25, 0.75}, {0.5, 0.25, 0.25}};
    size_t k = 1 + rnd(x, S < 3 ? S : 3), first = rnd(x, S);
    cai_test_put(t, "{");
    for (size_t i = 0; i < k; i++) {
        cai_test_put(t, i ? ", " : "");
        put_name(t, named, 's', (first + i) % S);
        double p = probs[k - 1][i];
        if (i == 0 && flaw == 2)
            p = -p;
        if (i == 0 && flaw == 3)
            p -= 0.1;
        cai_test_put(t, rnd(x, 4) ? ": %g" : ": %.3e", p);
    }
    if (flaw == 1)
        cai_test_put(t, ", nowhere: 0");
    cai_test_put(t, "}");
}

/* A small `kind: mdp` model whose transitions and rewards are block
 * sequences (indented or not; flow or block mapping items), most entries
 * specific, some wildcards, and now and then one flawed entry: an unknown
 * name, a bad probability or value, a repeat of an earlier entry's slots,
 * a missing key, an item that is not a mapping. In one model in four the
 * sections come before `states`, where nothing can be read early. */
static void gen_mdp(cai_test_text *t, unsigned long *x)
{
    size_t S = 1 + rnd(x, 5), A = 1 + rnd(x, 3);
    bool named = rnd(x, 2), late = rnd(x, 4) == 0;
    t->n = 0;
    cai_test_text head = {0}, sec = {0};
    cai_test_put(&head, "kind: mdp\n");
    put_axis(&head, "states", named, 's', S);
    put_axis(&head, "actions", named, 'a', A);
    cai_test_put(&head, "initial: {");
    put_name(&head, named, 's', 0);
    cai_test_put(&head, ": 1}\nhorizon: 3\n");
    for (int which = 0; which < 2; which++) { /* transitions, rewards */
        const char *in = rnd(x, 2) ? "  " : "";
        cai_test_put(&sec, which ? "rewards:\n" : "transitions:\n");
        size_t n_entries = 0, flawed = rnd(x, 3) == 0 ? rnd(x, S * A + 1) : SIZE_MAX;
        int flaw = 1 + (int)rnd(x, 6);
        size_t wild_at = rnd(x, 2) ? rnd(x, S * A + 1) : SIZE_MAX;
        size_t prev_s = 0, prev_a = 0;
        for (size_t r = 0; r <= S * A; r++) {
            if (r == wild_at || (which == 0 && r == S * A && wild_at == SIZE_MAX)) {
                cai_test_put(&sec, "%s- {state: \"*\", action: \"*\", %s", in,
                    which ? "value: -0.5}\n" : "next: ");
                if (!which) {
                    put_dist(&sec, x, S, named, 0);
                    cai_test_put(&sec, "}\n");
                }
            }
            if (r == S * A || rnd(x, 5) == 0)
                continue;
            size_t s = r / A, a = r % A;
            bool bad = n_entries++ == flawed;
            if (bad && flaw == 5) {
                cai_test_put(&sec, "%s- oops\n", in);
                continue;
            }
            if (bad && flaw == 6 && n_entries > 1) { /* the slots of an earlier one */
                s = prev_s;
                a = prev_a;
            }
            prev_s = s;
            prev_a = a;
            bool block = rnd(x, 4) == 0;
            const char *sep = block ? "\n    " : ", ";
            cai_test_put(&sec, block ? "%s- " : "%s- {", in);
            if (block)
                sep = in[0] ? "\n    " : "\n  ";
            cai_test_put(&sec, "state: ");
            put_name(&sec, named, 's', s);
            if (!(bad && flaw == 4 && which)) { /* rewards: a missing action is "*" */
                cai_test_put(&sec, "%saction: ", sep);
                put_name(&sec, named, 'a', a);
            }
            if (bad && flaw == 4 && !which) { /* no `next` */
                cai_test_put(&sec, block ? "\n" : "}\n");
                continue;
            }
            if (which) {
                cai_test_put(&sec, "%svalue: ", sep);
                if (bad && flaw <= 3)
                    cai_test_put(&sec, ".nan");
                else
                    cai_test_put(&sec, "%g", -(double)rnd(x, 100) / 8);
            } else {
                cai_test_put(&sec, "%snext: ", sep);
                put_dist(&sec, x, S, named, bad ? flaw : 0);
            }
            cai_test_put(&sec, block ? "\n" : "}\n");
        }
    }
    if (late) {
        cai_test_put(t, "%.*s", (int)sec.n, sec.s);
        cai_test_put(t, "%.*s", (int)head.n, head.s);
    } else {
        cai_test_put(t, "%.*s", (int)head.n, head.s);
        cai_test_put(t, "%.*s", (int)sec.n, sec.s);
    }
    free(head.s);
    free(sec.s);
}

static bool same_doubles(const double *a, const double *b, size_t n)
{
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* The two loads of a text give the same model, or the same error. */
static bool same_load(const char *txt, size_t len)
{
    cai_model *m[2] = {NULL, NULL};
    cai_error e[2];
    cai_status st[2];
    for (int k = 0; k < 2; k++) {
        cai_error_clear(&e[k]);
        st[k] = model_load_text(txt, len, "t.yaml", k == 0, &m[k], &e[k]);
    }
    bool same = st[0] == st[1];
    if (same && st[0] != CAI_OK)
        same = e[0].line == e[1].line && e[0].column == e[1].column &&
               strcmp(e[0].message, e[1].message) == 0;
    if (same && st[0] == CAI_OK) {
        const cai_mdp *p = cai_model_mdp(m[0]), *q = cai_model_mdp(m[1]);
        size_t S = cai_mdp_n_states(p), A = cai_mdp_n_actions(p);
        same = S == cai_mdp_n_states(q) && A == cai_mdp_n_actions(q) &&
               cai_mdp_n_transitions(p) == cai_mdp_n_transitions(q);
        for (size_t i = 0; same && i < S; i++)
            same = strcmp(cai_mdp_state_name(p, i), cai_mdp_state_name(q, i)) == 0;
        same = same && same_doubles(cai_mdp_initial(p), cai_mdp_initial(q), S) &&
               same_doubles(cai_mdp_reward(p), cai_mdp_reward(q), S * A) &&
               same_doubles(cai_mdp_terminal(p), cai_mdp_terminal(q), S) &&
               same_doubles(cai_mdp_action_prior(p), cai_mdp_action_prior(q), S * A);
        if (same) {
            const size_t *rp, *rq;
            const uint32_t *np, *nq;
            const double *pp, *pq;
            cai_mdp_dynamics(p, &rp, &np, &pp);
            cai_mdp_dynamics(q, &rq, &nq, &pq);
            size_t nnz = cai_mdp_n_transitions(p);
            same = memcmp(rp, rq, (S * A + 1) * sizeof *rp) == 0 &&
                   memcmp(np, nq, nnz * sizeof *np) == 0 &&
                   same_doubles(pp, pq, nnz);
        }
    }
    if (!same)
        fprintf(stderr, "\n  streamed and not: %d %zu:%zu %s | %d %zu:%zu %s\n%.*s\n",
                (int)st[0], e[0].line, e[0].column, st[0] ? e[0].message : "",
                (int)st[1], e[1].line, e[1].column, st[1] ? e[1].message : "",
                (int)len, txt);
    cai_model_free(m[0]);
    cai_model_free(m[1]);
    return same;
}

/* Random models loaded with and without reading transitions and rewards
 * while composing give the same model or the same error (line, column,
 * message); the early reading took entries in most of them. */
static void test_streamed_sections(void)
{
    unsigned long x = 2026;
    cai_test_text t = {0};
    size_t took_t = 0, took_r = 0, ok = 0, n = 3000;
    for (size_t i = 0; i < n; i++) {
        gen_mdp(&t, &x);
        CU_ASSERT(same_load(t.s, t.n));
        mdp_stream ms;
        yr_fast_stream fs;
        mdp_stream_init(&ms, "t.yaml", &fs);
        yaml_document_t doc;
        yr_fast_doc *own = NULL;
        if (yr_fast_compose_stream(t.s, t.n, &fs, &doc, &own) == 1) {
            took_t += ms.tr.n > 0;
            took_r += ms.rw.n > 0;
            yr_fast_free(own);
        }
        mdp_stream_clear(&ms);
        cai_model *m = NULL;
        cai_error err;
        if (cai_model_load_string(t.s, t.n, "t.yaml", &m, &err) == CAI_OK)
            ok++;
        cai_model_free(m);
    }
    free(t.s);
    CU_ASSERT(took_t > n / 2);
    CU_ASSERT(took_r > n / 2);
    CU_ASSERT(ok > n / 4 && ok < n - n / 8); /* both kinds of outcome */
}

/* ---- errors ------------------------------------------------------------ */

#define MDP_HEAD "kind: mdp\nstates: [s0, s1]\nactions: [a, b]\n" /* lines 1-3 */
#define INIT "initial: {s0: 1}\n"
#define ALL "transitions: [{state: \"*\", action: \"*\", next: {s0: 1}}]\n"
#define OK_MDP MDP_HEAD INIT ALL /* lines 1-5 */
#define GRID_HEAD "kind: gridworld\nmap: |\n" /* lines 1-2 */
#define H1 "horizon: 1\n"
#define NO_TRANS "transitions: []\n" H1 /* after initial */
#define NO_INIT "initial: {}\n" NO_TRANS /* after actions */
#define REST "actions: [x]\n" NO_INIT /* after states */

#define ERROR_CASES(X)                                                        \
    /* YAML that is not well-formed */                                        \
    X(syntax, "kind: mdp\nstates: [s0, s1\nactions: [a]\n", CAI_ERR_SYNTAX,   \
      3, 8, "did not find expected")                                          \
    /* keys */                                                                \
    X(unknown_key, OK_MDP "horizon: 3\nhorizn: 4\n", CAI_ERR_MODEL, 7, 1,     \
      "unknown key 'horizn' in the model")                                    \
    X(duplicate_key, OK_MDP "horizon: 3\nhorizon: 4\n", CAI_ERR_MODEL, 7, 1,  \
      "duplicate key 'horizon'")                                              \
    X(unknown_entry_key,                                                      \
      MDP_HEAD INIT "transitions: [{state: s0, acton: a, next: {s0: 1}}]\n"   \
                    "horizon: 1\n",                                           \
      CAI_ERR_MODEL, 5, 27, "unknown key 'acton' in transition 0")            \
    X(missing_states, "kind: mdp\nactions: [a]\n", CAI_ERR_MODEL, 1, 1,       \
      "missing key 'states'")                                                 \
    X(missing_transitions, MDP_HEAD INIT "horizon: 1\n", CAI_ERR_MODEL, 1, 1, \
      "missing key 'transitions'")                                            \
    X(missing_next, MDP_HEAD INIT "transitions: [{state: s0, action: a}]\n"   \
                                  "horizon: 1\n",                             \
      CAI_ERR_MODEL, 5, 15, "missing key 'next' in transition 0")             \
    X(missing_probs,                                                          \
      OK_MDP "action_prior: [{state: s0}]\nhorizon: 1\n", CAI_ERR_MODEL, 6,   \
      16, "missing key 'probs' in action prior 0")                            \
    /* names */                                                               \
    X(unknown_state_next,                                                     \
      MDP_HEAD INIT "transitions:\n  - {state: s0, action: a, next: {s9: 1}}\n" \
                    "horizon: 1\n",                                           \
      CAI_ERR_MODEL, 6, 35, "transition 0: unknown state 's9' (states: s0, s1)") \
    X(unknown_state_entry,                                                    \
      MDP_HEAD INIT "transitions:\n  - {state: s2, action: a, next: {s0: 1}}\n" \
                    "horizon: 1\n",                                           \
      CAI_ERR_MODEL, 6, 13, "unknown state 's2'")                             \
    X(unknown_action, MDP_HEAD INIT                                           \
      "transitions:\n  - {state: s0, action: c, next: {s0: 1}}\n"             \
      "horizon: 1\n",                                                         \
      CAI_ERR_MODEL, 6, 25, "unknown action 'c' (actions: a, b)")             \
    X(unknown_state_initial, MDP_HEAD "initial: {s0: 0.5, x: 0.5}\n" ALL      \
      "horizon: 1\n", CAI_ERR_MODEL, 4, 20, "unknown state 'x'")              \
    X(unknown_state_reward, OK_MDP "rewards: [{state: t, value: 1}]\n"        \
      "horizon: 1\n", CAI_ERR_MODEL, 6, 19, "reward 0: unknown state 't'")    \
    X(unknown_state_terminal, OK_MDP "terminal_rewards: {s3: 1}\n"            \
      "horizon: 1\n", CAI_ERR_MODEL, 6, 20, "unknown state 's3'")             \
    X(unknown_action_prior, OK_MDP "action_prior: [{probs: {a: 0.5, z: 0.5}}]\n" \
      "horizon: 1\n", CAI_ERR_MODEL, 6, 33, "unknown action 'z'")             \
    X(unknown_count_name, "kind: mdp\nstates: 3\nactions: 1\n"                \
      "initial: {03: 1}\n" NO_TRANS, CAI_ERR_MODEL, 4, 11,                             \
      "unknown state '03' (states: 0..2)")                                    \
    X(count_out_of_range, "kind: mdp\nstates: 3\nactions: 1\n"                \
      "initial: {3: 1}\n" NO_TRANS, CAI_ERR_MODEL, 4, 11, "unknown state '3'")         \
    X(wildcard_in_map, MDP_HEAD "initial: {\"*\": 1}\n" NO_TRANS, CAI_ERR_MODEL, 4,    \
      11, "unknown state '*'")                                                \
    X(wildcard_state_name, "kind: mdp\nstates: [a, \"*\"]\n" REST, CAI_ERR_MODEL,  \
      2, 13, "'*' cannot name a state")                                       \
    /* types */                                                               \
    X(states_mapping, "kind: mdp\nstates: {a: 1}\n" REST, CAI_ERR_MODEL, 2, 9,     \
      "'states' must be a sequence of state names or a positive count, got a mapping") \
    X(state_name_type, "kind: mdp\nstates: [a, [b]]\n" REST, CAI_ERR_MODEL, 2, 13, \
      "'states' entry 1 must be a non-empty state name, got a sequence")      \
    X(transitions_type, MDP_HEAD INIT "transitions: {s0: s1}\n" H1,              \
      CAI_ERR_MODEL, 5, 14, "'transitions' must be a sequence")               \
    X(transition_type, MDP_HEAD INIT "transitions: [s0]\n" H1, CAI_ERR_MODEL, 5, \
      15, "transition 0 must be a mapping like")                              \
    X(next_type, MDP_HEAD INIT                                                \
      "transitions: [{state: s0, action: a, next: [s1]}]\n" H1, CAI_ERR_MODEL,   \
      5, 44, "'next' must map names to numbers, got a sequence")              \
    X(state_ref_type, MDP_HEAD INIT                                           \
      "transitions: [{state: ~, action: a, next: {s0: 1}}]\n" H1, CAI_ERR_MODEL, \
      5, 23, "'state' must be a state name or \"*\", got null")               \
    X(reward_value_type, OK_MDP "rewards: [{state: s0, value: high}]\n"       \
      "horizon: 1\n", CAI_ERR_MODEL, 6, 30,                                   \
      "reward 0: 'value' must be a finite number, got 'high'")                \
    X(rewards_type, OK_MDP "rewards: 5\nhorizon: 1\n", CAI_ERR_MODEL, 6, 10,  \
      "'rewards' must be a sequence")                                         \
    X(reward_default_type, OK_MDP "reward_default: \"0\"\nhorizon: 1\n",      \
      CAI_ERR_MODEL, 6, 17, "'reward_default' must be a finite number")       \
    X(horizon_type, OK_MDP "horizon: ten\n", CAI_ERR_MODEL, 6, 10,            \
      "'horizon' must be an integer >= 1, got 'ten'")                         \
    X(horizon_fraction, OK_MDP "horizon: 2.5\n", CAI_ERR_MODEL, 6, 10,        \
      "'horizon' must be an integer >= 1")                                    \
    X(horizon_zero, OK_MDP "horizon: 0\n", CAI_ERR_MODEL, 6, 10,              \
      "'horizon' must be an integer >= 1")                                    \
    X(name_type, "kind: mdp\nname: [x]\n", CAI_ERR_MODEL, 2, 7,               \
      "'name' must be a string")                                              \
    X(terminal_type, OK_MDP "terminal_rewards: [1, 2]\nhorizon: 1\n",         \
      CAI_ERR_MODEL, 6, 19, "'terminal_rewards' must map names to numbers")   \
    X(prior_type, OK_MDP "action_prior: {a: 1}\nhorizon: 1\n", CAI_ERR_MODEL, \
      6, 15, "'action_prior' must be a sequence")                             \
    /* probabilities */                                                       \
    X(initial_sum, MDP_HEAD "initial: {s0: 0.5, s1: 0.4}\n" ALL H1, CAI_ERR_MODEL,   \
      4, 10, "probabilities in 'initial' sum to 0.9")                         \
    X(next_sum, MDP_HEAD INIT                                                 \
      "transitions: [{state: s0, action: a, next: {s0: 0.7, s1: 0.4}}]\n" H1,    \
      CAI_ERR_MODEL, 5, 44, "transition 0: probabilities in 'next' sum to 1.1") \
    X(next_sum_tolerance, MDP_HEAD INIT                                       \
      "transitions: [{state: s0, action: a, next: {s0: 0.5, s1: 0.500000002}}]\n" H1,     \
      CAI_ERR_MODEL, 5, 44, "sum to 1.000000002")                             \
    X(prior_sum, OK_MDP "action_prior: [{probs: {a: 0.5}}]\nhorizon: 1\n",    \
      CAI_ERR_MODEL, 6, 24, "action prior 0: probabilities in 'probs' sum to 0.5") \
    X(negative_initial, MDP_HEAD "initial: {s0: 1.5, s1: -0.5}\n" ALL H1,            \
      CAI_ERR_MODEL, 4, 15, "probability 1.5 for 's0' in 'initial' is greater than 1") \
    X(negative_next, MDP_HEAD INIT                                            \
      "transitions: [{state: s0, action: a, next: {s0: -0.5, s1: 1.5}}]\n" H1,   \
      CAI_ERR_MODEL, 5, 49, "negative probability -0.5 for 's0' in 'next'")   \
    X(negative_prior, OK_MDP                                                  \
      "action_prior: [{probs: {a: 1.25, b: -0.25}}]\nhorizon: 1\n",           \
      CAI_ERR_MODEL, 6, 28, "greater than 1")                                 \
    X(empty_next, MDP_HEAD INIT                                               \
      "transitions: [{state: s0, action: a, next: {}}]\n" H1, CAI_ERR_MODEL, 5,  \
      44, "sum to 0, not 1")                                                  \
    /* NaN and infinities */                                                  \
    X(nan_initial, MDP_HEAD "initial: {s0: .nan}\n" ALL H1, CAI_ERR_MODEL, 4, 15,    \
      "initial for 's0' must be a finite number, got '.nan'")                 \
    X(inf_next, MDP_HEAD INIT                                                 \
      "transitions: [{state: s0, action: a, next: {s0: .inf}}]\n" H1,            \
      CAI_ERR_MODEL, 5, 49, "next for 's0' must be a finite number, got '.inf'") \
    X(inf_reward, OK_MDP "rewards: [{value: -.inf}]\nhorizon: 1\n",           \
      CAI_ERR_MODEL, 6, 19, "'value' must be a finite number, got '-.inf'")   \
    X(nan_terminal, OK_MDP "terminal_rewards: {s0: nan}\nhorizon: 1\n",       \
      CAI_ERR_MODEL, 6, 24, "must be a finite number, got 'nan'")             \
    X(inf_temperature, OK_MDP "horizon: 1\ntemperature: .inf\n",              \
      CAI_ERR_MODEL, 7, 14, "'temperature' must be a finite number >= 0")     \
    X(nan_discount, OK_MDP "discount: .nan\n", CAI_ERR_MODEL, 6, 11,          \
      "'discount' must be a number in (0, 1), got '.nan'")                    \
    /* coverage */                                                            \
    X(missing_transitions_pair, MDP_HEAD INIT                                 \
      "transitions:\n"                                                        \
      "  - {state: s0, action: \"*\", next: {s0: 1}}\n"                       \
      "  - {state: \"*\", action: a, next: {s1: 1}}\n"                        \
      "horizon: 2\n",                                                         \
      CAI_ERR_MODEL, 6, 3,                                                    \
      "'transitions' do not cover state 's1', action 'b'")                    \
    X(empty_transitions, MDP_HEAD INIT "transitions: []\nhorizon: 2\n",       \
      CAI_ERR_MODEL, 5, 14, "do not cover state 's0', action 'a'")            \
    /* time */                                                                \
    X(horizon_and_discount, OK_MDP "horizon: 5\ntemperature: 1\n"             \
      "discount: 0.9\n", CAI_ERR_MODEL, 8, 1,                                 \
      "give either 'horizon' or 'discount', not both ('horizon' is at line 6)") \
    X(discount_and_horizon, OK_MDP "discount: 0.9\nhorizon: 5\n",             \
      CAI_ERR_MODEL, 7, 1, "not both ('discount' is at line 6)")              \
    X(neither_horizon_nor_discount, OK_MDP "temperature: 1\n", CAI_ERR_MODEL, \
      1, 1, "missing key 'horizon' or 'discount'")                            \
    X(discount_one, OK_MDP "discount: 1\n", CAI_ERR_MODEL, 6, 11,             \
      "'discount' must be a number in (0, 1), got '1'")                       \
    X(discount_zero, OK_MDP "discount: 0\n", CAI_ERR_MODEL, 6, 11,            \
      "in (0, 1)")                                                            \
    X(terminal_with_discount, OK_MDP "discount: 0.9\nterminal_rewards: {s0: 1}\n", \
      CAI_ERR_MODEL, 7, 1, "'terminal_rewards' need a finite horizon")        \
    X(negative_temperature, OK_MDP "horizon: 2\ntemperature: -0.5\n",         \
      CAI_ERR_MODEL, 7, 14, "'temperature' must be a finite number >= 0, got '-0.5'") \
    /* duplicates */                                                          \
    X(duplicate_state, "kind: mdp\nstates: [a, b, a]\n" REST, CAI_ERR_MODEL, 2,    \
      16, "duplicate state name 'a' in 'states' (first at line 2)")           \
    X(duplicate_action, "kind: mdp\nstates: 2\nactions:\n  - go\n  - stay\n"  \
      "  - go\n" NO_INIT, CAI_ERR_MODEL, 6, 5,                                        \
      "duplicate action name 'go' in 'actions' (first at line 4)")            \
    X(duplicate_next, MDP_HEAD INIT                                           \
      "transitions: [{state: s0, action: a, next: {s0: 0.5, s0: 0.5}}]\n" H1,    \
      CAI_ERR_MODEL, 5, 54, "duplicate key 's0' in 'next'")                   \
    X(duplicate_count_name, "kind: mdp\nstates: 2\nactions: 1\n"              \
      "initial: {1: 0.5, \"1\": 0.5}\n" NO_TRANS, CAI_ERR_MODEL, 4, 19,                \
      "duplicate key '1' in 'initial'")                                       \
    /* ties at one specificity: at the second entry, naming the first */      \
    X(tie_both_given, MDP_HEAD INIT                                           \
      "transitions:\n"                                                        \
      "  - {state: s0, action: a, next: {s0: 1}}\n"                           \
      "  - {state: \"*\", action: \"*\", next: {s0: 1}}\n"                    \
      "  - {state: s0, action: a, next: {s1: 1}}\n"                           \
      "horizon: 1\n",                                                         \
      CAI_ERR_MODEL, 8, 5,                                                    \
      "transition 2 conflicts with transition 0 (line 6): both give state "   \
      "'s0' and action 'a'")                                                  \
    X(tie_state_given, OK_MDP                                                 \
      "rewards:\n  - {state: s1, value: 1}\n  - {state: s0, value: 2}\n"      \
      "  - {state: s1, action: \"*\", value: 3}\nhorizon: 1\n",               \
      CAI_ERR_MODEL, 9, 5,                                                    \
      "reward 2 conflicts with reward 0 (line 7): both give state 's1' and "  \
      "action '*'")                                                           \
    X(tie_action_given, OK_MDP                                                \
      "rewards:\n  - {action: b, value: 1}\n  - {state: \"*\", action: b, value: 2}\n" \
      "horizon: 1\n",                                                         \
      CAI_ERR_MODEL, 8, 5, "reward 1 conflicts with reward 0 (line 7)")       \
    X(tie_both_wild, MDP_HEAD INIT                                            \
      "transitions:\n"                                                        \
      "  - {state: \"*\", action: \"*\", next: {s0: 1}}\n"                    \
      "  - {state: \"*\", action: \"*\", next: {s1: 1}}\n"                    \
      "horizon: 1\n",                                                         \
      CAI_ERR_MODEL, 7, 5, "transition 1 conflicts with transition 0 (line 6)") \
    X(tie_prior, OK_MDP                                                       \
      "action_prior:\n  - {probs: {a: 1}}\n  - {state: \"*\", probs: {b: 1}}\n" \
      "horizon: 1\n",                                                         \
      CAI_ERR_MODEL, 8, 5,                                                    \
      "action prior 1 conflicts with action prior 0 (line 7): both give state '*'") \
    /* absurd sizes */                                                        \
    X(states_huge, "kind: mdp\nstates: 1e30\n" REST, CAI_ERR_MODEL, 2, 9,          \
      "'states': a count of 1e30 states exceeds the maximum 100000000")                             \
    X(states_negative, "kind: mdp\nstates: -3\n" REST, CAI_ERR_MODEL, 2, 9,        \
      "'states' must be a sequence of state names or a positive count, got '-3'") \
    X(actions_zero, "kind: mdp\nstates: 2\nactions: 0\n" NO_INIT, CAI_ERR_MODEL, 3,   \
      10, "'actions' must be a sequence of action names or a positive count") \
    X(states_empty, "kind: mdp\nstates: []\n" REST, CAI_ERR_MODEL, 2, 9,           \
      "'states' must not be empty")                                           \
    X(too_many_pairs, "kind: mdp\nstates: 100000000\nactions: 2\n" NO_INIT,           \
      CAI_ERR_MODEL, 3, 10, "100000000 states x 2 actions is too many pairs") \
    X(horizon_huge, OK_MDP "horizon: 1e30\n", CAI_ERR_MODEL, 6, 10,           \
      "horizon 1e30 exceeds the maximum")                                     \
    /* gridworlds: errors inside the map point at the character */            \
    X(grid_bad_char, GRID_HEAD "  S..#\n  .#.Q\n  ...X\nhorizon: 5\n",        \
      CAI_ERR_MODEL, 4, 6,                                                    \
      "map row 1, column 3: unexpected 'Q' (expected S, ., #, G or X)")       \
    X(grid_bad_char_indented, "kind: gridworld\nmap: |\n    S.\n    .Z\n"     \
      "horizon: 5\n", CAI_ERR_MODEL, 4, 6, "unexpected 'Z'")                  \
    X(grid_bad_char_nested, "kind: gridworld\nmap: |2\n    S.\n    .G\n"      \
      "horizon: 5\n", CAI_ERR_MODEL, 3, 3, "row 0, column 0: unexpected a space") \
    X(grid_utf8, "kind: gridworld\nmap: |\n  S.\n  .é\nhorizon: 5\n",         \
      CAI_ERR_MODEL, 4, 4, "unexpected 'é'")                                  \
    X(grid_space, GRID_HEAD "  S. G\nhorizon: 5\n", CAI_ERR_MODEL, 3, 5,      \
      "unexpected a space")                                                   \
    X(grid_tab, "kind: gridworld\nmap: \"S.\\tG\"\nhorizon: 5\n",             \
      CAI_ERR_MODEL, 2, 6, "unexpected a tab")                                \
    X(grid_one_line, "kind: gridworld\nmap: S.Q\nhorizon: 5\n",               \
      CAI_ERR_MODEL, 2, 8, "unexpected 'Q'")                                  \
    X(grid_quoted, "kind: gridworld\nmap: 'S.Q'\nhorizon: 5\n",               \
      CAI_ERR_MODEL, 2, 9, "unexpected 'Q'")                                  \
    X(grid_ragged_long, GRID_HEAD "  S..#\n  .#.G.\n  ...X\nhorizon: 5\n",    \
      CAI_ERR_MODEL, 4, 7, "map row 1 has 5 columns, expected 4 as in row 0") \
    X(grid_ragged_short, GRID_HEAD "  S..#\n  .#.G\n  ..\nhorizon: 5\n",      \
      CAI_ERR_MODEL, 5, 5, "map row 2 has 2 columns, expected 4")             \
    X(grid_empty_row, GRID_HEAD "  S..#\n\n  ...X\nhorizon: 5\n",             \
      CAI_ERR_MODEL, 4, 1, "map row 1 has 0 columns")                         \
    X(grid_no_start, GRID_HEAD "  ...#\n  .#.G\nhorizon: 5\n", CAI_ERR_MODEL, \
      2, 6, "the map has no start 'S'")                                       \
    X(grid_two_starts, GRID_HEAD "  S..#\n  .#.G\n  .S.X\nhorizon: 5\n",      \
      CAI_ERR_MODEL, 5, 4,                                                    \
      "map row 2, column 1: a second start 'S' (the first is at line 3, column 3)") \
    X(grid_crlf, "kind: gridworld\r\nmap: |\r\n  S.\r\n  .Q\r\nhorizon: 5\r\n", \
      CAI_ERR_MODEL, 4, 4, "unexpected 'Q'")                                  \
    X(grid_folded, "kind: gridworld\nmap: >\n  S.\n  .G\nhorizon: 5\n",       \
      CAI_ERR_MODEL, 2, 6, "write it as a literal block (map: |)")            \
    X(grid_plain_lines, "kind: gridworld\nmap: S.\n  .G\nhorizon: 5\n",       \
      CAI_ERR_MODEL, 2, 6, "joins its rows")                                  \
    X(grid_escaped, "kind: gridworld\nmap: \"S.\\n.Q\"\nhorizon: 5\n",        \
      CAI_ERR_MODEL, 2, 6, "map row 1, column 1: unexpected 'Q'")             \
    X(grid_map_type, "kind: gridworld\nmap: [S.G]\nhorizon: 5\n",             \
      CAI_ERR_MODEL, 2, 6, "'map' must be rows of S . # G X")                 \
    X(grid_map_empty, "kind: gridworld\nmap: |\n\nhorizon: 5\n",              \
      CAI_ERR_MODEL, 2, 6, "'map' has no rows")                               \
    X(grid_missing_map, "kind: gridworld\nhorizon: 5\n", CAI_ERR_MODEL, 1, 1, \
      "missing key 'map'")                                                    \
    X(grid_slip, "kind: gridworld\nmap: SG\nslip: 1.5\nhorizon: 5\n",         \
      CAI_ERR_MODEL, 3, 7, "'slip' must be a number in [0, 1], got '1.5'")    \
    X(grid_slip_nan, "kind: gridworld\nmap: SG\nslip: .NaN\nhorizon: 5\n",    \
      CAI_ERR_MODEL, 3, 7, "'slip' must be a number in [0, 1]")               \
    X(grid_rewards_key,                                                       \
      "kind: gridworld\nmap: SG\nrewards: {step: -1, lava: -5}\nhorizon: 5\n", \
      CAI_ERR_MODEL, 3, 21, "unknown key 'lava' in 'rewards' (expected step, goal or pit)") \
    X(grid_rewards_value,                                                     \
      "kind: gridworld\nmap: SG\nrewards: {goal: .inf}\nhorizon: 5\n",        \
      CAI_ERR_MODEL, 3, 17, "rewards: 'goal' must be a finite number, got '.inf'") \
    X(grid_rewards_type, "kind: gridworld\nmap: SG\nrewards: -1\nhorizon: 5\n", \
      CAI_ERR_MODEL, 3, 10, "'rewards' must be a mapping like")               \
    X(grid_both_time, "kind: gridworld\nmap: SG\ndiscount: 0.9\nhorizon: 5\n", \
      CAI_ERR_MODEL, 4, 1, "not both")                                        \
    X(grid_no_time, "kind: gridworld\nmap: SG\n", CAI_ERR_MODEL, 1, 1,        \
      "missing key 'horizon' or 'discount'")                                  \
    X(grid_temperature, "kind: gridworld\nmap: SG\nhorizon: 5\ntemperature: -1\n", \
      CAI_ERR_MODEL, 4, 14, "'temperature' must be a finite number >= 0")     \
    X(grid_unknown_key, "kind: gridworld\nmap: SG\nhorizon: 5\nslipp: 0\n",   \
      CAI_ERR_MODEL, 4, 1, "unknown key 'slipp' in the model")                \
    X(unknown_kind, "kind: pomdp\n", CAI_ERR_MODEL, 1, 7,                     \
      "unknown kind 'pomdp' (expected factor_graph, mdp, gridworld, "       \
      "factored_mdp, lqr or lgssm)")

ERROR_CASES(CAI_TEST_DEFINE_ERROR_CASE)

/* A sum inside the tolerance is accepted (the same test as the builder's). */
static void test_sum_tolerance(void)
{
    cai_model *m = load(MDP_HEAD "initial: {s0: 0.3, s1: 0.7000000004}\n" ALL
                                 "horizon: 1\n");
    cai_model_free(m);
}

/* ---- registration ------------------------------------------------------ */

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("io_mdp", NULL, NULL);
    CU_add_test(s, "issue example", test_example);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "wildcard levels", test_wildcard_levels);
    CU_add_test(s, "partial cover", test_partial_cover);
    CU_add_test(s, "count-form names", test_counts);
    CU_add_test(s, "gridworld by hand", test_gridworld);
    CU_add_test(s, "gridworld defaults", test_gridworld_defaults);
    CU_add_test(s, "lottery optimism gap", test_lottery);
    CU_add_test(s, "model files", test_model_files);
    CU_add_test(s, "10^6 transitions", test_large);
    CU_add_test(s, "sum tolerance", test_sum_tolerance);
    CU_add_test(s, "sections read while composing", test_streamed_sections);
    ERROR_CASES(CAI_TEST_REGISTER_ERROR_CASE)
}
