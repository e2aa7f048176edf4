/* tests/test_engine.c — sum-product and max-product on forests against
 * brute-force enumeration, tying, MAP tie-breaking, the error paths of
 * potentials, graphs, plans and queries, and the runs the upward pass's
 * threads take their blocks from. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cai/logmath.h"

#include "../lib/engine/rows.h"

/* ------------------------------------------------------------------ */
/* random forests                                                      */

/* A potential for scope[0..k-1]: dense or CSR (child = last position),
 * shared with an earlier one of the same shape half the time. */
static size_t make_pot(tm_model *m, gsl_rng *r, const size_t *scope, size_t k,
                       int wide, double csr_prob)
{
    size_t cards[TM_MAXK];
    for (size_t i = 0; i < k; i++)
        cards[i] = m->card[scope[i]];
    int csr = gsl_rng_uniform(r) < csr_prob;
    size_t tie = tm_find_pot(m, k, cards, csr);
    if (tie != CAI_NONE && gsl_rng_uniform(r) < 0.5)
        return tie;
    if (csr)
        return tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.7, 0);
    if (wide)
        return tm_pot_dense_random(m, r, k, cards, 0.05, -400.0, 400.0);
    return tm_pot_dense_random(m, r, k, cards, 0.05, -3.0, 3.0);
}

static void gen_forest(tm_model *m, gsl_rng *r, int wide)
{
    tm_init(m);
    size_t n = 2 + gsl_rng_uniform_int(r, 11);
    for (size_t v = 0; v < n; v++) /* cardinality 1 now and then */
        tm_add_var(m, gsl_rng_uniform(r) < 0.05 ? 1 : 2 + gsl_rng_uniform_int(r, 4));
    tm_cap_joint(m, r, TM_JOINT_CAP);
    size_t perm[TM_MAXV];
    cai_test_permutation(r, perm, n);
    int placed[TM_MAXV] = {0};
    size_t placed_list[TM_MAXV];
    size_t n_placed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t v = perm[i];
        if (placed[v])
            continue;
        if (n_placed == 0 || gsl_rng_uniform(r) < 0.15) {
            placed[v] = 1; /* a new tree (maybe an isolated variable) */
            placed_list[n_placed++] = v;
            continue;
        }
        size_t scope[4];
        size_t k = 2;
        scope[0] = placed_list[gsl_rng_uniform_int(r, n_placed)];
        scope[1] = v;
        placed[v] = 1;
        placed_list[n_placed++] = v;
        /* a third variable 30% of the time, then a fourth 25% */
        for (double p = 0.3; k < 4 && gsl_rng_uniform(r) < p; p = 0.25) {
            size_t u = tm_place_next(perm, i + 1, n, placed, placed_list, &n_placed);
            if (u == CAI_NONE)
                break;
            scope[k++] = u;
        }
        cai_test_shuffle(r, scope, k);
        size_t pot = make_pot(m, r, scope, k, wide, 0.3);
        tm_add_factor(m, pot, scope, k, CAI_MODE_NORMAL, 1);
    }
    /* factors absorbed into a larger (or equal) scope */
    size_t n_main = m->nf;
    size_t n_abs = n_main ? gsl_rng_uniform_int(r, 4) : 0;
    for (size_t a = 0; a < n_abs; a++) {
        const tm_factor *host = &m->f[gsl_rng_uniform_int(r, n_main)];
        size_t scope[4];
        memcpy(scope, host->scope, host->k * sizeof(size_t));
        cai_test_shuffle(r, scope, host->k);
        size_t k = 2 + gsl_rng_uniform_int(r, host->k - 1); /* 2..host k */
        size_t pot = make_pot(m, r, scope, k, wide, 0.3);
        tm_add_factor(m, pot, scope, k, CAI_MODE_NORMAL, 0);
    }
    /* one-variable factors: tables and parentless CSR priors */
    size_t n_un = gsl_rng_uniform_int(r, 5);
    for (size_t u = 0; u < n_un; u++) {
        size_t v = gsl_rng_uniform_int(r, n);
        size_t pot = make_pot(m, r, &v, 1, wide, 0.4);
        tm_add_factor(m, pot, &v, 1, CAI_MODE_NORMAL, 0);
    }
    for (size_t v = 0; v < n; v++)
        if (gsl_rng_uniform(r) < 0.15)
            m->ev[v] = gsl_rng_uniform_int(r, m->card[v]);
}

/* Variables without any factor are tied in every state; MAP takes the
 * evidence or state 0 there. */
static void map_fixed(const tm_model *m, const size_t *ev, size_t *fix)
{
    for (size_t v = 0; v < m->n; v++) {
        int has = 0;
        for (size_t i = 0; i < m->nf; i++)
            has |= tm_in_scope(&m->f[i], v);
        fix[v] = has ? CAI_NONE : (ev[v] != CAI_NONE ? ev[v] : 0);
    }
}

/* Everything a sum-product execute reports, for bit-identity checks. */
typedef struct snapshot {
    double log_z;
    double marg[TM_MAXV][8];
    size_t map[TM_MAXV];
    double map_score;
    double map_log_z;
} snapshot;

/* Returns the number of failed queries; no CUnit calls (used in threads). */
static int snapshot_raw(const tm_model *m, const cai_workspace *sum,
                        const cai_workspace *max, snapshot *s)
{
    int bad = 0;
    memset(s, 0, sizeof *s);
    s->log_z = cai_query_log_z(sum);
    for (size_t v = 0; v < m->n; v++)
        bad += cai_query_marginal(sum, v, s->marg[v], NULL) != CAI_OK;
    bad += cai_query_map(max, s->map, &s->map_score, NULL) != CAI_OK;
    s->map_log_z = cai_query_log_z(max);
    return bad;
}

static void take_snapshot(const tm_model *m, const cai_workspace *sum,
                          const cai_workspace *max, snapshot *s)
{
    CU_ASSERT(snapshot_raw(m, sum, max, s) == 0);
}

static int failures_reported = 0;

/* What the random forests exercised, printed once per test. */
static struct coverage {
    unsigned forests, zero_weight, evidence, conditionals, nan_rows;
    unsigned map_exact, map_tied, tied_pots, absorbed, csr, unary, isolated;
    unsigned multi_tree, requested_root;
} cov;

static void note_failure(unsigned long seed, const char *what)
{
    if (failures_reported++ < 10)
        fprintf(stderr, "\n  forest seed %lu: %s\n", seed, what);
}

static int close_to(double a, double b, double tol)
{
    return cai_test_close(a, b, tol);
}

/* Compare a sum-product and a max-product workspace, both executed with
 * evidence ev, to brute force. order maps graph factors to model factors;
 * dist is the distance of each variable from its tree's root. */
