/* tests/test_infer.c — cai/infer.h, one front over the exact, loopy and
 * mean-field methods: exact sum- and max-product on random loopy graphs
 * against brute-force enumeration (tests/oracle.h), evidence through the
 * front, several methods planned on the same graph at once (loopy equal to
 * brute force on a tree, the ELBO below log Z), the common trace, the
 * message-memory counts against sizes computed in the test, and the error
 * paths. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include "cai/infer.h"

#define TOL 1e-10

/* Random factors of arity 1..3 over 3..8 variables (normal mode: the
 * oracle reads the raw tables). */
static void gen_random(tm_model *m, gsl_rng *r)
{
    tm_init(m);
    size_t n = 3 + gsl_rng_uniform_int(r, 6);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2 + gsl_rng_uniform_int(r, 2));
    tm_cap_joint(m, r, TM_JOINT_CAP);
    size_t nf = n + 1 + gsl_rng_uniform_int(r, n + 2);
    for (size_t i = 0; i < nf; i++) {
        size_t k = 1 + gsl_rng_uniform_int(r, 3), perm[TM_MAXV], cards[TM_MAXK];
        k = k > n ? n : k;
        cai_test_permutation(r, perm, n);
        for (size_t j = 0; j < k; j++)
            cards[j] = m->card[perm[j]];
        size_t pot = gsl_rng_uniform(r) < 0.25
                         ? tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.7, 0)
                         : tm_pot_dense_random(m, r, k, cards, 0.1, -2.0, 2.0);
        tm_add_factor(m, pot, perm, k, CAI_MODE_NORMAL, 1);
    }
}

