/* tests/test_meanfield.c — mean-field VMP: on random small loopy graphs
 * (tables, CSR conditionals, support mode, zeros, evidence) the ELBO never
 * decreases over sweeps, equals a brute-force ELBO of the returned q, is at
 * most the exact log Z, and the converged q satisfies the coordinate update;
 * exact when the truth is fully factorised; zero-weight models; modes,
 * evidence, determinism, the trace and the error paths. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include "cai/logmath.h"
#include "cai/meanfield.h"

#define MAXC 8

/* ---- test-side oracles ---- */

/* log weight of x under m with modes honoured (support: 0 on the support)
 * and evidence ev (NULL: none). */
static double mf_log_weight(const tm_model *m, const size_t *x, const size_t *ev)
{
    if (ev)
        for (size_t v = 0; v < m->n; v++)
            if (ev[v] != CAI_NONE && x[v] != ev[v])
                return -INFINITY;
    double w = 0.0;
    for (size_t i = 0; i < m->nf; i++) {
        const tm_factor *f = &m->f[i];
        double lv = m->pot[f->pot].logv[tm_factor_index(m, f, x)];
        if (f->mode == CAI_MODE_SUPPORT && lv > -INFINITY)
            lv = 0.0;
        w += lv;
    }
    return w;
}

static double exact_log_z(const tm_model *m)
{
    cai_lse a;
    cai_lse_init(&a);
    size_t x[TM_MAXV] = {0};
    do
        cai_lse_add(&a, mf_log_weight(m, x, m->ev));
    while (tm_next(m, x));
    return cai_lse_result(&a);
}

/* E_q[log w] + H(q) by enumeration; only assignments where every q_v is
 * positive count, and any of them with weight zero makes it -inf. */
static double brute_elbo(const tm_model *m, double q[][MAXC])
{
    size_t x[TM_MAXV] = {0};
    double e = 0.0;
    int zero = 0;
    do {
        double qx = 1.0;
        int pos = 1;
        for (size_t v = 0; v < m->n; v++) {
            pos &= q[v][x[v]] > 0.0;
            qx *= q[v][x[v]];
        }
        if (!pos)
            continue;
        double lw = mf_log_weight(m, x, NULL);
        if (lw == -INFINITY)
            zero = 1;
        else
            e += qx * lw;
    } while (tm_next(m, x));
    for (size_t v = 0; v < m->n; v++)
        for (size_t s = 0; s < m->card[v]; s++)
            if (q[v][s] > 0.0)
                e -= q[v][s] * log(q[v][s]);
    return zero ? -INFINITY : e;
}

/* cond[s] = E_{q_-i}[log w | x_i = s] by enumeration (-inf as above). */
static void brute_cond(const tm_model *m, double q[][MAXC], size_t i, double *cond)
{
    int zero[MAXC] = {0};
    for (size_t s = 0; s < m->card[i]; s++)
        cond[s] = 0.0;
    size_t x[TM_MAXV] = {0};
    do {
        double qx = 1.0;
        int pos = 1;
        for (size_t v = 0; v < m->n; v++)
            if (v != i) {
                pos &= q[v][x[v]] > 0.0;
                qx *= q[v][x[v]];
            }
        if (!pos)
            continue;
        double lw = mf_log_weight(m, x, NULL);
        if (lw == -INFINITY)
            zero[x[i]] = 1;
        else
            cond[x[i]] += qx * lw;
    } while (tm_next(m, x));
    for (size_t s = 0; s < m->card[i]; s++)
        if (zero[s])
            cond[s] = -INFINITY;
}

/* ---- helpers ---- */

typedef struct trace_rec {
    size_t n, last_it;
    int in_order;
    double elbo[20000];
} trace_rec;

static void record(void *ctx, size_t it, double elbo)
{
    trace_rec *t = ctx;
    if (it != t->last_it + 1)
        t->in_order = 0;
    t->last_it = it;
    if (t->n < sizeof t->elbo / sizeof t->elbo[0])
        t->elbo[t->n] = elbo;
    t->n++;
}

