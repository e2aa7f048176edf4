/* tests/test_jtree.c — the junction tree against brute-force enumeration on
 * small loopy graphs (random, cycles, 3x3 grids, disconnected parts), against
 * cai_plan on forests, the clique-size limit and the error paths. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include "cai/jtree.h"
#include "cai/logmath.h"

#define TOL 1e-10

/* ------------------------------------------------------------------ */
/* brute force, honouring support mode                                 */

static double bf_weight(const tm_model *m, const size_t *x, const size_t *ev)
{
    for (size_t v = 0; v < m->n; v++)
        if (ev[v] != CAI_NONE && x[v] != ev[v])
            return -INFINITY;
    double w = 0.0;
    for (size_t i = 0; i < m->nf; i++) {
        const tm_factor *f = &m->f[i];
        double lv = m->pot[f->pot].logv[tm_factor_index(m, f, x)];
        if (f->mode == CAI_MODE_SUPPORT)
            lv = lv > -INFINITY ? 0.0 : -INFINITY;
        w += lv;
    }
    return w;
}

typedef struct brute {
    double log_z;
    double marg[TM_MAXV][8];
    double *belief[TM_MAXF];
    double best;
} brute;

static void bf_run(const tm_model *m, const size_t *ev, brute *b)
{
    memset(b, 0, sizeof *b);
    size_t N = tm_joint_size(m), x[TM_MAXV] = {0}, i = 0;
    double *w = malloc(N * sizeof(double));
    b->best = -INFINITY;
    do {
        w[i] = bf_weight(m, x, ev);
        if (w[i] > b->best)
            b->best = w[i];
        i++;
    } while (tm_next(m, x));
    for (size_t f = 0; f < m->nf; f++)
        b->belief[f] = calloc(m->pot[m->f[f].pot].size, sizeof(double));
    if (b->best == -INFINITY) {
        b->log_z = -INFINITY;
        free(w);
        return;
    }
    double z = 0.0;
    for (i = 0; i < N; i++)
        z += exp(w[i] - b->best);
    b->log_z = b->best + log(z);
    memset(x, 0, sizeof x);
    i = 0;
    do {
        double p = exp(w[i++] - b->best) / z;
        for (size_t v = 0; v < m->n; v++)
            b->marg[v][x[v]] += p;
        for (size_t f = 0; f < m->nf; f++)
            b->belief[f][tm_factor_index(m, &m->f[f], x)] += p;
    } while (tm_next(m, x));
    free(w);
}

static void bf_free(brute *b)
{
    for (size_t f = 0; f < TM_MAXF; f++)
        free(b->belief[f]);
}

/* ------------------------------------------------------------------ */
/* generators                                                          */

/* A potential over scope: dense (zeros now and then) or CSR, tied to an
 * earlier one of the same shape half the time; support mode 10%. */
static void add_random_factor(tm_model *m, gsl_rng *r, const size_t *scope, size_t k)
{
    size_t cards[TM_MAXK];
    for (size_t i = 0; i < k; i++)
        cards[i] = m->card[scope[i]];
    int csr = gsl_rng_uniform(r) < 0.25;
    size_t pot = tm_find_pot(m, k, cards, csr);
    if (pot == CAI_NONE || gsl_rng_uniform(r) < 0.5)
        pot = csr ? tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.7, 0)
                  : tm_pot_dense_random(m, r, k, cards, 0.1, -2.0, 2.0);
    cai_factor_mode mode = gsl_rng_uniform(r) < 0.1 ? CAI_MODE_SUPPORT : CAI_MODE_NORMAL;
    tm_add_factor(m, pot, scope, k, mode, 1);
}

static size_t small_card(gsl_rng *r)
{
    double u = gsl_rng_uniform(r);
    return u < 0.05 ? 1 : u < 0.55 ? 2 : u < 0.9 ? 3 : 4;
}

