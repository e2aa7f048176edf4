/* tests/test_factored.c — factored MDPs (cai/factored.h, kind: factored_mdp).
 *
 * Oracles: brute-force enumeration of every trajectory (the SysAdmin
 * dynamics written out here in closed form, and random factored models
 * built through the spec API), the flattened MDP's exact log-evidence, and
 * the junction tree's log Z of the unrolled dynamic Bayes net. */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "cai/cai.h"

#define SYSADMIN4 CAI_SOURCE_ROOT "/models/sysadmin4.yaml"
#define SYSADMIN20 CAI_SOURCE_ROOT "/models/sysadmin20.yaml"

/* ---- helpers ----------------------------------------------------------- */

static cai_model *load(const char *path)
{
    cai_model *m = NULL;
    cai_error err;
    cai_status st = cai_model_load(path, &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "%s:%zu:%zu: %s\n", err.file, err.line, err.column, err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    return m;
}

/* log Z of the unrolled graph at (alpha, T) by the junction tree. */
static double dbn_log_z(const cai_factored_mdp *f, double alpha, size_t T)
{
    cai_graph *g = NULL;
    cai_jtree *jt = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_factored_graph(f, alpha, T, &g, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_jtree_create(g, NULL, &jt, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_jtree_run(jt, &err) == CAI_OK);
    double z = cai_jtree_log_z(jt);
    cai_jtree_free(jt);
    cai_graph_free(g);
    return z;
}

/* The exact log-evidence of the flattened MDP at (alpha, T). */
static double flat_log_evidence(const cai_mdp *mdp, double alpha, size_t T)
{
    cai_solve_options o = cai_solve_options_default();
    o.algorithm = CAI_CONTROL_EXACT;
    o.temperature = alpha;
    o.horizon = T;
    cai_solution *sol = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_mdp_solve(mdp, &o, &sol, &err) == CAI_OK);
    double le = cai_solution_log_evidence(sol);
    cai_solution_free(sol);
    return le;
}

/* ---- SysAdmin by brute force ------------------------------------------- */

/* The ring of models/sysadmin4.yaml in closed form: bit i of x is machine i
 * (1 = up); action 0 noop, 1 + i reboots machine i. */
static double sys_p(size_t n, size_t x, size_t a, size_t y)
{
    double p = 1;
    for (size_t i = 0; i < n; i++) {
        int up = (x >> i) & 1, l = (x >> ((i + n - 1) % n)) & 1, r = (x >> ((i + 1) % n)) & 1;
        double pu;
        if (a == i + 1)
            pu = 1;
        else if (!up)
            pu = 0;
        else
            pu = 1 - (0.05 + 0.25 * ((1 - l) + (1 - r)));
        p *= ((y >> i) & 1) ? pu : 1 - pu;
    }
    return p;
}

static double sys_r(size_t n, size_t x)
{
    double r = 0;
    for (size_t i = 0; i < n; i++)
        r += (x >> i) & 1;
    return r;
}

/* log sum over x_1..x_T, a_0..a_{T-1} of prod (1/A) exp(r/alpha) P, from
 * x_0 = all up. */
static double sys_brute(size_t n, double alpha, size_t T)
{
    size_t S = (size_t)1 << n, A = n + 1;
    double total = 0;
    size_t x[8], a[8];
    size_t count = 1;
    for (size_t t = 0; t < T; t++)
        count *= S * A;
    for (size_t c = 0; c < count; c++) {
        size_t k = c;
        x[0] = S - 1;
        for (size_t t = 0; t < T; t++) {
            a[t] = k % A;
            k /= A;
            x[t + 1] = k % S;
            k /= S;
        }
        double w = 1;
        for (size_t t = 0; t < T && w > 0; t++)
            w *= exp(sys_r(n, x[t]) / alpha) / (double)A * sys_p(n, x[t], a[t], x[t + 1]);
        total += w;
    }
    return log(total);
}

static void test_sysadmin_flat_vs_dbn(void)
{
    cai_model *m = load(SYSADMIN4);
    CU_ASSERT(cai_model_get_kind(m) == CAI_MODEL_FACTORED_MDP);
    CU_ASSERT(cai_model_mdp(m) == NULL);
    const cai_factored_mdp *f = cai_model_factored(m);
    CU_ASSERT_FATAL(f != NULL);
    cai_error err;
    CU_ASSERT_FATAL(cai_model_flatten(m, 0, &err) == CAI_OK);
    const cai_mdp *mdp = cai_model_mdp(m);
    CU_ASSERT_FATAL(mdp != NULL);
    CU_ASSERT(cai_mdp_n_states(mdp) == 16);
    CU_ASSERT(cai_mdp_n_actions(mdp) == 5);
    CU_ASSERT(strcmp(cai_mdp_state_name(mdp, 15), "m0=up,m1=up,m2=up,m3=up") == 0);
    CU_ASSERT(strcmp(cai_mdp_state_name(mdp, 1), "m0=down,m1=down,m2=down,m3=up") == 0);
    /* the model's own graph is the T = 20 unrolled net */
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT(cai_graph_n_variables(g) == 21 * 5 - 1);
    CU_ASSERT(cai_graph_n_potentials(g) == 4 + 4 + 4 + 1); /* tied over t */
    for (size_t T = 1; T <= 4; T++)
        for (double alpha = 0.5; alpha <= 2; alpha *= 4) {
            double flat = flat_log_evidence(mdp, alpha, T), dbn = dbn_log_z(f, alpha, T);
            CAI_ASSERT_CLOSE(flat, dbn, 1e-10);
            if (T <= 2)
                CAI_ASSERT_CLOSE(flat, sys_brute(4, alpha, T), 1e-10);
        }
    /* the model's horizon and temperature (T = 20, alpha = 1) */
    CAI_ASSERT_CLOSE(flat_log_evidence(mdp, NAN, 0), dbn_log_z(f, NAN, 0), 1e-10);
    cai_model_free(m);
}

/* Brute-force state in closed form for the flat MDP's rows too: P(s'|s,a)
 * of the flattened model equals the closed form (state index: m0 most
 * significant, so bit i of the closed form is digit 3 - i). */
static void test_sysadmin_flat_dynamics(void)
{
    cai_model *m = load(SYSADMIN4);
    cai_error err;
    CU_ASSERT_FATAL(cai_model_flatten(m, 0, &err) == CAI_OK);
    CU_ASSERT(cai_model_flatten(m, 0, &err) == CAI_OK); /* idempotent */
    const cai_mdp *mdp = cai_model_mdp(m);
    const size_t *rp;
    const uint32_t *next;
    const double *prob;
    cai_mdp_dynamics(mdp, &rp, &next, &prob);
    for (size_t s = 0; s < 16; s++) {
        size_t x = 0;
        for (size_t i = 0; i < 4; i++)
            x |= ((s >> (3 - i)) & 1) << i;
        CAI_ASSERT_CLOSE(cai_mdp_reward(mdp)[s * 5], sys_r(4, x), 1e-15);
        for (size_t a = 0; a < 5; a++) {
            double dense[16] = {0};
            for (size_t j = rp[s * 5 + a]; j < rp[s * 5 + a + 1]; j++)
                dense[next[j]] = prob[j];
            for (size_t s2 = 0; s2 < 16; s2++) {
                size_t y = 0;
                for (size_t i = 0; i < 4; i++)
                    y |= ((s2 >> (3 - i)) & 1) << i;
                CAI_ASSERT_CLOSE(dense[s2], sys_p(4, x, a, y), 1e-15);
            }
        }
    }
    cai_model_free(m);
}

/* The MAP of the unrolled net (max-product junction tree) scores the same
 * as the flat MDP's most probable optimal trajectory. */
static void test_sysadmin_map(void)
{
    cai_model *m = load(SYSADMIN4);
    cai_error err;
    CU_ASSERT_FATAL(cai_model_flatten(m, 0, &err) == CAI_OK);
    for (size_t T = 1; T <= 20; T += 19) {
        cai_graph *g = NULL;
        cai_jtree *jt = NULL;
        cai_jtree_options o = cai_jtree_options_default();
        o.algorithm = CAI_MAX_PRODUCT;
        CU_ASSERT_FATAL(cai_factored_graph(cai_model_factored(m), NAN, T, &g, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_jtree_create(g, &o, &jt, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_jtree_run(jt, &err) == CAI_OK);
        cai_solve_options so = cai_solve_options_default();
        so.algorithm = CAI_CONTROL_MAP;
        so.horizon = T;
        cai_solution *sol = NULL;
        CU_ASSERT_FATAL(cai_mdp_solve(cai_model_mdp(m), &so, &sol, &err) == CAI_OK);
        size_t traj[41];
        double score;
        CU_ASSERT_FATAL(cai_solution_trajectory(sol, traj, &score, &err) == CAI_OK);
        CAI_ASSERT_CLOSE(cai_jtree_log_z(jt), score, 1e-10);
        cai_solution_free(sol);
        cai_jtree_free(jt);
        cai_graph_free(g);
    }
    cai_model_free(m);
}

/* ---- random factored models through the spec API ----------------------- */

typedef struct rmodel {
    size_t n, A, K;
    size_t card[4];
    double init[4][3];
    size_t npar[4], par[4][3];
    double *table[4];
    size_t nsc[3], sc[3][2];
    bool act[3];
    double *vals[3];
} rmodel;

static void rmodel_make(rmodel *r, gsl_rng *g)
{
    memset(r, 0, sizeof *r);
    r->n = 2 + gsl_rng_uniform_int(g, 2);
    r->A = 1 + gsl_rng_uniform_int(g, 3);
    r->K = 1 + gsl_rng_uniform_int(g, 3);
    for (size_t i = 0; i < r->n; i++) {
        r->card[i] = 1 + gsl_rng_uniform_int(g, 3);
        double s = 0;
        for (size_t v = 0; v < r->card[i]; v++)
            s += r->init[i][v] = gsl_rng_uniform(g) < 0.3 ? 0 : gsl_rng_uniform_pos(g);
        if (s == 0)
            s = r->init[i][0] = 1;
        for (size_t v = 0; v < r->card[i]; v++)
            r->init[i][v] /= s;
    }
    for (size_t i = 0; i < r->n; i++) {
        size_t perm[4] = {0, 1, 2, 3};
        cai_test_shuffle(g, perm, r->n);
        r->npar[i] = gsl_rng_uniform_int(g, r->n + 1 < 4 ? r->n + 1 : 4);
        if (r->npar[i] > 3)
            r->npar[i] = 3;
        size_t rows = r->A;
        for (size_t j = 0; j < r->npar[i]; j++) {
            r->par[i][j] = perm[j];
            rows *= r->card[perm[j]];
        }
        r->table[i] = malloc(rows * r->card[i] * sizeof(double));
        for (size_t row = 0; row < rows; row++) {
            double *p = r->table[i] + row * r->card[i], s = 0;
            for (size_t v = 0; v < r->card[i]; v++)
                s += p[v] = gsl_rng_uniform(g) < 0.3 ? 0 : gsl_rng_uniform_pos(g);
            if (s == 0)
                s = p[r->card[i] - 1] = 1;
            for (size_t v = 0; v < r->card[i]; v++)
                p[v] /= s;
        }
    }
    for (size_t k = 0; k < r->K; k++) {
        size_t perm[4] = {0, 1, 2, 3};
        cai_test_shuffle(g, perm, r->n);
        r->nsc[k] = gsl_rng_uniform_int(g, 3);
        r->act[k] = gsl_rng_uniform(g) < 0.5;
        size_t size = r->act[k] ? r->A : 1;
        for (size_t j = 0; j < r->nsc[k]; j++) {
            r->sc[k][j] = perm[j];
            size *= r->card[perm[j]];
        }
        r->vals[k] = malloc(size * sizeof(double));
        for (size_t j = 0; j < size; j++)
            r->vals[k][j] = 4 * gsl_rng_uniform(g) - 2;
    }
}

static void rmodel_free(rmodel *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->table[i]);
    for (size_t k = 0; k < r->K; k++)
        free(r->vals[k]);
}

static cai_factored_mdp *rmodel_build(const rmodel *r, size_t T, double alpha)
{
    cai_factored_variable v[4];
    cai_factored_transition t[4];
    cai_factored_reward w[3];
    char names[4][24];
    for (size_t i = 0; i < r->n; i++) {
        snprintf(names[i], sizeof names[i], "x%zu", i);
        v[i] = (cai_factored_variable){names[i], r->card[i], NULL, r->init[i]};
        t[i] = (cai_factored_transition){r->npar[i], r->par[i], r->table[i]};
    }
    for (size_t k = 0; k < r->K; k++)
        w[k] = (cai_factored_reward){r->nsc[k], r->sc[k], r->act[k], r->vals[k]};
    cai_factored_spec spec = {.n_variables = r->n, .variables = v, .transitions = t,
                              .n_actions = r->A, .n_rewards = r->K, .rewards = w,
                              .horizon = T, .temperature = alpha};
    cai_factored_mdp *f = NULL;
    cai_error err;
    cai_status st = cai_factored_create(&spec, &f, &err);
    if (st != CAI_OK)
        fprintf(stderr, "%s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    return f;
}

/* The conditional and reward of the random model, straight from its arrays. */
static double r_p(const rmodel *r, size_t i, const size_t *x, size_t a, size_t y)
{
    size_t row = 0;
    for (size_t j = 0; j < r->npar[i]; j++)
        row = row * r->card[r->par[i][j]] + x[r->par[i][j]];
    return r->table[i][(row * r->A + a) * r->card[i] + y];
}

static double r_r(const rmodel *r, const size_t *x, size_t a)
{
    double s = 0;
    for (size_t k = 0; k < r->K; k++) {
        size_t row = 0;
        for (size_t j = 0; j < r->nsc[k]; j++)
            row = row * r->card[r->sc[k][j]] + x[r->sc[k][j]];
        if (r->act[k])
            row = row * r->A + a;
        s += r->vals[k][row];
    }
    return s;
}

/* Every trajectory x_0 a_0 ... x_T, odometer style. */
static double r_brute(const rmodel *r, size_t T, double alpha)
{
    size_t nv = (T + 1) * r->n + T, card[32], d[32] = {0};
    for (size_t t = 0; t <= T; t++) {
        for (size_t i = 0; i < r->n; i++)
            card[t * (r->n + 1) + i] = r->card[i];
        if (t < T)
            card[t * (r->n + 1) + r->n] = r->A;
    }
    double total = 0;
    for (;;) {
        const size_t *x0 = d;
        double w = 1;
        for (size_t i = 0; i < r->n; i++)
            w *= r->init[i][x0[i]];
        for (size_t t = 0; t < T && w > 0; t++) {
            const size_t *x = d + t * (r->n + 1), *y = x + r->n + 1;
            size_t a = x[r->n];
            w *= exp(r_r(r, x, a) / alpha) / (double)r->A;
            for (size_t i = 0; i < r->n; i++)
                w *= r_p(r, i, x, a, y[i]);
        }
        total += w;
        size_t j = nv;
        while (j-- > 0) {
            if (++d[j] < card[j])
                break;
            d[j] = 0;
        }
        if (j == (size_t)-1)
            break;
    }
    return log(total);
}

static void test_random_models(void)
{
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 5);
    for (int rep = 0; rep < 30; rep++) {
        rmodel r;
        rmodel_make(&r, g);
        double alpha = 0.5 + gsl_rng_uniform(g);
        for (size_t T = 1; T <= 2; T++) {
            cai_factored_mdp *f = rmodel_build(&r, T, alpha);
            cai_mdp *mdp = NULL;
            cai_error err;
            CU_ASSERT_FATAL(cai_factored_flatten(f, 0, &mdp, &err) == CAI_OK);
            double brute = r_brute(&r, T, alpha);
            CAI_ASSERT_CLOSE(flat_log_evidence(mdp, NAN, 0), brute, 1e-10);
            CAI_ASSERT_CLOSE(dbn_log_z(f, NAN, 0), brute, 1e-10);
            cai_mdp_free(mdp);
            cai_factored_free(f);
        }
        rmodel_free(&r);
    }
    gsl_rng_free(g);
}

static void test_spec_errors(void)
{
    double init[2] = {0.5, 0.5}, bad_init[2] = {0.5, 0.6};
    double table[4] = {1, 0, 0, 1}, bad_table[4] = {1, 0, 0.5, 0.4};
    size_t self = 0;
    cai_factored_variable v = {"x", 2, NULL, init};
    cai_factored_transition t = {1, &self, table};
    cai_factored_spec spec = {.n_variables = 1, .variables = &v, .transitions = &t,
                              .n_actions = 1, .horizon = 3, .temperature = 1};
    cai_factored_mdp *f = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_factored_create(&spec, &f, &err) == CAI_OK);
    cai_graph *g = NULL;
    CU_ASSERT(cai_factored_graph(f, 0.0, 0, &g, &err) == CAI_ERR_RANGE);
    CU_ASSERT(g == NULL);
    cai_mdp *mdp = NULL;
    CU_ASSERT(cai_factored_flatten(f, 1.0, &mdp, &err) == CAI_ERR_RANGE);
    CU_ASSERT(strstr(err.message, "2 states") != NULL);
    cai_factored_free(f);
    f = NULL;
    v.initial = bad_init;
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_NUMERIC);
    v.initial = init;
    t.table = bad_table;
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT(strstr(err.message, "row 1") != NULL);
    t.table = table;
    v.name = "x@1";
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_INVALID);
    v.name = "x";
    self = 1;
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_INVALID);
    self = 0;
    spec.temperature = 0;
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_RANGE);
    spec.temperature = 1;
    spec.horizon = 0;
    CU_ASSERT(cai_factored_create(&spec, &f, &err) == CAI_ERR_RANGE);
    CU_ASSERT(f == NULL);
    cai_factored_free(NULL);
}