static cai_meanfield *run_mf(const cai_graph *g, const cai_meanfield_options *o)
{
    cai_meanfield *mf = NULL;
    cai_error err;
    cai_status st = cai_meanfield_create(g, o, &mf, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  cai_meanfield_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    CU_ASSERT_FATAL(cai_meanfield_run(mf, &err) == CAI_OK);
    return mf;
}

static void read_q(const tm_model *m, const cai_meanfield *mf, double q[][MAXC])
{
    for (size_t v = 0; v < m->n; v++)
        CU_ASSERT_FATAL(cai_meanfield_marginal(mf, v, q[v], NULL) == CAI_OK);
}

/* e is monotone within a relative 1e-12 (from -inf anything goes). */
static int monotone(const double *e, size_t n, double start)
{
    double prev = start;
    for (size_t t = 0; t < n; t++) {
        if (isnan(e[t]))
            return 0;
        if (prev > -INFINITY && e[t] < prev - 1e-12 * fmax(1.0, fabs(prev)))
            return 0;
        prev = e[t];
    }
    return 1;
}

/* ---- random small loopy graphs ---- */

static size_t rand_pot(tm_model *m, gsl_rng *r, const size_t *scope, size_t k)
{
    size_t cards[TM_MAXK];
    for (size_t i = 0; i < k; i++)
        cards[i] = m->card[scope[i]];
    int csr = gsl_rng_uniform(r) < 0.35;
    size_t tie = tm_find_pot(m, k, cards, csr);
    if (tie != CAI_NONE && gsl_rng_uniform(r) < 0.3)
        return tie; /* one potential shared by several factors */
    if (csr)
        return tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.7, 0);
    return tm_pot_dense_random(m, r, k, cards, 0.08, -2.0, 2.0);
}

static void gen_loopy(tm_model *m, gsl_rng *r)
{
    tm_init(m);
    size_t n = 3 + gsl_rng_uniform_int(r, 5);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, gsl_rng_uniform(r) < 0.05 ? 1 : 2 + gsl_rng_uniform_int(r, 2));
    size_t nf = n + gsl_rng_uniform_int(r, n);
    for (size_t i = 0; i < nf; i++) {
        size_t k = gsl_rng_uniform(r) < 0.7 ? 2 : 3, scope[3], perm[TM_MAXV];
        cai_test_permutation(r, perm, n);
        for (size_t j = 0; j < k; j++)
            scope[j] = perm[j];
        cai_factor_mode mode = gsl_rng_uniform(r) < 0.1 ? CAI_MODE_SUPPORT : CAI_MODE_NORMAL;
        tm_add_factor(m, rand_pot(m, r, scope, k), scope, k, mode, 1);
    }
    size_t n_un = gsl_rng_uniform_int(r, 4);
    for (size_t u = 0; u < n_un; u++) {
        size_t v = gsl_rng_uniform_int(r, n);
        tm_add_factor(m, rand_pot(m, r, &v, 1), &v, 1, CAI_MODE_NORMAL, 0);
    }
    for (size_t v = 0; v < n; v++)
        if (gsl_rng_uniform(r) < 0.1)
            m->ev[v] = gsl_rng_uniform_int(r, m->card[v]);
}

static struct {
    unsigned graphs, zero_model, escaped, converged, fixed_checked, minus_inf, zero_forced;
    size_t sweeps;
} cov;

