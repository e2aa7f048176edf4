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

/* ---- clusters (structured mean field) ----
 *
 * The oracle replays block coordinate ascent by brute force, independently
 * of the engine: q_b is a dense table over the joint states of block b's
 * variables, and updating it enumerates every joint assignment x of the
 * whole model, with the other blocks' tables as weights:
 *     q_b(x_b) ∝ exp(sum_{f touching b} E_{q_-b}[log f | x_b]),
 * -inf where positive weight meets a zero of f (or the evidence excludes
 * x_b). When every x_b is -inf the engine takes the point mass minimising
 * the zero mass sum_{f touching b} (1 - q_-b-mass of f's nonzeros | x_b);
 * the oracle does the same when that minimiser is unique and otherwise
 * stops replaying (the engine's tie rule is the junction tree's). The
 * ELBO of the oracle's q is E_q[log w] + sum_b H(q_b) by enumeration. It
 * shares nothing with the engine but the model: no junction tree, no
 * factor beliefs, no stored joints. */

#define CO_MAXJ 2187 /* 3^7: the largest joint gen_loopy makes */

typedef struct co_oracle {
    const tm_model *m;
    size_t nb, J;
    size_t block[TM_MAXV];
    size_t bsize[TM_MAXV];               /* joint states per block */
    double *q[TM_MAXV];                  /* per block: its table */
    size_t (*bidx)[TM_MAXV];             /* per assignment: each block's state */
    double (*lf)[TM_MAXF];               /* per assignment: log of each factor */
    int touch[TM_MAXV][TM_MAXF];
    int ambiguous;                       /* a fallback tie: replay stopped */
    unsigned fallbacks;
} co_oracle;

static void co_init(co_oracle *o, const tm_model *m, const size_t *block)
{
    memset(o, 0, sizeof *o);
    o->m = m;
    o->J = tm_joint_size(m);
    for (size_t v = 0; v < m->n; v++) {
        o->block[v] = block[v];
        if (block[v] + 1 > o->nb)
            o->nb = block[v] + 1;
    }
    for (size_t b = 0; b < o->nb; b++) {
        o->bsize[b] = 1;
        for (size_t v = 0; v < m->n; v++)
            if (block[v] == b)
                o->bsize[b] *= m->card[v];
        o->q[b] = calloc(o->bsize[b], sizeof(double));
    }
    for (size_t f = 0; f < m->nf; f++)
        for (size_t i = 0; i < m->f[f].k; i++)
            o->touch[block[m->f[f].scope[i]]][f] = 1;
    o->bidx = calloc(o->J, sizeof *o->bidx);
    o->lf = calloc(o->J, sizeof *o->lf);
    size_t x[TM_MAXV] = {0}, X = 0;
    do {
        for (size_t b = 0; b < o->nb; b++) /* row-major over the block's vars */
            o->bidx[X][b] = 0;
        for (size_t v = 0; v < m->n; v++)
            o->bidx[X][block[v]] = o->bidx[X][block[v]] * m->card[v] + x[v];
        for (size_t f = 0; f < m->nf; f++) {
            const tm_factor *F = &m->f[f];
            double lv = m->pot[F->pot].logv[tm_factor_index(m, F, x)];
            o->lf[X][f] = F->mode == CAI_MODE_SUPPORT && lv > -INFINITY ? 0.0 : lv;
        }
        X++;
    } while (tm_next(m, x));
    /* the uniform start: a product of uniform q_v, evidence a point mass */
    memset(x, 0, sizeof x);
    X = 0;
    for (size_t b = 0; b < o->nb; b++)
        for (size_t s = 0; s < o->bsize[b]; s++)
            o->q[b][s] = 0.0;
    do {
        double w = 1.0;
        for (size_t v = 0; v < m->n; v++)
            w *= m->ev[v] != CAI_NONE ? (x[v] == m->ev[v]) : 1.0 / (double)m->card[v];
        /* each block's table gets its share once: only where the other
         * blocks' variables are all 0 */
        for (size_t b = 0; b < o->nb; b++) {
            int first = 1;
            for (size_t v = 0; v < m->n; v++)
                if (o->block[v] != b && x[v] != 0)
                    first = 0;
            if (first) {
                double wb = 1.0;
                for (size_t v = 0; v < m->n; v++)
                    if (o->block[v] == b)
                        wb *= m->ev[v] != CAI_NONE ? (x[v] == m->ev[v])
                                                   : 1.0 / (double)m->card[v];
                o->q[b][o->bidx[X][b]] = wb;
            }
        }
        (void)w;
        X++;
    } while (tm_next(m, x));
}