static cai_infer *make(const cai_graph *g, cai_method method, cai_algorithm alg)
{
    cai_infer_options o = cai_infer_options_default();
    o.method = method;
    o.algorithm = alg;
    cai_infer *inf = NULL;
    cai_error err;
    cai_status st = cai_infer_create(g, &o, &inf, &err);
    if (st != CAI_OK)
        fprintf(stderr, "cai_infer_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    CU_ASSERT_FATAL(cai_infer_run(inf, &err) == CAI_OK);
    return inf;
}

static void check_exact(const tm_model *m, const cai_infer *sum, const cai_infer *max,
                        const size_t *ev)
{
    tm_oracle o;
    tm_oracle_run(m, ev, NULL, &o);
    cai_error err;
    CAI_ASSERT_CLOSE(cai_infer_log_z(sum), o.log_z, TOL);
    for (size_t v = 0; v < m->n; v++) {
        double q[8];
        CU_ASSERT_FATAL(cai_infer_marginal(sum, v, q, &err) == CAI_OK);
        for (size_t s = 0; s < m->card[v] && o.log_z > -INFINITY; s++)
            CAI_ASSERT_CLOSE(q[s], o.marg[v][s], TOL);
    }
    for (size_t f = 0; f < m->nf && o.log_z > -INFINITY; f++) {
        size_t sz = m->pot[m->f[f].pot].size;
        double *b = malloc(sz * sizeof *b);
        CU_ASSERT_FATAL(cai_infer_factor_belief(sum, f, b, &err) == CAI_OK);
        for (size_t i = 0; i < sz; i++)
            CAI_ASSERT_CLOSE(b[i], o.belief[f][i], TOL);
        free(b);
    }
    size_t x[TM_MAXV];
    double score;
    CU_ASSERT_FATAL(cai_infer_map(max, x, &score, &err) == CAI_OK);
    CAI_ASSERT_CLOSE(score, o.best, TOL);
    CAI_ASSERT_CLOSE(cai_infer_log_z(max), o.best, TOL);
    if (o.best > -INFINITY) /* ties: any maximiser */
        CAI_ASSERT_CLOSE(tm_log_weight(m, x, ev, NULL), o.best, TOL);
    CU_ASSERT(cai_infer_iterations(sum) == 1 && cai_infer_converged(sum));
    tm_oracle_free(&o);
}

/* Exact sum- and max-product through the front on 80 random loopy graphs
 * vs brute force, then new evidence set through the front. */
static void test_exact_random(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 801);
    for (int it = 0; it < 80; it++) {
        tm_model m;
        gen_random(&m, r);
        for (size_t v = 0; v < m.n; v++)
            m.ev[v] = CAI_NONE;
        cai_graph *g = tm_build_graph(&m, NULL, 0);
        cai_infer *sum = make(g, CAI_METHOD_EXACT, CAI_SUM_PRODUCT);
        cai_infer *max = make(g, CAI_METHOD_EXACT, CAI_MAX_PRODUCT);
        check_exact(&m, sum, max, NULL);
        size_t ev[TM_MAXV], v = gsl_rng_uniform_int(r, m.n);
        for (size_t u = 0; u < m.n; u++)
            ev[u] = CAI_NONE;
        ev[v] = gsl_rng_uniform_int(r, m.card[v]);
        cai_error err;
        CU_ASSERT(cai_infer_set_evidence(sum, v, ev[v], &err) == CAI_OK);
        CU_ASSERT(cai_infer_set_evidence(max, v, ev[v], &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_infer_run(sum, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_infer_run(max, &err) == CAI_OK);
        check_exact(&m, sum, max, ev);
        cai_infer_free(sum);
        cai_infer_free(max);
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* A chain with unary terms: a tree, so loopy BP is exact. */
static void gen_chain(tm_model *m, gsl_rng *r, size_t n)
{
    tm_init(m);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2 + gsl_rng_uniform_int(r, 2));
    for (size_t v = 0; v < n; v++) {
        size_t c1[1] = {m->card[v]};
        size_t s1[1] = {v};
        tm_add_factor(m, tm_pot_dense_random(m, r, 1, c1, 0.0, -1.0, 1.0), s1, 1,
                      CAI_MODE_NORMAL, 1);
        if (v + 1 < n) {
            size_t c2[2] = {m->card[v], m->card[v + 1]}, s2[2] = {v, v + 1};
            tm_add_factor(m, tm_pot_dense_random(m, r, 2, c2, 0.0, -1.5, 1.5), s2, 2,
                          CAI_MODE_NORMAL, 1);
        }
    }
}

/* The same graph planned with every method at once, run interleaved:
 * exact and loopy equal brute force on a tree, the ELBO is at most log Z,
 * mean-field's "MAP" is the argmax of its q. */
static void test_methods_side_by_side(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 802);
    for (int it = 0; it < 20; it++) {
        tm_model m;
        gen_chain(&m, r, 3 + (size_t)it % 5);
        cai_graph *g = tm_build_graph(&m, NULL, 0);
        cai_infer *inf[5] = {
            make(g, CAI_METHOD_EXACT, CAI_SUM_PRODUCT),
            make(g, CAI_METHOD_LOOPY, CAI_SUM_PRODUCT),
            make(g, CAI_METHOD_MEANFIELD, CAI_SUM_PRODUCT),
            make(g, CAI_METHOD_EXACT, CAI_MAX_PRODUCT),
            make(g, CAI_METHOD_LOOPY, CAI_MAX_PRODUCT),
        };
        cai_error err;
        for (int k = 4; k >= 0; k--) /* run again, in another order */
            CU_ASSERT_FATAL(cai_infer_run(inf[k], &err) == CAI_OK);
        tm_oracle o;
        tm_oracle_run(&m, NULL, NULL, &o);
        CAI_ASSERT_CLOSE(cai_infer_log_z(inf[0]), o.log_z, TOL);
        CAI_ASSERT_CLOSE(cai_infer_log_z(inf[1]), o.log_z, TOL);
        CU_ASSERT(cai_infer_log_z(inf[2]) <= o.log_z + 1e-12);
        CU_ASSERT(cai_infer_converged(inf[1]) && cai_infer_converged(inf[2]));
        for (size_t v = 0; v < m.n; v++) {
            double q[8];
            for (int k = 0; k < 2; k++) {
                CU_ASSERT_FATAL(cai_infer_marginal(inf[k], v, q, &err) == CAI_OK);
                for (size_t s = 0; s < m.card[v]; s++)
                    CAI_ASSERT_CLOSE(q[s], o.marg[v][s], TOL);
            }
        }
        for (size_t f = 0; f < m.nf; f++) { /* loopy on a tree: exact beliefs */
            double b[16];
            CU_ASSERT_FATAL(cai_infer_factor_belief(inf[1], f, b, &err) == CAI_OK);
            for (size_t i = 0; i < m.pot[m.f[f].pot].size; i++)
                CAI_ASSERT_CLOSE(b[i], o.belief[f][i], TOL);
        }
        CU_ASSERT(cai_infer_factor_belief(inf[2], 0, (double[16]){0}, &err) == CAI_ERR_STATE);
        CU_ASSERT(cai_infer_factor_belief(inf[3], 0, (double[16]){0}, &err) == CAI_ERR_STATE);
        size_t x[TM_MAXV], y[TM_MAXV];
        double score;
        for (int k = 3; k < 5; k++) {
            CU_ASSERT_FATAL(cai_infer_map(inf[k], x, &score, &err) == CAI_OK);
            CAI_ASSERT_CLOSE(score, o.best, TOL);
        }
        CU_ASSERT_FATAL(cai_infer_map(inf[2], y, &score, &err) == CAI_OK);
        CU_ASSERT(isnan(score));
        for (size_t v = 0; v < m.n; v++) {
            double q[8];
            CU_ASSERT_FATAL(cai_infer_marginal(inf[2], v, q, &err) == CAI_OK);
            size_t best = 0;
            for (size_t s = 1; s < m.card[v]; s++)
                best = q[s] > q[best] ? s : best;
            CU_ASSERT(y[v] == best);
        }
        CU_ASSERT(cai_infer_method(inf[1]) == CAI_METHOD_LOOPY);
        CU_ASSERT(cai_infer_algorithm(inf[4]) == CAI_MAX_PRODUCT);
        CU_ASSERT(cai_infer_loopy(inf[1]) != NULL && cai_infer_jtree(inf[1]) == NULL);
        CU_ASSERT(cai_infer_meanfield(inf[2]) != NULL && cai_infer_jtree(inf[0]) != NULL);
        tm_oracle_free(&o);
        for (int k = 0; k < 5; k++)
            cai_infer_free(inf[k]);
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

typedef struct trace_log {
    size_t n;
    size_t it[4096];
    double residual[4096], log_z[4096];
} trace_log;

static void record(void *ctx, size_t iteration, double residual, double log_z)
{
    trace_log *t = ctx;
    if (t->n < 4096) {
        t->it[t->n] = iteration;
        t->residual[t->n] = residual;
        t->log_z[t->n] = log_z;
    }
    t->n++;
}

/* One trace for every method: called once per iteration, numbered 1, 2,
 * ...; the last loopy entry is the run's Bethe estimate and residual, the
 * mean-field entries never decrease and end at the ELBO; exact never
 * calls it. */
static void test_trace(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 803);
    for (int it = 0; it < 20; it++) {
        tm_model m;
        gen_random(&m, r);
        cai_graph *g = tm_build_graph(&m, NULL, 0);
        for (int method = 0; method < 3; method++) {
            static trace_log t;
            t.n = 0;
            cai_infer_options o = cai_infer_options_default();
            o.method = (cai_method)method;
            o.loopy.damping = 0.3;
            o.loopy.max_iterations = 200;
            o.trace = record;
            o.trace_ctx = &t;
            cai_infer *inf = NULL;
            cai_error err;
            CU_ASSERT_FATAL(cai_infer_create(g, &o, &inf, &err) == CAI_OK);
            CU_ASSERT_FATAL(cai_infer_run(inf, &err) == CAI_OK);
            size_t n = cai_infer_iterations(inf);
            if (method == CAI_METHOD_EXACT) {
                CU_ASSERT(t.n == 0);
            } else {
                CU_ASSERT_FATAL(t.n == n && n >= 1 && n <= 4096);
                for (size_t i = 0; i < n; i++)
                    CU_ASSERT(t.it[i] == i + 1);
                double last = t.log_z[n - 1], final = cai_infer_log_z(inf);
                CU_ASSERT(last == final || (isnan(last) && isnan(final)));
            }
            if (method == CAI_METHOD_LOOPY) {
                CU_ASSERT(t.residual[n - 1] == cai_infer_max_residual(inf, NULL, NULL));
            }
            if (method == CAI_METHOD_MEANFIELD) {
                for (size_t i = 0; i < n; i++) {
                    CU_ASSERT(isnan(t.residual[i]));
                    if (i > 0 && t.log_z[i - 1] > -INFINITY)
                        CU_ASSERT(t.log_z[i] >= t.log_z[i - 1] - 1e-12 * fabs(t.log_z[i]));
                }
            }
            cai_infer_free(inf);
        }
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* A ring of n binary variables with random pairwise factors. */
static cai_graph *ring(tm_model *m, gsl_rng *r, size_t n)
{
    tm_init(m);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2);
    size_t cards[2] = {2, 2};
    for (size_t v = 0; v < n; v++) {
        size_t scope[2] = {v, (v + 1) % n};
        tm_add_factor(m, tm_pot_dense_random(m, r, 2, cards, 0.0, -1.0, 1.0), scope, 2,
                      CAI_MODE_NORMAL, 1);
    }
    return tm_build_graph(m, NULL, 0);
}

/* Message memory: at least what the method must hold, computed here from
 * the graph's shape, and growing with the graph. */
static void test_message_bytes(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 804);
    size_t prev[3] = {0, 0, 0};
    for (size_t n = 4; n <= TM_MAXV; n += 4) {
        tm_model m;
        cai_graph *g = ring(&m, r, n);
        cai_infer *inf[3] = {make(g, CAI_METHOD_EXACT, CAI_SUM_PRODUCT),
                             make(g, CAI_METHOD_LOOPY, CAI_SUM_PRODUCT),
                             make(g, CAI_METHOD_MEANFIELD, CAI_SUM_PRODUCT)};
        /* a ring triangulates into n - 2 cliques of 3 binary variables */
        const cai_jtree *jt = cai_infer_jtree(inf[0]);
        CU_ASSERT(cai_jtree_n_cliques(jt) == n - 2);
        CU_ASSERT(cai_infer_message_bytes(inf[0]) >= (n - 2) * 8 * sizeof(double));
        /* 2n messages of two states, current and pending */
        CU_ASSERT(cai_loopy_n_messages(cai_infer_loopy(inf[1])) == 2 * n);
        CU_ASSERT(cai_infer_message_bytes(inf[1]) >= 2 * (2 * n) * 2 * sizeof(double));
        /* q: n variables of two states */
        CU_ASSERT(cai_infer_message_bytes(inf[2]) >= 2 * n * sizeof(double));
        for (int k = 0; k < 3; k++) {
            CU_ASSERT(cai_infer_message_bytes(inf[k]) > prev[k]);
            prev[k] = cai_infer_message_bytes(inf[k]);
            cai_infer_free(inf[k]);
        }
        cai_graph_free(g);
        tm_free(&m);
    }
    CU_ASSERT(cai_infer_message_bytes(NULL) == 0);
    gsl_rng_free(r);
}

static void test_errors(void)
{
    cai_error err;
    cai_method method;
    CU_ASSERT(cai_method_parse("loopy", &method, &err) == CAI_OK && method == CAI_METHOD_LOOPY);
    CU_ASSERT(cai_method_parse("meanfield", &method, &err) == CAI_OK
              && method == CAI_METHOD_MEANFIELD);
    CU_ASSERT(cai_method_parse("exact", &method, &err) == CAI_OK && method == CAI_METHOD_EXACT);
    CU_ASSERT(cai_method_parse("gibbs", &method, &err) == CAI_ERR_INVALID);
    CU_ASSERT(strstr(err.message, "'gibbs'") != NULL);
    CU_ASSERT(strcmp(cai_method_name(CAI_METHOD_MEANFIELD), "meanfield") == 0);
    CU_ASSERT(cai_method_name((cai_method)7) == NULL);

    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 805);
    tm_model m;
    cai_graph *g = ring(&m, r, 4);
    cai_infer *inf = NULL;
    cai_infer_options o = cai_infer_options_default();
    o.method = CAI_METHOD_MEANFIELD;
    o.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT(cai_infer_create(g, &o, &inf, &err) == CAI_ERR_RANGE && inf == NULL);
    o.method = (cai_method)9;
    CU_ASSERT(cai_infer_create(g, &o, &inf, &err) == CAI_ERR_INVALID && inf == NULL);
    o = cai_infer_options_default();
    o.loopy.damping = 1.0; /* the method's own checks */
    o.method = CAI_METHOD_LOOPY;
    CU_ASSERT(cai_infer_create(g, &o, &inf, &err) == CAI_ERR_RANGE && inf == NULL);
    o = cai_infer_options_default();
    o.exact.max_clique_entries = 4; /* cliques of 8 states */
    CU_ASSERT(cai_infer_create(g, &o, &inf, &err) == CAI_ERR_OVERFLOW && inf == NULL);
    CU_ASSERT(cai_infer_create(NULL, NULL, &inf, &err) == CAI_ERR_INVALID);

    cai_infer *sum = make(g, CAI_METHOD_EXACT, CAI_SUM_PRODUCT);
    cai_infer *max = make(g, CAI_METHOD_LOOPY, CAI_MAX_PRODUCT);
    double q[2];
    size_t x[4];
    CU_ASSERT(cai_infer_marginal(max, 0, q, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_infer_map(sum, x, NULL, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_infer_marginal(sum, 9, q, &err) != CAI_OK);
    CU_ASSERT(cai_infer_run(NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(isnan(cai_infer_log_z(NULL)));
    CU_ASSERT(isnan(cai_infer_max_residual(sum, NULL, NULL)));
    cai_infer_free(sum);
    cai_infer_free(max);
    cai_infer_free(NULL);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("infer", NULL, NULL);
    CU_add_test(s, "exact on 80 random loopy graphs vs brute force", test_exact_random);
    CU_add_test(s, "every method on the same graph at once", test_methods_side_by_side);
    CU_add_test(s, "one trace for every method", test_trace);
    CU_add_test(s, "message memory", test_message_bytes);
    CU_add_test(s, "errors", test_errors);
}