static void check_random(const tm_model *m, const cai_graph *g, cai_meanfield_init init,
                         uint64_t seed)
{
    static trace_rec tr;
    memset(&tr, 0, sizeof tr);
    tr.in_order = 1;
    cai_meanfield_options o = cai_meanfield_options_default();
    o.init = init;
    o.seed = seed;
    o.tol = 1e-13;
    o.max_iterations = 5000;
    o.trace = record;
    o.trace_ctx = &tr;
    cai_meanfield *mf = run_mf(g, &o);
    size_t it = cai_meanfield_iterations(mf);
    double elbo = cai_meanfield_elbo(mf);
    CU_ASSERT(it >= 1 && tr.n == it && tr.in_order);
    CU_ASSERT(!isnan(elbo));
    CU_ASSERT(tr.n > 0 && tr.elbo[tr.n - 1] == elbo);
    double q[TM_MAXV][MAXC];
    /* the ELBO of the starting q, for the first sweep's monotonicity */
    double start = -INFINITY;
    if (init == CAI_MEANFIELD_INIT_UNIFORM) {
        for (size_t v = 0; v < m->n; v++)
            for (size_t s = 0; s < m->card[v]; s++)
                q[v][s] = m->ev[v] != CAI_NONE ? (s == m->ev[v]) : 1.0 / (double)m->card[v];
        start = brute_elbo(m, q);
    }
    CU_ASSERT(monotone(tr.elbo, tr.n, start));
    if (tr.n > 1 && tr.elbo[0] == -INFINITY && elbo > -INFINITY)
        cov.escaped++; /* the point-mass fallback moved q off the zeros */
    read_q(m, mf, q);
    double be = brute_elbo(m, q), lz = exact_log_z(m);
    CAI_ASSERT_CLOSE(elbo, be, 1e-10);
    CU_ASSERT(lz == -INFINITY ? elbo == -INFINITY : elbo <= lz + 1e-10 * fmax(1.0, fabs(lz)));
    cov.zero_model += lz == -INFINITY;
    cov.graphs++;
    cov.sweeps += it;
    cov.minus_inf += elbo == -INFINITY;
    size_t x[TM_MAXV];
    CU_ASSERT(cai_meanfield_map(mf, x, NULL) == CAI_OK);
    for (size_t v = 0; v < m->n; v++) {
        double sum = 0.0;
        for (size_t s = 0; s < m->card[v]; s++) {
            sum += q[v][s];
            CU_ASSERT(s >= x[v] || q[v][s] < q[v][x[v]]);
            CU_ASSERT(q[v][s] <= q[v][x[v]]);
            cov.zero_forced += m->ev[v] == CAI_NONE && q[v][s] == 0.0;
        }
        CAI_ASSERT_CLOSE(sum, 1.0, 1e-12);
        if (m->ev[v] != CAI_NONE)
            CU_ASSERT(q[v][m->ev[v]] == 1.0 && x[v] == m->ev[v]);
    }
    if (cai_meanfield_converged(mf)) {
        cov.converged++;
        /* each free q_i is the update of the others' q */
        for (size_t i = 0; i < m->n; i++) {
            if (m->ev[i] != CAI_NONE)
                continue;
            double cond[MAXC];
            brute_cond(m, q, i, cond);
            double l = cai_logsumexp(cond, m->card[i]);
            if (l == -INFINITY)
                continue;
            cov.fixed_checked++;
            for (size_t s = 0; s < m->card[i]; s++)
                CU_ASSERT(fabs(q[i][s] - exp(cond[s] - l)) < 1e-9);
        }
    }
    cai_meanfield_free(mf);
}