/* ---- loopy BP on the unrolled net -------------------------------------- */

static void test_loopy_sysadmin4(void)
{
    cai_model *m = load(SYSADMIN4);
    const cai_graph *g = cai_model_graph(m);
    cai_loopy *lp = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_loopy_create(g, NULL, &lp, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_loopy_run(lp, &err) == CAI_OK);
    CU_ASSERT(cai_loopy_converged(lp));
    double bethe = cai_loopy_log_z(lp);
    double exact = dbn_log_z(cai_model_factored(m), NAN, 0);
    /* measured: Bethe 77.1443208, exact 77.1238252 (difference 0.0205 nats) */
    CU_ASSERT(fabs(bethe - exact) < 0.05);
    CU_ASSERT(fabs(bethe - exact) > 1e-6); /* the net is loopy: not exact */
    cai_loopy_free(lp);
    cai_model_free(m);
}

static void test_sysadmin20_graph(void)
{
    cai_model *m = load(SYSADMIN20);
    const cai_factored_mdp *f = cai_model_factored(m);
    CU_ASSERT(cai_factored_n_variables(f) == 20);
    CU_ASSERT(cai_factored_n_actions(f) == 21);
    CU_ASSERT(cai_graph_n_variables(cai_model_graph(m)) == 21 * 21 - 1);
    cai_error err;
    CU_ASSERT(cai_model_flatten(m, 0, &err) == CAI_ERR_RANGE);
    CU_ASSERT(strstr(err.message, "1048576 states") != NULL);
    CU_ASSERT(cai_model_mdp(m) == NULL);
    cai_model_free(m);
}