/* Random factors of arity 1..3 over random variables. */
static void gen_random(tm_model *m, gsl_rng *r)
{
    tm_init(m);
    size_t n = 3 + gsl_rng_uniform_int(r, 7);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, small_card(r));
    tm_cap_joint(m, r, TM_JOINT_CAP);
    size_t nf = n + 1 + gsl_rng_uniform_int(r, n + 2);
    for (size_t i = 0; i < nf; i++) {
        size_t k = 1 + gsl_rng_uniform_int(r, 3), perm[TM_MAXV];
        if (k > n)
            k = n;
        cai_test_permutation(r, perm, n);
        add_random_factor(m, r, perm, k);
    }
}

/* A cycle v0 - v1 - ... - v(n-1) - v0 of pairwise factors, with a chord and
 * unary factors now and then. */
static void gen_ring(tm_model *m, gsl_rng *r, size_t first, size_t n)
{
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2 + gsl_rng_uniform_int(r, 2));
    for (size_t v = 0; v < n; v++) {
        size_t scope[2] = {first + v, first + (v + 1) % n};
        if (gsl_rng_uniform(r) < 0.5)
            cai_test_shuffle(r, scope, 2);
        add_random_factor(m, r, scope, 2);
        if (gsl_rng_uniform(r) < 0.3)
            add_random_factor(m, r, &scope[0], 1);
    }
    if (n >= 5 && gsl_rng_uniform(r) < 0.3) {
        size_t scope[2] = {first, first + n / 2};
        add_random_factor(m, r, scope, 2);
    }
}

/* A side x side grid with pairwise factors: all horizontal edges share one
 * potential, vertical ones are random (tied or not). */
static void gen_grid(tm_model *m, gsl_rng *r, size_t side, size_t card)
{
    tm_init(m);
    for (size_t v = 0; v < side * side; v++)
        tm_add_var(m, card);
    size_t cards[2] = {card, card};
    size_t hpot = tm_pot_dense_random(m, r, 2, cards, 0.1, -1.5, 1.5);
    for (size_t i = 0; i < side; i++)
        for (size_t j = 0; j < side; j++) {
            size_t v = i * side + j;
            if (j + 1 < side) {
                size_t scope[2] = {v, v + 1};
                tm_add_factor(m, hpot, scope, 2, CAI_MODE_NORMAL, 1);
            }
            if (i + 1 < side) {
                size_t scope[2] = {v, v + side};
                add_random_factor(m, r, scope, 2);
            }
            if (gsl_rng_uniform(r) < 0.4)
                add_random_factor(m, r, &v, 1);
        }
}

/* Two cycles, a lone variable and a pair. */
static void gen_disconnected(tm_model *m, gsl_rng *r)
{
    tm_init(m);
    gen_ring(m, r, 0, 3 + gsl_rng_uniform_int(r, 2));
    gen_ring(m, r, m->n, 3);
    size_t lone = tm_add_var(m, 2);
    if (gsl_rng_uniform(r) < 0.5)
        add_random_factor(m, r, &lone, 1);
    size_t a = tm_add_var(m, 2), b = tm_add_var(m, 3);
    size_t scope[2] = {a, b};
    add_random_factor(m, r, scope, 2);
    tm_cap_joint(m, r, TM_JOINT_CAP);
}

static void random_evidence(tm_model *m, gsl_rng *r, double p)
{
    for (size_t v = 0; v < m->n; v++)
        m->ev[v] = gsl_rng_uniform(r) < p ? gsl_rng_uniform_int(r, m->card[v]) : CAI_NONE;
}

/* ------------------------------------------------------------------ */
/* checks                                                              */

