/* tests/test_expectation.c — expectation-mode conditionals (structured
 * variational inference). The engine's q is rebuilt from its marginals and
 * cluster beliefs; the tests check that q is a distribution of the family
 * (expectation conditionals copied in), that the reported value is q's ELBO
 * computed by enumeration, that it bounds the exact log Z from below, and
 * that no other member of the family (random perturbations of the free
 * conditionals) has a larger ELBO. Plus hand-computed soft Bellman backups,
 * the deterministic case (ELBO = log Z) and the structure errors. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include <gsl/gsl_randist.h>

/* ------------------------------------------------------------------ */
/* generators                                                          */

/* Dense table over cards with entries uniform in [lo, hi]; with
 * row_zero_prob, entries are zero with that probability but every row (all
 * positions but the last fixed) keeps at least one nonzero. */
static size_t dense_pot(tm_model *m, gsl_rng *r, size_t k, const size_t *cards,
                        double lo, double hi, double row_zero_prob)
{
    size_t size = 1;
    for (size_t i = 0; i < k; i++)
        size *= cards[i];
    size_t cols = cards[k - 1];
    double *v = malloc(size * sizeof(double));
    for (size_t row = 0; row < size / cols; row++) {
        size_t keep = gsl_rng_uniform_int(r, cols);
        for (size_t c = 0; c < cols; c++) {
            double x = lo + (hi - lo) * gsl_rng_uniform(r);
            if (c != keep && gsl_rng_uniform(r) < row_zero_prob)
                x = -INFINITY;
            v[row * cols + c] = x;
        }
    }
    size_t id = tm_pot_dense(m, k, cards, v, 0);
    free(v);
    return id;
}


typedef struct mdp_opts {
    int det;          /* deterministic transitions */
    int prior;        /* -1 random; 0 none; 1 expectation prior; 2 normal table */
    int child_factor; /* add a normal factor over (s_t or a_t, s_t+1) */
    int evidence;     /* -1 random; 0 none */
} mdp_opts;

/* s0, a0, s1, ..., sT, with p(s_t+1 | s_t, a_t) in expectation mode, a
 * reward table over (s_t, a_t) and optional priors and terminal terms. */
static void gen_mdp(tm_model *m, gsl_rng *r, const mdp_opts *o)
{
    tm_init(m);
    size_t S = 2 + gsl_rng_uniform_int(r, 3), A = 2 + gsl_rng_uniform_int(r, 2);
    size_t T = 1 + gsl_rng_uniform_int(r, 4);
    while (T > 1) {
        size_t n = 1;
        for (size_t t = 0; t <= T; t++)
            n *= S * (t < T ? A : 1);
        if (n <= TM_JOINT_CAP)
            break;
        T--;
    }
    size_t nv = 2 * T + 1;
    size_t role[2 * 4 + 1]; /* role 2t = s_t, 2t+1 = a_t -> variable index */
    for (size_t i = 0; i < nv; i++)
        role[i] = i;
    if (gsl_rng_uniform(r) < 0.3)
        /* the default root may then be on a child side */
        cai_test_shuffle(r, role, nv);
    size_t card_of_index[2 * 4 + 1];
    for (size_t i = 0; i < nv; i++)
        card_of_index[role[i]] = (i % 2 == 0) ? S : A;
    for (size_t i = 0; i < nv; i++)
        tm_add_var(m, card_of_index[i]);
#define SV(t) role[2 * (t)]
#define AV(t) role[2 * (t) + 1]
    int sa_order = gsl_rng_uniform(r) < 0.5;     /* parents (s, a) or (a, s) */
    int reward_sa = gsl_rng_uniform(r) < 0.5;
    int tie_trans = gsl_rng_uniform(r) < 0.5;
    int tie_reward = gsl_rng_uniform(r) < 0.5;
    size_t trans = CAI_NONE, reward = CAI_NONE, aprior = CAI_NONE;
    for (size_t t = 0; t < T; t++) {
        size_t pc[2] = {sa_order ? S : A, sa_order ? A : S};
        if (trans == CAI_NONE || !tie_trans)
            trans = tm_pot_csr_random(m, r, 2, pc, S, 0.6, o->det);
        size_t sc[3] = {sa_order ? SV(t) : AV(t), sa_order ? AV(t) : SV(t), SV(t + 1)};
        tm_add_factor(m, trans, sc, 3, CAI_MODE_EXPECTATION, 1);

        size_t rc[2] = {reward_sa ? S : A, reward_sa ? A : S};
        if (reward == CAI_NONE || !tie_reward)
            reward = dense_pot(m, r, 2, rc, -2.0, 1.0, reward_sa ? 0.2 : 0.0);
        size_t rs[2] = {reward_sa ? SV(t) : AV(t), reward_sa ? AV(t) : SV(t)};
        tm_add_factor(m, reward, rs, 2, CAI_MODE_NORMAL, 0);

        if (o->child_factor) {
            int use_s = gsl_rng_uniform(r) < 0.5;
            size_t cc[2] = {use_s ? S : A, S};
            size_t cp = dense_pot(m, r, 2, cc, -1.0, 1.0, 0.0);
            size_t cs[2] = {use_s ? SV(t) : AV(t), SV(t + 1)};
            tm_add_factor(m, cp, cs, 2, CAI_MODE_NORMAL, 0);
        }
        if (gsl_rng_uniform(r) < 0.3) {
            if (aprior == CAI_NONE)
                aprior = dense_pot(m, r, 1, &A, -1.0, 0.0, 0.0);
            size_t av = AV(t);
            tm_add_factor(m, aprior, &av, 1, CAI_MODE_NORMAL, 0);
        }
    }
    int prior = o->prior >= 0 ? o->prior : (int)gsl_rng_uniform_int(r, 3);
    size_t s0 = SV(0);
    if (prior == 1) {
        size_t p = tm_pot_csr_random(m, r, 0, NULL, S, 0.7, 0);
        tm_add_factor(m, p, &s0, 1, CAI_MODE_EXPECTATION, 0);
    } else if (prior == 2) {
        size_t p = dense_pot(m, r, 1, &S, -1.0, 1.0, 0.0);
        tm_add_factor(m, p, &s0, 1, CAI_MODE_NORMAL, 0);
    }
    if (gsl_rng_uniform(r) < 0.5) {
        size_t p = dense_pot(m, r, 1, &S, -1.5, 1.5, 0.0);
        size_t sT = SV(T);
        tm_add_factor(m, p, &sT, 1, CAI_MODE_NORMAL, 0);
    }
    int ev = o->evidence >= 0 ? o->evidence : gsl_rng_uniform(r) < 0.25;
    if (ev) {
        /* only variables q chooses freely: actions, or s0 without a prior */
        if (prior != 1 && gsl_rng_uniform(r) < 0.3)
            m->ev[s0] = gsl_rng_uniform_int(r, S);
        else
            m->ev[AV(gsl_rng_uniform_int(r, T))] = gsl_rng_uniform_int(r, A);
    }
#undef SV
#undef AV
}