/* ---- YAML errors ------------------------------------------------------- */

#define L_KIND "kind: factored_mdp\n"
#define L_VARS "variables: [{name: a, states: [lo, hi]}, {name: b, states: 2}]\n"
#define L_ACTS "actions: [x, y]\n"
#define L_INIT "initial: [{variable: a, probs: {lo: 1}}, {variable: b, probs: {0: 0.5, 1: 0.5}}]\n"
#define L_TR "transitions:\n"
#define L_TA "  - {variable: a, parents: [a], table: [1, 0, 0, 1, 0.5, 0.5, 0, 1]}\n"
#define L_TB "  - {variable: b, parents: [], table: [1, 0, 0, 1]}\n"
#define L_REW "rewards: [{scope: [a], values: [0, 1]}]\n"
#define L_HOR "horizon: 2\n"
#define GOOD L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB L_REW L_HOR

static void test_good_small(void)
{
    cai_model *m = NULL;
    cai_error err;
    cai_status st = cai_model_load_string(GOOD, strlen(GOOD), "good.yaml", &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "%zu:%zu: %s\n", err.line, err.column, err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    CU_ASSERT(cai_factored_horizon(cai_model_factored(m)) == 2);
    CU_ASSERT(cai_graph_find_variable(cai_model_graph(m), "b@2") != CAI_NONE);
    CU_ASSERT(cai_graph_find_variable(cai_model_graph(m), "action@1") != CAI_NONE);
    CU_ASSERT(cai_model_flatten(m, 0, &err) == CAI_OK);
    CU_ASSERT(strcmp(cai_mdp_state_name(cai_model_mdp(m), 1), "a=lo,b=1") == 0);
    cai_model_free(m);
}

#define E CAI_ERR_MODEL
#define ERROR_CASES(X)                                                                     \
    X(unknown_parent, L_KIND L_VARS L_ACTS L_INIT L_TR                                     \
      "  - {variable: a, parents: [c], table: [1, 0, 0, 1, 0.5, 0.5, 0, 1]}\n" L_TB L_HOR, \
      E, 6, 29, "unknown variable 'c'")                                                    \
    X(unknown_variable, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA                             \
      "  - {variable: z, parents: [], table: [1, 0, 0, 1]}\n" L_HOR, E, 7, 16,             \
      "unknown variable 'z'")                                                              \
    X(unknown_state, L_KIND L_VARS L_ACTS                                                  \
      "initial: [{variable: a, probs: {mid: 1}}, {variable: b, probs: {0: 1}}]\n" L_TR    \
      L_TA L_TB L_HOR, E, 4, 33, "unknown state 'mid'")                                   \
    X(initial_sum, L_KIND L_VARS L_ACTS                                                    \
      "initial: [{variable: a, probs: {lo: 0.5}}, {variable: b, probs: {0: 1}}]\n" L_TR   \
      L_TA L_TB L_HOR, E, 4, 32, "sum to 0.5")                                            \
    X(table_size, L_KIND L_VARS L_ACTS L_INIT L_TR                                         \
      "  - {variable: a, parents: [a], table: [1, 0, 0, 1]}\n" L_TB L_HOR, E, 6, 40,       \
      "sequence of 8 numbers")                                                             \
    X(row_sum, L_KIND L_VARS L_ACTS L_INIT L_TR                                            \
      "  - {variable: a, parents: [a], table: [1, 0, 0, 1, 0.5, 0.4, 0, 1]}\n" L_TB L_HOR, \
      E, 6, 53, "row 2 (a=hi, action=x) sums to 0.9")                                      \
    X(negative, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA                                      \
      "  - {variable: b, parents: [], table: [1, 0, -0.5, 1.5]}\n" L_HOR, E, 7, 46,        \
      "must be a probability in [0, 1], got -0.5")                                         \
    X(nan, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA                                           \
      "  - {variable: b, parents: [], table: [1, 0, .nan, 1]}\n" L_HOR, E, 7, 46,          \
      "finite number")                                                                     \
    X(duplicate_variable, L_KIND                                                           \
      "variables: [{name: a, states: [lo, hi]}, {name: a, states: 2}]\n" L_ACTS L_INIT     \
      L_TR L_TA L_TB L_HOR, E, 2, 49, "duplicate variable 'a'")                            \
    X(duplicate_transition, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TA L_TB L_HOR, E, 7,  \
      16, "already has a transition")                                                      \
    X(missing_transition, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_HOR, E, 6, 3,            \
      "'b' has no transition")                                                             \
    X(missing_initial, L_KIND L_VARS L_ACTS "initial: [{variable: a, probs: {lo: 1}}]\n"   \
      L_TR L_TA L_TB L_HOR, E, 4, 10, "'b' has no initial distribution")                   \
    X(duplicate_action, L_KIND L_VARS "actions: [x, x]\n" L_INIT L_TR L_TA L_TB L_HOR, E,  \
      3, 14, "duplicate action name 'x'")                                                  \
    X(duplicate_state, L_KIND "variables: [{name: a, states: [lo, lo]}, {name: b, "        \
      "states: 2}]\n" L_ACTS L_INIT L_TR L_TA L_TB L_HOR, E, 2, 36,                        \
      "duplicate state name 'lo'")                                                         \
    X(at_sign, L_KIND "variables: [{name: a@1, states: 2}]\n" L_ACTS L_INIT L_TR L_TA L_TB L_HOR, E, 2, 20,            \
      "must not contain '@'")                                                              \
    X(huge_card, L_KIND "variables: [{name: a, states: 2000000}]\n" L_ACTS L_INIT L_TR L_TA L_TB L_HOR, E, 2, 31,      \
      "exceed the maximum 1000000")                                                        \
    X(huge_table, L_KIND                                                                   \
      "variables: [{name: a, states: 100000}, {name: b, states: 100000}]\n" L_ACTS         \
      "initial: [{variable: a, probs: {0: 1}}, {variable: b, probs: {0: 1}}]\n" L_TR       \
      "  - {variable: a, parents: [a, b], table: []}\n" L_HOR, E, 6, 43,                         \
      "more than 100000000 entries")                                                       \
    X(repeated_parent, L_KIND L_VARS L_ACTS L_INIT L_TR                                    \
      "  - {variable: a, parents: [a, a], table: [1, 0]}\n" L_TB L_HOR, E, 6, 32,          \
      "variable 'a' repeated")                                                             \
    X(reward_size, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB                              \
      "rewards: [{scope: [a], action: true, values: [0, 1]}]\n" L_HOR, E, 8, 46,           \
      "sequence of 4 numbers")                                                             \
    X(reward_unknown, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB                           \
      "rewards: [{scope: [q], values: [0, 1]}]\n" L_HOR, E, 8, 20, "unknown variable 'q'") \
    X(reward_nan, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB                               \
      "rewards: [{scope: [a], values: [0, .inf]}]\n" L_HOR, E, 8, 36, "finite number")     \
    X(discount, GOOD "discount: 0.9\n", E, 10, 1, "finite horizon only")                   \
    X(temperature_zero, GOOD "temperature: 0\n", E, 10, 14, "must be > 0")                 \
    X(horizon_zero, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB L_REW "horizon: 0\n", E, 9,  \
      10, "'horizon' must be an integer")                                                  \
    X(missing_horizon, L_KIND L_VARS L_ACTS L_INIT L_TR L_TA L_TB L_REW, E, 1, 1,           \
      "missing key 'horizon'")                                                             \
    X(unknown_key, GOOD "policy: 3\n", E, 10, 1, "unknown key 'policy'")                   \
    X(reserved_action, L_KIND "variables: [{name: action, states: 2}]\n" L_ACTS L_INIT L_TR L_TA L_TB L_HOR, E, 2, 20, \
      "nor be 'action'")

ERROR_CASES(CAI_TEST_DEFINE_ERROR_CASE)

/* ---- the command line -------------------------------------------------- */

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-factored-XXXXXX");
}