static void co_free(co_oracle *o)
{
    for (size_t b = 0; b < o->nb; b++)
        free(o->q[b]);
    free(o->bidx);
    free(o->lf);
}

/* q_-b(X): the other blocks' weight of assignment X, 0 when one is 0. */
static double co_others(const co_oracle *o, size_t X, size_t b)
{
    double w = 1.0;
    for (size_t d = 0; d < o->nb; d++)
        if (d != b) {
            double qd = o->q[d][o->bidx[X][d]];
            if (!(qd > 0.0))
                return 0.0;
            w *= qd;
        }
    return w;
}

/* Does state s of block b agree with the evidence? */
static int co_consistent(const co_oracle *o, size_t b, size_t s)
{
    const tm_model *m = o->m;
    for (size_t v = m->n; v-- > 0;)
        if (o->block[v] == b) {
            size_t xv = s % m->card[v];
            s /= m->card[v];
            if (m->ev[v] != CAI_NONE && xv != m->ev[v])
                return 0;
        }
    return 1;
}

static void co_update(co_oracle *o, size_t b)
{
    const tm_model *m = o->m;
    size_t S = o->bsize[b];
    double L[CO_MAXJ], zm[CO_MAXJ];
    int zero[CO_MAXJ];
    for (size_t s = 0; s < S; s++) {
        L[s] = 0.0;
        zm[s] = 0.0;
        zero[s] = !co_consistent(o, b, s);
    }
    for (size_t X = 0; X < o->J; X++) {
        double w = co_others(o, X, b);
        size_t s = o->bidx[X][b];
        for (size_t f = 0; f < m->nf; f++) {
            if (!o->touch[b][f])
                continue;
            if (o->lf[X][f] == -INFINITY) {
                if (w > 0.0)
                    zero[s] = 1;
            } else {
                L[s] += w * o->lf[X][f];
                zm[s] += w; /* the q-mass on f's nonzeros, summed over f */
            }
        }
    }
    double mx = -INFINITY;
    for (size_t s = 0; s < S; s++) {
        if (zero[s])
            L[s] = -INFINITY;
        mx = fmax(mx, L[s]);
    }
    double *q = o->q[b];
    if (mx > -INFINITY) {
        double z = 0.0;
        for (size_t s = 0; s < S; s++)
            z += exp(L[s] - mx);
        for (size_t s = 0; s < S; s++)
            q[s] = exp(L[s] - mx) / z;
        return;
    }
    /* the zero-mass rule: the lowest state whose score sum_f (mass_f - 1)
     * is within 1e-12 * max(1, |best|) of the best; a state just outside
     * that margin could go either way in rounding, so stop replaying */
    o->fallbacks++;
    double T = 0.0, best = -INFINITY;
    for (size_t f = 0; f < m->nf; f++)
        T += o->touch[b][f];
    for (size_t s = 0; s < S; s++)
        if (co_consistent(o, b, s))
            best = fmax(best, zm[s] - T);
    double floor = best - 1e-12 * fmax(1.0, fabs(best));
    size_t pick = CAI_NONE;
    for (size_t s = 0; s < S; s++) {
        if (!co_consistent(o, b, s))
            continue;
        double score = zm[s] - T;
        if (score >= floor && pick == CAI_NONE)
            pick = s;
        if (score < floor && score > floor - 1e-9)
            o->ambiguous = 1;
    }
    for (size_t s = 0; s < S; s++)
        q[s] = s == pick;
}

static double co_elbo(const co_oracle *o)
{
    const tm_model *m = o->m;
    double e = 0.0;
    int zero = 0;
    for (size_t X = 0; X < o->J; X++) {
        double w = co_others(o, X, CAI_NONE);
        if (!(w > 0.0))
            continue;
        double lw = 0.0;
        for (size_t f = 0; f < m->nf; f++)
            lw += o->lf[X][f];
        if (lw == -INFINITY)
            zero = 1;
        else
            e += w * lw;
    }
    for (size_t b = 0; b < o->nb; b++)
        for (size_t s = 0; s < o->bsize[b]; s++)
            if (o->q[b][s] > 0.0)
                e -= o->q[b][s] * log(o->q[b][s]);
    return zero ? -INFINITY : e;
}