/* Random trees and forests: shape 0 general (2- and 3-variable clusters,
 * several trees), 1 chain, 2 star. Each cluster is an expectation
 * conditional whose parents include the variable nearer the designated
 * root, a normal conditional or a dense table. */
static void gen_tree(tm_model *m, gsl_rng *r, int shape)
{
    tm_init(m);
    size_t n = 3 + gsl_rng_uniform_int(r, 6);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2 + gsl_rng_uniform_int(r, 3));
    tm_cap_joint(m, r, TM_JOINT_CAP);
    size_t perm[TM_MAXV];
    cai_test_permutation(r, perm, n);
    int placed[TM_MAXV] = {0};
    size_t list[TM_MAXV], n_placed = 0;
    size_t droots[TM_MAXV], n_roots = 0;
    int is_child[TM_MAXV] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t v = perm[i];
        if (placed[v])
            continue;
        if (n_placed == 0 || (shape == 0 && gsl_rng_uniform(r) < 0.1)) {
            placed[v] = 1;
            list[n_placed++] = v;
            droots[n_roots++] = v;
            continue;
        }
        size_t u = shape == 1 ? list[n_placed - 1]
                 : shape == 2 ? list[0]
                              : list[gsl_rng_uniform_int(r, n_placed)];
        size_t below[2] = {v, 0};
        size_t nb = 1;
        placed[v] = 1;
        list[n_placed++] = v;
        if (shape == 0 && gsl_rng_uniform(r) < 0.3) {
            size_t w = tm_place_next(perm, i + 1, n, placed, list, &n_placed);
            if (w != CAI_NONE)
                below[nb++] = w;
        }
        size_t k = nb + 1;
        double kind = gsl_rng_uniform(r);
        size_t sc[3], cards[3];
        cai_factor_mode mode = CAI_MODE_NORMAL;
        int csr = 1;
        if (kind < 0.5) {
            /* expectation: child below u, parents = u and the rest */
            size_t ci = gsl_rng_uniform_int(r, nb);
            size_t pa[2] = {u, below[1 - ci]};
            size_t npa = nb; /* u plus the other below variable, if any */
            cai_test_shuffle(r, pa, npa);
            for (size_t j = 0; j < npa; j++)
                sc[j] = pa[j];
            sc[npa] = below[ci];
            is_child[below[ci]] = 1;
            mode = CAI_MODE_EXPECTATION;
        } else {
            sc[0] = u;
            for (size_t j = 0; j < nb; j++)
                sc[1 + j] = below[j];
            cai_test_shuffle(r, sc, k);
            csr = kind < 0.7;
        }
        for (size_t j = 0; j < k; j++)
            cards[j] = m->card[sc[j]];
        size_t pot = tm_find_pot(m, k, cards, csr);
        if (pot == CAI_NONE || gsl_rng_uniform(r) < 0.6) {
            if (csr)
                pot = tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.6, 0);
            else
                pot = dense_pot(m, r, k, cards, -2.0, 2.0, 0.0);
        }
        tm_add_factor(m, pot, sc, k, mode, 1);
    }
    /* factors absorbed over the parents of expectation clusters, or any
     * subset of a normal cluster */
    size_t n_main = m->nf;
    size_t n_abs = n_main ? gsl_rng_uniform_int(r, 3) : 0;
    for (size_t a = 0; a < n_abs; a++) {
        const tm_factor *h = &m->f[gsl_rng_uniform_int(r, n_main)];
        size_t sc[3], k;
        if (h->mode == CAI_MODE_EXPECTATION) {
            if (h->k < 3)
                continue;
            k = 2;
            memcpy(sc, h->scope, 2 * sizeof(size_t));
        } else {
            k = 2;
            memcpy(sc, h->scope, h->k * sizeof(size_t));
            cai_test_shuffle(r, sc, h->k);
        }
        size_t cards[2] = {m->card[sc[0]], m->card[sc[1]]};
        size_t pot = dense_pot(m, r, 2, cards, -1.0, 1.0, 0.0);
        tm_add_factor(m, pot, sc, k, CAI_MODE_NORMAL, 0);
    }
    size_t n_un = gsl_rng_uniform_int(r, 4);
    for (size_t u = 0; u < n_un; u++) {
        size_t v = gsl_rng_uniform_int(r, n);
        size_t pot = dense_pot(m, r, 1, &m->card[v], -1.5, 1.5, 0.0);
        tm_add_factor(m, pot, &v, 1, CAI_MODE_NORMAL, 0);
    }
    int prior[TM_MAXV] = {0};
    for (size_t i = 0; i < n_roots; i++) {
        if (gsl_rng_uniform(r) < 0.35) {
            size_t v = droots[i];
            size_t pot = tm_pot_csr_random(m, r, 0, NULL, m->card[v], 0.7, 0);
            tm_add_factor(m, pot, &v, 1, CAI_MODE_EXPECTATION, 0);
            prior[v] = 1;
        }
    }
    if (gsl_rng_uniform(r) < 0.25) {
        size_t v = gsl_rng_uniform_int(r, n);
        if (!is_child[v] && !prior[v])
            m->ev[v] = gsl_rng_uniform_int(r, m->card[v]);
    }
}

/* ------------------------------------------------------------------ */
/* q, rebuilt from the engine                                          */

typedef struct qmodel {
    const tm_model *m;
    size_t N;
    double *logw;                 /* log weight of every joint assignment */
    size_t *fidx;                 /* [main factor][N] table index */
    size_t root[TM_MAXV];         /* engine root of each variable's tree */
    int is_root[TM_MAXV];
    int fixed_root[TM_MAXV];      /* root with an expectation prior */
    size_t dist[TM_MAXV];
    size_t up[TM_MAXF];           /* up variable of each main factor */
    double *rootq[TM_MAXV];       /* q(root) */
    double *cond[TM_MAXF];        /* q(rest_f | up_f) on f's table */
    double *q;                    /* the joint, N entries */
} qmodel;