/* The number after "key": in a JSON text. */
static double json_number(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = text ? strstr(text, pat) : NULL;
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void test_cli_flatten_agrees(void)
{
    cai_test_outcome flat = cai_test_run("solve %s --flatten --json", SYSADMIN4);
    cai_test_outcome dbn = cai_test_run("solve %s --json", SYSADMIN4);
    cai_test_outcome lbp = cai_test_run("solve %s --algorithm loopy --json", SYSADMIN4);
    CU_ASSERT(flat.status == 0 && dbn.status == 0 && lbp.status == 0);
    double le = json_number(flat.out, "log_evidence"), lz = json_number(dbn.out, "log_z");
    CU_ASSERT(isfinite(le));
    CAI_ASSERT_CLOSE(le, lz, 1e-10);
    CU_ASSERT(fabs(json_number(lbp.out, "log_z") - lz) < 0.05);
    CU_ASSERT(strstr(flat.out, "\"kind\": \"factored_mdp\"") != NULL);
    cai_test_outcome_free(&flat);
    cai_test_outcome_free(&dbn);
    cai_test_outcome_free(&lbp);
}

static void test_cli_check_and_errors(void)
{
    cai_test_outcome o = cai_test_run("check %s %s", SYSADMIN4, SYSADMIN20);
    CU_ASSERT(o.status == 0);
    CU_ASSERT(strstr(o.out, "sysadmin20.yaml: ok (factored_mdp") != NULL);
    cai_test_outcome_free(&o);
    o = cai_test_run("solve %s --flatten", SYSADMIN20);
    CU_ASSERT(o.status == 2);
    CU_ASSERT(strstr(o.err, "1048576 states") != NULL);
    cai_test_outcome_free(&o);
    o = cai_test_run("sample %s", SYSADMIN4);
    CU_ASSERT(o.status == 2);
    CU_ASSERT(strstr(o.err, "needs --flatten") != NULL);
    cai_test_outcome_free(&o);
    o = cai_test_run("sample %s --flatten --count 2 --json", SYSADMIN4);
    CU_ASSERT(o.status == 0);
    cai_test_outcome_free(&o);
    o = cai_test_run("solve %s/models/chain.yaml --flatten", CAI_SOURCE_ROOT);
    CU_ASSERT(o.status == 2);
    CU_ASSERT(strstr(o.err, "--flatten needs a factored_mdp") != NULL);
    cai_test_outcome_free(&o);
    cai_test_write_file("bad.yaml", L_KIND L_VARS L_ACTS L_INIT L_TR
                        "  - {variable: a, parents: [c], table: [1]}\n" L_TB L_HOR);
    o = cai_test_run("solve bad.yaml --flatten");
    CU_ASSERT(o.status == 2);
    CU_ASSERT(strstr(o.err, "bad.yaml:6:29: error:") != NULL);
    cai_test_outcome_free(&o);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("factored", NULL, NULL);
    CU_add_test(s, "sysadmin4: flat = DBN (jtree) = brute force, T 1..4", test_sysadmin_flat_vs_dbn);
    CU_add_test(s, "sysadmin4: flattened dynamics = closed form", test_sysadmin_flat_dynamics);
    CU_add_test(s, "sysadmin4: MAP of the net = flat MAP trajectory", test_sysadmin_map);
    CU_add_test(s, "30 random factored models vs brute force", test_random_models);
    CU_add_test(s, "spec errors", test_spec_errors);
    CU_add_test(s, "loopy BP on sysadmin4", test_loopy_sysadmin4);
    CU_add_test(s, "sysadmin20: graph only", test_sysadmin20_graph);
    CU_add_test(s, "a small model", test_good_small);
    ERROR_CASES(CAI_TEST_REGISTER_ERROR_CASE)
    s = CU_add_suite("factored_cli", suite_init, cai_test_dir_remove);
    CU_add_test(s, "solve --flatten and the DBN agree", test_cli_flatten_agrees);
    CU_add_test(s, "check, errors, exit statuses", test_cli_check_and_errors);
}