/* The oracle's marginal of v. */
static void co_marginal(const co_oracle *o, size_t v, double *out)
{
    const tm_model *m = o->m;
    size_t b = o->block[v], stride = 1;
    for (size_t u = m->n; u-- > v + 1;)
        if (o->block[u] == b)
            stride *= m->card[u];
    for (size_t s = 0; s < m->card[v]; s++)
        out[s] = 0.0;
    for (size_t s = 0; s < o->bsize[b]; s++)
        out[(s / stride) % m->card[v]] += o->q[b][s];
}

/* A random partition of m's variables into 1..n blocks, every index used. */
static size_t random_blocks(const tm_model *m, gsl_rng *r, size_t *block)
{
    size_t nb = 1 + gsl_rng_uniform_int(r, m->n), perm[TM_MAXV], ids[TM_MAXV];
    cai_test_permutation(r, perm, m->n);
    cai_test_permutation(r, ids, nb);
    for (size_t i = 0; i < m->n; i++)
        block[perm[i]] = i < nb ? ids[i] : gsl_rng_uniform_int(r, nb);
    return nb;
}

static struct {
    unsigned graphs, replayed, clustered, ambiguous, fallbacks, minus_inf, escaped, converged;
    unsigned joint_parts; /* crossing factors with >= 2 variables in one block */
    size_t sweeps;
} ccov;

static cai_meanfield *run_blocks(const cai_graph *g, const size_t *block, trace_rec *tr,
                                 cai_meanfield_init init, uint64_t seed)
{
    cai_meanfield_options o = cai_meanfield_options_default();
    o.blocks = block;
    o.init = init;
    o.seed = seed;
    o.tol = 1e-12;
    o.max_iterations = 400;
    if (tr) {
        memset(tr, 0, sizeof *tr);
        tr->in_order = 1;
        o.trace = record;
        o.trace_ctx = tr;
    }
    return run_mf(g, &o);
}

static void check_cluster(const tm_model *m, const cai_graph *g, const size_t *block)
{
    static trace_rec tr;
    cai_meanfield *mf = run_blocks(g, block, &tr, CAI_MEANFIELD_INIT_UNIFORM, 0);
    size_t it = cai_meanfield_iterations(mf);
    double elbo = cai_meanfield_elbo(mf), lz = exact_log_z(m);
    co_oracle o;
    co_init(&o, m, block);
    CU_ASSERT(it >= 1 && tr.n == it && tr.in_order && tr.elbo[it - 1] == elbo);
    CU_ASSERT(!isnan(elbo));
    /* monotone from the start (the oracle's ELBO of the uniform start) */
    CU_ASSERT(monotone(tr.elbo, tr.n, co_elbo(&o)));
    CU_ASSERT(lz == -INFINITY ? elbo == -INFINITY : elbo <= lz + 1e-10 * fmax(1.0, fabs(lz)));
    /* the replay: the ELBO after every sweep, then q */
    size_t t = 0;
    for (; t < it && !o.ambiguous; t++) {
        for (size_t b = 0; b < o.nb; b++)
            co_update(&o, b);
        if (o.ambiguous)
            break;
        double oe = co_elbo(&o);
        if (!cai_test_close(tr.elbo[t], oe, 1e-10))
            fprintf(stderr, "\n  sweep %zu: engine %.17g oracle %.17g\n", t + 1, tr.elbo[t], oe);
        CAI_ASSERT_CLOSE(tr.elbo[t], oe, 1e-10);
    }
    if (!o.ambiguous) {
        ccov.replayed++;
        CAI_ASSERT_CLOSE(elbo, co_elbo(&o), 1e-10);
        for (size_t v = 0; v < m->n; v++) {
            double q[MAXC], oq[MAXC];
            CU_ASSERT(cai_meanfield_marginal(mf, v, q, NULL) == CAI_OK);
            co_marginal(&o, v, oq);
            for (size_t s = 0; s < m->card[v]; s++)
                CU_ASSERT(fabs(q[s] - oq[s]) < 1e-9);
        }
    }
    ccov.ambiguous += o.ambiguous;
    ccov.fallbacks += o.fallbacks > 0;
    ccov.minus_inf += elbo == -INFINITY;
    ccov.escaped += tr.n > 1 && tr.elbo[0] == -INFINITY && elbo > -INFINITY;
    ccov.converged += cai_meanfield_converged(mf);
    ccov.sweeps += it;
    ccov.graphs++;
    /* map: the argmax of each marginal; evidence respected */
    size_t x[TM_MAXV];
    CU_ASSERT(cai_meanfield_map(mf, x, NULL) == CAI_OK);
    for (size_t v = 0; v < m->n; v++) {
        double q[MAXC], sum = 0.0;
        CU_ASSERT(cai_meanfield_marginal(mf, v, q, NULL) == CAI_OK);
        for (size_t s = 0; s < m->card[v]; s++) {
            sum += q[s];
            CU_ASSERT(q[s] <= q[x[v]] && (s >= x[v] || q[s] < q[x[v]]));
        }
        CAI_ASSERT_CLOSE(sum, 1.0, 1e-12);
        if (m->ev[v] != CAI_NONE)
            CU_ASSERT(q[m->ev[v]] == 1.0);
    }
    co_free(&o);
    cai_meanfield_free(mf);
}