static void compare_forest(const tm_model *m, const size_t *order,
                           const size_t *ev, const size_t *dist,
                           const cai_workspace *sum, const cai_workspace *max,
                           unsigned long seed)
{
    size_t fix[TM_MAXV];
    map_fixed(m, ev, fix);
    tm_oracle o;
    tm_oracle_run(m, ev, fix, &o);
    const double tol = 1e-10;

    double lz = cai_query_log_z(sum);
    CAI_ASSERT_CLOSE(lz, o.log_z, tol);
    if (!close_to(lz, o.log_z, tol))
        note_failure(seed, "log Z");

    double out[8 * 8 * 8 * 8];
    for (size_t v = 0; v < m->n; v++)
        cov.evidence += ev[v] != CAI_NONE;
    if (o.log_z == -INFINITY) {
        cov.zero_weight++;
        for (size_t v = 0; v < m->n; v++) {
            CU_ASSERT(cai_query_marginal(sum, v, out, NULL) == CAI_OK);
            for (size_t s = 0; s < m->card[v]; s++)
                CU_ASSERT(isnan(out[s]));
        }
        double sc = 0;
        size_t x[TM_MAXV];
        CU_ASSERT(cai_query_map(max, x, &sc, NULL) == CAI_OK);
        CU_ASSERT(sc == -INFINITY);
        CU_ASSERT(cai_query_log_z(max) == -INFINITY);
        tm_oracle_free(&o);
        return;
    }

    for (size_t v = 0; v < m->n; v++) {
        CU_ASSERT(cai_query_marginal(sum, v, out, NULL) == CAI_OK);
        for (size_t s = 0; s < m->card[v]; s++) {
            CAI_ASSERT_CLOSE(out[s], o.marg[v][s], tol);
            if (!close_to(out[s], o.marg[v][s], tol))
                note_failure(seed, "marginal");
            /* tiny probabilities are sums of products of nonnegative
             * terms, so they too are accurate relative to their size */
            if (o.marg[v][s] > 1e-280) {
                CU_ASSERT(fabs(out[s] - o.marg[v][s]) <= 1e-9 * o.marg[v][s]);
                if (!(fabs(out[s] - o.marg[v][s]) <= 1e-9 * o.marg[v][s]))
                    note_failure(seed, "marginal, relative");
            }
        }
    }
    for (size_t i = 0; i < m->nf; i++) {
        size_t mf = order[i];
        const tm_pot *p = &m->pot[m->f[mf].pot];
        cai_error err;
        cai_status st = cai_query_factor_belief(sum, i, out, &err);
        CU_ASSERT(st == CAI_OK);
        if (st != CAI_OK)
            continue;
        for (size_t j = 0; j < p->size; j++) {
            CAI_ASSERT_CLOSE(out[j], o.belief[mf][j], tol);
            if (!close_to(out[j], o.belief[mf][j], tol))
                note_failure(seed, "factor belief");
        }
    }

    /* p(x | y) from the cavity, y the variable of a cluster nearest the root */
    for (size_t c = 0; c < m->nf; c++) {
        const tm_factor *f = &m->f[c];
        if (!f->main)
            continue;
        size_t y = tm_up_var(m, c, dist);
        for (size_t j = 0; j < f->k; j++) {
            size_t x = f->scope[j];
            if (x == y)
                continue;
            double want[64];
            tm_cavity_conditional(m, ev, c, x, y, want);
            cai_error err;
            cai_status st = cai_query_conditional(sum, x, y, out, &err);
            CU_ASSERT(st == CAI_OK);
            if (st != CAI_OK) {
                note_failure(seed, err.message);
                continue;
            }
            cov.conditionals++;
            for (size_t e = 0; e < m->card[x] * m->card[y]; e++) {
                if (isnan(want[e])) {
                    cov.nan_rows++;
                    CU_ASSERT(isnan(out[e]));
                    if (!isnan(out[e]))
                        note_failure(seed, "conditional: want a NaN row");
                } else {
                    CAI_ASSERT_CLOSE(out[e], want[e], tol);
                    if (!close_to(out[e], want[e], tol))
                        note_failure(seed, "conditional");
                }
            }
        }
    }

    /* MAP */
    size_t x[TM_MAXV];
    double sc = NAN;
    CU_ASSERT(cai_query_map(max, x, &sc, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(sc, o.best, tol);
    CU_ASSERT(cai_query_log_z(max) == sc);
    double own = tm_log_weight(m, x, ev, NULL);
    CAI_ASSERT_CLOSE(own, o.best, tol);
    if (!close_to(own, o.best, tol) || !close_to(sc, o.best, tol))
        note_failure(seed, "MAP score");
    for (size_t v = 0; v < m->n; v++) {
        if (ev[v] != CAI_NONE)
            CU_ASSERT(x[v] == ev[v]);
        if (fix[v] != CAI_NONE)
            CU_ASSERT(x[v] == fix[v]);
    }
    if (o.best - o.second <= 1e-9)
        cov.map_tied++;
    if (o.best - o.second > 1e-9) {
        cov.map_exact++;
        int same = memcmp(x, o.best_x, m->n * sizeof(size_t)) == 0;
        CU_ASSERT(same);
        if (!same)
            note_failure(seed, "MAP assignment");
    }
    tm_oracle_free(&o);
}

static void run_forest(gsl_rng *r, unsigned long seed, int wide)
{
    tm_model m;
    gen_forest(&m, r, wide);

    size_t order[TM_MAXF];
    cai_test_permutation(r, order, m.nf);
    cai_graph *g = tm_build_graph(&m, order, 1);

    /* accessors and tying bookkeeping */
    CU_ASSERT(cai_graph_n_variables(g) == m.n);
    CU_ASSERT(cai_graph_n_factors(g) == m.nf);
    int used[TM_MAXF] = {0};
    for (size_t i = 0; i < m.nf; i++) {
        const tm_factor *f = &m.f[order[i]];
        size_t k = 0;
        const size_t *sc = cai_graph_factor_scope(g, i, &k);
        CU_ASSERT(k == f->k);
        CU_ASSERT(memcmp(sc, f->scope, k * sizeof(size_t)) == 0);
        CU_ASSERT(cai_graph_factor_potential(g, i) == m.pot[f->pot].p);
        CU_ASSERT(cai_graph_factor_mode(g, i) == CAI_MODE_NORMAL);
        used[f->pot] = 1;
    }
    cov.forests++;
    for (size_t i = 0; i < m.nf; i++) {
        cov.absorbed += !m.f[i].main && m.f[i].k > 1;
        cov.unary += m.f[i].k == 1;
        cov.csr += m.pot[m.f[i].pot].is_csr;
        for (size_t j = 0; j < i; j++)
            cov.tied_pots += m.f[j].pot == m.f[i].pot;
    }
    for (size_t v = 0; v < m.n; v++) {
        int has = 0;
        for (size_t i = 0; i < m.nf; i++)
            has |= tm_in_scope(&m.f[i], v);
        cov.isolated += !has;
    }
    size_t n_used = 0, bytes = 0;
    for (size_t p = 0; p < m.np; p++)
        if (used[p]) {
            n_used++;
            bytes += cai_potential_bytes(m.pot[p].p);
        }
    CU_ASSERT(cai_graph_n_potentials(g) == n_used);
    CU_ASSERT(cai_graph_potential_bytes(g) == bytes);
    for (size_t v = 0; v < m.n; v++)
        CU_ASSERT(cai_graph_evidence(g, v) == m.ev[v]);

    /* roots: lowest index per tree, or the requested one */
    cai_plan_options opt = cai_plan_options_default();
    CU_ASSERT(opt.algorithm == CAI_SUM_PRODUCT);
    CU_ASSERT(opt.root == CAI_NONE);
    if (gsl_rng_uniform(r) < 0.3)
        opt.root = gsl_rng_uniform_int(r, m.n);
    size_t comp[TM_MAXV];
    tm_components(&m, comp);
    int is_root[TM_MAXV] = {0};
    size_t n_trees = 0;
    for (size_t v = 0; v < m.n; v++) {
        int default_root = comp[v] == v;
        int requested = opt.root != CAI_NONE && comp[opt.root] == comp[v];
        is_root[v] = requested ? v == opt.root : default_root;
        n_trees += default_root;
    }
    cov.multi_tree += n_trees > 1;
    cov.requested_root += opt.root != CAI_NONE;
    size_t dist[TM_MAXV];
    tm_bfs(&m, is_root, TM_MAXF, dist);
    size_t n_main = 0;
    for (size_t i = 0; i < m.nf; i++)
        n_main += m.f[i].main;

    cai_plan *ps = NULL, *pm = NULL;
    cai_error err;
    cai_status st = cai_plan_create(g, &opt, &ps, &err);
    if (st != CAI_OK)
        note_failure(seed, err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, &err) == CAI_OK);
    CU_ASSERT(cai_plan_algorithm(ps) == CAI_SUM_PRODUCT);
    CU_ASSERT(cai_plan_algorithm(pm) == CAI_MAX_PRODUCT);
    CU_ASSERT(cai_plan_n_trees(ps) == n_trees);
    CU_ASSERT(cai_plan_n_clusters(ps) == n_main);
    for (size_t v = 0; v < m.n; v++) {
        size_t want = CAI_NONE;
        for (size_t u = 0; u < m.n; u++)
            if (is_root[u] && comp[u] == comp[v])
                want = u;
        CU_ASSERT(cai_plan_root_of(ps, v) == want);
        CU_ASSERT(cai_plan_root_of(pm, v) == want);
    }
    /* the plan does not refer to the graph */
    cai_graph_free(g);

    cai_workspace *ws = NULL, *wm = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, &err) == CAI_OK);
    compare_forest(&m, order, m.ev, dist, ws, wm, seed);

    snapshot s1, s2;
    take_snapshot(&m, ws, wm, &s1);
    CU_ASSERT(cai_plan_execute(ps, ws, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, &err) == CAI_OK);
    take_snapshot(&m, ws, wm, &s2);
    CU_ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);

    /* new evidence through the workspaces, same plans */
    size_t ev2[TM_MAXV];
    memcpy(ev2, m.ev, sizeof ev2);
    for (size_t v = 0; v < m.n; v++) {
        if (gsl_rng_uniform(r) >= 0.25)
            continue;
        ev2[v] = (ev2[v] != CAI_NONE && gsl_rng_uniform(r) < 0.5)
                     ? CAI_NONE
                     : gsl_rng_uniform_int(r, m.card[v]);
        CU_ASSERT(cai_workspace_set_evidence(ws, v, ev2[v], &err) == CAI_OK);
        CU_ASSERT(cai_workspace_set_evidence(wm, v, ev2[v], &err) == CAI_OK);
    }
    CU_ASSERT(cai_plan_execute(ps, ws, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, &err) == CAI_OK);
    compare_forest(&m, order, ev2, dist, ws, wm, seed);

    /* and back: the first results again, bit for bit */
    for (size_t v = 0; v < m.n; v++)
        if (ev2[v] != m.ev[v]) {
            CU_ASSERT(cai_workspace_set_evidence(ws, v, m.ev[v], &err) == CAI_OK);
            CU_ASSERT(cai_workspace_set_evidence(wm, v, m.ev[v], &err) == CAI_OK);
        }
    CU_ASSERT(cai_plan_execute(ps, ws, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, &err) == CAI_OK);
    take_snapshot(&m, ws, wm, &s2);
    CU_ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);

    /* a second workspace of the same plan agrees bit for bit */
    cai_workspace *ws2 = NULL, *wm2 = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws2, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm2, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws2, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm2, &err) == CAI_OK);
    take_snapshot(&m, ws2, wm2, &s2);
    CU_ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);

    cai_workspace_free(ws2);
    cai_workspace_free(wm2);
    cai_workspace_free(ws);
    cai_workspace_free(wm);
    cai_plan_free(ps);
    cai_plan_free(pm);
    tm_free(&m);
}

static void print_coverage(void)
{
    fprintf(stderr,
            "\n  %u forests: %u zero-weight, %u clamped, %u conditionals (%u NaN "
            "entries), MAP %u exact / %u tied, %u tied factor pairs, %u absorbed, "
            "%u CSR, %u unary, %u isolated, %u multi-tree, %u requested roots ",
            cov.forests, cov.zero_weight, cov.evidence, cov.conditionals, cov.nan_rows,
            cov.map_exact, cov.map_tied, cov.tied_pots, cov.absorbed, cov.csr, cov.unary,
            cov.isolated, cov.multi_tree, cov.requested_root);
    memset(&cov, 0, sizeof cov);
}

/* count forests from the seeds first, first + 1, ..., then the coverage. */
static void run_forests(unsigned long first, unsigned long count, int wide)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (unsigned long t = 0; t < count; t++) {
        gsl_rng_set(r, first + t);
        run_forest(r, first + t, wide);
    }
    print_coverage();
    gsl_rng_free(r);
}

static void test_random_forests(void)
{
    run_forests(1000, 200, 0);
}

/* Log values spanning hundreds of nats: messages beyond the scaled linear
 * domain, so the log-domain kernels run. */