static void qm_free(qmodel *qm)
{
    free(qm->logw);
    free(qm->fidx);
    free(qm->q);
    for (size_t i = 0; i < TM_MAXV; i++)
        free(qm->rootq[i]);
    for (size_t i = 0; i < TM_MAXF; i++)
        free(qm->cond[i]);
}

/* q(x) = prod_roots q(r) prod_main-factors q(rest | up). */
static void qm_joint(qmodel *qm, double *const *rootq, double *const *cond,
                     double *q)
{
    const tm_model *m = qm->m;
    size_t x[TM_MAXV] = {0};
    size_t i = 0;
    do {
        double p = 1.0;
        for (size_t v = 0; v < m->n; v++)
            if (qm->is_root[v])
                p *= rootq[v][x[v]];
        for (size_t f = 0; f < m->nf && p > 0; f++)
            if (m->f[f].main)
                p *= cond[f][qm->fidx[f * qm->N + i]];
        q[i++] = p;
    } while (tm_next(m, x));
}

/* E_q[sum log f] + H(q) by enumeration. */
static double qm_elbo(const qmodel *qm, const double *q)
{
    long double e = 0.0L;
    for (size_t i = 0; i < qm->N; i++) {
        if (q[i] <= 0)
            continue;
        if (qm->logw[i] == -INFINITY)
            return -INFINITY;
        e += (long double)q[i] * ((long double)qm->logw[i] - logl((long double)q[i]));
    }
    return (double)e;
}

/* ------------------------------------------------------------------ */
/* the main check                                                      */

typedef struct stats {
    unsigned models, neg_inf, perturbations, failures;
    unsigned priors, clamped, moved_roots, expect_factors, trees;
    unsigned exact_eq; /* models where the ELBO reached log Z */
} stats;

static void fail(stats *st, unsigned long seed, const char *what, double a,
                 double b)
{
    if (st->failures++ < 12)
        fprintf(stderr, "\n  seed %lu: %s (%.17g vs %.17g)\n", seed, what, a, b);
}

#define CHECK_CLOSE(st, seed, what, a, b, tol)                 \
    do {                                                       \
        double a_ = (a), b_ = (b);                             \
        CAI_ASSERT_CLOSE(a_, b_, tol);                         \
        if (!cai_test_close(a_, b_, tol))                      \
            fail(st, seed, what, a_, b_);                      \
    } while (0)

/* The all-normal copy of m's graph. */
static cai_graph *exact_graph(const tm_model *m)
{
    tm_model c = *m; /* shares the potentials; not freed */
    for (size_t i = 0; i < c.nf; i++)
        c.f[i].mode = CAI_MODE_NORMAL;
    return tm_build_graph(&c, NULL, 1);
}