static void test_cluster_random(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    memset(&ccov, 0, sizeof ccov);
    for (unsigned long seed = 1; seed <= 120; seed++) {
        gsl_rng_set(r, 1000 + seed);
        tm_model m;
        gen_loopy(&m, r);
        size_t block[TM_MAXV];
        size_t nb = random_blocks(&m, r, block);
        ccov.clustered += nb < m.n;
        for (size_t i = 0; i < m.nf; i++) {
            const tm_factor *F = &m.f[i];
            int same = 0, cross = 0;
            for (size_t a = 0; a < F->k; a++)
                for (size_t c = a + 1; c < F->k; c++) {
                    same |= block[F->scope[a]] == block[F->scope[c]];
                    cross |= block[F->scope[a]] != block[F->scope[c]];
                }
            ccov.joint_parts += same && cross;
        }
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        check_cluster(&m, g, block);
        /* a random start: monotone, below log Z, deterministic */
        static trace_rec tr;
        cai_meanfield *a = run_blocks(g, block, &tr, CAI_MEANFIELD_INIT_RANDOM, seed);
        cai_meanfield *b = run_blocks(g, block, NULL, CAI_MEANFIELD_INIT_RANDOM, seed);
        double lz = exact_log_z(&m), e = cai_meanfield_elbo(a);
        CU_ASSERT(monotone(tr.elbo, tr.n, -INFINITY));
        CU_ASSERT(lz == -INFINITY ? e == -INFINITY : e <= lz + 1e-10 * fmax(1.0, fabs(lz)));
        CU_ASSERT(e == cai_meanfield_elbo(b) || (isnan(e) && isnan(cai_meanfield_elbo(b))));
        CU_ASSERT(cai_meanfield_run(b, NULL) == CAI_OK && e == cai_meanfield_elbo(b));
        cai_meanfield_free(a);
        cai_meanfield_free(b);
        cai_graph_free(g);
        tm_free(&m);
    }
    gsl_rng_free(r);
    CU_ASSERT(ccov.replayed > ccov.graphs * 9 / 10);
    CU_ASSERT(ccov.clustered > ccov.graphs * 2 / 3);
    CU_ASSERT(ccov.fallbacks > 0 && ccov.minus_inf > 0 && ccov.escaped > 0);
    CU_ASSERT(ccov.converged > ccov.graphs * 8 / 10);
    CU_ASSERT(ccov.joint_parts > 20);
    if (getenv("CAI_TEST_VERBOSE"))
        fprintf(stderr, "\n  graphs %u replayed %u clustered %u ambiguous %u fallbacks %u "
                        "-inf %u escaped %u converged %u sweeps %zu joint parts %u\n",
                ccov.graphs, ccov.replayed, ccov.clustered, ccov.ambiguous, ccov.fallbacks,
                ccov.minus_inf, ccov.escaped, ccov.converged, ccov.sweeps, ccov.joint_parts);
}