static void test_random_forests_wide(void)
{
    run_forests(5000, 60, 1);
}

/* Messages whose values span just under and just over the ~600 nats of the
 * scaled linear domain, on a chain with local terms and a 3-variable
 * cluster: both kernels against brute force, tiny probabilities relative. */
static void test_span_threshold(void)
{
    const double spans[] = {100.0, 550.0, 595.0, 599.0, 600.0, 601.0, 605.0,
                            650.0, 700.0, 740.0, 800.0, 1200.0};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 31337);
    for (size_t si = 0; si < sizeof spans / sizeof spans[0]; si++) {
        double span = spans[si];
        tm_model m;
        tm_init(&m);
        for (int i = 0; i < 5; i++)
            tm_add_var(&m, 3);
        size_t c3[3] = {3, 3, 3};
        for (size_t i = 0; i < 5; i++) {
            double u[3] = {0.0, -span * gsl_rng_uniform(r), -span};
            size_t p = tm_pot_dense(&m, 1, c3, u, 0);
            tm_add_factor(&m, p, &i, 1, CAI_MODE_NORMAL, 0);
        }
        for (size_t i = 0; i + 1 < 3; i++) {
            size_t sc[2] = {i, i + 1};
            size_t p = tm_pot_dense_random(&m, r, 2, c3, 0.0, -1.0, 1.0);
            tm_add_factor(&m, p, sc, 2, CAI_MODE_NORMAL, 1);
        }
        size_t sc3[3] = {4, 2, 3};
        size_t p3 = tm_pot_dense_random(&m, r, 3, c3, 0.0, -span / 2, span / 2);
        tm_add_factor(&m, p3, sc3, 3, CAI_MODE_NORMAL, 1);
        tm_oracle o;
        tm_oracle_run(&m, m.ev, NULL, &o);
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        cai_plan *plan = NULL;
        cai_workspace *ws = NULL;
        CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, NULL) == CAI_OK);
        CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
        CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
        CAI_ASSERT_CLOSE(cai_query_log_z(ws), o.log_z, 1e-12);
        for (size_t v = 0; v < 5; v++) {
            double out[3];
            CU_ASSERT(cai_query_marginal(ws, v, out, NULL) == CAI_OK);
            for (size_t s = 0; s < 3; s++) {
                CAI_ASSERT_CLOSE(out[s], o.marg[v][s], 1e-12);
                if (o.marg[v][s] > 1e-290)
                    CU_ASSERT(fabs(out[s] - o.marg[v][s]) <= 1e-9 * o.marg[v][s]);
            }
        }
        for (size_t f = 0; f < m.nf; f++) {
            double out[27];
            CU_ASSERT(cai_query_factor_belief(ws, f, out, NULL) == CAI_OK);
            for (size_t j = 0; j < m.pot[m.f[f].pot].size; j++)
                CAI_ASSERT_CLOSE(out[j], o.belief[f][j], 1e-12);
        }
        /* conditionals down the chain: root 0 */
        int is_root[TM_MAXV] = {1, 0, 0, 0, 0};
        size_t dist[TM_MAXV];
        tm_bfs(&m, is_root, TM_MAXF, dist);
        for (size_t c = 0; c < m.nf; c++) {
            if (!m.f[c].main)
                continue;
            size_t y = tm_up_var(&m, c, dist);
            for (size_t j = 0; j < m.f[c].k; j++) {
                size_t x = m.f[c].scope[j];
                if (x == y)
                    continue;
                double want[9], out[9];
                tm_cavity_conditional(&m, m.ev, c, x, y, want);
                CU_ASSERT(cai_query_conditional(ws, x, y, out, NULL) == CAI_OK);
                for (size_t e = 0; e < 9; e++) {
                    CAI_ASSERT_CLOSE(out[e], want[e], 1e-12);
                    if (want[e] > 1e-290)
                        CU_ASSERT(fabs(out[e] - want[e]) <= 1e-9 * want[e]);
                }
            }
        }
        cai_workspace_free(ws);
        cai_plan_free(plan);
        cai_graph_free(g);
        tm_oracle_free(&o);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* Executes of one plan on different workspaces may run concurrently: four
 * threads, each with its own workspaces and evidence, must reproduce the
 * serial results bit for bit. */
#define CONC_PATTERNS 8
#define CONC_THREADS 4

typedef struct conc_job {
    const tm_model *m;
    const cai_plan *ps, *pm;
    const size_t (*ev)[TM_MAXV];
    const snapshot *want;
    unsigned seed;
    int mismatches;
} conc_job;

static void apply_evidence(const tm_model *m, cai_workspace *ws, cai_workspace *wm,
                           const size_t *ev)
{
    for (size_t v = 0; v < m->n; v++) {
        cai_workspace_set_evidence(ws, v, ev[v], NULL);
        cai_workspace_set_evidence(wm, v, ev[v], NULL);
    }
}

static void *conc_worker(void *arg)
{
    conc_job *job = arg;
    cai_workspace *ws = NULL, *wm = NULL;
    if (cai_workspace_create(job->ps, &ws, NULL) != CAI_OK
        || cai_workspace_create(job->pm, &wm, NULL) != CAI_OK) {
        job->mismatches = -1;
        cai_workspace_free(ws);
        return NULL;
    }
    for (unsigned it = 0; it < 40; it++) {
        size_t k = (it * 5 + job->seed) % CONC_PATTERNS;
        apply_evidence(job->m, ws, wm, job->ev[k]);
        snapshot got;
        int bad = cai_plan_execute(job->ps, ws, NULL) != CAI_OK;
        bad += cai_plan_execute(job->pm, wm, NULL) != CAI_OK;
        bad += snapshot_raw(job->m, ws, wm, &got);
        if (bad || memcmp(&got, &job->want[k], sizeof got) != 0)
            job->mismatches++;
    }
    cai_workspace_free(ws);
    cai_workspace_free(wm);
    return NULL;
}

static void test_concurrent_executes(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 8080);
    tm_model m;
    do { /* a forest of some size */
        gen_forest(&m, r, 0);
        if (m.n >= 8 && m.nf >= 6)
            break;
        tm_free(&m);
    } while (1);
    cai_graph *g = tm_build_graph(&m, NULL, 0);
    cai_plan *ps = NULL, *pm = NULL;
    cai_plan_options opt = cai_plan_options_default();
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &ps, NULL) == CAI_OK);
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, NULL) == CAI_OK);
    size_t ev[CONC_PATTERNS][TM_MAXV];
    snapshot want[CONC_PATTERNS];
    cai_workspace *ws = NULL, *wm = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    for (size_t k = 0; k < CONC_PATTERNS; k++) {
        for (size_t v = 0; v < m.n; v++)
            ev[k][v] = gsl_rng_uniform(r) < 0.2 ? gsl_rng_uniform_int(r, m.card[v])
                                                : CAI_NONE;
        apply_evidence(&m, ws, wm, ev[k]);
        CU_ASSERT(cai_plan_execute(ps, ws, NULL) == CAI_OK);
        CU_ASSERT(cai_plan_execute(pm, wm, NULL) == CAI_OK);
        take_snapshot(&m, ws, wm, &want[k]);
    }
    cai_workspace_free(ws);
    cai_workspace_free(wm);
    pthread_t th[CONC_THREADS];
    conc_job jobs[CONC_THREADS];
    for (unsigned t = 0; t < CONC_THREADS; t++) {
        jobs[t] = (conc_job){&m, ps, pm, (const size_t(*)[TM_MAXV])ev, want, t, 0};
        CU_ASSERT_FATAL(pthread_create(&th[t], NULL, conc_worker, &jobs[t]) == 0);
    }
    for (unsigned t = 0; t < CONC_THREADS; t++) {
        pthread_join(th[t], NULL);
        CU_ASSERT(jobs[t].mismatches == 0);
    }
    cai_plan_free(ps);
    cai_plan_free(pm);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* runs of chunks with taking-over (rows.c)                            */

enum { RUNS_MAX = 6 };

/* The run that owns chunk ch of n among nt. */
static size_t run_owner(size_t ch, size_t n, size_t nt)
{
    size_t i = 0;
    while (ch >= n * (i + 1) / nt)
        i++;
    return i;
}

/* nt threads take n chunks, one call at a time in a random order in which
 * thread 0 makes a call only with probability 1 - stall (a slow core).
 * Every chunk goes out once; each run's chunks go out in order, whoever
 * takes them; a thread takes its own run first and takes from the runs
 * after it, in turn, only once those before are done. */
static void check_runs_schedule(gsl_rng *r, size_t n, size_t nt, double stall)
{
    chunk_run runs[RUNS_MAX];
    for (size_t me = 0; me < nt; me++)
        run_init(runs, n, me, nt);
    size_t *by = malloc((n ? n : 1) * sizeof *by), k[RUNS_MAX] = {0}, left[RUNS_MAX];
    size_t next[RUNS_MAX], done = 0, calls = 0, taken_over = 0;
    int finished[RUNS_MAX] = {0};
    CU_ASSERT_FATAL(by != NULL);
    for (size_t ch = 0; ch < n; ch++)
        by[ch] = CAI_NONE;
    for (size_t i = 0; i < nt; i++) {
        next[i] = n * i / nt;
        left[i] = n * (i + 1) / nt - next[i];
    }
    while (done < nt && calls++ < 100 * n + 100000) {
        size_t t = gsl_rng_uniform_int(r, nt);
        if (finished[t] || (t == 0 && nt > 1 && gsl_rng_uniform(r) < stall))
            continue;
        size_t ch = run_next(runs, t, nt, &k[t]);
        if (ch == SIZE_MAX) {
            finished[t] = 1;
            done++;
            continue;
        }
        CU_ASSERT_FATAL(ch < n);
        CU_ASSERT_FATAL(by[ch] == CAI_NONE);
        by[ch] = t;
        size_t o = run_owner(ch, n, nt);
        CU_ASSERT(ch == next[o]);
        next[o] = ch + 1;
        left[o]--;
        if (o != t) {
            taken_over++;
            for (size_t d = 0; (t + d) % nt != o; d++) /* its own and those before o */
                CU_ASSERT(left[(t + d) % nt] == 0);
        }
    }
    CU_ASSERT(done == nt);
    for (size_t ch = 0; ch < n; ch++)
        CU_ASSERT(by[ch] != CAI_NONE);
    /* a thread stalled 90% of the time leaves much of its run to others */
    if (stall > 0.5 && nt > 1 && n >= 100)
        CU_ASSERT(taken_over > 0);
    free(by);
}

