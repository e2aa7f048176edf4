/* tests/test_cli_mdp.c — the cai command line on mdp and gridworld models,
 * run as a program (CAI_EXE) in a temporary directory. The models are
 * written from arrays held here, and every number read back out of the JSON
 * is compared with an independent computation in this file: plain nested
 * loops over the equations of ../shared/DESIGN.md ("Control as inference"),
 * brute-force enumeration of trajectories for the MAP, and hand-computed
 * returns. Errors are checked for their exit status and their one-line
 * "FILE:LINE:COL: error: ..." form. */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- running the program ----------------------------------------------- */

/* A bad input: status 2, nothing on stdout, exactly one line on stderr that
 * starts with want. */
static void expect_error(const char *args, const char *want)
{
    cai_test_outcome o = cai_test_run("%s", args);
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    bool ok = strncmp(o.err, want, strlen(want)) == 0;
    if (!ok)
        fprintf(stderr, "\n  cai %s\n  want: %s\n  got:  %s", args, want, o.err);
    CU_ASSERT(ok);
    size_t n = strlen(o.err);
    CU_ASSERT(n > 0 && strchr(o.err, '\n') == o.err + n - 1);
    cai_test_outcome_free(&o);
}

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-cli-mdp-XXXXXX");
}

/* ---- reading JSON back ------------------------------------------------- */

/* A JSON value flattened: numbers (null as NAN) or strings, in order, with
 * the length of each nesting level (checked rectangular). */
typedef struct jval {
    bool null;       /* the value itself is null */
    size_t depth;    /* levels of arrays */
    size_t dims[4];
    size_t n;        /* leaves */
    double v[4096];
    char s[512][24];
    bool ok;         /* parsed, rectangular */
} jval;

static const char *jskip(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *jparse(const char *p, jval *j, size_t level)
{
    p = jskip(p);
    if (*p == '[') {
        if (level >= 4)
            return NULL;
        if (j->depth < level + 1)
            j->depth = level + 1;
        size_t n = 0;
        p = jskip(p + 1);
        while (*p != ']') {
            if ((p = jparse(p, j, level + 1)) == NULL)
                return NULL;
            n++;
            p = jskip(p);
            if (*p == ',')
                p = jskip(p + 1);
            else if (*p != ']')
                return NULL;
        }
        if (j->dims[level] == 0)
            j->dims[level] = n;
        else if (j->dims[level] != n)
            return NULL;
        return p + 1;
    }
    if (j->n >= 4096)
        return NULL;
    if (*p == '"') {
        const char *e = strchr(p + 1, '"');
        if (e == NULL || e - p - 1 >= 24 || j->n >= 512)
            return NULL;
        memcpy(j->s[j->n], p + 1, (size_t)(e - p - 1));
        j->s[j->n][e - p - 1] = '\0';
        j->v[j->n++] = NAN;
        return e + 1;
    }
    if (strncmp(p, "null", 4) == 0) {
        j->v[j->n++] = NAN;
        return p + 4;
    }
    char *end;
    double x = strtod(p, &end);
    if (end == p)
        return NULL;
    j->v[j->n++] = x;
    return end;
}

/* The member key of the object text (the first "key": in it). */
static jval *jget(const char *text, const char *key)
{
    static jval j;
    memset(&j, 0, sizeof j);
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (p == NULL)
        return &j;
    p = jskip(p + strlen(pat));
    if (strncmp(p, "null", 4) == 0) {
        j.null = j.ok = true;
        return &j;
    }
    j.ok = jparse(p, &j, 0) != NULL;
    return &j;
}

static double jnum(const char *text, const char *key)
{
    jval *j = jget(text, key);
    return j->ok && !j->null && j->depth == 0 && j->n == 1 ? j->v[0] : NAN;
}

static bool jnull(const char *text, const char *key)
{
    return jget(text, key)->null;
}

/* Every --json output ends with seconds_load, seconds_solve and seconds,
 * their sum. */
static void check_seconds(const char *text)
{
    double load = jnum(text, "seconds_load"), solve = jnum(text, "seconds_solve");
    CU_ASSERT(load >= 0.0 && load < 60.0);
    CU_ASSERT(solve >= 0.0 && solve < 60.0);
    CAI_ASSERT_CLOSE(jnum(text, "seconds"), load + solve, 1e-12);
}

/* ---- the models -------------------------------------------------------- */

#define MAXS 4
#define MAXA 2
#define MAXT 6

typedef struct model {
    size_t S, A, T;           /* T = 0: discounted */
    double gamma, alpha;
    const char *states[MAXS], *actions[MAXA];
    double rho[MAXS];
    double P[MAXS][MAXA][MAXS];
    double r[MAXS][MAXA];
    double rT[MAXS];
    double pi0[MAXS][MAXA];
} model;

/* Finite horizon, stochastic, a non-uniform prior with a zero and terminal
 * rewards. */
static const model tiny = {
    .S = 3, .A = 2, .T = 4, .alpha = 0.8,
    .states = {"s0", "s1", "s2"}, .actions = {"a", "b"},
    .rho = {0.6, 0.4, 0.0},
    .P = {{{0.3, 0.7, 0.0}, {0.0, 0.0, 1.0}},
          {{0.0, 0.5, 0.5}, {0.2, 0.8, 0.0}},
          {{0.1, 0.0, 0.9}, {0.1, 0.0, 0.9}}},
    .r = {{-0.5, -0.25}, {1.0, 1.0}, {-0.25, 2.0}},
    .rT = {0.0, 0.0, 1.5},
    .pi0 = {{0.5, 0.5}, {0.7, 0.3}, {1.0, 0.0}},
};

/* Discounted, every reward <= 0 (so exact inference is allowed). */
static const model disc = {
    .S = 3, .A = 2, .T = 0, .gamma = 0.9, .alpha = 0.5,
    .states = {"u", "v", "w"}, .actions = {"left", "right"},
    .rho = {1.0, 0.0, 0.0},
    .P = {{{0.8, 0.2, 0.0}, {0.1, 0.9, 0.0}},
          {{0.5, 0.5, 0.0}, {0.0, 0.2, 0.8}},
          {{0.0, 0.0, 1.0}, {0.0, 0.3, 0.7}}},
    .r = {{-1.0, -1.5}, {-1.0, -0.5}, {0.0, -0.2}},
    .pi0 = {{0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}},
};

/* Every (state, action) spelled out, so the test does not depend on the
 * loader's wildcards (tested in test_io). */
static void write_model(const char *file, const model *m, const char *extra)
{
    char text[8192];
    size_t o = 0;
#define PUT(...) (o += (size_t)snprintf(text + o, sizeof text - o, __VA_ARGS__))
    PUT("kind: mdp\nname: test %s\nstates: [", file);
    for (size_t s = 0; s < m->S; s++)
        PUT("%s%s", s ? ", " : "", m->states[s]);
    PUT("]\nactions: [");
    for (size_t a = 0; a < m->A; a++)
        PUT("%s%s", a ? ", " : "", m->actions[a]);
    PUT("]\ninitial: {");
    for (size_t s = 0, k = 0; s < m->S; s++)
        if (m->rho[s] > 0)
            PUT("%s%s: %.17g", k++ ? ", " : "", m->states[s], m->rho[s]);
    PUT("}\ntransitions:\n");
    for (size_t s = 0; s < m->S; s++)
        for (size_t a = 0; a < m->A; a++) {
            PUT("  - {state: %s, action: %s, next: {", m->states[s], m->actions[a]);
            for (size_t t = 0, k = 0; t < m->S; t++)
                if (m->P[s][a][t] > 0)
                    PUT("%s%s: %.17g", k++ ? ", " : "", m->states[t], m->P[s][a][t]);
            PUT("}}\n");
        }
    PUT("rewards:\n");
    for (size_t s = 0; s < m->S; s++)
        for (size_t a = 0; a < m->A; a++)
            PUT("  - {state: %s, action: %s, value: %.17g}\n", m->states[s],
                m->actions[a], m->r[s][a]);
    PUT("action_prior:\n");
    for (size_t s = 0; s < m->S; s++) {
        PUT("  - {state: %s, probs: {", m->states[s]);
        for (size_t a = 0; a < m->A; a++)
            PUT("%s%s: %.17g", a ? ", " : "", m->actions[a], m->pi0[s][a]);
        PUT("}}\n");
    }
    if (m->T > 0) {
        PUT("terminal_rewards: {");
        for (size_t s = 0; s < m->S; s++)
            PUT("%s%s: %.17g", s ? ", " : "", m->states[s], m->rT[s]);
        PUT("}\nhorizon: %zu\n", m->T);
    } else {
        PUT("discount: %.17g\n", m->gamma);
    }
    PUT("temperature: %.17g\n%s", m->alpha, extra ? extra : "");
#undef PUT
    cai_test_write_file(file, text);
}

/* ---- the oracle: DESIGN.md's equations as plain loops -------------------- */

typedef struct answer {
    size_t T;                           /* 0: discounted (index 0 only) */
    double V[MAXT + 1][MAXS];
    double Q[MAXT][MAXS][MAXA];
    double pi[MAXT][MAXS][MAXA];
    double marg[MAXT + 1][MAXS];
    double log_evidence, objective;
} answer;

/* alpha log sum_i w_i exp(x_i / alpha) over w_i > 0; alpha = 0: max. */
static double soft_max(const double *w, const double *x, size_t n, double alpha)
{
    double mx = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0 && x[i] > mx)
            mx = x[i];
    if (alpha == 0.0 || isinf(mx))
        return mx;
    for (size_t i = 0; i < n; i++)
        if (w[i] > 0)
            sum += w[i] * exp((x[i] - mx) / alpha);
    return mx + alpha * log(sum);
}