/* One block holding every variable: the exact posterior, ELBO = log Z. */
static void test_cluster_one_block(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    unsigned zero = 0;
    for (unsigned long seed = 1; seed <= 60; seed++) {
        gsl_rng_set(r, 5000 + seed);
        tm_model m;
        gen_loopy(&m, r);
        size_t block[TM_MAXV] = {0};
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        cai_meanfield *mf = run_blocks(g, block, NULL, CAI_MEANFIELD_INIT_RANDOM, seed);
        double lz = exact_log_z(&m), elbo = cai_meanfield_elbo(mf);
        zero += lz == -INFINITY;
        if (lz == -INFINITY) {
            CU_ASSERT(elbo == -INFINITY);
        } else {
            CAI_ASSERT_CLOSE(elbo, lz, 1e-10);
            CU_ASSERT(cai_meanfield_converged(mf) && cai_meanfield_iterations(mf) == 2);
            double marg[TM_MAXV][MAXC] = {{0}};
            size_t x[TM_MAXV] = {0};
            do {
                double p = exp(mf_log_weight(&m, x, m.ev) - lz);
                for (size_t v = 0; v < m.n; v++)
                    marg[v][x[v]] += p;
            } while (tm_next(&m, x));
            for (size_t v = 0; v < m.n; v++) {
                double q[MAXC];
                CU_ASSERT(cai_meanfield_marginal(mf, v, q, NULL) == CAI_OK);
                for (size_t s = 0; s < m.card[v]; s++)
                    CU_ASSERT(fabs(q[s] - marg[v][s]) < 1e-10);
            }
        }
        cai_meanfield_free(mf);
        cai_graph_free(g);
        tm_free(&m);
    }
    CU_ASSERT(zero > 0 && zero < 20);
    gsl_rng_free(r);
}

/* blocks[v] = v is the fully factorised run, bit for bit. */
static void test_cluster_singletons(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    trace_rec *ta = calloc(1, sizeof *ta), *tb = calloc(1, sizeof *tb);
    for (unsigned long seed = 1; seed <= 40; seed++) {
        gsl_rng_set(r, seed);
        tm_model m;
        gen_loopy(&m, r);
        size_t id[TM_MAXV];
        for (size_t v = 0; v < m.n; v++)
            id[v] = v;
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        for (int init = 0; init < 2; init++) {
            cai_meanfield_options o = cai_meanfield_options_default();
            o.init = init ? CAI_MEANFIELD_INIT_RANDOM : CAI_MEANFIELD_INIT_UNIFORM;
            o.seed = seed;
            o.trace = record;
            memset(ta, 0, sizeof *ta);
            memset(tb, 0, sizeof *tb);
            o.trace_ctx = ta;
            cai_meanfield *a = run_mf(g, &o);
            o.blocks = id;
            o.trace_ctx = tb;
            cai_meanfield *b = run_mf(g, &o);
            CU_ASSERT(ta->n == tb->n && memcmp(ta->elbo, tb->elbo, ta->n * sizeof(double)) == 0);
            CU_ASSERT(memcmp(&(double){cai_meanfield_elbo(a)}, &(double){cai_meanfield_elbo(b)},
                             sizeof(double)) == 0);
            CU_ASSERT(cai_meanfield_iterations(a) == cai_meanfield_iterations(b));
            CU_ASSERT(cai_meanfield_converged(a) == cai_meanfield_converged(b));
            CU_ASSERT(cai_meanfield_message_bytes(a) == cai_meanfield_message_bytes(b));
            for (size_t v = 0; v < m.n; v++) {
                double qa[MAXC], qb[MAXC];
                CU_ASSERT(cai_meanfield_marginal(a, v, qa, NULL) == CAI_OK);
                CU_ASSERT(cai_meanfield_marginal(b, v, qb, NULL) == CAI_OK);
                CU_ASSERT(memcmp(qa, qb, m.card[v] * sizeof(double)) == 0);
            }
            cai_meanfield_free(a);
            cai_meanfield_free(b);
        }
        cai_graph_free(g);
        tm_free(&m);
    }
    free(ta);
    free(tb);
    gsl_rng_free(r);
}

/* A block of two variables that share no factor updates each as the
 * factorised sweep would, one after the other: the cluster machinery
 * (junction tree, crossing tables, stored joints) against the factorised
 * code, swept in the same order through singleton blocks. */