typedef struct runs_job {
    chunk_run *runs;
    size_t me, nt;
    _Atomic unsigned *count;
} runs_job;

static void *runs_worker(void *arg)
{
    runs_job *j = arg;
    for (size_t k = 0, ch; (ch = run_next(j->runs, j->me, j->nt, &k)) != SIZE_MAX;)
        atomic_fetch_add(&j->count[ch], 1u);
    return NULL;
}

/* The partition of the upward pass's blocks among threads: random
 * schedules of the calls, then real threads racing for the same chunks. */
static void test_chunk_runs(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    static const size_t sizes[] = {0, 1, 2, 5, 7, 64, 1000};
    for (size_t nt = 1; nt <= RUNS_MAX; nt++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            for (int rep = 0; rep < 4; rep++)
                check_runs_schedule(r, sizes[i], nt, rep < 2 ? 0.0 : 0.9);
    enum { N_CHUNKS = 20011, N_THREADS = 4 };
    _Atomic unsigned *count = calloc(N_CHUNKS, sizeof *count);
    CU_ASSERT_FATAL(count != NULL);
    for (int rep = 0; rep < 20; rep++) {
        chunk_run runs[N_THREADS];
        pthread_t th[N_THREADS];
        runs_job jobs[N_THREADS];
        for (size_t ch = 0; ch < N_CHUNKS; ch++)
            atomic_store(&count[ch], 0u);
        for (size_t me = 0; me < N_THREADS; me++)
            run_init(runs, N_CHUNKS, me, N_THREADS);
        for (size_t me = 0; me < N_THREADS; me++) {
            jobs[me] = (runs_job){runs, me, N_THREADS, count};
            CU_ASSERT_FATAL(pthread_create(&th[me], NULL, runs_worker, &jobs[me]) == 0);
        }
        for (size_t me = 0; me < N_THREADS; me++)
            pthread_join(th[me], NULL);
        size_t bad = 0;
        for (size_t ch = 0; ch < N_CHUNKS; ch++)
            bad += atomic_load(&count[ch]) != 1u;
        CU_ASSERT(bad == 0);
    }
    free(count);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* potentials read back                                                */

static void test_potential_accessors(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    for (int t = 0; t < 50; t++) {
        tm_model m;
        tm_init(&m);
        size_t k = 1 + gsl_rng_uniform_int(r, 3);
        size_t cards[3];
        for (size_t i = 0; i < k; i++)
            cards[i] = 1 + gsl_rng_uniform_int(r, 5);
        size_t a = tm_pot_dense_random(&m, r, k, cards, 0.2, -5.0, 5.0);
        size_t b = tm_pot_csr_random(&m, r, k - 1, cards, cards[k - 1], 0.5, 0);
        for (size_t id = 0; id < 2; id++) {
            const tm_pot *p = &m.pot[id == 0 ? a : b];
            CU_ASSERT(cai_potential_get_kind(p->p)
                      == (p->is_csr ? CAI_POTENTIAL_CSR : CAI_POTENTIAL_TABLE));
            CU_ASSERT(cai_potential_arity(p->p) == k);
            for (size_t i = 0; i < k; i++)
                CU_ASSERT(cai_potential_card(p->p, i) == cards[i]);
            size_t nz = 0;
            size_t idx[3] = {0};
            for (size_t e = 0; e < p->size; e++) {
                size_t rest = e;
                for (size_t i = k; i-- > 0;) {
                    idx[i] = rest % cards[i];
                    rest /= cards[i];
                }
                double lv = cai_potential_log_value(p->p, idx);
                CAI_ASSERT_CLOSE(lv, p->logv[e], 1e-12); /* -inf == -inf too */
                nz += p->logv[e] > -INFINITY;
            }
            /* a table stores every entry, CSR only the nonzeros (explicit
             * zeros dropped) */
            CU_ASSERT(cai_potential_nnz(p->p) == (p->is_csr ? nz : p->size));
            CU_ASSERT(cai_potential_bytes(p->p) > 0);
        }
        /* references: the graph holds its own */
        cai_potential *extra = cai_potential_ref(m.pot[a].p);
        CU_ASSERT(extra == m.pot[a].p);
        CU_ASSERT(cai_potential_unref(extra) == NULL);
        tm_free(&m);
    }
    CU_ASSERT(cai_potential_unref(NULL) == NULL);
    gsl_rng_free(r);
}

static void test_potential_outlives_caller(void)
{
    /* the caller drops its reference right after adding the factor */
    size_t cards[2] = {2, 3};
    double lv[6] = {0.1, -0.2, 0.3, -0.4, 0.5, -0.6};
    cai_potential *p = NULL;
    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(2, cards, lv, &p, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(g, "a", 2, NULL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(g, "b", 3, NULL, NULL, NULL) == CAI_OK);
    size_t sc[2] = {0, 1};
    CU_ASSERT(cai_graph_add_factor(g, p, sc, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_potential_unref(p) == NULL);
    cai_plan *plan = NULL;
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, NULL) == CAI_OK);
    cai_graph_free(g); /* the plan keeps its own references */
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    double z = 0;
    for (int i = 0; i < 6; i++)
        z += exp(lv[i]);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(z), 1e-13);
    double b[6];
    CU_ASSERT(cai_query_factor_belief(ws, 0, b, NULL) == CAI_OK);
    for (int i = 0; i < 6; i++)
        CAI_ASSERT_CLOSE(b[i], exp(lv[i]) / z, 1e-13);
    cai_workspace_free(ws);
    cai_plan_free(plan);
}

/* ------------------------------------------------------------------ */
/* graph accessors                                                     */

static void test_graph_accessors(void)
{
    cai_graph *g = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_graph_create(&g, &err) == CAI_OK);
    const char *states[3] = {"low", "mid", "high"};
    size_t a = 99, b = 99;
    CU_ASSERT(cai_graph_add_variable(g, "temp", 3, states, &a, &err) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(g, "switch", 2, NULL, &b, &err) == CAI_OK);
    CU_ASSERT(a == 0 && b == 1);
    CU_ASSERT(cai_graph_n_variables(g) == 2);
    CU_ASSERT(cai_graph_n_factors(g) == 0);
    CU_ASSERT(strcmp(cai_graph_variable_name(g, 0), "temp") == 0);
    CU_ASSERT(strcmp(cai_graph_variable_name(g, 1), "switch") == 0);
    CU_ASSERT(cai_graph_variable_card(g, 0) == 3);
    CU_ASSERT(cai_graph_variable_card(g, 1) == 2);
    CU_ASSERT(strcmp(cai_graph_state_name(g, 0, 2), "high") == 0);
    CU_ASSERT(cai_graph_state_name(g, 1, 0) == NULL);
    CU_ASSERT(cai_graph_find_variable(g, "switch") == 1);
    CU_ASSERT(cai_graph_find_variable(g, "nope") == CAI_NONE);
    CU_ASSERT(cai_graph_find_state(g, 0, "mid") == 1);
    CU_ASSERT(cai_graph_find_state(g, 0, "none") == CAI_NONE);
    CU_ASSERT(cai_graph_find_state(g, 1, "mid") == CAI_NONE);
    CU_ASSERT(cai_graph_evidence(g, 0) == CAI_NONE);
    CU_ASSERT(cai_graph_set_evidence(g, 0, 2, &err) == CAI_OK);
    CU_ASSERT(cai_graph_evidence(g, 0) == 2);
    CU_ASSERT(cai_graph_set_evidence(g, 0, CAI_NONE, &err) == CAI_OK);
    CU_ASSERT(cai_graph_evidence(g, 0) == CAI_NONE);
    CU_ASSERT(cai_graph_n_potentials(g) == 0);
    CU_ASSERT(cai_graph_potential_bytes(g) == 0);
    cai_graph_free(g);
    cai_graph_free(NULL);
    cai_plan_free(NULL);
    cai_workspace_free(NULL);
}

/* A workspace starts from the graph's evidence at plan time; later
 * changes to the graph do not reach existing plans. */