static void check_model(tm_model *m, gsl_rng *r, unsigned long seed, stats *st,
                        int expect_exact)
{
    st->models++;
    cai_error err;
    /* evidence through the graph or through the workspace */
    int ev_in_ws = gsl_rng_uniform(r) < 0.5;
    cai_graph *g = tm_build_graph(m, NULL, !ev_in_ws);
    cai_plan *plan = NULL;
    cai_status s = cai_plan_create(g, NULL, &plan, &err);
    if (s != CAI_OK) {
        fail(st, seed, err.message, (double)s, 0);
        CU_ASSERT(s == CAI_OK);
        cai_graph_free(g);
        return;
    }
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    if (ev_in_ws)
        for (size_t v = 0; v < m->n; v++)
            if (m->ev[v] != CAI_NONE)
                CU_ASSERT(cai_workspace_set_evidence(ws, v, m->ev[v], NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, &err) == CAI_OK);
    double elbo = cai_query_log_z(ws);

    /* exact log Z: brute force and the all-normal plan */
    tm_oracle o;
    tm_oracle_run(m, m->ev, NULL, &o);
    cai_graph *ge = exact_graph(m);
    cai_plan *pe = NULL;
    cai_workspace *we = NULL;
    CU_ASSERT_FATAL(cai_plan_create(ge, NULL, &pe, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pe, &we, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pe, we, NULL) == CAI_OK);
    CHECK_CLOSE(st, seed, "exact log Z", cai_query_log_z(we), o.log_z, 1e-10);
    CU_ASSERT(elbo <= o.log_z + 1e-10);
    if (!(elbo <= o.log_z + 1e-10))
        fail(st, seed, "ELBO above log Z", elbo, o.log_z);
    if (expect_exact)
        CHECK_CLOSE(st, seed, "deterministic: ELBO = log Z", elbo, o.log_z, 1e-10);
    if (cai_test_close(elbo, o.log_z, 1e-10))
        st->exact_eq++;

    /* max-product ignores expectation mode */
    cai_plan_options mo = cai_plan_options_default();
    mo.algorithm = CAI_MAX_PRODUCT;
    cai_plan *pm = NULL;
    cai_workspace *wm = NULL;
    CU_ASSERT_FATAL(cai_plan_create(g, &mo, &pm, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(pm, &wm, NULL) == CAI_OK);
    if (ev_in_ws)
        for (size_t v = 0; v < m->n; v++)
            if (m->ev[v] != CAI_NONE)
                CU_ASSERT(cai_workspace_set_evidence(wm, v, m->ev[v], NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(pm, wm, NULL) == CAI_OK);
    size_t xm[TM_MAXV];
    double msc = 0;
    CU_ASSERT(cai_query_map(wm, xm, &msc, NULL) == CAI_OK);
    CHECK_CLOSE(st, seed, "MAP score", msc, o.best, 1e-10);
    CHECK_CLOSE(st, seed, "MAP assignment score", tm_log_weight(m, xm, m->ev, NULL),
                o.best, 1e-10);

    qmodel qm;
    memset(&qm, 0, sizeof qm);
    qm.m = m;
    qm.N = tm_joint_size(m);

    /* the engine's roots: on the parents' side of every expectation factor,
     * and the variable of a parentless expectation prior */
    for (size_t v = 0; v < m->n; v++) {
        qm.root[v] = cai_plan_root_of(plan, v);
        CU_ASSERT_FATAL(qm.root[v] < m->n);
    }
    for (size_t v = 0; v < m->n; v++)
        qm.is_root[v] = qm.root[v] == v;
    for (size_t f = 0; f < m->nf; f++)
        if (m->f[f].k == 1 && m->f[f].mode == CAI_MODE_EXPECTATION) {
            size_t v = m->f[f].scope[0];
            CU_ASSERT(qm.is_root[v]);
            qm.fixed_root[v] = 1;
        }
    for (size_t v = 0; v < m->n; v++) {
        st->priors += qm.fixed_root[v];
        st->clamped += m->ev[v] != CAI_NONE;
        st->trees += qm.is_root[v];
    }
    {
        size_t comp[TM_MAXV];
        tm_components(m, comp);
        for (size_t v = 0; v < m->n; v++) {
            st->moved_roots += qm.is_root[v] && comp[v] != v;
            CU_ASSERT(comp[qm.root[v]] == comp[v]); /* one root per tree */
        }
        for (size_t f = 0; f < m->nf; f++)
            st->expect_factors += m->f[f].mode == CAI_MODE_EXPECTATION;
    }
    tm_bfs(m, qm.is_root, TM_MAXF, qm.dist);
    for (size_t f = 0; f < m->nf; f++) {
        if (!m->f[f].main)
            continue;
        qm.up[f] = tm_up_var(m, f, qm.dist);
        if (m->f[f].mode == CAI_MODE_EXPECTATION)
            CU_ASSERT(qm.up[f] != m->f[f].scope[m->f[f].k - 1]);
    }

    if (elbo == -INFINITY) {
        st->neg_inf++;
        goto done;
    }

    /* marginals and beliefs */
    double marg[TM_MAXV][8];
    double *bel[TM_MAXF] = {0};
    for (size_t v = 0; v < m->n; v++) {
        CU_ASSERT(cai_query_marginal(ws, v, marg[v], NULL) == CAI_OK);
        double sum = 0;
        for (size_t i = 0; i < m->card[v]; i++)
            sum += marg[v][i];
        CHECK_CLOSE(st, seed, "marginal sums to 1", sum, 1.0, 1e-12);
    }
    for (size_t f = 0; f < m->nf; f++) {
        bel[f] = malloc(m->pot[m->f[f].pot].size * sizeof(double));
        CU_ASSERT(cai_query_factor_belief(ws, f, bel[f], NULL) == CAI_OK);
    }

    /* q by the clique-tree formula */
    size_t deg[TM_MAXV] = {0};
    for (size_t f = 0; f < m->nf; f++)
        if (m->f[f].main)
            for (size_t j = 0; j < m->f[f].k; j++)
                deg[m->f[f].scope[j]]++;
    qm.logw = malloc(qm.N * sizeof(double));
    qm.fidx = malloc(m->nf * qm.N * sizeof(size_t));
    qm.q = malloc(qm.N * sizeof(double));
    double *q1 = malloc(qm.N * sizeof(double));
    {
        size_t x[TM_MAXV] = {0};
        size_t i = 0;
        double total = 0;
        do {
            qm.logw[i] = tm_log_weight(m, x, m->ev, NULL);
            double p = 1.0;
            for (size_t f = 0; f < m->nf; f++) {
                qm.fidx[f * qm.N + i] = tm_factor_index(m, &m->f[f], x);
                if (m->f[f].main)
                    p *= bel[f][qm.fidx[f * qm.N + i]];
            }
            for (size_t v = 0; v < m->n && p > 0; v++) {
                double mv = marg[v][x[v]];
                if (mv <= 0)
                    p = 0;
                else if (deg[v] == 0)
                    p *= mv;
                else
                    for (size_t d = 1; d < deg[v]; d++)
                        p /= mv;
            }
            q1[i++] = p;
            total += p;
        } while (tm_next(m, x));
        CHECK_CLOSE(st, seed, "q sums to one", total, 1.0, 1e-10);
    }
    /* every factor belief and marginal is q's */
    for (size_t f = 0; f < m->nf; f++) {
        size_t sz = m->pot[m->f[f].pot].size;
        double *acc = calloc(sz, sizeof(double));
        for (size_t i = 0; i < qm.N; i++)
            acc[qm.fidx[f * qm.N + i]] += q1[i];
        for (size_t j = 0; j < sz; j++)
            CHECK_CLOSE(st, seed, "belief is q's marginal", bel[f][j], acc[j], 1e-10);
        free(acc);
    }
    {
        size_t x[TM_MAXV] = {0};
        double acc[TM_MAXV][8] = {{0}};
        size_t i = 0;
        do {
            for (size_t v = 0; v < m->n; v++)
                acc[v][x[v]] += q1[i];
            i++;
        } while (tm_next(m, x));
        for (size_t v = 0; v < m->n; v++)
            for (size_t j = 0; j < m->card[v]; j++)
                CHECK_CLOSE(st, seed, "marginal is q's", marg[v][j], acc[v][j], 1e-10);
    }

    /* the expectation conditionals are copied into q */
    for (size_t f = 0; f < m->nf; f++) {
        const tm_factor *fa = &m->f[f];
        if (fa->mode != CAI_MODE_EXPECTATION)
            continue;
        const tm_pot *p = &m->pot[fa->pot];
        size_t cc = p->cards[p->k - 1];
        for (size_t row = 0; row < p->size / cc; row++) {
            double qpa = 0;
            for (size_t c = 0; c < cc; c++)
                qpa += bel[f][row * cc + c];
            if (qpa <= 0)
                continue;
            for (size_t c = 0; c < cc; c++)
                CHECK_CLOSE(st, seed, "q(c|pa) = p(c|pa)", bel[f][row * cc + c] / qpa,
                            exp(p->logv[row * cc + c]), 1e-9);
        }
    }

    /* the reported value is q's ELBO */
    double e1 = qm_elbo(&qm, q1);
    CHECK_CLOSE(st, seed, "reported ELBO = ELBO(q)", elbo, e1, 1e-10);

    /* q as root marginals times conditionals down each tree */
    for (size_t v = 0; v < m->n; v++)
        if (qm.is_root[v]) {
            qm.rootq[v] = malloc(m->card[v] * sizeof(double));
            memcpy(qm.rootq[v], marg[v], m->card[v] * sizeof(double));
        }
    for (size_t f = 0; f < m->nf; f++) {
        const tm_factor *fa = &m->f[f];
        if (!fa->main)
            continue;
        size_t sz = m->pot[fa->pot].size;
        qm.cond[f] = malloc(sz * sizeof(double));
        size_t upos = 0;
        while (fa->scope[upos] != qm.up[f])
            upos++;
        size_t stride = 1;
        for (size_t j = fa->k; j-- > upos + 1;)
            stride *= m->card[fa->scope[j]];
        size_t cu = m->card[qm.up[f]];
        for (size_t j = 0; j < sz; j++) {
            size_t us = (j / stride) % cu;
            double qu = marg[qm.up[f]][us];
            qm.cond[f][j] = qu > 0 ? bel[f][j] / qu : 0.0;
        }
        /* rows where q(up) = 0: any distribution; keep them normalised
         * (uniform) so perturbations stay in the family */
        for (size_t us = 0; us < cu; us++) {
            if (marg[qm.up[f]][us] > 0)
                continue;
            for (size_t j = 0; j < sz; j++)
                if ((j / stride) % cu == us)
                    qm.cond[f][j] = 1.0 / (double)(sz / cu);
        }
        if (fa->mode == CAI_MODE_EXPECTATION) {
            /* uniform over the other parents times p(c|pa) there */
            const tm_pot *p = &m->pot[fa->pot];
            size_t cc = p->cards[p->k - 1];
            for (size_t j = 0; j < sz; j++) {
                size_t us = (j / stride) % cu;
                if (marg[qm.up[f]][us] > 0)
                    continue;
                qm.cond[f][j] = exp(p->logv[j]) * (double)cc / (double)(sz / cu);
            }
        }
    }
    qm_joint(&qm, qm.rootq, qm.cond, qm.q);
    {
        double md = 0;
        for (size_t i = 0; i < qm.N; i++)
            md = fmax(md, fabs(qm.q[i] - q1[i]));
        CU_ASSERT(md < 1e-10);
        if (!(md < 1e-10))
            fail(st, seed, "q is not tree-structured", md, 0);
    }

    /* no perturbed member of the family does better */
    {
        double *prq[TM_MAXV] = {0}, *pcond[TM_MAXF] = {0};
        for (size_t v = 0; v < m->n; v++)
            if (qm.is_root[v])
                prq[v] = malloc(m->card[v] * sizeof(double));
        for (size_t f = 0; f < m->nf; f++)
            if (m->f[f].main)
                pcond[f] = malloc(m->pot[m->f[f].pot].size * sizeof(double));
        double *q2 = malloc(qm.N * sizeof(double));
        const double sigmas[5] = {1e-4, 1e-2, 0.2, 1.0, 3.0};
        for (int trial = 0; trial < 25; trial++) {
            double sg = sigmas[trial % 5];
            int mix = trial >= 20; /* mix with uniform: may leave the support */
            double eps = 0.05;
            for (size_t v = 0; v < m->n; v++) {
                if (!qm.is_root[v])
                    continue;
                double sum = 0;
                for (size_t j = 0; j < m->card[v]; j++) {
                    double base = qm.rootq[v][j];
                    double val = qm.fixed_root[v] ? base
                               : mix ? (1 - eps) * base + eps / (double)m->card[v]
                                     : base * exp(gsl_ran_gaussian(r, sg));
                    prq[v][j] = val;
                    sum += val;
                }
                for (size_t j = 0; j < m->card[v]; j++)
                    prq[v][j] /= sum;
            }
            for (size_t f = 0; f < m->nf; f++) {
                const tm_factor *fa = &m->f[f];
                if (!fa->main)
                    continue;
                const tm_pot *p = &m->pot[fa->pot];
                size_t sz = p->size;
                size_t upos = 0;
                while (fa->scope[upos] != qm.up[f])
                    upos++;
                size_t stride = 1;
                for (size_t j = fa->k; j-- > upos + 1;)
                    stride *= m->card[fa->scope[j]];
                size_t cu = m->card[qm.up[f]];
                int ex = fa->mode == CAI_MODE_EXPECTATION;
                size_t cc = ex ? p->cards[p->k - 1] : 1;
                /* the free part: over (up, other parents) for expectation
                 * clusters, the whole table otherwise */
                size_t fsz = sz / cc;
                double *free_part = calloc(fsz, sizeof(double));
                for (size_t j = 0; j < sz; j++)
                    free_part[j / cc] += qm.cond[f][j];
                double *rowsum = calloc(cu, sizeof(double));
                /* stride of up within the free part */
                size_t fstride = ex ? stride / cc : stride;
                for (size_t j = 0; j < fsz; j++) {
                    double base = free_part[j];
                    double val = mix ? (1 - eps) * base + eps : base * exp(gsl_ran_gaussian(r, sg));
                    free_part[j] = val;
                    rowsum[(j / fstride) % cu] += val;
                }
                for (size_t j = 0; j < fsz; j++)
                    free_part[j] /= rowsum[(j / fstride) % cu];
                for (size_t j = 0; j < sz; j++)
                    pcond[f][j] = ex ? free_part[j / cc] * exp(p->logv[j])
                                     : free_part[j];
                free(free_part);
                free(rowsum);
            }
            qm_joint(&qm, prq, pcond, q2);
            double tot = 0;
            for (size_t i = 0; i < qm.N; i++)
                tot += q2[i];
            CHECK_CLOSE(st, seed, "perturbed q sums to one", tot, 1.0, 1e-10);
            double e2 = qm_elbo(&qm, q2);
            st->perturbations++;
            CU_ASSERT(e2 <= elbo + 1e-10);
            if (!(e2 <= elbo + 1e-10))
                fail(st, seed, "a perturbed q has a larger ELBO", e2, elbo);
        }
        for (size_t v = 0; v < TM_MAXV; v++)
            free(prq[v]);
        for (size_t f = 0; f < TM_MAXF; f++)
            free(pcond[f]);
        free(q2);
    }

    /* p(x | y) from the cavity agrees with q(x | y) where q(y) > 0 */
    for (size_t f = 0; f < m->nf; f++) {
        const tm_factor *fa = &m->f[f];
        if (!fa->main)
            continue;
        size_t y = qm.up[f];
        for (size_t j = 0; j < fa->k; j++) {
            size_t x = fa->scope[j];
            if (x == y)
                continue;
            double out[64], joint[64] = {0};
            CU_ASSERT(cai_query_conditional(ws, x, y, out, &err) == CAI_OK);
            size_t cx = m->card[x];
            size_t a[TM_MAXV] = {0};
            size_t i = 0;
            do {
                joint[a[y] * cx + a[x]] += q1[i++];
            } while (tm_next(m, a));
            for (size_t sy = 0; sy < m->card[y]; sy++) {
                if (marg[y][sy] < 1e-6)
                    continue;
                for (size_t sx = 0; sx < cx; sx++)
                    CHECK_CLOSE(st, seed, "conditional = q(x|y)", out[sy * cx + sx],
                                joint[sy * cx + sx] / marg[y][sy], 1e-9);
            }
        }
    }

    /* executing again gives the same bits */
    {
        CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
        CU_ASSERT(memcmp(&elbo, &(double){cai_query_log_z(ws)}, sizeof elbo) == 0);
        for (size_t v = 0; v < m->n; v++) {
            double again[8];
            CU_ASSERT(cai_query_marginal(ws, v, again, NULL) == CAI_OK);
            CU_ASSERT(memcmp(again, marg[v], m->card[v] * sizeof(double)) == 0);
        }
    }

    for (size_t f = 0; f < m->nf; f++)
        free(bel[f]);
    free(q1);
done:
    qm_free(&qm);
    tm_oracle_free(&o);
    cai_workspace_free(wm);
    cai_plan_free(pm);
    cai_workspace_free(we);
    cai_plan_free(pe);
    cai_graph_free(ge);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_graph_free(g);
}

static void report(const char *name, const stats *st)
{
    fprintf(stderr,
            "\n  %s: %u models (%u trees, %u expectation factors, %u priors, %u roots "
            "not the lowest index, %u clamped), %u with ELBO -inf, %u at log Z, "
            "%u perturbations ",
            name, st->models, st->trees, st->expect_factors, st->priors, st->moved_roots,
            st->clamped, st->neg_inf, st->exact_eq, st->perturbations);
}

static void test_random_mdps(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    stats st = {0};
    for (unsigned long t = 0; t < 150; t++) {
        gsl_rng_set(r, 300 + t);
        tm_model m;
        mdp_opts o = {0, -1, 0, -1};
        gen_mdp(&m, r, &o);
        check_model(&m, r, 300 + t, &st, 0);
        tm_free(&m);
    }
    report("MDPs", &st);
    CU_ASSERT(st.neg_inf < st.models / 10);
    gsl_rng_free(r);
}

static void test_random_trees(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    stats st = {0};
    for (unsigned long t = 0; t < 240; t++) {
        gsl_rng_set(r, 7000 + t);
        tm_model m;
        gen_tree(&m, r, (int)(t % 3));
        check_model(&m, r, 7000 + t, &st, 0);
        tm_free(&m);
    }
    report("trees", &st);
    CU_ASSERT(st.neg_inf < st.models / 10);
    gsl_rng_free(r);
}

/* A normal factor over (s_t or a_t, s_t+1) lies inside the expectation
 * cluster's scope and must be absorbed into it like any other subset. */
static void test_child_factor_absorbed(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    stats st = {0};
    for (unsigned long t = 0; t < 40; t++) {
        gsl_rng_set(r, 900 + t);
        tm_model m;
        mdp_opts o = {0, -1, 1, -1};
        gen_mdp(&m, r, &o);
        check_model(&m, r, 900 + t, &st, 0);
        tm_free(&m);
    }
    report("MDPs with child factors", &st);
    gsl_rng_free(r);
}

/* Deterministic dynamics: the posterior is in the family, ELBO = log Z. */
static void test_deterministic(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    stats st = {0};
    for (unsigned long t = 0; t < 40; t++) {
        gsl_rng_set(r, 100 + t);
        tm_model m;
        mdp_opts o = {1, (int)(t % 2) * 2, 0, -1}; /* no prior or a normal one */
        gen_mdp(&m, r, &o);
        check_model(&m, r, 100 + t, &st, 1);
        tm_free(&m);
    }
    report("deterministic MDPs", &st);
    CU_ASSERT(st.exact_eq == st.models);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* a 2-step MDP by hand                                                */

#define HS 3
#define HA 2

static void test_hand_mdp(void)
{
    /* s0 a0 s1 a1 s2 */
    const double rho[HS] = {0.6, 0.4, 0.0};
    const double P[HS][HA][HS] = {
        {{0.7, 0.3, 0.0}, {0.0, 0.2, 0.8}},
        {{0.5, 0.0, 0.5}, {0.1, 0.6, 0.3}},
        {{0.0, 0.0, 1.0}, {0.25, 0.25, 0.5}},
    };
    const double rw[HS][HA] = {{-1.0, 0.5}, {0.2, -0.3}, {1.5, -2.0}};
    const double rT[HS] = {0.0, 1.0, -0.5};

    for (int variational = 1; variational >= 0; variational--) {
        cai_graph *g = NULL;
        CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
        const char *names[5] = {"s0", "a0", "s1", "a1", "s2"};
        for (int i = 0; i < 5; i++)
            CU_ASSERT_FATAL(cai_graph_add_variable(g, names[i], i % 2 ? HA : HS,
                                                   NULL, NULL, NULL) == CAI_OK);
        cai_factor_mode mode = variational ? CAI_MODE_EXPECTATION : CAI_MODE_NORMAL;
        /* prior */
        size_t rp0[2] = {0, 2}, c0[2] = {0, 1};
        double p0[2] = {0.6, 0.4};
        cai_potential *prior = NULL, *trans = NULL, *rew = NULL, *term = NULL;
        CU_ASSERT_FATAL(cai_potential_csr_create(0, NULL, HS, rp0, c0, p0, &prior,
                                                 NULL) == CAI_OK);
        /* transitions, rows (s, a) */
        size_t rp[HS * HA + 1], col[HS * HA * HS];
        double pr[HS * HA * HS];
        size_t nnz = 0;
        for (size_t s = 0; s < HS; s++)
            for (size_t a = 0; a < HA; a++) {
                rp[s * HA + a] = nnz;
                for (size_t s2 = 0; s2 < HS; s2++)
                    if (P[s][a][s2] > 0) {
                        col[nnz] = s2;
                        pr[nnz++] = P[s][a][s2];
                    }
            }
        rp[HS * HA] = nnz;
        size_t pc[2] = {HS, HA};
        CU_ASSERT_FATAL(cai_potential_csr_create(2, pc, HS, rp, col, pr, &trans,
                                                 NULL) == CAI_OK);
        CU_ASSERT_FATAL(cai_potential_table_create(2, pc, &rw[0][0], &rew, NULL)
                        == CAI_OK);
        size_t hs = HS;
        CU_ASSERT_FATAL(cai_potential_table_create(1, &hs, rT, &term, NULL) == CAI_OK);
        size_t v0 = 0, v4 = 4;
        CU_ASSERT(cai_graph_add_factor(g, prior, &v0, 1, mode, NULL, NULL) == CAI_OK);
        for (size_t t = 0; t < 2; t++) {
            size_t sc[3] = {2 * t, 2 * t + 1, 2 * t + 2};
            CU_ASSERT(cai_graph_add_factor(g, trans, sc, 3, mode, NULL, NULL) == CAI_OK);
            CU_ASSERT(cai_graph_add_factor(g, rew, sc, 2, CAI_MODE_NORMAL, NULL, NULL)
                      == CAI_OK);
        }
        CU_ASSERT(cai_graph_add_factor(g, term, &v4, 1, CAI_MODE_NORMAL, NULL, NULL)
                  == CAI_OK);
        CU_ASSERT(cai_graph_n_potentials(g) == 4);

        /* backups */
        double V[3][HS], Q[2][HS][HA];
        for (size_t s = 0; s < HS; s++)
            V[2][s] = rT[s];
        for (int t = 1; t >= 0; t--)
            for (size_t s = 0; s < HS; s++) {
                double z = 0;
                for (size_t a = 0; a < HA; a++) {
                    double b = 0;
                    if (variational) {
                        for (size_t s2 = 0; s2 < HS; s2++)
                            b += P[s][a][s2] * V[t + 1][s2];
                    } else {
                        for (size_t s2 = 0; s2 < HS; s2++)
                            b += P[s][a][s2] * exp(V[t + 1][s2]);
                        b = log(b);
                    }
                    Q[t][s][a] = rw[s][a] + b;
                    z += exp(Q[t][s][a]);
                }
                V[t][s] = log(z);
            }
        double want = 0;
        if (variational) {
            for (size_t s = 0; s < HS; s++)
                want += rho[s] * V[0][s];
        } else {
            for (size_t s = 0; s < HS; s++)
                want += rho[s] * exp(V[0][s]);
            want = log(want);
        }

        cai_plan *plan = NULL;
        cai_error err;
        cai_status st = cai_plan_create(g, NULL, &plan, &err);
        CU_ASSERT_FATAL(st == CAI_OK);
        CU_ASSERT(cai_plan_root_of(plan, 4) == 0);
        cai_workspace *ws = NULL;
        CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
        CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
        CAI_ASSERT_CLOSE(cai_query_log_z(ws), want, 1e-12);

        /* the policy pi_t(a|s) = exp(Q - V), also in the unreachable s = 2 */
        for (size_t t = 0; t < 2; t++) {
            double pol[HS * HA];
            CU_ASSERT(cai_query_conditional(ws, 2 * t + 1, 2 * t, pol, NULL) == CAI_OK);
            for (size_t s = 0; s < HS; s++)
                for (size_t a = 0; a < HA; a++)
                    CAI_ASSERT_CLOSE(pol[s * HA + a], exp(Q[t][s][a] - V[t][s]), 1e-12);
        }
        /* state marginals */
        double d[3][HS], pa[2][HA];
        if (variational) {
            /* q's state distribution: rho pushed through pi_t and P */
            memcpy(d[0], rho, sizeof rho);
            for (size_t t = 0; t < 2; t++) {
                memset(d[t + 1], 0, sizeof d[t + 1]);
                memset(pa[t], 0, sizeof pa[t]);
                for (size_t s = 0; s < HS; s++)
                    for (size_t a = 0; a < HA; a++) {
                        double w = d[t][s] * exp(Q[t][s][a] - V[t][s]);
                        pa[t][a] += w;
                        for (size_t s2 = 0; s2 < HS; s2++)
                            d[t + 1][s2] += w * P[s][a][s2];
                    }
            }
        } else {
            /* posterior by enumeration */
            memset(d, 0, sizeof d);
            memset(pa, 0, sizeof pa);
            double z = 0;
            for (size_t s0 = 0; s0 < HS; s0++)
                for (size_t a0 = 0; a0 < HA; a0++)
                    for (size_t s1 = 0; s1 < HS; s1++)
                        for (size_t a1 = 0; a1 < HA; a1++)
                            for (size_t s2 = 0; s2 < HS; s2++) {
                                double w = rho[s0] * P[s0][a0][s1] * P[s1][a1][s2]
                                           * exp(rw[s0][a0] + rw[s1][a1] + rT[s2]);
                                z += w;
                                d[0][s0] += w;
                                d[1][s1] += w;
                                d[2][s2] += w;
                                pa[0][a0] += w;
                                pa[1][a1] += w;
                            }
            CAI_ASSERT_CLOSE(log(z), want, 1e-12);
            for (size_t t = 0; t < 3; t++)
                for (size_t s = 0; s < HS; s++)
                    d[t][s] /= z;
            for (size_t t = 0; t < 2; t++)
                for (size_t a = 0; a < HA; a++)
                    pa[t][a] /= z;
        }
        for (size_t t = 0; t < 3; t++) {
            double out[HS];
            CU_ASSERT(cai_query_marginal(ws, 2 * t, out, NULL) == CAI_OK);
            for (size_t s = 0; s < HS; s++)
                CAI_ASSERT_CLOSE(out[s], d[t][s], 1e-12);
        }
        for (size_t t = 0; t < 2; t++) {
            double out[HA];
            CU_ASSERT(cai_query_marginal(ws, 2 * t + 1, out, NULL) == CAI_OK);
            for (size_t a = 0; a < HA; a++)
                CAI_ASSERT_CLOSE(out[a], pa[t][a], 1e-12);
        }
        cai_workspace_free(ws);
        cai_plan_free(plan);
        cai_potential_unref(prior);
        cai_potential_unref(trans);
        cai_potential_unref(rew);
        cai_potential_unref(term);
        cai_graph_free(g);
    }
}

/* ------------------------------------------------------------------ */
/* roots and structure errors                                          */

static cai_graph *chain_graph(size_t n, size_t card)
{
    cai_graph *g = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&g, NULL) == CAI_OK);
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof name, "x%zu", i);
        CU_ASSERT_FATAL(cai_graph_add_variable(g, name, card, NULL, NULL, NULL) == CAI_OK);
    }
    return g;
}