static void test_cluster_pair(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    unsigned compared = 0;
    trace_rec *ta = calloc(1, sizeof *ta), *tb = calloc(1, sizeof *tb);
    for (unsigned long seed = 1; seed <= 80 && compared < 25; seed++) {
        gsl_rng_set(r, 9000 + seed);
        tm_model m;
        tm_init(&m);
        size_t n = 4 + gsl_rng_uniform_int(r, 3);
        for (size_t v = 0; v < n; v++)
            tm_add_var(&m, 2 + gsl_rng_uniform_int(r, 2));
        for (size_t i = 0; i < n + 2; i++) { /* positive tables: no zeros */
            size_t scope[2], perm[TM_MAXV];
            cai_test_permutation(r, perm, n);
            scope[0] = perm[0];
            scope[1] = perm[1];
            size_t cards[2] = {m.card[scope[0]], m.card[scope[1]]};
            tm_add_factor(&m, tm_pot_dense_random(&m, r, 2, cards, 0.0, -2.0, 2.0), scope, 2,
                          CAI_MODE_NORMAL, 1);
        }
        /* two variables sharing no factor */
        size_t u = CAI_NONE, w = CAI_NONE;
        for (size_t a = 0; a < n && u == CAI_NONE; a++)
            for (size_t b = a + 1; b < n && u == CAI_NONE; b++) {
                int shared = 0;
                for (size_t i = 0; i < m.nf; i++)
                    shared |= tm_in_scope(&m.f[i], a) && tm_in_scope(&m.f[i], b);
                if (!shared) {
                    u = a;
                    w = b;
                }
            }
        if (u == CAI_NONE) {
            tm_free(&m);
            continue;
        }
        /* sweep order: a random permutation with w right after u */
        size_t perm[TM_MAXV], order[TM_MAXV], k = 0;
        cai_test_permutation(r, perm, n);
        for (size_t i = 0; i < n; i++) {
            if (perm[i] == w)
                continue;
            order[k++] = perm[i];
            if (perm[i] == u)
                order[k++] = w;
        }
        size_t single[TM_MAXV], pair[TM_MAXV];
        for (size_t i = 0; i < n; i++) {
            single[order[i]] = i;
            pair[order[i]] = i;
        }
        for (size_t v = 0; v < n; v++)
            if (single[v] > single[u])
                pair[v]--; /* w joins u's block */
        cai_graph *g = tm_build_graph(&m, NULL, 1);
        cai_meanfield *a = run_blocks(g, single, ta, CAI_MEANFIELD_INIT_UNIFORM, 0);
        cai_meanfield *b = run_blocks(g, pair, tb, CAI_MEANFIELD_INIT_UNIFORM, 0);
        CU_ASSERT(cai_meanfield_message_bytes(b) > cai_meanfield_message_bytes(a));
        size_t nt = ta->n < tb->n ? ta->n : tb->n;
        CU_ASSERT(nt >= 1 && (ta->n == tb->n || (cai_meanfield_converged(a)
                                                  && cai_meanfield_converged(b))));
        for (size_t t = 0; t < nt; t++)
            CAI_ASSERT_CLOSE(ta->elbo[t], tb->elbo[t], 1e-10);
        CAI_ASSERT_CLOSE(cai_meanfield_elbo(a), cai_meanfield_elbo(b), 1e-10);
        for (size_t v = 0; v < n; v++) {
            double qa[MAXC], qb[MAXC];
            CU_ASSERT(cai_meanfield_marginal(a, v, qa, NULL) == CAI_OK);
            CU_ASSERT(cai_meanfield_marginal(b, v, qb, NULL) == CAI_OK);
            for (size_t s = 0; s < m.card[v]; s++)
                CU_ASSERT(fabs(qa[s] - qb[s]) < 1e-10);
        }
        compared++;
        cai_meanfield_free(a);
        cai_meanfield_free(b);
        cai_graph_free(g);
        tm_free(&m);
    }
    CU_ASSERT(compared >= 25);
    free(ta);
    free(tb);
    gsl_rng_free(r);
}