/* Q from the next V: exact or variational, discounted when gamma > 0. */
static void backup(const model *m, bool exact, double alpha, const double *Vn,
                   double Q[MAXS][MAXA], double *V, double pi[MAXS][MAXA])
{
    for (size_t s = 0; s < m->S; s++) {
        for (size_t a = 0; a < m->A; a++) {
            const double *P = m->P[s][a];
            double g = m->gamma > 0 ? m->gamma : 1.0, e = 0.0;
            if (exact) {
                double w[MAXS + 1], x[MAXS + 1];
                for (size_t t = 0; t < m->S; t++)
                    w[t] = g * P[t], x[t] = Vn[t];
                w[m->S] = 1.0 - g; /* death: V = 0 */
                x[m->S] = 0.0;
                e = soft_max(w, x, m->S + 1, alpha);
            } else {
                for (size_t t = 0; t < m->S; t++)
                    e += g * P[t] * Vn[t];
            }
            Q[s][a] = m->pi0[s][a] > 0 ? m->r[s][a] + e : -INFINITY;
        }
        V[s] = soft_max(m->pi0[s], Q[s], m->A, alpha);
        for (size_t a = 0; a < m->A; a++)
            pi[s][a] = m->pi0[s][a] > 0 ? m->pi0[s][a] * exp((Q[s][a] - V[s]) / alpha) : 0;
    }
}

static answer oracle(const model *m, bool exact, double alpha, size_t T)
{
    answer o;
    memset(&o, 0, sizeof o);
    o.T = T;
    if (T == 0) { /* discounted: to the fixed point */
        double V[MAXS] = {0};
        for (int it = 0; it < 100000; it++) {
            double diff = 0.0;
            backup(m, exact, alpha, V, o.Q[0], o.V[0], o.pi[0]);
            for (size_t s = 0; s < m->S; s++) {
                diff = fmax(diff, fabs(o.V[0][s] - V[s]));
                V[s] = o.V[0][s];
            }
            if (diff < 1e-14)
                break;
        }
    } else {
        memcpy(o.V[T], m->rT, sizeof m->rT);
        for (size_t t = T; t-- > 0;)
            backup(m, exact, alpha, o.V[t + 1], o.Q[t], o.V[t], o.pi[t]);
    }
    double z = 0.0;
    for (size_t s = 0; s < m->S; s++) {
        o.objective += m->rho[s] * o.V[0][s];
        z += m->rho[s] * exp(o.V[0][s] / alpha);
    }
    o.log_evidence = log(z);
    if (T == 0)
        return o;
    /* exact: the posterior, whose dynamics are P exp(V'/alpha) / exp((Q-r)/alpha);
     * variational: rho pushed through pi and P */
    for (size_t s = 0; s < m->S; s++)
        o.marg[0][s] = exact ? m->rho[s] * exp(o.V[0][s] / alpha) / z : m->rho[s];
    for (size_t t = 0; t < T; t++)
        for (size_t s = 0; s < m->S; s++)
            for (size_t a = 0; a < m->A; a++) {
                if (o.pi[t][s][a] == 0)
                    continue;
                double c = exact ? exp(-(o.Q[t][s][a] - m->r[s][a]) / alpha) : 1.0;
                for (size_t n = 0; n < m->S; n++)
                    o.marg[t + 1][n] += o.marg[t][s] * o.pi[t][s][a] * m->P[s][a][n] * c *
                                        (exact ? exp(o.V[t + 1][n] / alpha) : 1.0);
            }
    return o;
}

static size_t index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return (size_t)-1;
}

/* ---- solve --json against the oracle ------------------------------------ */

static void check_names(const char *text, const char *key, const char *const *names,
                        size_t n)
{
    jval *j = jget(text, key);
    CU_ASSERT_FATAL(j->ok && j->depth == 1 && j->dims[0] == n);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_STRING_EQUAL(j->s[i], names[i]);
}

/* key's array against want (rows of stride numbers; T levels unless
 * discounted), shape included. */
static void check_array(const char *text, const char *key, size_t T, size_t rows,
                        size_t cols, const double *want, size_t t_stride)
{
    jval *j = jget(text, key);
    CU_ASSERT_FATAL(j->ok && !j->null);
    size_t depth = (T ? 1 : 0) + 1 + (cols > 1), k = 0;
    CU_ASSERT_EQUAL_FATAL(j->depth, depth);
    if (T)
        CU_ASSERT_EQUAL(j->dims[0], T);
    CU_ASSERT_EQUAL(j->dims[T ? 1 : 0], rows);
    if (cols > 1)
        CU_ASSERT_EQUAL(j->dims[depth - 1], cols);
    CU_ASSERT_EQUAL_FATAL(j->n, (T ? T : 1) * rows * cols);
    for (size_t t = 0; t < (T ? T : 1); t++)
        for (size_t i = 0; i < rows * cols; i++, k++) {
            double w = want[t * t_stride + (i / cols) * (cols > 1 ? MAXA : 1) + i % cols];
            if (isinf(w)) { /* written as null */
                CU_ASSERT(isnan(j->v[k]));
            } else {
                CAI_ASSERT_CLOSE(j->v[k], w, 1e-9);
            }
        }
}

static void check_solve_json(const char *text, const model *m, const char *algorithm,
                             double alpha, size_t T)
{
    bool exact = strcmp(algorithm, "exact") == 0;
    answer want = oracle(m, exact, alpha, T);
    char pat[64];
    snprintf(pat, sizeof pat, "\"algorithm\": \"%s\"", algorithm);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, pat));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"kind\": \"mdp\""));
    check_names(text, "states", m->states, m->S);
    check_names(text, "actions", m->actions, m->A);
    CAI_ASSERT_CLOSE(jnum(text, "temperature"), alpha, 1e-15);
    if (T > 0) {
        CU_ASSERT_EQUAL(jnum(text, "horizon"), (double)T);
        CU_ASSERT(jnull(text, "discount"));
    } else {
        CU_ASSERT(jnull(text, "horizon"));
        CAI_ASSERT_CLOSE(jnum(text, "discount"), m->gamma, 1e-15);
    }
    if (exact && alpha > 0) {
        CAI_ASSERT_CLOSE(jnum(text, "log_evidence"), want.log_evidence, 1e-9);
    } else {
        CU_ASSERT(jnull(text, "log_evidence"));
    }
    CAI_ASSERT_CLOSE(jnum(text, "objective"), want.objective, 1e-9);
    check_array(text, "V", T ? T + 1 : 0, m->S, 1, &want.V[0][0], MAXS);
    check_array(text, "Q", T, m->S, m->A, &want.Q[0][0][0], MAXS * MAXA);
    if (alpha > 0)
        check_array(text, "policy", T, m->S, m->A, &want.pi[0][0][0], MAXS * MAXA);
    if (T > 0 && alpha > 0)
        check_array(text, "state_marginals", T + 1, m->S, 1, &want.marg[0][0], MAXS);
    if (T == 0) {
        CU_ASSERT(jnull(text, "state_marginals"));
        CU_ASSERT(jnum(text, "iterations") > 1);
    } else {
        CU_ASSERT_EQUAL(jnum(text, "iterations"), 1.0);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"converged\": true"));
    check_seconds(text);
    CU_ASSERT_EQUAL(jnum(text, "n_states"), (double)m->S);
    CU_ASSERT_EQUAL(jnum(text, "n_actions"), (double)m->A);
    CU_ASSERT_PTR_NULL(strstr(text, "\"note\""));
    CU_ASSERT(jget(text, "trajectory")->n == 0);
}

/* --sweep: only two values, only for discounted models */
static void check_sweep_errors(void)
{
    cai_test_outcome o = cai_test_run("solve disc.yaml --sweep sor");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "expected jacobi or gauss-seidel"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve tiny.yaml --sweep gauss-seidel");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "needs a discounted model"));
    cai_test_outcome_free(&o);
}