static cai_potential *cond2(void)
{
    /* p(child | parent), 2 x 2 */
    size_t pc[1] = {2}, rp[3] = {0, 2, 4}, col[4] = {0, 1, 0, 1};
    double pr[4] = {0.3, 0.7, 0.9, 0.1};
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_csr_create(1, pc, 2, rp, col, pr, &p, NULL) == CAI_OK);
    return p;
}

static cai_potential *prior2(void)
{
    size_t rp[2] = {0, 2}, col[2] = {0, 1};
    double pr[2] = {0.25, 0.75};
    cai_potential *p = NULL;
    CU_ASSERT_FATAL(cai_potential_csr_create(0, NULL, 2, rp, col, pr, &p, NULL) == CAI_OK);
    return p;
}

static void expect_structure(const cai_graph *g, const cai_plan_options *opt)
{
    cai_plan *plan = NULL;
    cai_error err;
    cai_status st = cai_plan_create(g, opt, &plan, &err);
    CU_ASSERT(st == CAI_ERR_STRUCTURE);
    CU_ASSERT(err.code == CAI_ERR_STRUCTURE);
    CU_ASSERT(strstr(err.message, "expectation") != NULL);
    CU_ASSERT(plan == NULL);
    cai_plan_free(plan);
}

static void test_roots_and_errors(void)
{
    cai_potential *c = cond2(), *pr = prior2();
    cai_plan *plan = NULL;
    cai_error err;

    /* p(x0 | x1): the default root x0 is the child, so the root is x1 */
    cai_graph *g = chain_graph(2, 2);
    size_t s10[2] = {1, 0};
    CU_ASSERT(cai_graph_add_factor(g, c, s10, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_plan_root_of(plan, 0) == 1);
    CU_ASSERT(cai_plan_root_of(plan, 1) == 1);
    cai_plan_free(plan);
    /* the same graph for max-product: expectation mode ignored, root x0 */
    cai_plan_options mo = cai_plan_options_default();
    mo.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_plan_create(g, &mo, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_plan_root_of(plan, 1) == 0);
    cai_plan_free(plan);
    /* asking for the child as root */
    cai_plan_options o = cai_plan_options_default();
    o.root = 0;
    expect_structure(g, &o);
    cai_graph_free(g);

    /* x1 the child of two expectation conditionals */
    g = chain_graph(3, 2);
    size_t s01[2] = {0, 1}, s21[2] = {2, 1};
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, c, s21, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    expect_structure(g, NULL);
    /* one of them normal: fine, root x0 */
    cai_graph_free(g);
    g = chain_graph(3, 2);
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, c, s21, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_plan_root_of(plan, 1) == 0);
    cai_plan_free(plan);
    cai_graph_free(g);

    /* two parentless priors in one tree */
    g = chain_graph(3, 2);
    size_t s12[2] = {1, 2}, v0 = 0, v1 = 1, v2 = 2;
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, c, s12, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v0, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v2, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    expect_structure(g, NULL);
    cai_graph_free(g);

    /* a prior on the child of an expectation conditional */
    g = chain_graph(2, 2);
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v1, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    expect_structure(g, NULL);
    cai_graph_free(g);

    /* a prior fixes the root, even against options.root */
    g = chain_graph(3, 2);
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, c, s12, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v1, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_plan_root_of(plan, 0) == 1);
    cai_plan_free(plan);
    o.root = 2;
    expect_structure(g, &o);
    o.root = 1;
    CU_ASSERT(cai_plan_create(g, &o, &plan, &err) == CAI_OK);
    cai_plan_free(plan);
    cai_graph_free(g);

    /* two trees, each with its own prior: fine */
    g = chain_graph(4, 2);
    size_t s23[2] = {2, 3}, v3 = 3;
    CU_ASSERT(cai_graph_add_factor(g, c, s01, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, c, s23, 2, CAI_MODE_NORMAL, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v0, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT(cai_graph_add_factor(g, pr, &v3, 1, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_plan_root_of(plan, 1) == 0);
    CU_ASSERT(cai_plan_root_of(plan, 2) == 3);
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    /* tree 1: q(x0) = prior, q(x1|x0) = p: ELBO = 0 (nothing else to
     * score). tree 2: prior on x3 fixed, q(x2 | x3) free against the normal
     * p(x3 | x2): ELBO = sum_x3 prior(x3) log sum_x2 p(x3 | x2) */
    double pr3[2] = {0.25, 0.75};
    double col3[2] = {0.3 + 0.9, 0.7 + 0.1}; /* sum over x2 of p(x3 | x2) */
    double want = pr3[0] * log(col3[0]) + pr3[1] * log(col3[1]);
    CAI_ASSERT_CLOSE(cai_query_log_z(ws), want, 1e-13);
    double m0[2], m1[2];
    CU_ASSERT(cai_query_marginal(ws, 0, m0, NULL) == CAI_OK);
    CU_ASSERT(cai_query_marginal(ws, 1, m1, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(m0[0], 0.25, 1e-14);
    CAI_ASSERT_CLOSE(m1[0], 0.25 * 0.3 + 0.75 * 0.9, 1e-14);
    double m2[2];
    CU_ASSERT(cai_query_marginal(ws, 2, m2, NULL) == CAI_OK);
    CAI_ASSERT_CLOSE(m2[0], 0.25 * 0.3 / 1.2 + 0.75 * 0.7 / 0.8, 1e-14);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_graph_free(g);

    /* expectation mode on a dense table */
    g = chain_graph(2, 2);
    size_t cards[2] = {2, 2};
    double lv[4] = {0, 0, 0, 0};
    cai_potential *tab = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(2, cards, lv, &tab, NULL) == CAI_OK);
    cai_status st = cai_graph_add_factor(g, tab, s01, 2, CAI_MODE_EXPECTATION, NULL, &err);
    if (st == CAI_OK) {
        expect_structure(g, NULL);
    } else {
        CU_ASSERT(st == CAI_ERR_STRUCTURE || st == CAI_ERR_INVALID);
        CU_ASSERT(strstr(err.message, "expectation") != NULL);
    }
    cai_potential_unref(tab);
    cai_graph_free(g);

    cai_potential_unref(c);
    cai_potential_unref(pr);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("expectation", NULL, NULL);
    CU_add_test(s, "a 2-step MDP: soft Bellman backups by hand", test_hand_mdp);
    CU_add_test(s, "roots and structure errors", test_roots_and_errors);
    CU_add_test(s, "deterministic dynamics: ELBO = log Z", test_deterministic);
    CU_add_test(s, "150 random MDPs: q, ELBO, bound, optimality", test_random_mdps);
    CU_add_test(s, "240 random trees, chains and stars", test_random_trees);
    CU_add_test(s, "normal factors on the child absorbed", test_child_factor_absorbed);
}