/* Evidence changes, runs twice, the zero fallback escaping -inf. */
static void test_cluster_evidence_zeros(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    tm_model m;
    gen_loopy(&m, r);
    while (m.n < 5) {
        tm_free(&m);
        gen_loopy(&m, r);
    }
    for (size_t v = 0; v < m.n; v++)
        m.ev[v] = CAI_NONE;
    m.ev[2] = m.card[2] - 1;
    size_t block[TM_MAXV];
    for (size_t v = 0; v < m.n; v++)
        block[v] = v < 3 ? 0 : v - 2; /* {0, 1, 2}, then singletons */
    cai_graph *g_ev = tm_build_graph(&m, NULL, 1), *g = tm_build_graph(&m, NULL, 0);
    cai_meanfield *a = run_blocks(g_ev, block, NULL, CAI_MEANFIELD_INIT_RANDOM, 3);
    cai_meanfield *b = run_blocks(g, block, NULL, CAI_MEANFIELD_INIT_RANDOM, 3);
    CU_ASSERT(cai_meanfield_set_evidence(b, 2, m.ev[2], NULL) == CAI_OK);
    CU_ASSERT(isnan(cai_meanfield_elbo(b)) && cai_meanfield_iterations(b) == 0);
    CU_ASSERT(cai_meanfield_run(b, NULL) == CAI_OK);
    CU_ASSERT(cai_meanfield_run(b, NULL) == CAI_OK);
    CU_ASSERT(cai_meanfield_elbo(a) == cai_meanfield_elbo(b));
    CU_ASSERT(cai_meanfield_iterations(a) == cai_meanfield_iterations(b));
    for (size_t v = 0; v < m.n; v++) {
        double qa[MAXC], qb[MAXC];
        CU_ASSERT(cai_meanfield_marginal(a, v, qa, NULL) == CAI_OK);
        CU_ASSERT(cai_meanfield_marginal(b, v, qb, NULL) == CAI_OK);
        CU_ASSERT(memcmp(qa, qb, m.card[v] * sizeof(double)) == 0);
    }
    CU_ASSERT(cai_meanfield_message_bytes(a) > 0 && cai_meanfield_message_bytes(NULL) == 0);
    cai_meanfield_free(a);
    cai_meanfield_free(b);
    cai_graph_free(g_ev);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);

    /* x1 = x2 forced by a factor with a zero in every row, crossing blocks
     * {x0, x1} and {x2}: from the uniform start every state of block 0 is
     * -inf; the point mass it takes lets block 1 follow, and the ELBO
     * after the first sweep is finite */
    tm_init(&m);
    for (int v = 0; v < 3; v++)
        tm_add_var(&m, 2);
    size_t c22[2] = {2, 2};
    double t01[4] = {0.3, -0.4, 0.1, 0.9}, eq[4] = {0.2, -INFINITY, -INFINITY, 0.5};
    tm_add_factor(&m, tm_pot_dense(&m, 2, c22, t01, 0), (size_t[]){0, 1}, 2, CAI_MODE_NORMAL, 1);
    tm_add_factor(&m, tm_pot_dense(&m, 2, c22, eq, 0), (size_t[]){1, 2}, 2, CAI_MODE_NORMAL, 1);
    g = tm_build_graph(&m, NULL, 1);
    size_t blk[3] = {0, 0, 1};
    trace_rec *tr = calloc(1, sizeof *tr);
    a = run_blocks(g, blk, tr, CAI_MEANFIELD_INIT_UNIFORM, 0);
    CU_ASSERT(tr->n >= 1 && isfinite(tr->elbo[0]));
    CU_ASSERT(monotone(tr->elbo, tr->n, -INFINITY));
    CU_ASSERT(isfinite(cai_meanfield_elbo(a)) && cai_meanfield_elbo(a) <= exact_log_z(&m));
    free(tr);
    cai_meanfield_free(a);
    cai_graph_free(g);
    tm_free(&m);
}

/* Inside a block, an expectation-mode factor is an ordinary factor (the
 * block's junction tree must not honour the mode). */
static void test_cluster_modes(void)
{
    tm_model m;
    tm_init(&m);
    for (int v = 0; v < 3; v++)
        tm_add_var(&m, 3);
    double p[9] = {0.2, 0.8, 0.0, 0.0, 0.5, 0.5, 0.1, 0.1, 0.8};
    size_t c33[2] = {3, 3}, c3 = 3;
    double t[9] = {0.3, -0.2, 1.0, -0.5, 0.7, 0.1, 0.0, 0.4, -0.3}, u[3] = {0.5, -1.0, 0.2};
    tm_add_factor(&m, tm_pot_csr(&m, NULL, 1, (size_t[]){3}, 3, p, 0), (size_t[]){0, 1}, 2,
                  CAI_MODE_NORMAL, 1);
    tm_add_factor(&m, tm_pot_dense(&m, 2, c33, t, 0), (size_t[]){1, 2}, 2, CAI_MODE_NORMAL, 1);
    tm_add_factor(&m, tm_pot_dense(&m, 1, &c3, u, 0), (size_t[]){1}, 1, CAI_MODE_NORMAL, 0);
    size_t one[3] = {0, 0, 0}, two[3] = {0, 0, 1};
    for (int k = 0; k < 2; k++) {
        double e[2], q[2][3];
        for (int mode = 0; mode < 2; mode++) {
            m.f[0].mode = mode ? CAI_MODE_EXPECTATION : CAI_MODE_NORMAL;
            cai_graph *g = tm_build_graph(&m, NULL, 1);
            cai_meanfield *mf = run_blocks(g, k ? two : one, NULL, CAI_MEANFIELD_INIT_UNIFORM, 0);
            e[mode] = cai_meanfield_elbo(mf);
            CU_ASSERT(cai_meanfield_marginal(mf, 1, q[mode], NULL) == CAI_OK);
            cai_meanfield_free(mf);
            cai_graph_free(g);
        }
        CU_ASSERT(e[0] == e[1] && memcmp(q[0], q[1], sizeof q[0]) == 0);
        if (k == 0)
            CAI_ASSERT_CLOSE(e[0], exact_log_z(&m), 1e-12);
    }
    tm_free(&m);
}