static void test_evidence_at_plan_time(void)
{
    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(g, "u", 2, NULL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(g, "w", 3, NULL, NULL, NULL) == CAI_OK);
    size_t cards[2] = {2, 3};
    double lin[6] = {1, 2, 3, 4, 5, 6};
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create_linear(2, cards, lin, &p, NULL) == CAI_OK);
    size_t sc[2] = {0, 1};
    CU_ASSERT(cai_graph_add_factor(g, p, sc, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(g, 1, 2, NULL) == CAI_OK);
    cai_plan *plan = NULL;
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(g, 1, CAI_NONE, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(g, 0, 0, NULL) == CAI_OK);
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(3.0 + 6.0), 1e-14);
    double m0[2];
    CU_ASSERT(cai_query_marginal(ws, 0, m0, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(m0[0], 3.0 / 9.0, 1e-14);
    /* and the workspace can clear it */
    CU_ASSERT(cai_workspace_set_evidence(ws, 1, CAI_NONE, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(21.0), 1e-14);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_potential_unref(p);
    cai_graph_free(g);
}

/* A sparse cluster whose joint has 2^27 entries: the belief query refuses
 * with CAI_ERR_OVERFLOW, everything else works through the CSR kernels. */
static void test_big_sparse_cluster(void)
{
    const size_t K = 512;
    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    const char *names[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(cai_graph_add_variable(g, names[i], K, NULL, NULL, NULL) == CAI_OK);
    size_t pc[2] = {K, K};
    size_t *rp = malloc((K * K + 1) * sizeof(size_t));
    size_t *col = malloc(K * K * sizeof(size_t));
    double *pr = malloc(K * K * sizeof(double));
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            rp[a * K + b] = a * K + b;
            col[a * K + b] = (a + b) % K; /* c = a + b mod K */
            pr[a * K + b] = 1.0;
        }
    rp[K * K] = K * K;
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_csr_create(2, pc, K, rp, col, pr, &p, NULL) == CAI_OK);
    free(rp);
    free(col);
    free(pr);
    CU_ASSERT(cai_potential_nnz(p) == K * K);
    size_t sc[3] = {0, 1, 2};
    CU_ASSERT(cai_graph_add_factor(g, p, sc, 3, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(g, 2, 5, NULL) == CAI_OK);
    cai_plan *plan = NULL;
    cai_error err;
    cai_status st = cai_plan_create(g, NULL, &plan, &err);
    CU_ASSERT_FATAL(st == CAI_OK);
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    /* K pairs (a, b) give c = 5 */
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log((double)K), 1e-13);
    double *out = malloc(K * K * sizeof(double));
    CU_ASSERT(cai_query_marginal(ws, 1, out, NULL) == CAI_OK);
    for (size_t b = 0; b < K; b += 37)
        CAI_ASSERT_CLOSE(out[b], 1.0 / (double)K, 1e-13);
    st = cai_query_factor_belief(ws, 0, out, &err);
    CU_ASSERT(st == CAI_ERR_OVERFLOW);
    CU_ASSERT(err.code == CAI_ERR_OVERFLOW);
    /* p(b | a) from the cavity: b = 5 - a mod K */
    st = cai_query_conditional(ws, 1, 0, out, &err);
    CU_ASSERT(st == CAI_OK);
    if (st == CAI_OK)
        for (size_t a = 0; a < K; a += 41)
            for (size_t b = 0; b < K; b++)
                CU_ASSERT(out[a * K + b] == ((a + b) % K == 5 ? 1.0 : 0.0));
    free(out);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_potential_unref(p);
    cai_graph_free(g);
}

/* ------------------------------------------------------------------ */
/* zero total weight                                                   */

static void test_zero_weight(void)
{
    /* two trees: x0 - x1 fine, x2 - x3 impossible under evidence x2 = 1 */
    tm_model m;
    tm_init(&m);
    for (int i = 0; i < 4; i++)
        tm_add_var(&m, 2);
    double good[4] = {0.1, 0.2, -0.3, 0.4};
    double bad[4] = {0.5, 0.6, -INFINITY, -INFINITY};
    size_t cards[2] = {2, 2};
    size_t pg = tm_pot_dense(&m, 2, cards, good, 0);
    size_t pb = tm_pot_dense(&m, 2, cards, bad, 0);
    size_t s01[2] = {0, 1}, s23[2] = {2, 3};
    tm_add_factor(&m, pg, s01, 2, CAI_MODE_NORMAL, 1);
    tm_add_factor(&m, pb, s23, 2, CAI_MODE_NORMAL, 1);
    m.ev[2] = 1;
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_plan *ps = NULL, *pm = NULL;
    cai_plan_options opt = cai_plan_options_default();
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &ps, NULL) == CAI_OK);
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, NULL) == CAI_OK);
    cai_workspace *ws = NULL, *wm = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, NULL) == CAI_OK);
    double lz = cai_query_log_z(ws);
    CU_ASSERT(isinf(lz) && lz < 0);
    double out[2];
    for (size_t v = 0; v < 4; v++) {
        CU_ASSERT(cai_query_marginal(ws, v, out, NULL) == CAI_OK);
        CU_ASSERT(isnan(out[0]) && isnan(out[1]));
    }
    size_t x[4];
    double sc = 0;
    CU_ASSERT(cai_query_map(wm, x, &sc, NULL) == CAI_OK);
    CU_ASSERT(isinf(sc) && sc < 0);
    CU_ASSERT(cai_query_log_z(wm) == sc);

    /* clearing the evidence makes it possible again */
    CU_ASSERT(cai_workspace_set_evidence(ws, 2, CAI_NONE, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws, NULL) == CAI_OK);
    double z1 = 0, z2 = exp(0.5) + exp(0.6);
    for (int i = 0; i < 4; i++)
        z1 += exp(good[i]);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(z1) + log(z2), 1e-13);
    CU_ASSERT(cai_query_marginal(ws, 2, out, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(out[0], 1.0, 1e-13);
    CAI_ASSERT_CLOSE(out[1], 0.0, 1e-13);

    cai_workspace_free(ws);
    cai_workspace_free(wm);
    cai_plan_free(ps);
    cai_plan_free(pm);
    cai_graph_free(g);
    tm_free(&m);

    /* a single variable whose only factor is all zero */
    tm_init(&m);
    tm_add_var(&m, 3);
    double zero[3] = {-INFINITY, -INFINITY, -INFINITY};
    size_t c3 = 3, v0 = 0;
    size_t pz = tm_pot_dense(&m, 1, &c3, zero, 0);
    tm_add_factor(&m, pz, &v0, 1, CAI_MODE_NORMAL, 0);
    g = tm_build_graph(&m, NULL, 1);
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &ps, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws, NULL) == CAI_OK);
    lz = cai_query_log_z(ws);
    CU_ASSERT(isinf(lz) && lz < 0);
    double o3[3];
    CU_ASSERT(cai_query_marginal(ws, 0, o3, NULL) == CAI_OK);
    CU_ASSERT(isnan(o3[0]) && isnan(o3[1]) && isnan(o3[2]));
    cai_workspace_free(ws);
    cai_plan_free(ps);
    cai_graph_free(g);
    tm_free(&m);
}

/* ------------------------------------------------------------------ */
/* MAP ties                                                            */

static void run_map(const cai_graph *g, size_t root, size_t *x, double *score)
{
    cai_plan_options opt = cai_plan_options_default();
    opt.algorithm = CAI_MAX_PRODUCT;
    opt.root = root;
    cai_plan *pm = NULL;
    cai_workspace *wm = NULL;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, NULL) == CAI_OK);
    CU_ASSERT(cai_query_map(wm, x, score, NULL) == CAI_OK);
    cai_workspace_free(wm);
    cai_plan_free(pm);
}