static void test_solve_json(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    const char *algs[] = {"exact", "variational"};
    for (size_t i = 0; i < 2; i++) {
        cai_test_outcome o = cai_test_run("solve tiny.yaml --json --algorithm %s", algs[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.err, "");
        check_solve_json(o.out, &tiny, algs[i], tiny.alpha, tiny.T);
        cai_test_outcome_free(&o);
        /* overrides */
        o = cai_test_run("solve tiny.yaml --json --algorithm=%s --temperature 1.7 --horizon 2",
                algs[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        check_solve_json(o.out, &tiny, algs[i], 1.7, 2);
        cai_test_outcome_free(&o);
        o = cai_test_run("solve disc.yaml --json --algorithm %s --tol 1e-13", algs[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.err, "");
        check_solve_json(o.out, &disc, algs[i], disc.alpha, 0);
        cai_test_outcome_free(&o);
        /* Gauss-Seidel sweeps: the same fixed point */
        o = cai_test_run("solve disc.yaml --json --algorithm %s --tol 1e-13 --sweep gauss-seidel",
                         algs[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        check_solve_json(o.out, &disc, algs[i], disc.alpha, 0);
        cai_test_outcome_free(&o);
    }
    check_sweep_errors();
    /* alpha = 0: no log evidence; V is the hard backup */
    cai_test_outcome o =
        cai_test_run("solve tiny.yaml --json --temperature 0 --algorithm variational");
    CU_ASSERT_EQUAL(o.status, 0);
    check_solve_json(o.out, &tiny, "variational", 0.0, tiny.T);
    cai_test_outcome_free(&o);
    o = cai_test_run("solve tiny.yaml --json --temperature 0");
    CU_ASSERT_EQUAL(o.status, 0);
    check_solve_json(o.out, &tiny, "exact", 0.0, tiny.T);
    cai_test_outcome_free(&o);
    /* an iteration cap that stops early is reported, not an error */
    o = cai_test_run("solve disc.yaml --json --max-iterations 3");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_EQUAL(jnum(o.out, "iterations"), 3.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"converged\": false"));
    cai_test_outcome_free(&o);
}

/* MAP: a trajectory of the model with the best score over all of them. */
static double path_score(const model *m, const size_t *x, size_t T)
{
    double score = log(m->rho[x[0]]);
    for (size_t t = 0; t < T; t++) {
        size_t s = x[2 * t], a = x[2 * t + 1], n = x[2 * t + 2];
        score += log(m->P[s][a][n]) + log(m->pi0[s][a]) + m->r[s][a] / m->alpha;
    }
    return score + m->rT[x[2 * T]] / m->alpha;
}

static double best_score(const model *m, size_t *x, size_t k, size_t T)
{
    if (k == 2 * T + 1)
        return path_score(m, x, T);
    double best = -INFINITY;
    for (x[k] = 0; x[k] < (k % 2 ? m->A : m->S); x[k]++)
        best = fmax(best, best_score(m, x, k + 1, T));
    return best;
}

static void test_map(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    cai_test_outcome o = cai_test_run("solve tiny.yaml --json --algorithm map");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    jval *j = jget(o.out, "trajectory");
    CU_ASSERT_FATAL(j->ok && j->depth == 1 && j->n == 2 * tiny.T + 1);
    size_t x[2 * MAXT + 1];
    for (size_t i = 0; i < j->n; i++) {
        x[i] = i % 2 ? index_of(tiny.actions, tiny.A, j->s[i])
                     : index_of(tiny.states, tiny.S, j->s[i]);
        CU_ASSERT_FATAL(x[i] != (size_t)-1);
    }
    double score = path_score(&tiny, x, tiny.T);
    CU_ASSERT(isfinite(score)); /* a legal trajectory */
    size_t y[2 * MAXT + 1];
    CAI_ASSERT_CLOSE(score, best_score(&tiny, y, 0, tiny.T), 1e-9);
    CAI_ASSERT_CLOSE(jnum(o.out, "log_score"), score, 1e-9);
    CU_ASSERT(jnull(o.out, "log_evidence"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"algorithm\": \"map\""));
    cai_test_outcome_free(&o);

    /* the text form names the trajectory */
    o = cai_test_run("solve tiny.yaml --algorithm map");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "MAP trajectory (log score "));
    cai_test_outcome_free(&o);
}

/* ---- human output ------------------------------------------------------ */

static void test_solve_text(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    answer want = oracle(&tiny, true, tiny.alpha, tiny.T);
    cai_test_outcome o = cai_test_run("solve tiny.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "model: test tiny.yaml (mdp, 3 states, 2 actions, "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nhorizon: 4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\ntemperature: 0.8\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nalgorithm: exact\n"));
    const char *p = strstr(o.out, "\nlog evidence: ");
    CU_ASSERT_FATAL(p != NULL);
    CAI_ASSERT_CLOSE(strtod(p + 15, NULL), want.log_evidence, 1e-9);
    p = strstr(o.out, "\nobjective: ");
    CU_ASSERT_FATAL(p != NULL);
    CAI_ASSERT_CLOSE(strtod(p + 12, NULL), want.objective, 1e-9);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nseconds: "));
    CU_ASSERT_PTR_NULL(strstr(o.out, "iterations"));
    p = strstr(o.out, "policy at t = 0:\n");
    CU_ASSERT_FATAL(p != NULL);
    for (size_t s = 0; s < tiny.S; s++) {
        char row[16];
        snprintf(row, sizeof row, "\n  %s ", tiny.states[s]);
        const char *q = strstr(p, row);
        CU_ASSERT_FATAL(q != NULL);
        double x[2];
        CU_ASSERT_EQUAL(sscanf(q + strlen(row), "%lf %lf", &x[0], &x[1]), 2);
        for (size_t a = 0; a < tiny.A; a++)
            CU_ASSERT(fabs(x[a] - want.pi[0][s][a]) <= 6e-5);
    }
    cai_test_outcome_free(&o);

    o = cai_test_run("solve tiny.yaml --algorithm variational");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NULL(strstr(o.out, "log evidence"));
    cai_test_outcome_free(&o);

    o = cai_test_run("solve disc.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\ndiscount: 0.9\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, " (converged)\n"));
    CU_ASSERT_PTR_NULL(strstr(o.out, "horizon"));
    cai_test_outcome_free(&o);

    /* a large model shows its first rows */
    cai_test_write_file("big.yaml", "kind: mdp\nstates: 60\nactions: [go, stay]\n"
                           "initial: {\"0\": 1}\n"
                           "transitions:\n  - {state: \"*\", action: \"*\", next: {\"0\": 1}}\n"
                           "rewards: []\nhorizon: 2\n");
    o = cai_test_run("solve big.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\n  19 "));
    CU_ASSERT_PTR_NULL(strstr(o.out, "\n  20 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "40 more states omitted"));
    cai_test_outcome_free(&o);
}

static const char grid_yaml[] = "kind: gridworld\n"
                                "map: |\n"
                                "  S..G\n"
                                "  .#.X\n"
                                "slip: 0\n"
                                "rewards: {step: -1, goal: 10, pit: -100}\n"
                                "horizon: 6\n"
                                "temperature: 0.01\n";

static void test_gridworld(void)
{
    cai_test_write_file("grid.yaml", grid_yaml);
    cai_test_outcome o = cai_test_run("solve grid.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "(gridworld, 8 states, 4 actions, "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\n  >>>G\n  ^#^X\n"));
    cai_test_outcome_free(&o);

    o = cai_test_run("check grid.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, "grid.yaml: ok (gridworld, 8 states, 4 actions, "
                                  "32 transitions)\n");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);

    o = cai_test_run("solve grid.yaml --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"kind\": \"gridworld\""));
    jval *j = jget(o.out, "states");
    CU_ASSERT(j->ok && j->n == 8 && strcmp(j->s[0], "r0c0") == 0 &&
              strcmp(j->s[4], "r1c0") == 0 && strcmp(j->s[7], "done") == 0);
    j = jget(o.out, "actions");
    CU_ASSERT(j->ok && j->n == 4 && strcmp(j->s[0], "up") == 0 &&
              strcmp(j->s[3], "right") == 0);
    j = jget(o.out, "policy");
    CU_ASSERT(j->ok && j->depth == 3 && j->dims[0] == 6 && j->dims[1] == 8 &&
              j->dims[2] == 4);
    cai_test_outcome_free(&o);

    o = cai_test_run("sample grid.yaml --count 3 --seed 5");
    CU_ASSERT_EQUAL(o.status, 0);
    /* the start, right three times, the goal's action, into done */
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "r0c0 right r0c1 right r0c2 right r0c3 "));
    cai_test_outcome_free(&o);
}

static void test_check(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    cai_test_outcome o = cai_test_run("check tiny.yaml disc.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    /* nonzeros of P: 11 each */
    CU_ASSERT_STRING_EQUAL(o.out, "tiny.yaml: ok (mdp, 3 states, 2 actions, 11 transitions)\n"
                                  "disc.yaml: ok (mdp, 3 states, 2 actions, 11 transitions)\n");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
}

/* ---- sample ------------------------------------------------------------ */

/* Each line a legal trajectory of m of T steps (T = 0: at most max). */
static size_t check_trajectories(const char *text, const model *m, size_t T, size_t max)
{
    size_t lines = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t x[2 * 64 + 1], n = 0;
        char *s2 = NULL;
        for (char *w = strtok_r(line, " ", &s2); w; w = strtok_r(NULL, " ", &s2)) {
            CU_ASSERT_FATAL(n < 2 * 64 + 1);
            x[n] = n % 2 ? index_of(m->actions, m->A, w) : index_of(m->states, m->S, w);
            CU_ASSERT_FATAL(x[n] != (size_t)-1);
            n++;
        }
        CU_ASSERT(n % 2 == 1);
        if (T) {
            CU_ASSERT_EQUAL(n, 2 * T + 1);
        } else {
            CU_ASSERT(n <= 2 * max + 1);
        }
        CU_ASSERT(m->rho[x[0]] > 0);
        for (size_t i = 1; i + 1 < n; i += 2) {
            CU_ASSERT(m->pi0[x[i - 1]][x[i]] > 0);
            CU_ASSERT(m->P[x[i - 1]][x[i]][x[i + 1]] > 0);
        }
        lines++;
    }
    free(copy);
    return lines;
}

static void test_sample(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    cai_test_outcome a = cai_test_run("sample tiny.yaml --seed 42 --count 25");
    cai_test_outcome b = cai_test_run("sample --count 25 --seed=42 tiny.yaml");
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_STRING_EQUAL(a.err, "");
    CU_ASSERT_STRING_EQUAL(a.out, b.out); /* deterministic for a seed */
    CU_ASSERT_EQUAL(check_trajectories(a.out, &tiny, tiny.T, 0), 25);
    cai_test_outcome_free(&b);

    b = cai_test_run("sample tiny.yaml --seed 42 --count 25 --json");
    CU_ASSERT_EQUAL(b.status, 0);
    jval *j = jget(b.out, "trajectories");
    CU_ASSERT_FATAL(j->ok && j->depth == 2 && j->dims[0] == 25 &&
                    j->dims[1] == 2 * tiny.T + 1);
    /* the same trajectories as the text */
    char *text = calloc(1, 1 << 16);
    for (size_t k = 0, o = 0; k < 25; k++)
        for (size_t i = 0; i <= 2 * tiny.T; i++)
            o += (size_t)sprintf(text + o, "%s%s", j->s[k * (2 * tiny.T + 1) + i],
                                 i == 2 * tiny.T ? "\n" : " ");
    CU_ASSERT_STRING_EQUAL(text, a.out);
    check_seconds(b.out); /* after the last use of j, which jnum reuses */
    free(text);
    cai_test_outcome_free(&a);
    cai_test_outcome_free(&b);

    a = cai_test_run("sample tiny.yaml --algorithm variational --temperature 0.3 --horizon 3 "
            "--count 10");
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_EQUAL(check_trajectories(a.out, &tiny, 3, 0), 10);
    cai_test_outcome_free(&a);

    /* discounted: ended by death or the cap */
    a = cai_test_run("sample disc.yaml --seed 7 --count 20 --max-steps 30");
    CU_ASSERT_EQUAL(a.status, 0);
    CU_ASSERT_STRING_EQUAL(a.err, "");
    CU_ASSERT_EQUAL(check_trajectories(a.out, &disc, 0, 30), 20);
    cai_test_outcome_free(&a);
}

/* ---- evaluate ---------------------------------------------------------- */

/* Soft and plain return of a policy [T][S][A] (stationary: t ignored) by
 * pushing rho forward: E[sum r - alpha KL(pi || pi0)] and E[sum r] + rT. */
static void returns(const model *m, const double pi[MAXT][MAXS][MAXA], bool stationary,
                    double *soft, double *plain)
{
    double d[MAXS], next[MAXS], kl = 0.0;
    memcpy(d, m->rho, sizeof d);
    *plain = 0.0;
    for (size_t t = 0; t < m->T; t++) {
        const double(*p)[MAXA] = pi[stationary ? 0 : t];
        memset(next, 0, sizeof next);
        for (size_t s = 0; s < m->S; s++)
            for (size_t a = 0; a < m->A; a++) {
                double w = d[s] * p[s][a];
                if (w == 0)
                    continue;
                *plain += w * m->r[s][a];
                kl += w * log(p[s][a] / m->pi0[s][a]);
                for (size_t n = 0; n < m->S; n++)
                    next[n] += w * m->P[s][a][n];
            }
        memcpy(d, next, sizeof d);
    }
    for (size_t s = 0; s < m->S; s++)
        *plain += d[s] * m->rT[s];
    *soft = *plain - m->alpha * kl;
}

static void test_evaluate(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    /* the soft return of the variational policy is its objective */
    const char *models[] = {"tiny.yaml", "disc.yaml"};
    for (size_t i = 0; i < 2; i++) {
        cai_test_outcome o =
            cai_test_run("solve %s --algorithm variational --json -o sol.json", models[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.out, "");
        cai_test_outcome_free(&o);
        char *sol = cai_test_slurp("sol.json");
        CU_ASSERT_FATAL(sol != NULL);
        o = cai_test_run("evaluate %s --policy sol.json --json", models[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.err, "");
        CAI_ASSERT_CLOSE(jnum(o.out, "soft_return"), jnum(sol, "objective"), 1e-9);
        CU_ASSERT(isfinite(jnum(o.out, "plain_return")));
        cai_test_outcome_free(&o);
        free(sol);
    }

    /* the exact policy, time-dependent, against the forward computation */
    answer ex = oracle(&tiny, true, tiny.alpha, tiny.T);
    double soft, plain;
    returns(&tiny, ex.pi, false, &soft, &plain);
    cai_test_outcome o = cai_test_run("solve tiny.yaml --json -o sol.json");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    o = cai_test_run("evaluate tiny.yaml --policy sol.json");
    CU_ASSERT_EQUAL(o.status, 0);
    double got_soft = NAN, got_plain = NAN;
    CU_ASSERT_EQUAL(sscanf(o.out, "soft_return: %lf\nplain_return: %lf", &got_soft,
                           &got_plain), 2);
    CAI_ASSERT_CLOSE(got_soft, soft, 1e-9);
    CAI_ASSERT_CLOSE(got_plain, plain, 1e-9);
    cai_test_outcome_free(&o);

    /* a stationary CSV; s2 has no rows, so it takes the prior */
    double pi[MAXT][MAXS][MAXA] = {{{0.25, 0.75}, {0.6, 0.4}, {1.0, 0.0}}};
    returns(&tiny, pi, true, &soft, &plain);
    cai_test_write_file("pol.csv", "state,action,prob\n"
                          "s0,a,0.25\n"
                          " s0 , b , 0.75 \r\n"
                          "\n"
                          "s1,a,0.6\n"
                          "s1,b,0.4\n");
    o = cai_test_run("evaluate tiny.yaml --policy pol.csv --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CAI_ASSERT_CLOSE(jnum(o.out, "soft_return"), soft, 1e-9);
    CAI_ASSERT_CLOSE(jnum(o.out, "plain_return"), plain, 1e-9);
    cai_test_outcome_free(&o);

    /* by hand: from x, stay (r 1) or go (r 0) to y, where every action earns
     * 2; T = 2, alpha 1, uniform prior. pi(x) = (1/2, 1/2), pi(y) = (1, 0):
     * plain = 0.5 + (0.5 * 0.5 + 0.5 * 2) = 1.75, and the KL is log 2 in y,
     * reached at t = 1 with probability 1/2. */
    cai_test_write_file("hand.yaml", "kind: mdp\nstates: [x, y]\nactions: [stay, go]\n"
                            "initial: {x: 1}\n"
                            "transitions:\n"
                            "  - {state: x, action: stay, next: {x: 1}}\n"
                            "  - {state: x, action: go, next: {y: 1}}\n"
                            "  - {state: y, action: \"*\", next: {y: 1}}\n"
                            "rewards:\n"
                            "  - {state: x, action: stay, value: 1}\n"
                            "  - {state: x, action: go, value: 0}\n"
                            "  - {state: y, value: 2}\n"
                            "horizon: 2\n");
    cai_test_write_file("hand.csv", "t,state,action,prob\n"
                           "0,x,stay,0.5\n0,x,go,0.5\n0,y,stay,1\n"
                           "1,x,stay,0.5\n1,x,go,0.5\n1,y,stay,1\n");
    o = cai_test_run("evaluate hand.yaml --policy hand.csv --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CAI_ASSERT_CLOSE(jnum(o.out, "plain_return"), 1.75, 1e-12);
    CAI_ASSERT_CLOSE(jnum(o.out, "soft_return"), 1.75 - 0.5 * log(2.0), 1e-12);
    check_seconds(o.out);
    cai_test_outcome_free(&o);
}

/* ---- errors ------------------------------------------------------------ */

static void test_policy_errors(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    static const struct {
        const char *file, *text, *model, *want;
    } cases[] = {
        {"p.csv", "state,action,prob\ns0,a,0.5\nzz,b,0.5\n", "tiny",
         "p.csv:3:1: error: unknown state 'zz'"},
        {"p.csv", "state,action,prob\ns1, q, 1\n", "tiny",
         "p.csv:2:5: error: unknown action 'q'"},
        {"p.csv", "state,action,prob\n\ns0,a,0.5\ns0,b,0.4\n", "tiny",
         "p.csv:3:1: error: the probabilities of state 's0' (t = 0) sum to 0.9"},
        {"p.csv", "state,action,prob\ns0,a,1.5\n", "tiny",
         "p.csv:2:6: error: expected a probability in [0, 1], found '1.5'"},
        {"p.csv", "state,action,prob\ns0,a,1\ns0,a,1\n", "tiny",
         "p.csv:3:1: error: state 's0' action 'a' (t = 0) is given twice"},
        {"p.csv", "state,action,prob\ns0,a\n", "tiny",
         "p.csv:2:1: error: expected 3 fields, found 2"},
        {"p.csv", "t,state,action,prob\n4,s0,a,1\n", "tiny",
         "p.csv:2:1: error: t must be an integer in 0..3"},
        {"p.csv", "t,state,action,prob\n", "disc",
         "p.csv:1:1: error: a discounted model takes a stationary policy"},
        {"p.csv", "state;action;prob\n", "tiny",
         "p.csv:1:1: error: expected the header 'state,action,prob'"},
        {"p.csv", "", "tiny", "p.csv:1:1: error: empty policy file"},
        {"p.json", "{\"policy\": [[0.5, 0.5] [0.5]]}", "tiny",
         "p.json:1:24: error: expected ',' or ']'"},
        {"p.json", "{\"policy\": [[0.5, 0.5], [0.5, 0.5]]}", "tiny",
         "p.json:1:12: error: expected 3 states, found 2"},
        {"p.json", "{\"policy\":\n  [[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]]}", "tiny",
         "p.json:2:3: error: expected 4 time steps"},
        {"p.json", "{\"policy\": [[0.5, 0.5], [null, 1], [0.5, 0.5]]}", "disc",
         "p.json:1:26: error: expected a probability, found null"},
        {"p.json", "{\"policy\": [[0.5, 0.5], [0.2, 0.5], [0.5, 0.5]]}", "disc",
         "p.json:1:25: error: the probabilities of state 'v' sum to 0.7"},
        {"p.json", "{\"policy\": [[[0.5, 0.5]]]}", "disc",
         "p.json:1:12: error: a discounted model takes a stationary policy"},
        {"p.json", "{\"states\": [\"u\", \"x\", \"w\"], \"policy\": []}", "disc",
         "p.json:1:18: error: state 1 is 'x' here but 'v' in the model"},
        {"p.json", "{\"kind\": \"mdp\"}", "disc", "p.json:1:1: error: no 'policy' member"},
        {"p.json", "{\"policy\": [[1, 0], [1, 0], [1, 0]]} x", "disc",
         "p.json:1:38: error: unexpected text after the JSON object"},
        {"p.json", "{\"a\": \"unterminated", "disc",
         "p.json:1:7: error: unterminated string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[256];
        cai_test_write_file(cases[i].file, cases[i].text);
        snprintf(args, sizeof args, "evaluate %s.yaml --policy %s", cases[i].model,
                 cases[i].file);
        expect_error(args, cases[i].want);
    }
    expect_error("evaluate tiny.yaml --policy missing.csv",
                 "missing.csv: error: cannot open");
}

static void test_model_errors(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    /* a loader error, with its line and column */
    write_model("bad.yaml", &tiny, "horizn: 3\n");
    size_t line = 0;
    char *text = cai_test_slurp("bad.yaml");
    for (const char *p = text; *p; p++)
        line += *p == '\n';
    free(text);
    char want[64];
    snprintf(want, sizeof want, "bad.yaml:%zu:1: error: ", line);
    expect_error("solve bad.yaml", want);
    expect_error("solve --json bad.yaml", want);
    expect_error("check bad.yaml", want);
    expect_error("sample bad.yaml", want);
    expect_error("evaluate bad.yaml --policy p.csv", want);
    expect_error("solve nothere.yaml", "nothere.yaml: error: cannot open");

    /* refused solves */
    model pos = disc;
    pos.r[2][0] = 0.5;
    write_model("pos.yaml", &pos, NULL);
    expect_error("solve pos.yaml", "pos.yaml: error: ");
    expect_error("sample pos.yaml", "pos.yaml: error: ");
    cai_test_outcome o = cai_test_run("solve pos.yaml --algorithm variational --json");
    CU_ASSERT_EQUAL(o.status, 0); /* variational accepts it */
    check_solve_json(o.out, &pos, "variational", pos.alpha, 0);
    cai_test_outcome_free(&o);
    write_model("disc.yaml", &disc, NULL);
    expect_error("solve disc.yaml --algorithm map", "disc.yaml: error: ");
}

static void test_usage_errors(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    write_model("disc.yaml", &disc, NULL);
    cai_test_write_file("fg.yaml", "kind: factor_graph\nvariables: [{name: A, card: 2}]\n"
                          "factors: [{scope: [A], table: [1, 3]}]\n");
    static const char *const cases[][2] = {
        {"solve tiny.yaml --temperature -1",
         "cai: error: --temperature: expected a finite number >= 0, got '-1'"},
        {"solve tiny.yaml --temperature nan", "cai: error: --temperature: expected"},
        {"solve tiny.yaml --horizon 0", "cai: error: --horizon: expected an integer >= 1"},
        {"solve tiny.yaml --horizon 2.5", "cai: error: --horizon: expected an integer"},
        {"solve tiny.yaml --tol 0", "cai: error: --tol: expected a finite number > 0"},
        {"solve tiny.yaml --algorithm bogus", "cai: error: unknown algorithm 'bogus'"},
        {"solve tiny.yaml --algorithm loopy",
         "cai: error: --algorithm loopy needs a factor_graph model"},
        {"solve tiny.yaml --damping 0.5", "cai: error: option '--damping' needs --algorithm loopy"},
        {"solve tiny.yaml --seed 3", "cai: error: option '--seed' does not apply to solve"},
        {"solve tiny.yaml --policy p.csv", "cai: error: option '--policy' does not apply"},
        {"sample tiny.yaml --count 0", "cai: error: --count: expected an integer >= 1"},
        {"sample tiny.yaml --seed -3", "cai: error: --seed: expected an integer >= 0"},
        {"sample tiny.yaml --max-steps 10",
         "cai: error: option '--max-steps' needs a discounted model"},
        {"solve tiny.yaml --tol 1e-6", "cai: error: option '--tol' needs a discounted model"},
        {"solve tiny.yaml --max-iterations 5",
         "cai: error: option '--max-iterations' needs a discounted model"},
        {"solve disc.yaml --horizon 5",
         "cai: error: option '--horizon' needs a finite-horizon model"},
        {"evaluate tiny.yaml", "cai: error: evaluate needs --policy FILE"},
        {"evaluate tiny.yaml --policy p.csv --temperature 1",
         "cai: error: option '--temperature' does not apply to evaluate"},
        {"sample", "cai: error: sample needs a MODEL file"},
        {"sample tiny.yaml --seed", "cai: error: option '--seed' needs a value"},
        {"solve fg.yaml --algorithm variational",
         "cai: error: --algorithm variational needs an mdp or gridworld model"},
        {"solve fg.yaml --temperature 1",
         "cai: error: option '--temperature' needs an mdp or gridworld model"},
        {"solve fg.yaml --horizon 3",
         "cai: error: option '--horizon' needs an mdp or gridworld model"},
        {"sample fg.yaml", "cai: error: sample needs an mdp or gridworld model"},
        {"evaluate fg.yaml --policy p.csv",
         "cai: error: evaluate needs an mdp or gridworld model"},
        {"solve tiny.yaml --full", "cai: error: --full needs --json"},
        {"solve tiny.yaml --json --full --query V",
         "cai: error: --full and --query exclude each other"},
        {"solve tiny.yaml --time 2", "cai: error: option '--time' needs --query"},
        {"solve tiny.yaml --states s0", "cai: error: option '--states' needs --query"},
        {"solve tiny.yaml --query pi",
         "cai: error: --query: unknown array 'pi' (expected V, Q, policy or state_marginals)"},
        {"solve tiny.yaml --query V --time -1",
         "cai: error: --time: expected an integer >= 0, got '-1'"},
        {"solve tiny.yaml --query V --states ''", "cai: error: --states: empty list"},
        {"solve tiny.yaml --threads 0",
         "cai: error: --threads: expected an integer in 1..1024, got '0'"},
        {"solve tiny.yaml --threads 1025", "cai: error: --threads: expected an integer"},
        {"sample tiny.yaml --full", "cai: error: option '--full' does not apply to sample"},
        {"evaluate tiny.yaml --policy p.csv --query V",
         "cai: error: option '--query' does not apply to evaluate"},
        {"check --json tiny.yaml", "cai: error: option '--json' does not apply to check"},
        {"check --threads x tiny.yaml", "cai: error: --threads: expected an integer"},
        {"check --threads", "cai: error: option '--threads' needs a value"},
        {"solve fg.yaml --query V",
         "cai: error: option '--query' needs an mdp or gridworld model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i][0], cases[i][1]);

    /* factor graphs keep exact and map */
    cai_test_outcome o = cai_test_run("solve fg.yaml --algorithm map --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CAI_ASSERT_CLOSE(jnum(o.out, "log_z"), log(4.0), 1e-12);
    check_seconds(o.out);
    cai_test_outcome_free(&o);
    /* --full is accepted (a factor graph's output is always complete) */
    o = cai_test_run("solve fg.yaml --json --full --threads 1");
    CU_ASSERT_EQUAL(o.status, 0);
    CAI_ASSERT_CLOSE(jnum(o.out, "log_z"), log(4.0), 1e-12);
    cai_test_outcome_free(&o);
    o = cai_test_run("check fg.yaml tiny.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "fg.yaml: ok (factor_graph, 1 variables"));
    cai_test_outcome_free(&o);
}

static void test_help(void)
{
    cai_test_outcome o = cai_test_run("--help");
    CU_ASSERT_EQUAL(o.status, 0);
    const char *want[] = {"solve MODEL", "sample MODEL", "evaluate MODEL", "check MODEL",
                          "--temperature", "--horizon", "--tol", "--max-iterations",
                          "--seed", "--count", "--max-steps", "--policy",
                          "state,action,prob", "t,state,action,prob", "log_evidence (null",
                          "--threads N", "--full", "--query WHAT", "--time t",
                          "--states S1,S2", "seconds_load", "seconds_solve", "T*S*A <= 1e6"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(o.out, want[i]));
    cai_test_outcome_free(&o);
    o = cai_test_run("evaluate --help");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "usage: cai"));
    cai_test_outcome_free(&o);
}

static void test_output_file(void)
{
    write_model("tiny.yaml", &tiny, NULL);
    cai_test_outcome o =
        cai_test_run("solve tiny.yaml --json -o out.json --algorithm variational");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
    char *text = cai_test_slurp("out.json");
    CU_ASSERT_FATAL(text != NULL);
    check_solve_json(text, &tiny, "variational", tiny.alpha, tiny.T);
    free(text);
    o = cai_test_run("sample tiny.yaml --count 2 -o out.txt");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    cai_test_outcome_free(&o);
    text = cai_test_slurp("out.txt");
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT_EQUAL(check_trajectories(text, &tiny, tiny.T, 0), 2);
    free(text);
    /* a refused solve leaves no file */
    model pos = disc;
    pos.r[0][0] = 1.0;
    write_model("pos.yaml", &pos, NULL);
    o = cai_test_run("solve pos.yaml --json -o fresh.json");
    CU_ASSERT_EQUAL(o.status, 2);
    cai_test_outcome_free(&o);
    CU_ASSERT_PTR_NULL(cai_test_slurp("fresh.json"));
    o = cai_test_run("solve tiny.yaml -o no/such/dir/out.json");
    CU_ASSERT_EQUAL(o.status, 1);
    CU_ASSERT(strncmp(o.err, "no/such/dir/out.json: error: ", 29) == 0);
    cai_test_outcome_free(&o);
    /* a failed write to stdout is status 1 */
    struct stat st;
    if (stat("/dev/full", &st) != 0)
        return;
    const char *cmds[] = {"solve tiny.yaml --json", "solve tiny.yaml",
                          "sample tiny.yaml --count 50", "evaluate tiny.yaml --policy out.json"};
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT(cai_test_run_to_full(cmds[i]) == 1);
        char *err = cai_test_slurp("stderr.txt");
        CU_ASSERT(err != NULL && strncmp(err, "<stdout>: error: ", 17) == 0);
        free(err);
    }
}

/* ---- large models: the --json limit, --full, --query, --threads --------- */

#define CHAIN_S 2600
#define CHAIN_A 4
#define CHAIN_T 100 /* T*S*A = 1.04e6, just above the limit of 1e6 */

/* A count-form chain: action 1 moves on (to s+1 w.p. 0.7, s+2 w.p. 0.3),
 * action 2 jumps to 7s mod S, the others (a wildcard) go back to 0; the
 * actions cost differently, and a few states pay at the end, so that values
 * and policies differ between states and steps. */
static void write_chain(const char *file)
{
    size_t cap = 200 * CHAIN_S + 1024, o = 0;
    char *text = malloc(cap);
    CU_ASSERT_FATAL(text != NULL);
#define PUT(...) (o += (size_t)snprintf(text + o, cap - o, __VA_ARGS__))
    PUT("kind: mdp\nname: chain\nstates: %d\nactions: %d\ninitial: {\"0\": 1}\n"
        "transitions:\n  - {state: \"*\", action: \"*\", next: {\"0\": 1}}\n",
        CHAIN_S, CHAIN_A);
    for (size_t s = 0; s < CHAIN_S; s++) {
        PUT("  - {state: \"%zu\", action: \"1\", next: {\"%zu\": 0.7, \"%zu\": 0.3}}\n", s,
            (s + 1) % CHAIN_S, (s + 2) % CHAIN_S);
        PUT("  - {state: \"%zu\", action: \"2\", next: {\"%zu\": 1}}\n", s, 7 * s % CHAIN_S);
    }
    PUT("rewards:\n  - {action: \"0\", value: -1}\n  - {action: \"1\", value: -0.5}\n"
        "  - {action: \"2\", value: -2}\n  - {action: \"3\", value: -1.5}\n"
        "terminal_rewards: {\"7\": 3, \"49\": 5, \"98\": 4, \"2599\": 9}\n"
        "horizon: %d\ntemperature: 0.7\n", CHAIN_T);
#undef PUT
    CU_ASSERT_FATAL(o < cap);
    cai_test_write_file(file, text);
    free(text);
}

/* The whole of file name (cai_test_slurp stops at 1 MiB); free() it. */
static char *slurp_all(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", cai_test_dir(), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *s = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (s != NULL) {
        size_t n = fread(s, 1, (size_t)size, f);
        s[n] = '\0';
    }
    fclose(f);
    return s;
}

/* The value of member key in text (just after "key":), or NULL. */
static const char *jat(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? jskip(p + strlen(pat)) : NULL;
}

/* Walk the value at p without storing it: array lengths per level into
 * dims (checked rectangular), nesting into *depth; the end, or NULL. */
static const char *jwalk(const char *p, size_t level, size_t *dims, size_t *depth)
{
    p = jskip(p);
    if (*p == '"') {
        const char *e = strchr(p + 1, '"');
        return e ? e + 1 : NULL;
    }
    if (*p != '[') {
        const char *q = p;
        while (*q && *q != ',' && *q != ']' && *q != '}' && *q != '\n')
            q++;
        return q > p ? q : NULL;
    }
    if (level >= 4)
        return NULL;
    *depth = *depth > level + 1 ? *depth : level + 1;
    size_t n = 0;
    for (p = jskip(p + 1); *p != ']'; n++) {
        if ((p = jwalk(p, level + 1, dims, depth)) == NULL)
            return NULL;
        p = jskip(p);
        if (*p == ',')
            p = jskip(p + 1);
        else if (*p != ']')
            return NULL;
    }
    if (dims[level] == 0)
        dims[level] = n;
    else if (dims[level] != n)
        return NULL;
    return p + 1;
}

/* Whether the array member key has the shape d0 x d1 x d2 (0 ends it). */
static bool jshape(const char *text, const char *key, size_t d0, size_t d1, size_t d2)
{
    size_t dims[5] = {0}, depth = 0, want[3] = {d0, d1, d2}, n = d2 ? 3 : d1 ? 2 : 1;
    const char *p = jat(text, key);
    if (p == NULL || jwalk(p, 0, dims, &depth) == NULL || depth != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (dims[i] != want[i])
            return false;
    return true;
}

/* The element i of the array at p. */
static const char *jelem(const char *p, size_t i)
{
    size_t dims[5] = {0}, depth = 0;
    p = jskip(p);
    CU_ASSERT_FATAL(*p == '[');
    p = jskip(p + 1);
    for (; i > 0; i--) {
        memset(dims, 0, sizeof dims);
        p = jwalk(p, 0, dims, &depth);
        CU_ASSERT_FATAL(p != NULL);
        p = jskip(jskip(p) + 1); /* past the ',' */
    }
    return p;
}

/* n numbers (null: NAN) of the flat array at p into out. */
static void jnumbers(const char *p, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = jelem(p, i);
        out[i] = strncmp(e, "null", 4) == 0 ? NAN : strtod(e, NULL);
    }
}

/* Equal to the last bit, null with null. */
static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void test_json_limit(void)
{
    write_chain("chain.yaml");
    /* above the limit: the summary, the timings and a note */
    cai_test_outcome o = cai_test_run("solve chain.yaml --json --threads 1");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    const char *absent[] = {"\"V\":", "\"Q\":", "\"policy\":", "\"state_marginals\":",
                            "\"states\":", "\"actions\":"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        CU_ASSERT_PTR_NULL(strstr(o.out, absent[i]));
    CU_ASSERT_EQUAL(jnum(o.out, "n_states"), CHAIN_S);
    CU_ASSERT_EQUAL(jnum(o.out, "n_actions"), CHAIN_A);
    CU_ASSERT_EQUAL(jnum(o.out, "horizon"), CHAIN_T);
    CU_ASSERT(isfinite(jnum(o.out, "objective")));
    CU_ASSERT(isfinite(jnum(o.out, "log_evidence")));
    CU_ASSERT_EQUAL(jnum(o.out, "iterations"), 1.0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"converged\": true"));
    check_seconds(o.out);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"note\": \"arrays omitted (T*S*A = 1040000 > 1e6): "
                                         "pass --full, or --query V|Q|policy|"
                                         "state_marginals [--time t] [--states a,b,c]\""));
    char *summary = strdup(o.out);
    cai_test_outcome_free(&o);

    /* --full: every array, in full */
    o = cai_test_run("solve chain.yaml --json --full --threads 1 -o full.json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
    char *full = slurp_all("full.json");
    CU_ASSERT_FATAL(full != NULL);
    CU_ASSERT(jshape(full, "states", CHAIN_S, 0, 0));
    CU_ASSERT(jshape(full, "actions", CHAIN_A, 0, 0));
    CU_ASSERT(jshape(full, "V", CHAIN_T + 1, CHAIN_S, 0));
    CU_ASSERT(jshape(full, "Q", CHAIN_T, CHAIN_S, CHAIN_A));
    CU_ASSERT(jshape(full, "policy", CHAIN_T, CHAIN_S, CHAIN_A));
    CU_ASSERT(jshape(full, "state_marginals", CHAIN_T + 1, CHAIN_S, 0));
    CU_ASSERT_PTR_NULL(strstr(full, "\"note\""));
    check_seconds(full);
    /* the same solve as the summary's */
    CU_ASSERT(same(jnum(full, "objective"), jnum(summary, "objective")));
    CU_ASSERT(same(jnum(full, "log_evidence"), jnum(summary, "log_evidence")));
    free(summary);

    /* --query: exactly the named rows of the full arrays, in the order given */
    static const struct {
        const char *what;
        size_t t, cols;
        const char *states;
        size_t rows[3];
        size_t n;
    } cases[] = {
        {"policy", 3, CHAIN_A, "5,7", {5, 7}, 2},
        {"Q", 0, CHAIN_A, "2599,0,98", {2599, 0, 98}, 3},
        {"V", CHAIN_T, 1, "98,7", {98, 7}, 2},
        {"V", 97, 1, "2598,49,0", {2598, 49, 0}, 3},
        {"state_marginals", 2, 1, "2,1,0", {2, 1, 0}, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        o = cai_test_run("solve chain.yaml --json --threads 1 --query %s --time %zu "
                         "--states %s", cases[i].what, cases[i].t, cases[i].states);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.err, "");
        char pat[64];
        snprintf(pat, sizeof pat, "\"query\": \"%s\"", cases[i].what);
        CU_ASSERT_PTR_NOT_NULL(strstr(o.out, pat));
        CU_ASSERT_EQUAL(jnum(o.out, "time"), (double)cases[i].t);
        jval *j = jget(o.out, "states");
        CU_ASSERT_FATAL(j->ok && j->depth == 1 && j->n == cases[i].n);
        for (size_t k = 0; k < cases[i].n; k++)
            CU_ASSERT_EQUAL(strtoul(j->s[k], NULL, 10), cases[i].rows[k]);
        j = jget(o.out, "actions");
        if (cases[i].cols > 1) {
            CU_ASSERT(j->ok && j->depth == 1 && j->n == CHAIN_A && strcmp(j->s[3], "3") == 0);
        } else {
            CU_ASSERT(j->null);
        }
        check_seconds(o.out);
        CU_ASSERT(cases[i].cols > 1 ? jshape(o.out, "values", cases[i].n, CHAIN_A, 0)
                                    : jshape(o.out, "values", cases[i].n, 0, 0));
        const char *values = jat(o.out, "values");
        const char *at_t = jelem(jat(full, cases[i].what), cases[i].t);
        for (size_t k = 0; k < cases[i].n; k++) {
            double got[CHAIN_A], want[CHAIN_A];
            const char *row = jelem(at_t, cases[i].rows[k]);
            if (cases[i].cols > 1) {
                jnumbers(jelem(values, k), got, CHAIN_A);
                jnumbers(row, want, CHAIN_A);
            } else {
                got[0] = strtod(jelem(values, k), NULL);
                want[0] = strtod(row, NULL);
            }
            for (size_t c = 0; c < cases[i].cols; c++)
                CU_ASSERT(same(got[c], want[c]));
        }
        cai_test_outcome_free(&o);
    }

    /* the text form: a table of the named rows */
    o = cai_test_run("solve chain.yaml --threads 1 --query policy --time 3 --states 7,5");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    const char *head = "policy at t = 3:\n  state ";
    CU_ASSERT(strncmp(o.out, head, strlen(head)) == 0);
    const char *row7 = strstr(o.out, "\n  7 "), *row5 = strstr(o.out, "\n  5 ");
    CU_ASSERT_FATAL(row7 != NULL && row5 != NULL);
    CU_ASSERT(row7 < row5);
    double x[CHAIN_A], want[CHAIN_A];
    CU_ASSERT_EQUAL(sscanf(row5 + 5, "%lf %lf %lf %lf", &x[0], &x[1], &x[2], &x[3]), 4);
    jnumbers(jelem(jelem(jat(full, "policy"), 3), 5), want, CHAIN_A);
    for (size_t a = 0; a < CHAIN_A; a++)
        CAI_ASSERT_CLOSE(x[a], want[a], 1e-9);
    cai_test_outcome_free(&o);
    free(full);

    /* without --states: every state in JSON, the first rows in text */
    o = cai_test_run("solve chain.yaml --threads 1 --query V --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(jshape(o.out, "values", CHAIN_S, 0, 0));
    CU_ASSERT(jshape(o.out, "states", CHAIN_S, 0, 0));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve chain.yaml --threads 1 --query Q");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\n  19 "));
    CU_ASSERT_PTR_NULL(strstr(o.out, "\n  20 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "2580 more states omitted"));
    cai_test_outcome_free(&o);

    /* names that are not states, steps that are not there */
    expect_error("solve chain.yaml --query policy --states 5,r3c4",
                 "cai: error: --states: unknown state 'r3c4'");
    expect_error("solve chain.yaml --query V --states 5,,7",
                 "cai: error: --states: empty state name in '5,,7'");
    expect_error("solve chain.yaml --query policy --time 100",
                 "cai: error: --time 100: policy has the steps 0..99 (T = 100)");
    expect_error("solve chain.yaml --query V --horizon 5 --time 6",
                 "cai: error: --time 6: V has the steps 0..5 (T = 5)");
    write_model("disc.yaml", &disc, NULL);
    expect_error("solve disc.yaml --query V --time 0",
                 "cai: error: option '--time' needs a finite-horizon model");
    expect_error("solve disc.yaml --query state_marginals",
                 "cai: error: --query state_marginals needs a finite-horizon model");

    /* a discounted query: stationary, time null */
    answer d = oracle(&disc, true, disc.alpha, 0);
    o = cai_test_run("solve disc.yaml --query Q --states w,u --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(jnull(o.out, "time"));
    jval *j = jget(o.out, "values");
    CU_ASSERT_FATAL(j->ok && j->depth == 2 && j->dims[0] == 2 && j->dims[1] == 2);
    for (size_t a = 0; a < 2; a++) {
        CAI_ASSERT_CLOSE(j->v[a], d.Q[0][2][a], 1e-9);
        CAI_ASSERT_CLOSE(j->v[2 + a], d.Q[0][0][a], 1e-9);
    }
    cai_test_outcome_free(&o);
}

/* Lines of a and b equal but for the timings. */
static bool same_but_seconds(char *a, char *b)
{
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb))
        if (strncmp(la, "  \"seconds", 10) != 0 && strcmp(la, lb) != 0)
            return false;
    return la == NULL && lb == NULL;
}

static void test_threads(void)
{
    write_chain("chain.yaml");
    /* horizon 10: T*S*A = 104000, so the arrays are printed */
    const char *names[] = {"t1.json", "t2.json"};
    for (size_t i = 0; i < 2; i++) {
        cai_test_outcome o =
            cai_test_run("solve chain.yaml --json --horizon 10 --threads %zu -o %s", i + 1,
                         names[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.err, "");
        cai_test_outcome_free(&o);
    }
    char *a = slurp_all("t1.json"), *b = slurp_all("t2.json");
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    CU_ASSERT(jshape(a, "policy", 10, CHAIN_S, CHAIN_A));
    CU_ASSERT(jshape(a, "state_marginals", 11, CHAIN_S, 0));
    CU_ASSERT(same_but_seconds(a, b)); /* bit-identical numbers */
    free(a);
    free(b);

    /* the other commands take it too */
    write_model("tiny.yaml", &tiny, NULL);
    cai_test_outcome o = cai_test_run("sample tiny.yaml --threads 2 --count 3 --seed 1");
    cai_test_outcome p = cai_test_run("sample tiny.yaml --threads 1 --count 3 --seed 1");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, p.out);
    cai_test_outcome_free(&o);
    cai_test_outcome_free(&p);
    o = cai_test_run("check --threads 2 tiny.yaml chain.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "chain.yaml: ok (mdp, 2600 states, 4 actions, "));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve tiny.yaml --json -o sol.json");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    o = cai_test_run("evaluate tiny.yaml --policy sol.json --threads=1 --json");
    CU_ASSERT_EQUAL(o.status, 0);
    check_seconds(o.out);
    cai_test_outcome_free(&o);
}

/* The text of a large gridworld shows the top-left corner of its map. */
static void test_large_grid_text(void)
{
    char map[60 * 112 + 256];
    size_t o = (size_t)snprintf(map, sizeof map, "kind: gridworld\nhorizon: 4\nmap: |\n");
    for (size_t r = 0; r < 45; r++) {
        o += (size_t)snprintf(map + o, sizeof map - o, "  ");
        for (size_t c = 0; c < 110; c++)
            map[o++] = r == 0 && c == 0 ? 'S' : r == 44 && c == 109 ? 'G' : '.';
        map[o++] = '\n';
    }
    map[o] = '\0';
    cai_test_write_file("wide.yaml", map);
    cai_test_outcome out = cai_test_run("solve wide.yaml --threads 1");
    CU_ASSERT_EQUAL(out.status, 0);
    CU_ASSERT_STRING_EQUAL(out.err, "");
    const char *p = strstr(out.out, "X pit):\n");
    CU_ASSERT_FATAL(p != NULL);
    size_t lines = 0;
    for (p += 8; strncmp(p, "  ...", 5) != 0 && *p; p = strchr(p, '\n') + 1, lines++)
        CU_ASSERT(strchr(p, '\n') - p == 2 + 100);
    CU_ASSERT_EQUAL(lines, 40);
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "rows 0..39 and columns 0..99 of a 45 x 110 map"));
    cai_test_outcome_free(&out);
    /* a cell by name */
    out = cai_test_run("solve wide.yaml --threads 1 --query policy --states r44c108,r3c4 "
                       "--json");
    CU_ASSERT_EQUAL(out.status, 0);
    jval *j = jget(out.out, "values");
    CU_ASSERT(j->ok && j->depth == 2 && j->dims[0] == 2 && j->dims[1] == 4);
    cai_test_outcome_free(&out);
}

/* One action: Q and policy keep their action level ([T][S][1]), so that
 * evaluate reads the JSON back. */
static void test_one_action(void)
{
    cai_test_write_file("one.yaml", "kind: mdp\nstates: [a, b]\nactions: [go]\n"
                                    "initial: {a: 1}\ntransitions:\n"
                                    "  - {state: \"*\", action: \"*\", next: {b: 1}}\n"
                                    "rewards: [{value: -1}]\nhorizon: 2\n");
    cai_test_outcome o = cai_test_run("solve one.yaml --json -o one.json");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    char *text = cai_test_slurp("one.json");
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT(jshape(text, "Q", 2, 2, 1));
    CU_ASSERT(jshape(text, "policy", 2, 2, 1));
    CU_ASSERT(jshape(text, "V", 3, 2, 0));
    free(text);
    o = cai_test_run("evaluate one.yaml --policy one.json --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CAI_ASSERT_CLOSE(jnum(o.out, "plain_return"), -2.0, 1e-12);
    cai_test_outcome_free(&o);
    o = cai_test_run("solve one.yaml --json --query policy --time 1");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(jshape(o.out, "values", 2, 1, 0));
    cai_test_outcome_free(&o);
}

/* cai compare: the lottery (models/lottery.yaml) is where exact inference is
 * optimistic: its log-evidence is more than its own policy earns under the
 * true dynamics (the soft return), while the variational objective is
 * exactly what the variational policy earns. The exact row's KL from itself
 * is 0. */
static void test_compare(void)
{
    cai_test_outcome o = cai_test_run("compare %s/models/lottery.yaml --json", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    const char *ex = strstr(o.out, "\"algorithm\": \"exact\"");
    const char *va = strstr(o.out, "\"algorithm\": \"variational\"");
    const char *mp = strstr(o.out, "\"algorithm\": \"map\"");
    CU_ASSERT_FATAL(ex != NULL && va != NULL && mp != NULL);
    CU_ASSERT(fabs(jnum(ex, "kl")) < 1e-12);
    CU_ASSERT(jnum(ex, "log_z") > jnum(ex, "soft_return") + 1.0);
    CU_ASSERT_DOUBLE_EQUAL(jnum(va, "objective"), jnum(va, "soft_return"), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(jnum(va, "log_z"), jnum(va, "objective"), 1e-12); /* alpha = 1 */
    CU_ASSERT(jnum(mp, "log_z") <= jnum(ex, "log_z") + 1e-12); /* the MAP score bounds it */
    CU_ASSERT(jnum(va, "kl") > 0.1);
    CU_ASSERT(isfinite(jnum(mp, "return")));
    check_seconds(o.out);
    cai_test_outcome_free(&o);

    /* a gridworld at two temperatures: six rows, P(reach G) a probability */
    o = cai_test_run("compare %s/models/gridworld.yaml --temperatures 0.5,2 --csv",
                     CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(strncmp(o.out, "algorithm,temperature,log_z,objective,kl,return,soft_return,"
                             "goal,iterations,converged,seconds,message_bytes,note\n",
                      113) == 0);
    size_t lines = 0;
    for (const char *p = o.out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    CU_ASSERT_EQUAL(lines, 7);
    const char *row = strstr(o.out, "\nvariational,2,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    double f[7];
    CU_ASSERT_EQUAL(sscanf(row + strlen("\nvariational,2,"), "%lf,%lf,%lf,%lf,%lf,%lf", &f[0],
                           &f[1], &f[2], &f[3], &f[4], &f[5]), 6);
    CU_ASSERT_DOUBLE_EQUAL(f[0], f[1] / 2, 1e-12); /* the ELBO in nats at alpha = 2 */
    CU_ASSERT(f[5] >= 0 && f[5] <= 1 + 1e-12);
    cai_test_outcome_free(&o);

    o = cai_test_run("compare %s/models/gridworld.yaml", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "algorithm   alpha  logZ|bound"));
    cai_test_check_columns(o.out, 80); /* 80 columns */
    cai_test_outcome_free(&o);

    /* a discounted model's iterations in the trace: one line per iteration,
     * the relative change of V falling below the tolerance at the last */
    o = cai_test_run("compare %s/models/discounted.yaml --json --trace disc_trace.csv",
                     CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    const char *dx = strstr(o.out, "\"algorithm\": \"exact\"");
    const char *dv = strstr(o.out, "\"algorithm\": \"variational\"");
    CU_ASSERT_FATAL(dx != NULL && dv != NULL);
    double it_x = jnum(dx, "iterations"), it_v = jnum(dv, "iterations");
    CU_ASSERT(jnum(dx, "message_bytes") > 0);
    cai_test_outcome_free(&o);
    char *trace = cai_test_slurp("disc_trace.csv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(trace);
    size_t n_x = 0, n_v = 0;
    double last_x = NAN;
    for (const char *line = strchr(trace, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        size_t iter;
        double alpha, change;
        if (sscanf(line, "exact,%lf,%zu,%lf,", &alpha, &iter, &change) == 3) {
            CU_ASSERT_EQUAL(iter, ++n_x);
            last_x = change;
        } else if (sscanf(line, "variational,%lf,%zu,%lf,", &alpha, &iter, &change) == 3) {
            CU_ASSERT_EQUAL(iter, ++n_v);
        } else {
            CU_FAIL("unexpected trace line");
        }
    }
    CU_ASSERT_EQUAL((double)n_x, it_x);
    CU_ASSERT_EQUAL((double)n_v, it_v);
    CU_ASSERT(last_x <= 1e-12); /* the default tolerance */
    free(trace);

    /* a factored_mdp without --flatten: the methods on its unrolled net, the
     * exact row equal to the flattened MDP's log-evidence */
    o = cai_test_run("solve %s/models/sysadmin4.yaml --flatten --json", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    double lev = jnum(o.out, "log_evidence");
    cai_test_outcome_free(&o);
    o = cai_test_run("compare %s/models/sysadmin4.yaml --json --temperatures 2,1",
                     CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    const char *t1 = strstr(o.out, "\"temperature\": 1,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    const char *fx = strstr(t1 - 60, "\"algorithm\": \"exact\"");
    CU_ASSERT_FATAL(fx != NULL && fx < t1);
    CU_ASSERT_DOUBLE_EQUAL(jnum(fx, "log_z"), lev, 1e-9);
    const char *fl = strstr(fx, "\"algorithm\": \"loopy\"");
    const char *fm = strstr(fx, "\"algorithm\": \"meanfield\"");
    CU_ASSERT_FATAL(fl != NULL && fm != NULL);
    CU_ASSERT(jnum(fm, "log_z") <= lev + 1e-9);
    CU_ASSERT(jnum(fl, "kl") >= 0 && jnum(fm, "kl") > 0);
    size_t rows = 0;
    for (const char *q = o.out; (q = strstr(q, "\"algorithm\": ")) != NULL; q++)
        rows++;
    CU_ASSERT_EQUAL(rows, 8);
    cai_test_outcome_free(&o);

    /* loopy BP and mean field on the exact solve's graph: loopy is exact on
     * this chain (same log-evidence, policy and return as exact); mean
     * field's ELBO is below the log-evidence and alpha * ELBO its objective */
    o = cai_test_run("compare %s/models/gridworld.yaml --algorithms exact,loopy,meanfield "
                     "--temperatures 0.7 --json", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    const char *gx = strstr(o.out, "\"algorithm\": \"exact\"");
    const char *gl = strstr(o.out, "\"algorithm\": \"loopy\"");
    const char *gm = strstr(o.out, "\"algorithm\": \"meanfield\"");
    CU_ASSERT_FATAL(gx != NULL && gl != NULL && gm != NULL);
    CU_ASSERT_DOUBLE_EQUAL(jnum(gl, "log_z"), jnum(gx, "log_z"), 1e-9);
    CU_ASSERT(fabs(jnum(gl, "kl")) < 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(jnum(gl, "return"), jnum(gx, "return"), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(jnum(gl, "goal"), jnum(gx, "goal"), 1e-9);
    CU_ASSERT(jnum(gm, "log_z") < jnum(gx, "log_z"));
    CU_ASSERT_DOUBLE_EQUAL(jnum(gm, "objective"), 0.7 * jnum(gm, "log_z"), 1e-9);
    CU_ASSERT(jnum(gm, "kl") > 0);
    cai_test_outcome_free(&o);
    o = cai_test_run("compare %s/models/discounted.yaml --algorithms exact,meanfield",
                     CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "not run: meanfield on an MDP needs a finite horizon"));
    cai_test_outcome_free(&o);

    expect_error("compare tiny.yaml --algorithms exact,gibbs",
                 "cai: error: --algorithms: unknown algorithm 'gibbs' for an MDP");
    expect_error("compare tiny.yaml --temperatures 1,x",
                 "cai: error: --temperatures: expected numbers >= 0, got 'x'");
    expect_error("compare tiny.yaml --json --csv",
                 "cai: error: --json and --csv exclude each other");
    expect_error("compare tiny.yaml --full", "cai: error: option '--full' does not apply to compare");
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("cli_mdp", suite_init, cai_test_dir_remove);
    CU_add_test(s, "--help", test_help);
    CU_add_test(s, "solve --json vs the oracle", test_solve_json);
    CU_add_test(s, "map", test_map);
    CU_add_test(s, "solve text", test_solve_text);
    CU_add_test(s, "gridworld", test_gridworld);
    CU_add_test(s, "check", test_check);
    CU_add_test(s, "sample", test_sample);
    CU_add_test(s, "evaluate", test_evaluate);
    CU_add_test(s, "policy file errors", test_policy_errors);
    CU_add_test(s, "model errors", test_model_errors);
    CU_add_test(s, "usage errors", test_usage_errors);
    CU_add_test(s, "-o FILE", test_output_file);
    CU_add_test(s, "--json limit, --full, --query", test_json_limit);
    CU_add_test(s, "--threads", test_threads);
    CU_add_test(s, "large gridworld text", test_large_grid_text);
    CU_add_test(s, "one action", test_one_action);
    CU_add_test(s, "compare", test_compare);
}