static void test_cluster_errors(void)
{
    tm_model m;
    tm_init(&m);
    for (int v = 0; v < 3; v++)
        tm_add_var(&m, 2);
    size_t c22[2] = {2, 2};
    double t[4] = {0.0, 1.0, -1.0, 0.5};
    tm_add_factor(&m, tm_pot_dense(&m, 2, c22, t, 0), (size_t[]){0, 1}, 2, CAI_MODE_NORMAL, 1);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_meanfield_options o = cai_meanfield_options_default();
    cai_meanfield *mf = NULL;
    cai_error err;
    o.blocks = (size_t[]){0, 3, 1};
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_RANGE);
    CU_ASSERT(strstr(err.message, "variable 1 ('v1')") && strstr(err.message, "block index 3"));
    o.blocks = (size_t[]){0, 2, 2};
    CU_ASSERT(cai_meanfield_create(g, &o, &mf, &err) == CAI_ERR_RANGE);
    CU_ASSERT(strstr(err.message, "variable 1 ('v1')") && strstr(err.message, "block 1 has no"));
    CU_ASSERT(mf == NULL && err.line == 0);
    /* the array is copied */
    size_t blk[3] = {1, 1, 0}; /* {v0, v1} holds the only factor: exact */
    o.blocks = blk;
    CU_ASSERT_FATAL(cai_meanfield_create(g, &o, &mf, &err) == CAI_OK);
    blk[0] = 7;
    CU_ASSERT(cai_meanfield_run(mf, &err) == CAI_OK);
    CU_ASSERT(cai_meanfield_converged(mf));
    CAI_ASSERT_CLOSE(cai_meanfield_elbo(mf), exact_log_z(&m), 1e-12);
    cai_meanfield_free(mf);
    cai_graph_free(g);
    tm_free(&m);

    /* a block whose junction tree is too large: 27 binary variables, all
     * pairs linked, one clique of 2^27 > 1e8 joint states (refused before
     * anything of that size is allocated), and one more variable alone */
    cai_graph *big = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&big, NULL) == CAI_OK);
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(2, c22, t, &p, NULL) == CAI_OK);
    size_t zeros[28] = {0};
    for (size_t v = 0; v < 28; v++) {
        char name[8];
        snprintf(name, sizeof name, "b%zu", v);
        CU_ASSERT_FATAL(cai_graph_add_variable(big, name, 2, NULL, NULL, NULL) == CAI_OK);
    }
    for (size_t a = 0; a < 27; a++)
        for (size_t b = a + 1; b < 27; b++)
            CU_ASSERT_FATAL(cai_graph_add_factor(big, p, (size_t[]){a, b}, 2, CAI_MODE_NORMAL,
                                                 NULL, NULL) == CAI_OK);
    cai_potential_unref(p);
    zeros[27] = 1; /* blocks {b0..b26} and {b27} */
    o.blocks = zeros;
    mf = NULL;
    CU_ASSERT(cai_meanfield_create(big, &o, &mf, &err) == CAI_ERR_OVERFLOW);
    CU_ASSERT(strstr(err.message, "mean-field block 0: junction tree: the largest clique") != NULL
              && strstr(err.message, "max_clique_entries") != NULL);
    CU_ASSERT(mf == NULL);
    cai_graph_free(big);
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
    CU_add_test(s, "clusters: 120 random loopy graphs and partitions against a brute-force "
                   "replay; monotone, <= log Z", test_cluster_random);
    CU_add_test(s, "clusters: one block is exact", test_cluster_one_block);
    CU_add_test(s, "clusters: singleton blocks are the factorised run, bit for bit",
                test_cluster_singletons);
    CU_add_test(s, "clusters: a pair sharing no factor equals two factorised updates",
                test_cluster_pair);
    CU_add_test(s, "clusters: evidence, determinism, escaping the zeros", test_cluster_evidence_zeros);
    CU_add_test(s, "clusters: expectation mode is an ordinary factor", test_cluster_modes);
    CU_add_test(s, "clusters: errors", test_cluster_errors);
}