static void test_random_loopy(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    memset(&cov, 0, sizeof cov);
    for (unsigned long seed = 1; seed <= 150; seed++) {
        gsl_rng_set(r, seed);
        tm_model m;
        gen_loopy(&m, r);
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        check_random(&m, g, CAI_MEANFIELD_INIT_UNIFORM, 0);
        check_random(&m, g, CAI_MEANFIELD_INIT_RANDOM, seed);
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
    /* the generator reaches what it should */
    CU_ASSERT(cov.converged > cov.graphs * 9 / 10);
    CU_ASSERT(cov.fixed_checked > 500);
    CU_ASSERT(cov.minus_inf > 0 && cov.minus_inf < cov.graphs / 4);
    CU_ASSERT(cov.zero_forced > 0 && cov.escaped > 0 && cov.zero_model > 0);
    if (getenv("CAI_TEST_VERBOSE"))
        fprintf(stderr, "\n  graphs %u zero-weight %u escaped %u converged %u fixed %u -inf %u zero-forced %u sweeps %zu\n",
                cov.graphs, cov.zero_model, cov.escaped, cov.converged, cov.fixed_checked, cov.minus_inf, cov.zero_forced,
                cov.sweeps);
}

/* ---- fully factorised truth: mean field is exact ---- */

static void test_factorised(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (unsigned long seed = 1; seed <= 40; seed++) {
        gsl_rng_set(r, seed);
        tm_model m;
        tm_init(&m);
        size_t n = 1 + gsl_rng_uniform_int(r, 6);
        for (size_t v = 0; v < n; v++)
            tm_add_var(&m, 1 + gsl_rng_uniform_int(r, 5));
        for (size_t v = 0; v < n; v++) {
            size_t nu = 1 + gsl_rng_uniform_int(r, 2);
            for (size_t u = 0; u < nu; u++) {
                size_t c = m.card[v];
                size_t p = gsl_rng_uniform(r) < 0.4
                               ? tm_pot_csr_random(&m, r, 0, NULL, c, 0.7, 0)
                               : tm_pot_dense_random(&m, r, 1, &c, 0.1, -30.0, 30.0);
                tm_add_factor(&m, p, &v, 1, CAI_MODE_NORMAL, 0);
            }
            if (gsl_rng_uniform(r) < 0.1)
                m.ev[v] = gsl_rng_uniform_int(r, m.card[v]);
        }
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        cai_meanfield_options o = cai_meanfield_options_default();
        o.init = CAI_MEANFIELD_INIT_RANDOM;
        o.seed = seed;
        cai_meanfield *mf = run_mf(g, &o);
        double lz = exact_log_z(&m);
        CU_ASSERT(cai_meanfield_converged(mf));
        CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), lz, 1e-12);
        /* exact marginals: each variable's normalised unary product */
        for (size_t v = 0; v < n; v++) {
            double lw[MAXC], q[MAXC];
            for (size_t s = 0; s < m.card[v]; s++) {
                lw[s] = m.ev[v] != CAI_NONE && s != m.ev[v] ? -INFINITY : 0.0;
                for (size_t i = 0; i < m.nf; i++)
                    if (m.f[i].scope[0] == v)
                        lw[s] += m.pot[m.f[i].pot].logv[s];
            }
            double l = cai_logsumexp(lw, m.card[v]);
            CU_ASSERT(cai_meanfield_marginal(mf, v, q, NULL) == CAI_OK);
            for (size_t s = 0; s < m.card[v]; s++)
                if (l > -INFINITY)
                    CU_ASSERT(fabs(q[s] - exp(lw[s] - l)) < 1e-12);
        }
        cai_meanfield_free(mf);
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
}

/* ---- zero weight: -inf, never NaN ---- */