static cai_jtree *make_jtree(const cai_graph *g, cai_algorithm alg, bool compile)
{
    cai_jtree_options o = cai_jtree_options_default();
    o.algorithm = alg;
    o.compile_forests = compile;
    cai_jtree *jt = NULL;
    cai_error err;
    cai_status st = cai_jtree_create(g, &o, &jt, &err);
    if (st != CAI_OK)
        fprintf(stderr, "jtree_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    CU_ASSERT_FATAL(cai_jtree_run(jt, &err) == CAI_OK);
    return jt;
}

static void check_sum(const tm_model *m, const cai_jtree *jt, const brute *b)
{
    cai_error err;
    CAI_ASSERT_CLOSE(cai_jtree_log_z(jt), b->log_z, TOL);
    int zero = b->log_z == -INFINITY;
    for (size_t v = 0; v < m->n; v++) {
        double q[8];
        CU_ASSERT_FATAL(cai_jtree_marginal(jt, v, q, &err) == CAI_OK);
        for (size_t s = 0; s < m->card[v]; s++) {
            if (zero) {
                CU_ASSERT(isnan(q[s]));
            } else {
                CAI_ASSERT_CLOSE(q[s], b->marg[v][s], TOL);
            }
        }
    }
    for (size_t f = 0; f < m->nf; f++) {
        size_t sz = m->pot[m->f[f].pot].size;
        double *q = malloc(sz * sizeof(double));
        CU_ASSERT_FATAL(cai_jtree_factor_belief(jt, f, q, &err) == CAI_OK);
        for (size_t i = 0; i < sz; i++) {
            if (zero) {
                CU_ASSERT(isnan(q[i]));
            } else {
                CAI_ASSERT_CLOSE(q[i], b->belief[f][i], TOL);
            }
        }
        free(q);
    }
}

static void check_max(const tm_model *m, const cai_jtree *jt, const size_t *ev, const brute *b)
{
    cai_error err;
    size_t x[TM_MAXV];
    double score;
    CU_ASSERT_FATAL(cai_jtree_map(jt, x, &score, &err) == CAI_OK);
    CAI_ASSERT_CLOSE(score, b->best, TOL);
    CAI_ASSERT_CLOSE(cai_jtree_log_z(jt), b->best, TOL);
    for (size_t v = 0; v < m->n; v++)
        CU_ASSERT(x[v] < m->card[v]);
    if (b->best > -INFINITY)
        CAI_ASSERT_CLOSE(bf_weight(m, x, ev), score, TOL); /* ties: any maximiser */
}

/* Sum- and max-product (compiled, and as the default chooses) vs brute
 * force, then a change of evidence. */
static void check_model(tm_model *m, gsl_rng *r)
{
    cai_graph *g = tm_build_graph(m, NULL, 1);
    brute b;
    bf_run(m, m->ev, &b);
    for (int compile = 0; compile < 2; compile++) {
        cai_jtree *sum = make_jtree(g, CAI_SUM_PRODUCT, compile);
        cai_jtree *max = make_jtree(g, CAI_MAX_PRODUCT, compile);
        check_sum(m, sum, &b);
        check_max(m, max, m->ev, &b);
        if (compile) {
            CU_ASSERT(cai_jtree_is_compiled(sum));
            /* every factor's scope lies in one clique; sizes add up */
            size_t big = 0, tw = 0;
            for (size_t c = 0; c < cai_jtree_n_cliques(sum); c++) {
                size_t k, size = 1;
                const size_t *cv = cai_jtree_clique(sum, c, &k);
                CU_ASSERT_FATAL(cv != NULL);
                for (size_t t = 0; t < k; t++) {
                    size *= m->card[cv[t]];
                    if (t)
                        CU_ASSERT(cv[t - 1] < cv[t]);
                }
                big = size > big ? size : big;
                tw = k - 1 > tw ? k - 1 : tw;
            }
            CU_ASSERT(cai_jtree_max_clique_entries(sum) == big);
            CU_ASSERT(cai_jtree_treewidth(sum) == tw);
            /* new evidence, without recompiling */
            size_t ev[TM_MAXV];
            memcpy(ev, m->ev, sizeof ev);
            size_t v = gsl_rng_uniform_int(r, m->n);
            ev[v] = gsl_rng_uniform(r) < 0.3 ? CAI_NONE : gsl_rng_uniform_int(r, m->card[v]);
            if (ev[0] != CAI_NONE && v != 0)
                ev[0] = CAI_NONE;
            cai_error err;
            CU_ASSERT(cai_jtree_set_evidence(sum, v, ev[v], &err) == CAI_OK);
            CU_ASSERT(cai_jtree_set_evidence(sum, 0, ev[0], &err) == CAI_OK);
            CU_ASSERT(cai_jtree_set_evidence(max, v, ev[v], &err) == CAI_OK);
            CU_ASSERT(cai_jtree_set_evidence(max, 0, ev[0], &err) == CAI_OK);
            CU_ASSERT(cai_jtree_marginal(sum, 0, (double[8]){0}, &err) == CAI_ERR_STATE);
            CU_ASSERT_FATAL(cai_jtree_run(sum, &err) == CAI_OK);
            CU_ASSERT_FATAL(cai_jtree_run(max, &err) == CAI_OK);
            brute b2;
            bf_run(m, ev, &b2);
            check_sum(m, sum, &b2);
            check_max(m, max, ev, &b2);
            bf_free(&b2);
        }
        cai_jtree_free(sum);
        cai_jtree_free(max);
    }
    bf_free(&b);
    cai_graph_free(g);
}

static void test_random_loopy(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 501);
    for (int it = 0; it < 120; it++) {
        tm_model m;
        gen_random(&m, r);
        random_evidence(&m, r, 0.12);
        check_model(&m, r);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

static void test_cycles(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 502);
    for (int it = 0; it < 40; it++) {
        tm_model m;
        tm_init(&m);
        gen_ring(&m, r, 0, 3 + gsl_rng_uniform_int(r, 7));
        tm_cap_joint(&m, r, TM_JOINT_CAP);
        random_evidence(&m, r, 0.1);
        check_model(&m, r);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

static void test_grids(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 503);
    for (int it = 0; it < 8; it++) {
        tm_model m;
        gen_grid(&m, r, 3, it < 4 ? 2 : 3);
        random_evidence(&m, r, 0.1);
        check_model(&m, r);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

static void test_disconnected(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 504);
    for (int it = 0; it < 20; it++) {
        tm_model m;
        gen_disconnected(&m, r);
        random_evidence(&m, r, 0.1);
        check_model(&m, r);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* A ring of 6 binary variables: min-fill gives 4 triangles. */
static void test_ring_structure(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 505);
    tm_model m;
    tm_init(&m);
    for (size_t v = 0; v < 6; v++)
        tm_add_var(&m, 2);
    size_t cards[2] = {2, 2};
    size_t pot = tm_pot_dense_random(&m, r, 2, cards, 0.0, -1.0, 1.0);
    for (size_t v = 0; v < 6; v++) {
        size_t scope[2] = {v, (v + 1) % 6};
        tm_add_factor(&m, pot, scope, 2, CAI_MODE_NORMAL, 1);
    }
    cai_graph *g = tm_build_graph(&m, NULL, 0);
    cai_jtree *jt = make_jtree(g, CAI_SUM_PRODUCT, false);
    CU_ASSERT(cai_jtree_is_compiled(jt));
    CU_ASSERT(cai_jtree_n_cliques(jt) == 4);
    CU_ASSERT(cai_jtree_treewidth(jt) == 2);
    CU_ASSERT(cai_jtree_max_clique_entries(jt) == 8);
    const cai_graph *tg = cai_jtree_tree_graph(jt);
    CU_ASSERT_FATAL(tg != NULL);
    /* 4 cliques, 3 separators of 2 variables, 6 links, 4 clique tables */
    CU_ASSERT(cai_graph_n_variables(tg) == 7);
    CU_ASSERT(cai_graph_n_factors(tg) == 10);
    CU_ASSERT(cai_graph_variable_card(tg, 4) == 4);
    /* first eliminated: v0 (all fills equal, lowest index) */
    size_t k;
    const size_t *c0 = cai_jtree_clique(jt, 0, &k);
    CU_ASSERT(k == 3 && c0[0] == 0 && c0[1] == 1 && c0[2] == 5);
    CU_ASSERT(cai_jtree_clique(jt, 4, &k) == NULL);
    brute b;
    size_t ev[TM_MAXV];
    for (size_t v = 0; v < TM_MAXV; v++)
        ev[v] = CAI_NONE;
    bf_run(&m, ev, &b);
    check_sum(&m, jt, &b);
    bf_free(&b);
    cai_jtree_free(jt);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* forests: compiled == cai_plan                                        */

static void test_forests_match_plan(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 506);
    for (int it = 0; it < 40; it++) {
        tm_model m;
        tm_init(&m);
        size_t n = 2 + gsl_rng_uniform_int(r, 8);
        for (size_t v = 0; v < n; v++)
            tm_add_var(&m, small_card(r));
        tm_cap_joint(&m, r, TM_JOINT_CAP);
        for (size_t v = 1; v < n; v++) {
            if (gsl_rng_uniform(r) < 0.15)
                continue; /* a new tree */
            size_t scope[2] = {gsl_rng_uniform_int(r, v), v};
            add_random_factor(&m, r, scope, 2);
        }
        for (size_t u = gsl_rng_uniform_int(r, 4); u-- > 0;) {
            size_t v = gsl_rng_uniform_int(r, n);
            add_random_factor(&m, r, &v, 1);
        }
        random_evidence(&m, r, 0.15);
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        cai_error err;
        for (int a = 0; a < 2; a++) {
            cai_algorithm alg = a ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
            cai_plan_options po = cai_plan_options_default();
            po.algorithm = alg;
            cai_plan *plan = NULL;
            cai_workspace *ws = NULL;
            CU_ASSERT_FATAL(cai_plan_create(g, &po, &plan, &err) == CAI_OK);
            CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, &err) == CAI_OK);
            CU_ASSERT_FATAL(cai_plan_execute(plan, ws, &err) == CAI_OK);
            cai_jtree *direct = make_jtree(g, alg, false);
            cai_jtree *comp = make_jtree(g, alg, true);
            CU_ASSERT(!cai_jtree_is_compiled(direct));
            CU_ASSERT(cai_jtree_tree_graph(direct) == NULL);
            CU_ASSERT(cai_jtree_is_compiled(comp));
            CU_ASSERT(cai_jtree_log_z(direct) == cai_query_log_z(ws));
            CAI_ASSERT_CLOSE(cai_jtree_log_z(comp), cai_query_log_z(ws), TOL);
            if (!a) {
                for (size_t v = 0; v < n; v++) {
                    double q0[8], q1[8];
                    CU_ASSERT_FATAL(cai_query_marginal(ws, v, q0, &err) == CAI_OK);
                    CU_ASSERT_FATAL(cai_jtree_marginal(comp, v, q1, &err) == CAI_OK);
                    for (size_t s = 0; s < m.card[v]; s++)
                        CU_ASSERT(cai_test_close(q0[s], q1[s], TOL)
                                  || (isnan(q0[s]) && isnan(q1[s])));
                }
                for (size_t f = 0; f < m.nf; f++) {
                    size_t sz = m.pot[m.f[f].pot].size;
                    double *q0 = malloc(sz * sizeof(double)), *q1 = malloc(sz * sizeof(double));
                    CU_ASSERT_FATAL(cai_query_factor_belief(ws, f, q0, &err) == CAI_OK);
                    CU_ASSERT_FATAL(cai_jtree_factor_belief(comp, f, q1, &err) == CAI_OK);
                    for (size_t i = 0; i < sz; i++)
                        CU_ASSERT(cai_test_close(q0[i], q1[i], TOL)
                                  || (isnan(q0[i]) && isnan(q1[i])));
                    free(q0);
                    free(q1);
                }
            } else {
                size_t x[TM_MAXV];
                double s0, s1;
                CU_ASSERT_FATAL(cai_query_map(ws, NULL, &s0, &err) == CAI_OK);
                CU_ASSERT_FATAL(cai_jtree_map(comp, x, &s1, &err) == CAI_OK);
                CAI_ASSERT_CLOSE(s0, s1, TOL);
                if (s1 > -INFINITY)
                    CAI_ASSERT_CLOSE(bf_weight(&m, x, m.ev), s1, TOL);
            }
            cai_jtree_free(direct);
            cai_jtree_free(comp);
            cai_workspace_free(ws);
            cai_plan_free(plan);
        }
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* the clique-size limit and errors                                    */

static cai_graph *big_grid(size_t side)
{
    cai_graph *g = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_graph_create(&g, &err) == CAI_OK);
    for (size_t v = 0; v < side * side; v++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", v);
        CU_ASSERT_FATAL(cai_graph_add_variable(g, name, 2, NULL, NULL, &err) == CAI_OK);
    }
    size_t cards[2] = {2, 2};
    double lv[4] = {0.5, -0.5, -0.5, 0.5};
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(2, cards, lv, &p, &err) == CAI_OK);
    for (size_t i = 0; i < side; i++)
        for (size_t j = 0; j < side; j++) {
            size_t v = i * side + j;
            if (j + 1 < side)
                CU_ASSERT_FATAL(cai_graph_add_factor(g, p, (size_t[]){v, v + 1}, 2,
                                                     CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
            if (i + 1 < side)
                CU_ASSERT_FATAL(cai_graph_add_factor(g, p, (size_t[]){v, v + side}, 2,
                                                     CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
        }
    cai_potential_unref(p);
    return g;
}

static void test_clique_limit(void)
{
    cai_graph *g = big_grid(30);
    cai_jtree_options o = cai_jtree_options_default();
    o.max_clique_entries = 1000;
    cai_jtree *jt = NULL;
    cai_error err;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_OVERFLOW);
    CU_ASSERT(err.code == CAI_ERR_OVERFLOW);
    CU_ASSERT(jt == NULL);
    CU_ASSERT(strstr(err.message, "largest clique has") != NULL);
    CU_ASSERT(strstr(err.message, "max_clique_entries = 1000") != NULL);
    CU_ASSERT(strstr(err.message, "variables: x") != NULL);
    /* the default limit (1e8) refuses it too: treewidth ~30 */
    CU_ASSERT(cai_jtree_create(g, NULL, &jt, &err) == CAI_ERR_OVERFLOW);
    CU_ASSERT(strstr(err.message, "max_clique_entries = 1e+08") != NULL);
    CU_ASSERT(jt == NULL);
    cai_graph_free(g);
    /* a 4x4 grid fits a limit of 32 (treewidth 4) but not of 31 */
    g = big_grid(4);
    o.max_clique_entries = 32;
    CU_ASSERT_FATAL(cai_jtree_create(g, &o, &jt, &err) == CAI_OK);
    CU_ASSERT(cai_jtree_treewidth(jt) == 4);
    CU_ASSERT(cai_jtree_max_clique_entries(jt) == 32);
    cai_jtree_free(jt);
    jt = NULL;
    o.max_clique_entries = 31;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_OVERFLOW);
    CU_ASSERT(strstr(err.message, "32 joint states (5 variables") != NULL);
    cai_graph_free(g);
}

static void test_errors(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 507);
    cai_error err;
    cai_jtree *jt = NULL;
    CU_ASSERT(cai_jtree_create(NULL, NULL, &jt, &err) == CAI_ERR_INVALID);
    tm_model m;
    tm_init(&m);
    gen_ring(&m, r, 0, 4);
    size_t cards[2] = {m.card[1], m.card[2]};
    size_t csr = tm_pot_csr_random(&m, r, 1, cards, cards[1], 0.7, 0);
    size_t fe = tm_add_factor(&m, csr, (size_t[]){1, 2}, 2, CAI_MODE_EXPECTATION, 1);
    cai_graph *g = tm_build_graph(&m, NULL, 0);
    CU_ASSERT(cai_jtree_create(g, NULL, NULL, &err) == CAI_ERR_INVALID);
    cai_jtree_options o = cai_jtree_options_default();
    o.max_clique_entries = 0.5;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_RANGE);
    o.max_clique_entries = NAN;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_RANGE);
    o = cai_jtree_options_default();
    o.algorithm = (cai_algorithm)7;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_jtree_create(g, NULL, &jt, &err) == CAI_ERR_STRUCTURE);
    char want[64];
    snprintf(want, sizeof want, "factor %zu is in expectation mode", fe);
    CU_ASSERT(strstr(err.message, want) != NULL);
    CU_ASSERT(jt == NULL);
    cai_graph_free(g);
    tm_free(&m);

    /* queries */
    tm_init(&m);
    gen_ring(&m, r, 0, 4);
    g = tm_build_graph(&m, NULL, 0);
    CU_ASSERT_FATAL(cai_jtree_create(g, NULL, &jt, &err) == CAI_OK);
    double q[8];
    size_t x[8];
    CU_ASSERT(isnan(cai_jtree_log_z(jt)));
    CU_ASSERT(cai_jtree_marginal(jt, 0, q, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_jtree_run(jt, &err) == CAI_OK);
    CU_ASSERT(cai_jtree_marginal(jt, 4, q, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_marginal(jt, 0, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_factor_belief(jt, m.nf, q, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_map(jt, x, NULL, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_jtree_set_evidence(jt, 9, 0, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_set_evidence(jt, 0, 5, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_jtree_set_evidence(NULL, 0, 0, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_run(NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_jtree_marginal(NULL, 0, q, &err) == CAI_ERR_INVALID);
    cai_jtree_free(jt);
    jt = make_jtree(g, CAI_MAX_PRODUCT, false);
    CU_ASSERT(cai_jtree_marginal(jt, 0, q, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_jtree_factor_belief(jt, 0, q, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_jtree_map(jt, NULL, NULL, &err) == CAI_OK);
    cai_jtree_free(jt);
    cai_jtree_free(NULL);
    CU_ASSERT(cai_jtree_n_cliques(NULL) == 0);
    CU_ASSERT(isnan(cai_jtree_log_z(NULL)));
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* A forest keeps expectation-mode factors: it is planned directly. */
static void test_forest_expectation(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 508);
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 2);
    tm_add_var(&m, 3);
    size_t cards[2] = {2, 3};
    size_t csr = tm_pot_csr_random(&m, r, 1, cards, 3, 0.8, 0);
    tm_add_factor(&m, csr, (size_t[]){0, 1}, 2, CAI_MODE_EXPECTATION, 1);
    cai_graph *g = tm_build_graph(&m, NULL, 0);
    cai_jtree *jt = make_jtree(g, CAI_SUM_PRODUCT, false);
    CU_ASSERT(!cai_jtree_is_compiled(jt));
    CU_ASSERT(cai_jtree_n_cliques(jt) == 1);
    CU_ASSERT(cai_jtree_treewidth(jt) == 1);
    CU_ASSERT(cai_jtree_max_clique_entries(jt) == 6);
    cai_jtree_free(jt);
    cai_jtree_options o = cai_jtree_options_default();
    o.compile_forests = true;
    cai_error err;
    CU_ASSERT(cai_jtree_create(g, &o, &jt, &err) == CAI_ERR_STRUCTURE);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("jtree", NULL, NULL);
    CU_add_test(s, "120 random loopy graphs vs brute force", test_random_loopy);
    CU_add_test(s, "40 cycles vs brute force", test_cycles);
    CU_add_test(s, "3x3 grids, binary and ternary, tied", test_grids);
    CU_add_test(s, "disconnected parts", test_disconnected);
    CU_add_test(s, "ring structure: cliques, treewidth, tree graph", test_ring_structure);
    CU_add_test(s, "forests: compiled equals cai_plan", test_forests_match_plan);
    CU_add_test(s, "the clique-size limit", test_clique_limit);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "forests keep expectation factors", test_forest_expectation);
}