static void test_map_ties(void)
{
    /* a chain of six 3-state variables, one all-equal potential */
    tm_model m;
    tm_init(&m);
    for (int i = 0; i < 6; i++)
        tm_add_var(&m, 3);
    double flat[9];
    for (int i = 0; i < 9; i++)
        flat[i] = 0.5;
    size_t cards[2] = {3, 3};
    size_t pf = tm_pot_dense(&m, 2, cards, flat, 0);
    for (size_t i = 0; i + 1 < 6; i++) {
        size_t sc[2] = {i, i + 1};
        tm_add_factor(&m, pf, sc, 2, CAI_MODE_NORMAL, 1);
    }
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    CU_ASSERT(cai_graph_n_potentials(g) == 1);
    size_t x[6];
    double sc = 0;
    run_map(g, CAI_NONE, x, &sc);
    for (int i = 0; i < 6; i++)
        CU_ASSERT(x[i] == 0);
    CAI_ASSERT_CLOSE(sc, 2.5, 1e-14);
    run_map(g, 3, x, &sc);
    for (int i = 0; i < 6; i++)
        CU_ASSERT(x[i] == 0);
    CU_ASSERT(cai_graph_set_evidence(g, 3, 2, NULL) == CAI_OK);
    run_map(g, CAI_NONE, x, &sc);
    for (int i = 0; i < 6; i++)
        CU_ASSERT(x[i] == (i == 3 ? 2u : 0u));
    CAI_ASSERT_CLOSE(sc, 2.5, 1e-14);
    cai_graph_free(g);
    tm_free(&m);

    /* two maximisers (0,1) and (1,0): the root takes its lowest maximiser */
    tm_init(&m);
    tm_add_var(&m, 2);
    tm_add_var(&m, 2);
    double anti[4] = {0.0, 1.0, 1.0, 0.0};
    size_t c22[2] = {2, 2};
    size_t pa = tm_pot_dense(&m, 2, c22, anti, 0);
    size_t s01[2] = {0, 1};
    tm_add_factor(&m, pa, s01, 2, CAI_MODE_NORMAL, 1);
    g = tm_build_graph(&m, NULL, 1);
    run_map(g, CAI_NONE, x, &sc);
    CU_ASSERT(x[0] == 0 && x[1] == 1);
    CAI_ASSERT_CLOSE(sc, 1.0, 1e-14);
    run_map(g, 1, x, &sc);
    CU_ASSERT(x[0] == 1 && x[1] == 0);
    CAI_ASSERT_CLOSE(sc, 1.0, 1e-14);
    cai_graph_free(g);
    tm_free(&m);

    /* a three-variable factor: maxima at (1,0,1), (1,1,0), (0,1,1) */
    tm_init(&m);
    for (int i = 0; i < 3; i++)
        tm_add_var(&m, 2);
    double tri[8] = {0, 0, 0, 2, 0, 2, 2, 0};
    size_t c222[3] = {2, 2, 2};
    size_t pt = tm_pot_dense(&m, 3, c222, tri, 0);
    size_t s012[3] = {0, 1, 2};
    tm_add_factor(&m, pt, s012, 3, CAI_MODE_NORMAL, 1);
    g = tm_build_graph(&m, NULL, 1);
    run_map(g, CAI_NONE, x, &sc);
    CU_ASSERT(x[0] == 0 && x[1] == 1 && x[2] == 1);
    CU_ASSERT(cai_graph_set_evidence(g, 0, 1, NULL) == CAI_OK);
    run_map(g, CAI_NONE, x, &sc);
    CU_ASSERT(x[0] == 1 && x[1] == 0 && x[2] == 1);
    CAI_ASSERT_CLOSE(sc, 2.0, 1e-14);
    cai_graph_free(g);
    tm_free(&m);

    /* an isolated variable and an all-zero-but-evidence variable */
    cai_graph *h = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&h, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(h, "lonely", 4, NULL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_variable(h, "clamped", 4, NULL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(h, 1, 3, NULL) == CAI_OK);
    run_map(h, CAI_NONE, x, &sc);
    CU_ASSERT(x[0] == 0 && x[1] == 3);
    CU_ASSERT(sc == 0.0);
    cai_graph_free(h);
}

/* ------------------------------------------------------------------ */
/* tying: a 1000-step chain with one transition potential               */

#define CHAIN_T 1000
#define CHAIN_S 4

static void test_tied_chain(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2024);
    tm_model m; /* only for its potentials: the chain is too long to enumerate */
    tm_init(&m);
    size_t s = CHAIN_S;
    size_t trans = tm_pot_csr_random(&m, r, 1, &s, s, 0.6, 0);
    double prior_v[CHAIN_S] = {log(0.5), log(0.25), -INFINITY, log(0.25)};
    size_t prior = tm_pot_dense(&m, 1, &s, prior_v, 0);
    size_t like = tm_pot_dense_random(&m, r, 1, &s, 0.0, -2.0, 0.0);
    const double *P = m.pot[trans].logv;  /* log P(s'|s) */
    const double *L = m.pot[like].logv;

    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    for (size_t t = 0; t <= CHAIN_T; t++) {
        char name[16];
        snprintf(name, sizeof name, "s%zu", t);
        CU_ASSERT_FATAL(cai_graph_add_variable(g, name, s, NULL, NULL, NULL) == CAI_OK);
    }
    size_t n_obs = 0;
    int obs[CHAIN_T + 1] = {0};
    size_t v0 = 0;
    CU_ASSERT(cai_graph_add_factor(g, m.pot[prior].p, &v0, 1, CAI_MODE_NORMAL,
                                   NULL, NULL) == CAI_OK);
    for (size_t t = 0; t < CHAIN_T; t++) {
        size_t sc[2] = {t, t + 1};
        CU_ASSERT_FATAL(cai_graph_add_factor(g, m.pot[trans].p, sc, 2,
                                             CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    }
    for (size_t t = 0; t <= CHAIN_T; t += 7) {
        CU_ASSERT(cai_graph_add_factor(g, m.pot[like].p, &t, 1, CAI_MODE_NORMAL,
                                       NULL, NULL) == CAI_OK);
        obs[t] = 1;
        n_obs++;
    }
    CU_ASSERT(cai_graph_n_factors(g) == 1 + CHAIN_T + n_obs);
    CU_ASSERT(cai_graph_n_potentials(g) == 3);
    size_t bytes = cai_potential_bytes(m.pot[trans].p)
                   + cai_potential_bytes(m.pot[prior].p)
                   + cai_potential_bytes(m.pot[like].p);
    CU_ASSERT(cai_graph_potential_bytes(g) == bytes);
    CU_ASSERT(cai_graph_potential_bytes(g) < 10 * cai_potential_bytes(m.pot[trans].p));

    /* hand-written scaled forward-backward */
    static double alpha[CHAIN_T + 1][CHAIN_S], beta[CHAIN_T + 1][CHAIN_S];
    double log_z = 0.0;
    for (size_t t = 0; t <= CHAIN_T; t++) {
        double sum = 0.0;
        for (size_t j = 0; j < s; j++) {
            double a = 0.0;
            if (t == 0) {
                a = exp(prior_v[j]);
            } else {
                for (size_t i = 0; i < s; i++)
                    a += alpha[t - 1][i] * exp(P[i * s + j]);
            }
            if (obs[t])
                a *= exp(L[j]);
            alpha[t][j] = a;
            sum += a;
        }
        for (size_t j = 0; j < s; j++)
            alpha[t][j] /= sum;
        log_z += log(sum);
    }
    for (size_t j = 0; j < s; j++)
        beta[CHAIN_T][j] = 1.0;
    for (size_t t = CHAIN_T; t-- > 0;) {
        double sum = 0.0;
        for (size_t i = 0; i < s; i++) {
            double b = 0.0;
            for (size_t j = 0; j < s; j++)
                b += exp(P[i * s + j]) * (obs[t + 1] ? exp(L[j]) : 1.0)
                     * beta[t + 1][j];
            beta[t][i] = b;
            sum += b;
        }
        for (size_t i = 0; i < s; i++)
            beta[t][i] /= sum;
    }
    /* Viterbi score */
    double delta[CHAIN_S], nd[CHAIN_S];
    for (size_t j = 0; j < s; j++)
        delta[j] = prior_v[j] + (obs[0] ? L[j] : 0.0);
    for (size_t t = 1; t <= CHAIN_T; t++) {
        for (size_t j = 0; j < s; j++) {
            nd[j] = -INFINITY;
            for (size_t i = 0; i < s; i++)
                if (delta[i] + P[i * s + j] > nd[j])
                    nd[j] = delta[i] + P[i * s + j];
            nd[j] += obs[t] ? L[j] : 0.0;
        }
        memcpy(delta, nd, sizeof nd);
    }
    double vit = -INFINITY;
    for (size_t j = 0; j < s; j++)
        if (delta[j] > vit)
            vit = delta[j];

    cai_plan *ps = NULL, *pm = NULL;
    cai_plan_options opt = cai_plan_options_default();
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &ps, NULL) == CAI_OK);
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_n_clusters(ps) == CHAIN_T);
    CU_ASSERT(cai_plan_n_trees(ps) == 1);
    cai_workspace *ws = NULL, *wm = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(ps, ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), log_z, 1e-10);
    int bad = 0;
    for (size_t t = 0; t <= CHAIN_T; t++) {
        double out[CHAIN_S], want[CHAIN_S], sum = 0.0;
        CU_ASSERT(cai_query_marginal(ws, t, out, NULL) == CAI_OK);
        for (size_t j = 0; j < s; j++)
            sum += want[j] = alpha[t][j] * beta[t][j];
        for (size_t j = 0; j < s; j++)
            bad += !cai_test_close(out[j], want[j] / sum, 1e-10);
    }
    CU_ASSERT(bad == 0);
    /* pairwise beliefs of a few transition factors (graph factor 1 + t) */
    for (size_t t = 0; t < CHAIN_T; t += 97) {
        double out[CHAIN_S * CHAIN_S], want[CHAIN_S * CHAIN_S], sum = 0.0;
        CU_ASSERT(cai_query_factor_belief(ws, 1 + t, out, NULL) == CAI_OK);
        for (size_t i = 0; i < s; i++)
            for (size_t j = 0; j < s; j++)
                sum += want[i * s + j] = alpha[t][i] * exp(P[i * s + j])
                                         * (obs[t + 1] ? exp(L[j]) : 1.0)
                                         * beta[t + 1][j];
        for (size_t i = 0; i < s * s; i++)
            CAI_ASSERT_CLOSE(out[i], want[i] / sum, 1e-10);
    }
    size_t *xm = malloc((CHAIN_T + 1) * sizeof(size_t));
    double sc = 0;
    CU_ASSERT(cai_query_map(wm, xm, &sc, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(sc, vit, 1e-10);
    double own = prior_v[xm[0]];
    for (size_t t = 0; t <= CHAIN_T; t++) {
        if (t > 0)
            own += P[xm[t - 1] * s + xm[t]];
        if (obs[t])
            own += L[xm[t]];
    }
    CAI_ASSERT_CLOSE(own, vit, 1e-10);
    free(xm);

    cai_workspace_free(ws);
    cai_workspace_free(wm);
    cai_plan_free(ps);
    cai_plan_free(pm);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* error paths                                                         */

/* Engine errors are not about a file: no file, line or column. */
static void assert_error(cai_status st, const cai_error *err, cai_status want,
                         const char *phrase)
{
    CU_ASSERT(st == want);
    CU_ASSERT(err->code == want);
    CU_ASSERT(err->message[0] != '\0');
    if (phrase) {
        CU_ASSERT(strstr(err->message, phrase) != NULL);
        if (!strstr(err->message, phrase))
            fprintf(stderr, "\n  message '%s' lacks '%s'\n", err->message, phrase);
    }
    CU_ASSERT(err->file[0] == '\0');
    CU_ASSERT(err->line == 0 && err->column == 0);
}

static cai_graph *named_graph(size_t n, const char *const *names, size_t card)
{
    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_FATAL(cai_graph_add_variable(g, names[i], card, NULL, NULL,
                                               NULL) == CAI_OK);
    return g;
}

static cai_potential *flat_table(size_t k, size_t card)
{
    size_t cards[4] = {card, card, card, card};
    double v[256] = {0};
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(k, cards, v, &p, NULL) == CAI_OK);
    return p;
}

static void test_error_cycle(void)
{
    const char *names[5] = {"alpha", "beta", "gamma", "pendant", "other"};
    cai_graph *g = named_graph(5, names, 2);
    cai_potential *p = flat_table(2, 2);
    size_t e[4][2] = {{3, 0}, {0, 1}, {1, 2}, {2, 0}};
    for (int i = 0; i < 4; i++)
        CU_ASSERT(cai_graph_add_factor(g, p, e[i], 2, CAI_MODE_NORMAL, NULL, NULL)
                  == CAI_OK);
    cai_plan *plan = (cai_plan *)&plan; /* must stay untouched */
    cai_plan *sentinel = plan;
    cai_error err;
    cai_status st = cai_plan_create(g, NULL, &plan, &err);
    assert_error(st, &err, CAI_ERR_CYCLE, "cycle");
    CU_ASSERT(plan == sentinel);
    CU_ASSERT(strstr(err.message, "alpha") || strstr(err.message, "beta")
              || strstr(err.message, "gamma"));
    CU_ASSERT(!strstr(err.message, "pendant"));
    /* max-product too, and a NULL error record */
    cai_plan_options opt = cai_plan_options_default();
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT(cai_plan_create(g, &opt, &plan, NULL) == CAI_ERR_CYCLE);
    CU_ASSERT(plan == sentinel);
    cai_graph_free(g);

    /* two clusters sharing two variables: {a,b,c} and {a,b,d} */
    const char *n2[4] = {"a", "b", "c", "d"};
    g = named_graph(4, n2, 2);
    cai_potential *p3 = flat_table(3, 2);
    size_t s1[3] = {0, 1, 2}, s2[3] = {3, 1, 0};
    CU_ASSERT(cai_graph_add_factor(g, p3, s1, 3, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, p3, s2, 3, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    st = cai_plan_create(g, NULL, &plan, &err);
    assert_error(st, &err, CAI_ERR_CYCLE, "cycle");
    CU_ASSERT(strstr(err.message, "'a'") || strstr(err.message, "'b'"));
    cai_graph_free(g);

    /* but a factor inside another's scope is absorbed, not a cycle */
    g = named_graph(4, n2, 2);
    size_t s3[2] = {2, 0}, s4[2] = {1, 2};
    CU_ASSERT(cai_graph_add_factor(g, p3, s1, 3, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, p, s3, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, p, s4, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    st = cai_plan_create(g, NULL, &plan, &err);
    CU_ASSERT(st == CAI_OK);
    if (st == CAI_OK) {
        CU_ASSERT(cai_plan_n_clusters(plan) == 1);
        CU_ASSERT(cai_plan_n_trees(plan) == 2); /* d is alone */
        cai_plan_free(plan);
    }
    cai_graph_free(g);
    cai_potential_unref(p);
    cai_potential_unref(p3);
}

static void test_error_graph(void)
{
    const char *names[2] = {"x", "y"};
    cai_graph *g = named_graph(2, names, 3);
    cai_error err;
    size_t idx = 77;

    /* zero and huge cardinality */
    cai_status st = cai_graph_add_variable(g, "z", 0, NULL, &idx, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "cardinality");
    CU_ASSERT(idx == 77);
    st = cai_graph_add_variable(g, "z", CAI_MAX_CARD + 1, NULL, &idx, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "cardinality");
    CU_ASSERT(idx == 77);
    CU_ASSERT(cai_graph_add_variable(g, "big", CAI_MAX_CARD, NULL, NULL, NULL) == CAI_OK);

    /* duplicate and empty names, duplicate state names */
    st = cai_graph_add_variable(g, "x", 2, NULL, &idx, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    CU_ASSERT(strstr(err.message, "'x'") != NULL);
    CU_ASSERT(idx == 77);
    st = cai_graph_add_variable(g, "", 2, NULL, &idx, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    const char *dup[2] = {"on", "on"};
    st = cai_graph_add_variable(g, "w", 2, dup, &idx, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    CU_ASSERT(strstr(err.message, "on") != NULL);
    CU_ASSERT(idx == 77);
    CU_ASSERT(cai_graph_n_variables(g) == 3);
    CU_ASSERT(cai_graph_find_variable(g, "w") == CAI_NONE);

    /* unknown variable index in a scope */
    cai_potential *p = flat_table(2, 3);
    size_t bad_scope[2] = {0, 17};
    size_t fi = 55;
    st = cai_graph_add_factor(g, p, bad_scope, 2, CAI_MODE_NORMAL, &fi, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(err.code == st);
    CU_ASSERT(strstr(err.message, "17") != NULL);
    CU_ASSERT(fi == 55);
    /* the same variable twice */
    size_t twice[2] = {1, 1};
    st = cai_graph_add_factor(g, p, twice, 2, CAI_MODE_NORMAL, &fi, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    CU_ASSERT(strstr(err.message, "'y'") != NULL);
    /* arity mismatch */
    size_t one[1] = {0};
    st = cai_graph_add_factor(g, p, one, 1, CAI_MODE_NORMAL, &fi, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    /* cardinality mismatch: a 2x2 potential on 3-state variables */
    cai_potential *p2 = flat_table(2, 2);
    size_t good_scope[2] = {0, 1};
    st = cai_graph_add_factor(g, p2, good_scope, 2, CAI_MODE_NORMAL, &fi, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(err.code == st);
    CU_ASSERT(strstr(err.message, "'x'") != NULL);
    CU_ASSERT(strstr(err.message, "3") != NULL && strstr(err.message, "2") != NULL);
    CU_ASSERT(fi == 55);
    CU_ASSERT(cai_graph_n_factors(g) == 0);
    /* a failed add took no reference: dropping ours frees p2 (ASan checks) */
    cai_potential_unref(p2);

    /* expectation mode on a dense table */
    st = cai_graph_add_factor(g, p, good_scope, 2, CAI_MODE_EXPECTATION, &fi, &err);
    if (st == CAI_OK) {
        cai_plan *plan = NULL;
        st = cai_plan_create(g, NULL, &plan, &err);
        CU_ASSERT(st == CAI_ERR_STRUCTURE);
        CU_ASSERT(plan == NULL);
        cai_plan_free(plan);
    } else {
        CU_ASSERT(st == CAI_ERR_STRUCTURE || st == CAI_ERR_INVALID);
        CU_ASSERT(strstr(err.message, "expectation") != NULL);
        CU_ASSERT(fi == 55);
    }

    /* evidence out of range */
    st = cai_graph_set_evidence(g, 0, 3, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "out of range");
    CU_ASSERT(cai_graph_evidence(g, 0) == CAI_NONE);
    st = cai_graph_set_evidence(g, 99, 0, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(cai_graph_set_evidence(g, 0, 2, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_set_evidence(g, 0, 5, NULL) == CAI_ERR_RANGE);
    CU_ASSERT(cai_graph_evidence(g, 0) == 2); /* unchanged by the failure */

    /* plan with a bad root */
    cai_plan_options opt = cai_plan_options_default();
    opt.root = 1234;
    cai_plan *plan = NULL;
    st = cai_plan_create(g, &opt, &plan, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(plan == NULL);
    opt = cai_plan_options_default();
    opt.algorithm = (cai_algorithm)7;
    st = cai_plan_create(g, &opt, &plan, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    CU_ASSERT(plan == NULL);

    cai_potential_unref(p);
    cai_graph_free(g);
}

static void test_error_potentials(void)
{
    cai_error err;
    cai_potential *p = NULL;
    size_t cards[2] = {2, 2};
    double v[4] = {0, 0, 0, 0};

    /* zero cardinality */
    size_t zc[2] = {2, 0};
    cai_status st = cai_potential_table_create(2, zc, v, &p, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "cardinality");
    CU_ASSERT(p == NULL);
    st = cai_potential_table_create(0, cards, v, &p, &err);
    CU_ASSERT(st == CAI_ERR_RANGE || st == CAI_ERR_INVALID);
    CU_ASSERT(p == NULL);

    /* NaN, +inf */
    double nanv[4] = {0, NAN, 0, 0};
    st = cai_potential_table_create(2, cards, nanv, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "NaN");
    CU_ASSERT(p == NULL);
    double infv[4] = {0, 0, INFINITY, 0};
    st = cai_potential_table_create(2, cards, infv, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "infinite");
    CU_ASSERT(p == NULL);
    double ninf[4] = {-INFINITY, 0, 0, 0};
    st = cai_potential_table_create(2, cards, ninf, &p, &err);
    CU_ASSERT(st == CAI_OK);
    p = cai_potential_unref(p);

    /* negative, NaN and infinite linear values */
    double neg[4] = {1, 2, -0.5, 1};
    st = cai_potential_table_create_linear(2, cards, neg, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "negative");
    CU_ASSERT(p == NULL);
    st = cai_potential_table_create_linear(2, cards, nanv, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "NaN");
    CU_ASSERT(p == NULL);
    st = cai_potential_table_create_linear(2, cards, infv, &p, &err);
    CU_ASSERT(st == CAI_ERR_NUMERIC);
    CU_ASSERT(p == NULL);

    /* size overflow: cardinalities within the limit, product beyond size_t */
    size_t huge[2] = {CAI_MAX_CARD, CAI_MAX_CARD};
    st = cai_potential_table_create(2, huge, v, &p, &err);
    assert_error(st, &err, CAI_ERR_OVERFLOW, "overflow");
    CU_ASSERT(p == NULL);
    st = cai_potential_table_create_linear(2, huge, v, &p, &err);
    CU_ASSERT(st == CAI_ERR_OVERFLOW);
    size_t huge3[3] = {CAI_MAX_CARD, 2, CAI_MAX_CARD};
    st = cai_potential_table_create(3, huge3, v, &p, &err);
    CU_ASSERT(st == CAI_ERR_OVERFLOW);
    CU_ASSERT(p == NULL);
    size_t rp_small[2] = {0, 1};
    size_t col1[1] = {0};
    double pr1[1] = {1.0};
    st = cai_potential_csr_create(2, huge, 2, rp_small, col1, pr1, &p, &err);
    CU_ASSERT(st == CAI_ERR_OVERFLOW);
    CU_ASSERT(p == NULL);
    size_t too_big[1] = {CAI_MAX_CARD + 1};
    st = cai_potential_table_create(1, too_big, v, &p, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "cardinality");

    /* CSR: a row summing to 0.9, a negative entry, > 1, NaN, bad columns */
    size_t pc[1] = {2};
    size_t rp[3] = {0, 2, 4};
    size_t col[4] = {0, 1, 0, 1};
    double rows_bad[4] = {0.5, 0.5, 0.4, 0.5};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_bad, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "row 1");
    CU_ASSERT(p == NULL);
    double rows_neg[4] = {0.5, 0.5, -0.5, 1.5};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_neg, &p, &err);
    assert_error(st, &err, CAI_ERR_NUMERIC, "row 1");
    CU_ASSERT(p == NULL);
    double rows_nan[4] = {NAN, 1.0, 0.5, 0.5};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_nan, &p, &err);
    CU_ASSERT(st == CAI_ERR_NUMERIC);
    CU_ASSERT(p == NULL);
    /* within 1e-9 is accepted, 1e-7 off is not */
    double rows_near[4] = {0.5, 0.5 + 5e-10, 0.25, 0.75};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_near, &p, &err);
    CU_ASSERT(st == CAI_OK);
    p = cai_potential_unref(p);
    double rows_off[4] = {0.5, 0.5 + 1e-7, 0.25, 0.75};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_off, &p, &err);
    CU_ASSERT(st == CAI_ERR_NUMERIC);
    CU_ASSERT(p == NULL);
    size_t col_oob[4] = {0, 2, 0, 1};
    double rows_ok[4] = {0.5, 0.5, 0.25, 0.75};
    st = cai_potential_csr_create(1, pc, 2, rp, col_oob, rows_ok, &p, &err);
    CU_ASSERT(st == CAI_ERR_RANGE || st == CAI_ERR_INVALID);
    CU_ASSERT(p == NULL);
    size_t col_dec[4] = {1, 0, 0, 1};
    st = cai_potential_csr_create(1, pc, 2, rp, col_dec, rows_ok, &p, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(p == NULL);
    /* an empty row sums to 0 */
    size_t rp_empty[3] = {0, 2, 2};
    st = cai_potential_csr_create(1, pc, 2, rp_empty, col, rows_ok, &p, &err);
    CU_ASSERT(st == CAI_ERR_NUMERIC);
    CU_ASSERT(p == NULL);
    /* zero child cardinality */
    st = cai_potential_csr_create(1, pc, 0, rp, col, rows_ok, &p, &err);
    CU_ASSERT(st == CAI_ERR_RANGE);
    CU_ASSERT(p == NULL);
    /* and a good one, with an explicit zero that is dropped */
    double rows_z[4] = {1.0, 0.0, 0.25, 0.75};
    st = cai_potential_csr_create(1, pc, 2, rp, col, rows_z, &p, &err);
    CU_ASSERT(st == CAI_OK);
    if (st == CAI_OK) {
        CU_ASSERT(cai_potential_nnz(p) == 3);
        size_t idx[2] = {0, 1};
        CU_ASSERT(cai_potential_log_value(p, idx) == -INFINITY);
        idx[0] = 1;
        CAI_ASSERT_CLOSE(cai_potential_log_value(p, idx), log(0.75), 1e-15);
    }
    cai_potential_unref(p);
}

static void test_error_queries(void)
{
    const char *names[4] = {"a", "b", "c", "d"};
    cai_graph *g = named_graph(4, names, 2);
    cai_potential *p = flat_table(2, 2);
    size_t e[3][2] = {{0, 1}, {1, 2}, {2, 3}};
    for (int i = 0; i < 3; i++)
        CU_ASSERT(cai_graph_add_factor(g, p, e[i], 2, CAI_MODE_NORMAL, NULL, NULL)
                  == CAI_OK);
    cai_plan *ps = NULL, *pm = NULL;
    cai_plan_options opt = cai_plan_options_default();
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &ps, NULL) == CAI_OK);
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &opt, &pm, NULL) == CAI_OK);
    cai_workspace *ws = NULL, *wm = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(ps, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    cai_error err;
    double out[4] = {7, 7, 7, 7};
    size_t x[4] = {9, 9, 9, 9};
    double sc = 7;

    /* before execute */
    cai_status st = cai_query_marginal(ws, 0, out, &err);
    assert_error(st, &err, CAI_ERR_STATE, "execute");
    CU_ASSERT(out[0] == 7);
    st = cai_query_factor_belief(ws, 0, out, &err);
    CU_ASSERT(st == CAI_ERR_STATE);
    st = cai_query_conditional(ws, 1, 0, out, &err);
    CU_ASSERT(st == CAI_ERR_STATE);
    st = cai_query_map(wm, x, &sc, &err);
    assert_error(st, &err, CAI_ERR_STATE, "execute");
    CU_ASSERT(x[0] == 9 && sc == 7);
    CU_ASSERT(cai_query_marginal(ws, 0, out, NULL) == CAI_ERR_STATE);

    CU_ASSERT(cai_plan_execute(ps, ws, &err) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, &err) == CAI_OK);

    /* wrong algorithm */
    st = cai_query_marginal(wm, 0, out, &err);
    assert_error(st, &err, CAI_ERR_STATE, "sum-product");
    st = cai_query_map(ws, x, &sc, &err);
    assert_error(st, &err, CAI_ERR_STATE, "max-product");
    CU_ASSERT(x[0] == 9 && sc == 7);
    st = cai_query_conditional(wm, 1, 0, out, &err);
    CU_ASSERT(st == CAI_ERR_STATE);

    /* bad indices */
    st = cai_query_marginal(ws, 4, out, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    st = cai_query_factor_belief(ws, 3, out, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    /* a and c share no factor; c is further from the root a than b */
    st = cai_query_conditional(ws, 2, 0, out, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_STRUCTURE);
    st = cai_query_conditional(ws, 1, 2, out, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_STRUCTURE);
    st = cai_query_conditional(ws, 1, 1, out, &err);
    CU_ASSERT(st == CAI_ERR_INVALID);
    CU_ASSERT(out[0] == 7);
    st = cai_query_conditional(ws, 2, 1, out, &err);
    CU_ASSERT(st == CAI_OK);

    /* workspace evidence */
    st = cai_workspace_set_evidence(ws, 0, 2, &err);
    assert_error(st, &err, CAI_ERR_RANGE, "out of range");
    st = cai_workspace_set_evidence(ws, 4, 0, &err);
    CU_ASSERT(st == CAI_ERR_INVALID || st == CAI_ERR_RANGE);
    CU_ASSERT(cai_workspace_set_evidence(ws, 0, 1, NULL) == CAI_OK);
    CU_ASSERT(cai_workspace_set_evidence(ws, 0, CAI_NONE, NULL) == CAI_OK);

    cai_workspace_free(ws);
    cai_workspace_free(wm);
    cai_plan_free(ps);
    cai_plan_free(pm);
    cai_potential_unref(p);
    cai_graph_free(g);
}

static void test_error_record(void)
{
    cai_error err;
    cai_status st = cai_error_set(&err, CAI_ERR_MODEL, "m.yaml", 12, 7,
                                  "variable '%s': bad %d", "s", 3);
    CU_ASSERT(st == CAI_ERR_MODEL);
    CU_ASSERT(err.code == CAI_ERR_MODEL);
    CU_ASSERT(strcmp(err.message, "variable 's': bad 3") == 0);
    CU_ASSERT(strcmp(err.file, "m.yaml") == 0);
    CU_ASSERT(err.line == 12 && err.column == 7);
    char buf[600];
    cai_error_format(&err, buf, sizeof buf);
    CU_ASSERT(strcmp(buf, "m.yaml:12:7: error: variable 's': bad 3") == 0);
    char tiny[8];
    CU_ASSERT(cai_error_format(&err, tiny, sizeof tiny) == tiny);
    CU_ASSERT(strlen(tiny) == 7);
    /* long messages are truncated, NUL-terminated */
    char longmsg[2000];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    CU_ASSERT(cai_error_set(&err, CAI_ERR_IO, NULL, 0, 0, "%s", longmsg) == CAI_ERR_IO);
    CU_ASSERT(strlen(err.message) == CAI_ERROR_MESSAGE_MAX - 1);
    CU_ASSERT(err.file[0] == '\0');
    CU_ASSERT(cai_error_set(NULL, CAI_ERR_NOMEM, NULL, 0, 0, "x") == CAI_ERR_NOMEM);
    cai_error_clear(&err);
    CU_ASSERT(err.code == CAI_OK && err.message[0] == '\0' && err.line == 0);
    cai_error_clear(NULL);
    for (int c = CAI_OK; c <= CAI_ERR_MODEL; c++)
        CU_ASSERT(cai_status_string((cai_status)c) != NULL
                  && cai_status_string((cai_status)c)[0] != '\0');
    CU_ASSERT(cai_status_string((cai_status)999) != NULL);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("engine", NULL, NULL);
    CU_add_test(s, "200 random forests vs brute force", test_random_forests);
    CU_add_test(s, "60 random forests with wide log ranges", test_random_forests_wide);
    CU_add_test(s, "message spans around 600 nats", test_span_threshold);
    CU_add_test(s, "concurrent executes on separate workspaces", test_concurrent_executes);
    CU_add_test(s, "potential accessors vs own arrays", test_potential_accessors);
    CU_add_test(s, "a potential outlives its creator's reference", test_potential_outlives_caller);
    CU_add_test(s, "graph accessors", test_graph_accessors);
    CU_add_test(s, "workspace evidence starts at the plan's", test_evidence_at_plan_time);
    CU_add_test(s, "a 2^27-entry sparse cluster", test_big_sparse_cluster);
    CU_add_test(s, "zero total weight: -inf and NaN marginals", test_zero_weight);
    CU_add_test(s, "MAP ties broken toward the lowest index", test_map_ties);
    CU_add_test(s, "1000-step chain with one tied transition", test_tied_chain);
    CU_add_test(s, "errors: cycles", test_error_cycle);
    CU_add_test(s, "errors: variables, factors, evidence", test_error_graph);
    CU_add_test(s, "errors: potentials", test_error_potentials);
    CU_add_test(s, "errors: queries", test_error_queries);
    CU_add_test(s, "error record", test_error_record);
    CU_add_test(s, "runs of chunks with taking-over", test_chunk_runs);
}