static void test_zero_weight(void)
{
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 2);
    tm_add_var(&m, 3);
    size_t c23[2] = {2, 3}, c2 = 2;
    double t[6] = {0.1, -0.3, 0.2, 0.5, -1.0, 0.4};
    double none[2] = {-INFINITY, -INFINITY};
    tm_add_factor(&m, tm_pot_dense(&m, 2, c23, t, 0), (size_t[]){0, 1}, 2, CAI_MODE_NORMAL, 1);
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c2, none, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_meanfield *mf = run_mf(g, NULL);
    CU_ASSERT(cai_meanfield_elbo(mf) == -INFINITY);
    CU_ASSERT(cai_meanfield_converged(mf));
    double q[3];
    for (size_t v = 0; v < 2; v++) {
        CU_ASSERT(cai_meanfield_marginal(mf, v, q, NULL) == CAI_OK);
        for (size_t s = 0; s < m.card[v]; s++)
            CU_ASSERT(isfinite(q[s]) && q[s] >= 0.0);
    }
    size_t x[2];
    CU_ASSERT(cai_meanfield_map(mf, x, NULL) == CAI_OK);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    tm_free(&m);

    /* a zero in every row: from the uniform start every state of x0 is
     * -inf; the fallback takes x0 = 0 (ties to the lowest), then x1 = 1 */
    tm_init(&m);
    tm_add_var(&m, 2);
    tm_add_var(&m, 2);
    size_t c22[2] = {2, 2};
    double ne[4] = {-INFINITY, 0.7, -0.2, -INFINITY};
    tm_add_factor(&m, tm_pot_dense(&m, 2, c22, ne, 0), (size_t[]){0, 1}, 2, CAI_MODE_NORMAL, 1);
    g = tm_build_graph(&m, NULL, 1);
    trace_rec *tr = calloc(1, sizeof *tr);
    cai_meanfield_options o = cai_meanfield_options_default();
    o.trace = record;
    o.trace_ctx = tr;
    mf = run_mf(g, &o);
    CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), 0.7, 1e-15);
    CU_ASSERT(tr->n == cai_meanfield_iterations(mf) && tr->elbo[0] == 0.7);
    CU_ASSERT(cai_meanfield_converged(mf) && cai_meanfield_map(mf, x, NULL) == CAI_OK);
    CU_ASSERT(x[0] == 0 && x[1] == 1);
    free(tr);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    tm_free(&m);

    /* evidence of probability zero under a CSR conditional */
    tm_init(&m);
    tm_add_var(&m, 2);
    tm_add_var(&m, 2);
    double p[4] = {1.0, 0.0, 0.3, 0.7};
    tm_add_factor(&m, tm_pot_csr(&m, NULL, 1, (size_t[]){2}, 2, p, 0), (size_t[]){0, 1}, 2,
                  CAI_MODE_NORMAL, 1);
    m.ev[0] = 0;
    m.ev[1] = 1;
    g = tm_build_graph(&m, NULL, 1);
    mf = run_mf(g, NULL);
    CU_ASSERT(cai_meanfield_elbo(mf) == -INFINITY);
    /* clearing the child's evidence: finite, and q(child) = p(.|0) */
    CU_ASSERT(cai_meanfield_set_evidence(mf, 1, CAI_NONE, NULL) == CAI_OK);
    CU_ASSERT(isnan(cai_meanfield_elbo(mf)));
    CU_ASSERT(cai_meanfield_marginal(mf, 1, q, NULL) == CAI_ERR_STATE);
    CU_ASSERT(cai_meanfield_run(mf, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), 0.0, 1e-14);
    CU_ASSERT(cai_meanfield_marginal(mf, 1, q, NULL) == CAI_OK);
    CU_ASSERT(q[0] == 1.0 && q[1] == 0.0);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    tm_free(&m);
}

/* ---- modes ---- */

/* the same graph with factor 0's mode replaced */
static double elbo_with_mode(tm_model *m, cai_factor_mode mode, double *q0)
{
    cai_factor_mode keep = m->f[0].mode;
    m->f[0].mode = mode;
    cai_graph *g = tm_build_graph(m, NULL, 1);
    m->f[0].mode = keep;
    cai_meanfield *mf = run_mf(g, NULL);
    double e = cai_meanfield_elbo(mf);
    CU_ASSERT(cai_meanfield_marginal(mf, 0, q0, NULL) == CAI_OK);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    return e;
}

static void test_modes(void)
{
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 3);
    tm_add_var(&m, 3);
    double p[9] = {0.2, 0.8, 0.0, 0.0, 0.5, 0.5, 0.1, 0.1, 0.8};
    tm_add_factor(&m, tm_pot_csr(&m, NULL, 1, (size_t[]){3}, 3, p, 0), (size_t[]){0, 1}, 2,
                  CAI_MODE_NORMAL, 1);
    size_t c3 = 3;
    double u0[3] = {0.3, -0.2, 1.0}, u1[3] = {-0.5, 0.7, 0.1};
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c3, u0, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c3, u1, 0), (size_t[]){1}, 1, CAI_MODE_NORMAL, 0);
    double qa[3], qb[3];
    /* expectation mode is an ordinary factor here */
    double en = elbo_with_mode(&m, CAI_MODE_NORMAL, qa);
    double ee = elbo_with_mode(&m, CAI_MODE_EXPECTATION, qb);
    CU_ASSERT(en == ee && memcmp(qa, qb, sizeof qa) == 0);
    /* support mode equals the 0/1 table of the pattern */
    double es = elbo_with_mode(&m, CAI_MODE_SUPPORT, qa);
    tm_model m2;
    tm_init(&m2);
    tm_add_var(&m2, 3);
    tm_add_var(&m2, 3);
    size_t c33[2] = {3, 3};
    double pat[9];
    for (size_t i = 0; i < 9; i++)
        pat[i] = p[i] > 0 ? 0.0 : -INFINITY;
    tm_add_factor(&m2, tm_pot_dense(&m2, 2, c33, pat, 0), (size_t[]){0, 1}, 2, CAI_MODE_NORMAL,
                  1);
    tm_add_factor(&m2, tm_pot_dense(&m2, 1, &c3, u0, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    tm_add_factor(&m2, tm_pot_dense(&m2, 1, &c3, u1, 0), (size_t[]){1}, 1, CAI_MODE_NORMAL, 0);
    double e2 = elbo_with_mode(&m2, CAI_MODE_NORMAL, qb);
    CAI_ASSERT_CLOSE(es, e2, 1e-13);
    for (size_t s = 0; s < 3; s++)
        CU_ASSERT(fabs(qa[s] - qb[s]) < 1e-13);
    tm_free(&m);
    tm_free(&m2);
}

/* ---- evidence, determinism, the trace ---- */

static void test_evidence_determinism(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    tm_model m;
    gen_loopy(&m, r);
    for (size_t v = 0; v < m.n; v++)
        m.ev[v] = CAI_NONE;
    m.ev[1] = m.card[1] - 1;
    cai_graph *g_ev = tm_build_graph(&m, NULL, 1);
    cai_graph *g = tm_build_graph(&m, NULL, 0);
    cai_meanfield_options o = cai_meanfield_options_default();
    o.init = CAI_MEANFIELD_INIT_RANDOM;
    o.seed = 12345;
    trace_rec *tr = calloc(1, sizeof *tr);
    tr->in_order = 1;
    o.trace = record;
    o.trace_ctx = tr;
    cai_meanfield *a = run_mf(g_ev, &o);
    CU_ASSERT(tr->n == cai_meanfield_iterations(a) && tr->in_order);
    o.trace = NULL;
    cai_meanfield *b = run_mf(g, &o);
    CU_ASSERT(cai_meanfield_set_evidence(b, 1, m.ev[1], NULL) == CAI_OK);
    CU_ASSERT(cai_meanfield_iterations(b) == 0 && !cai_meanfield_converged(b));
    CU_ASSERT(cai_meanfield_run(b, NULL) == CAI_OK);
    CU_ASSERT(cai_meanfield_run(b, NULL) == CAI_OK); /* twice: the same */
    CU_ASSERT(cai_meanfield_elbo(a) == cai_meanfield_elbo(b));
    CU_ASSERT(cai_meanfield_iterations(a) == cai_meanfield_iterations(b));
    for (size_t v = 0; v < m.n; v++) {
        double qa[MAXC], qb[MAXC];
        CU_ASSERT(cai_meanfield_marginal(a, v, qa, NULL) == CAI_OK);
        CU_ASSERT(cai_meanfield_marginal(b, v, qb, NULL) == CAI_OK);
        CU_ASSERT(memcmp(qa, qb, m.card[v] * sizeof(double)) == 0);
    }
    /* a cap of 2 sweeps: 2 trace calls, not converged */
    memset(tr, 0, sizeof *tr);
    tr->in_order = 1;
    o.trace = record;
    o.max_iterations = 2;
    o.tol = 1e-300;
    cai_meanfield *c = run_mf(g_ev, &o);
    CU_ASSERT(cai_meanfield_iterations(c) == 2 && tr->n == 2 && !cai_meanfield_converged(c));
    cai_meanfield_free(a);
    cai_meanfield_free(b);
    cai_meanfield_free(c);
    free(tr);
    cai_graph_free(g_ev);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ---- errors ---- */

static void test_errors(void)
{
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 2);
    size_t c2 = 2;
    double u[2] = {0.0, 1.0};
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c2, u, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_meanfield *mf = NULL;
    cai_error err;
    CU_ASSERT(cai_meanfield_create(NULL, NULL, &mf, &err) == CAI_ERR_INVALID);
    CU_ASSERT(err.code == CAI_ERR_INVALID && err.line == 0 && err.column == 0);
    CU_ASSERT(cai_meanfield_create(g, NULL, NULL, &err) == CAI_ERR_INVALID);
    cai_meanfield_options o = cai_meanfield_options_default();
    o.tol = 0.0;
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_RANGE);
    o.tol = NAN;
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_RANGE);
    o.tol = -1.0;
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, NULL) == CAI_ERR_RANGE);
    o = cai_meanfield_options_default();
    o.max_iterations = 0;
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_RANGE);
    CU_ASSERT(strstr(err.message, "max_iterations") != NULL);
    o = cai_meanfield_options_default();
    o.init = (cai_meanfield_init)7;
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_INVALID);
    CU_ASSERT(mf == NULL);
    CU_ASSERT(cai_meanfield_create(g, NULL, &mf, &err) == CAI_OK);
    double q[2];
    size_t x[1];
    CU_ASSERT(cai_meanfield_marginal(mf, 0, q, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_meanfield_map(mf, x, &err) == CAI_ERR_STATE);
    CU_ASSERT(isnan(cai_meanfield_elbo(mf)) && cai_meanfield_iterations(mf) == 0);
    CU_ASSERT(cai_meanfield_run(NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_run(mf, &err) == CAI_OK);
    CU_ASSERT(cai_meanfield_marginal(mf, 1, q, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_marginal(mf, 0, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_marginal(NULL, 0, q, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_map(mf, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_set_evidence(mf, 1, 0, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_meanfield_set_evidence(mf, 0, 2, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_meanfield_set_evidence(NULL, 0, 0, &err) == CAI_ERR_INVALID);
    /* the failed calls left the results alone */
    CU_ASSERT(cai_meanfield_marginal(mf, 0, q, &err) == CAI_OK);
    CAI_ASSERT_CLOSE(q[1], exp(1.0) / (1.0 + exp(1.0)), 1e-15);
    CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), log(1.0 + exp(1.0)), 1e-15);
    CU_ASSERT(cai_meanfield_map(mf, x, &err) == CAI_OK && x[0] == 1);
    CU_ASSERT(cai_meanfield_iterations(NULL) == 0 && !cai_meanfield_converged(NULL));
    CU_ASSERT(isnan(cai_meanfield_elbo(NULL)));
    cai_meanfield_free(mf);
    cai_meanfield_free(NULL);
    cai_graph_free(g);
    tm_free(&m);
}

/* ties to the lowest state; an empty graph */
static void test_map_ties_empty(void)
{
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 3);
    tm_add_var(&m, 2);
    size_t c3 = 3;
    double u[3] = {-1.0, 0.5, 0.5};
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c3, u, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_meanfield *mf = run_mf(g, NULL);
    size_t x[2];
    CU_ASSERT(cai_meanfield_map(mf, x, NULL) == CAI_OK);
    CU_ASSERT(x[0] == 1 && x[1] == 0);
    /* the factorless variable: uniform, entropy log 2 */
    CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), exact_log_z(&m), 1e-14);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    tm_free(&m);

    cai_graph *e = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&e, NULL) == CAI_OK);
    mf = run_mf(e, NULL);
    CU_ASSERT(cai_meanfield_elbo(mf) == 0.0 && cai_meanfield_converged(mf));
    CU_ASSERT(cai_meanfield_iterations(mf) == 1);
    cai_meanfield_free(mf);
    cai_graph_free(e);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("meanfield", NULL, NULL);
    CU_add_test(s, "150 random loopy graphs: monotone, brute-force ELBO, <= log Z, fixed point",
                test_random_loopy);
    CU_add_test(s, "fully factorised truth: exact", test_factorised);
    CU_add_test(s, "zero weight: -inf, never NaN", test_zero_weight);
    CU_add_test(s, "expectation and support modes", test_modes);
    CU_add_test(s, "evidence, determinism, the trace", test_evidence_determinism);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "MAP ties; an empty graph", test_map_ties_empty);
}
