/* tests/oracle.h — a test-side description of small discrete models and
 * brute-force oracles over it, shared by test_engine.c and
 * test_expectation.c.
 *
 * Every potential is kept twice: as the engine object and as the test's own
 * dense array of log values (row-major, last position fastest), so the
 * oracles never read numbers back from the engine. The oracles enumerate
 * every joint assignment. */
#ifndef CAI_TESTS_ORACLE_H
#define CAI_TESTS_ORACLE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/plan.h"
#include "cai/potential.h"

#include "harness.h"

#define TM_MAXV 16
#define TM_MAXF 64
#define TM_MAXK 4

typedef struct tm_pot {
    size_t k;
    size_t cards[TM_MAXK];
    size_t size;       /* prod(cards) */
    double *logv;      /* the test's own copy */
    int is_csr;        /* positions 0..k-2 parents, k-1 child */
    cai_potential *p;  /* the engine's object (one reference) */
} tm_pot;

typedef struct tm_factor {
    size_t k;
    size_t scope[TM_MAXK];
    size_t pot;
    cai_factor_mode mode;
    int main;          /* a structural factor: its scope is its cluster */
} tm_factor;

typedef struct tm_model {
    size_t n;
    size_t card[TM_MAXV];
    size_t ev[TM_MAXV];  /* evidence, CAI_NONE when free */
    size_t nf;
    tm_factor f[TM_MAXF];
    size_t np;
    tm_pot pot[TM_MAXF];
} tm_model;

static inline void tm_init(tm_model *m)
{
    memset(m, 0, sizeof *m);
    for (size_t v = 0; v < TM_MAXV; v++)
        m->ev[v] = CAI_NONE;
}

static inline void tm_free(tm_model *m)
{
    for (size_t i = 0; i < m->np; i++) {
        free(m->pot[i].logv);
        cai_potential_unref(m->pot[i].p);
    }
    m->np = 0;
}

static inline size_t tm_add_var(tm_model *m, size_t card)
{
    m->card[m->n] = card;
    return m->n++;
}

static inline size_t tm_joint_size(const tm_model *m)
{
    size_t n = 1;
    for (size_t v = 0; v < m->n; v++)
        n *= m->card[v];
    return n;
}

/* The largest joint the random generators build, so that the oracles'
 * enumeration stays fast. */
#define TM_JOINT_CAP 20000

/* Lower the cardinality of random variables (those above 2) one at a time
 * until the joint of m has at most cap states. */
static inline void tm_cap_joint(tm_model *m, gsl_rng *r, size_t cap)
{
    while (tm_joint_size(m) > cap) {
        size_t v = gsl_rng_uniform_int(r, m->n);
        if (m->card[v] > 2)
            m->card[v]--;
    }
}

/* For random trees grown over the variables in the order perm[0..n-1]:
 * placed[v] marks the variables already in a tree and list[0..*n_placed-1]
 * holds them in the order placed. Place the first of perm[from..n-1] not
 * yet placed and return it, or CAI_NONE when there is none. */
static inline size_t tm_place_next(const size_t *perm, size_t from, size_t n,
                                   int *placed, size_t *list, size_t *n_placed)
{
    for (size_t j = from; j < n; j++)
        if (!placed[perm[j]]) {
            placed[perm[j]] = 1;
            list[(*n_placed)++] = perm[j];
            return perm[j];
        }
    return CAI_NONE;
}

/* Dense log-table from given log values (copied). Built through
 * cai_potential_table_create, or through _create_linear when linear != 0. */
static inline size_t tm_pot_dense(tm_model *m, size_t k, const size_t *cards,
                                  const double *logv, int linear)
{
    tm_pot *p = &m->pot[m->np];
    p->k = k;
    p->size = 1;
    for (size_t i = 0; i < k; i++) {
        p->cards[i] = cards[i];
        p->size *= cards[i];
    }
    p->logv = malloc(p->size * sizeof(double));
    memcpy(p->logv, logv, p->size * sizeof(double));
    p->is_csr = 0;
    cai_error err;
    cai_status st;
    if (linear) {
        double *lin = malloc(p->size * sizeof(double));
        for (size_t i = 0; i < p->size; i++)
            lin[i] = exp(logv[i]);
        /* the test keeps the log of what the engine was given */
        for (size_t i = 0; i < p->size; i++)
            p->logv[i] = log(lin[i]);
        st = cai_potential_table_create_linear(k, cards, lin, &p->p, &err);
        free(lin);
    } else {
        st = cai_potential_table_create(k, cards, logv, &p->p, &err);
    }
    CU_ASSERT_FATAL(st == CAI_OK);
    return m->np++;
}

/* Random dense log-table: entries uniform in [lo, hi], each -inf with
 * probability zero_prob. */
static inline size_t tm_pot_dense_random(tm_model *m, gsl_rng *r, size_t k,
                                         const size_t *cards, double zero_prob,
                                         double lo, double hi)
{
    size_t size = 1;
    for (size_t i = 0; i < k; i++)
        size *= cards[i];
    double *v = malloc(size * sizeof(double));
    for (size_t i = 0; i < size; i++) {
        v[i] = lo + (hi - lo) * gsl_rng_uniform(r);
        if (gsl_rng_uniform(r) < zero_prob)
            v[i] = -INFINITY;
    }
    int linear = (hi - lo) < 50.0 && hi < 50.0 && gsl_rng_uniform(r) < 0.3;
    size_t id = tm_pot_dense(m, k, cards, v, linear);
    free(v);
    return id;
}

/* CSR conditional from a dense row-stochastic matrix prob[rows][child]
 * (zeros left out of the CSR, except that with explicit_zeros some zeros
 * are passed explicitly, which the engine must drop). */
static inline size_t tm_pot_csr(tm_model *m, gsl_rng *r, size_t n_par,
                                const size_t *par_cards, size_t child_card,
                                const double *prob, int explicit_zeros)
{
    tm_pot *p = &m->pot[m->np];
    size_t rows = 1;
    for (size_t i = 0; i < n_par; i++)
        rows *= par_cards[i];
    p->k = n_par + 1;
    for (size_t i = 0; i < n_par; i++)
        p->cards[i] = par_cards[i];
    p->cards[n_par] = child_card;
    p->size = rows * child_card;
    p->is_csr = 1;
    p->logv = malloc(p->size * sizeof(double));
    size_t *row_ptr = malloc((rows + 1) * sizeof(size_t));
    size_t *col = malloc(p->size * sizeof(size_t));
    double *val = malloc(p->size * sizeof(double));
    size_t nnz = 0;
    for (size_t i = 0; i < rows; i++) {
        row_ptr[i] = nnz;
        for (size_t c = 0; c < child_card; c++) {
            double q = prob[i * child_card + c];
            p->logv[i * child_card + c] = q > 0 ? log(q) : -INFINITY;
            if (q > 0 || (explicit_zeros && r && gsl_rng_uniform(r) < 0.3)) {
                col[nnz] = c;
                val[nnz] = q;
                nnz++;
            }
        }
    }
    row_ptr[rows] = nnz;
    cai_error err;
    cai_status st = cai_potential_csr_create(n_par, par_cards, child_card,
                                             row_ptr, col, val, &p->p, &err);
    if (st != CAI_OK)
        fprintf(stderr, "csr_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    free(row_ptr);
    free(col);
    free(val);
    return m->np++;
}

/* Random CSR conditional: each entry kept with probability keep (at least
 * one per row), weights uniform, rows normalised; deterministic rows (one
 * entry) when det != 0. */
static inline size_t tm_pot_csr_random(tm_model *m, gsl_rng *r, size_t n_par,
                                       const size_t *par_cards,
                                       size_t child_card, double keep, int det)
{
    size_t rows = 1;
    for (size_t i = 0; i < n_par; i++)
        rows *= par_cards[i];
    double *prob = calloc(rows * child_card, sizeof(double));
    for (size_t i = 0; i < rows; i++) {
        double *row = prob + i * child_card;
        if (det) {
            row[gsl_rng_uniform_int(r, child_card)] = 1.0;
            continue;
        }
        double sum = 0.0;
        for (size_t c = 0; c < child_card; c++) {
            if (gsl_rng_uniform(r) < keep) {
                row[c] = 0.05 + gsl_rng_uniform(r);
                sum += row[c];
            }
        }
        if (sum == 0.0) {
            size_t c = gsl_rng_uniform_int(r, child_card);
            row[c] = 1.0;
            sum = 1.0;
        }
        for (size_t c = 0; c < child_card; c++)
            row[c] /= sum;
    }
    size_t id = tm_pot_csr(m, r, n_par, par_cards, child_card, prob, 1);
    free(prob);
    return id;
}

/* An existing potential of this shape (arity, cardinalities, kind), for
 * tying; CAI_NONE when there is none. */
static inline size_t tm_find_pot(const tm_model *m, size_t k, const size_t *cards,
                                 int is_csr)
{
    for (size_t i = 0; i < m->np; i++) {
        const tm_pot *p = &m->pot[i];
        if (p->k != k || p->is_csr != is_csr)
            continue;
        size_t j = 0;
        while (j < k && p->cards[j] == cards[j])
            j++;
        if (j == k)
            return i;
    }
    return CAI_NONE;
}

static inline size_t tm_add_factor(tm_model *m, size_t pot, const size_t *scope,
                                   size_t k, cai_factor_mode mode, int is_main)
{
    tm_factor *f = &m->f[m->nf];
    CU_ASSERT_FATAL(m->pot[pot].k == k);
    f->k = k;
    for (size_t i = 0; i < k; i++) {
        f->scope[i] = scope[i];
        CU_ASSERT_FATAL(m->card[scope[i]] == m->pot[pot].cards[i]);
    }
    f->pot = pot;
    f->mode = mode;
    f->main = is_main;
    return m->nf++;
}

/* The engine graph for m, factors in the order given by order[] (NULL: in
 * order), with m->ev set as graph evidence when with_evidence. Factor i of
 * the graph is m->f[order[i]]. */
static inline cai_graph *tm_build_graph(const tm_model *m, const size_t *order,
                                        int with_evidence)
{
    cai_graph *g = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_graph_create(&g, &err) == CAI_OK);
    for (size_t v = 0; v < m->n; v++) {
        char name[32];
        snprintf(name, sizeof name, "v%zu", v);
        size_t idx = CAI_NONE;
        CU_ASSERT_FATAL(cai_graph_add_variable(g, name, m->card[v], NULL, &idx,
                                               &err) == CAI_OK);
        CU_ASSERT_FATAL(idx == v);
    }
    for (size_t i = 0; i < m->nf; i++) {
        const tm_factor *f = &m->f[order ? order[i] : i];
        size_t fi = CAI_NONE;
        cai_status st = cai_graph_add_factor(g, m->pot[f->pot].p, f->scope,
                                             f->k, f->mode, &fi, &err);
        if (st != CAI_OK)
            fprintf(stderr, "add_factor: %s\n", err.message);
        CU_ASSERT_FATAL(st == CAI_OK);
        CU_ASSERT_FATAL(fi == i);
    }
    if (with_evidence)
        for (size_t v = 0; v < m->n; v++)
            if (m->ev[v] != CAI_NONE)
                CU_ASSERT_FATAL(cai_graph_set_evidence(g, v, m->ev[v], &err)
                                == CAI_OK);
    return g;
}

/* Index of factor f's entry under the joint assignment x. */
static inline size_t tm_factor_index(const tm_model *m, const tm_factor *f,
                                     const size_t *x)
{
    size_t idx = 0;
    for (size_t i = 0; i < f->k; i++)
        idx = idx * m->card[f->scope[i]] + x[f->scope[i]];
    return idx;
}

/* Unnormalised log weight of x: the factors with use[f] != 0 (use NULL: all)
 * plus evidence ev (NULL: none). */
static inline double tm_log_weight(const tm_model *m, const size_t *x,
                                   const size_t *ev, const int *use)
{
    if (ev)
        for (size_t v = 0; v < m->n; v++)
            if (ev[v] != CAI_NONE && x[v] != ev[v])
                return -INFINITY;
    double w = 0.0;
    for (size_t i = 0; i < m->nf; i++) {
        if (use && !use[i])
            continue;
        const tm_factor *f = &m->f[i];
        w += m->pot[f->pot].logv[tm_factor_index(m, f, x)];
    }
    return w;
}

/* Next joint assignment in row-major order (last variable fastest); returns
 * 0 after the last one. */
static inline int tm_next(const tm_model *m, size_t *x)
{
    for (size_t v = m->n; v-- > 0;) {
        if (++x[v] < m->card[v])
            return 1;
        x[v] = 0;
    }
    return 0;
}

/* Results of brute-force sum-product and max-product enumeration. */
typedef struct tm_oracle {
    double log_z;
    double marg[TM_MAXV][8];
    double *belief[TM_MAXF];   /* per factor, the factor's scope order */
    double best;               /* max log weight (MAP score) */
    double second;             /* best log weight of any other assignment */
    size_t best_x[TM_MAXV];
} tm_oracle;

static inline void tm_oracle_free(tm_oracle *o)
{
    for (size_t i = 0; i < TM_MAXF; i++) {
        free(o->belief[i]);
        o->belief[i] = NULL;
    }
}

/* Enumerate m with evidence ev. map_fix[v] != CAI_NONE restricts the MAP
 * ranking to assignments with x[v] == map_fix[v] (for variables with no
 * factors, which are tied by construction). */
static inline void tm_oracle_run(const tm_model *m, const size_t *ev,
                                 const size_t *map_fix, tm_oracle *o)
{
    memset(o, 0, sizeof *o);
    size_t N = tm_joint_size(m);
    double *w = malloc(N * sizeof(double));
    size_t x[TM_MAXV] = {0};
    double mx = -INFINITY;
    o->best = -INFINITY;
    o->second = -INFINITY;
    size_t i = 0;
    int have_best = 0;
    do {
        double lw = tm_log_weight(m, x, ev, NULL);
        w[i++] = lw;
        if (lw > mx)
            mx = lw;
        int ranked = 1;
        if (map_fix)
            for (size_t v = 0; v < m->n; v++)
                if (map_fix[v] != CAI_NONE && x[v] != map_fix[v])
                    ranked = 0;
        if (ranked) {
            if (!have_best || lw > o->best) {
                if (have_best)
                    o->second = o->best;
                o->best = lw;
                memcpy(o->best_x, x, sizeof x);
                have_best = 1;
            } else if (lw > o->second) {
                o->second = lw;
            }
        }
    } while (tm_next(m, x));
    for (size_t f = 0; f < m->nf; f++) {
        size_t sz = m->pot[m->f[f].pot].size;
        o->belief[f] = calloc(sz, sizeof(double));
    }
    if (mx == -INFINITY) {
        o->log_z = -INFINITY;
        for (size_t v = 0; v < m->n; v++)
            for (size_t s = 0; s < m->card[v]; s++)
                o->marg[v][s] = NAN;
        free(w);
        return;
    }
    double z = 0.0;
    for (i = 0; i < N; i++)
        z += exp(w[i] - mx);
    o->log_z = mx + log(z);
    memset(x, 0, sizeof x);
    i = 0;
    do {
        double p = exp(w[i++] - mx) / z;
        if (p > 0) {
            for (size_t v = 0; v < m->n; v++)
                o->marg[v][x[v]] += p;
            for (size_t f = 0; f < m->nf; f++)
                o->belief[f][tm_factor_index(m, &m->f[f], x)] += p;
        }
    } while (tm_next(m, x));
    free(w);
}

/* Union-find components of the variables under all factors. comp[v] is the
 * lowest variable index of v's component. */
static inline void tm_components(const tm_model *m, size_t *comp)
{
    for (size_t v = 0; v < m->n; v++)
        comp[v] = v;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < m->nf; i++) {
            const tm_factor *f = &m->f[i];
            size_t lo = comp[f->scope[0]];
            for (size_t j = 1; j < f->k; j++)
                if (comp[f->scope[j]] < lo)
                    lo = comp[f->scope[j]];
            for (size_t j = 0; j < f->k; j++)
                if (comp[f->scope[j]] != lo) {
                    comp[f->scope[j]] = lo;
                    changed = 1;
                }
        }
        for (size_t v = 0; v < m->n; v++)
            if (comp[comp[v]] != comp[v]) {
                comp[v] = comp[comp[v]];
                changed = 1;
            }
    }
}

static inline int tm_in_scope(const tm_factor *f, size_t v)
{
    for (size_t i = 0; i < f->k; i++)
        if (f->scope[i] == v)
            return 1;
    return 0;
}

/* Breadth-first distances (in cluster hops) of every variable from the
 * roots root_of[] over the main factors, skipping main factor `skip`
 * (TM_MAXF: none), starting only from the variables in start[] (distance 0).
 * Unreached variables get SIZE_MAX. */
static inline void tm_bfs(const tm_model *m, const int *start, size_t skip,
                          size_t *dist)
{
    for (size_t v = 0; v < m->n; v++)
        dist[v] = start[v] ? 0 : (size_t)-1;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < m->nf; i++) {
            const tm_factor *f = &m->f[i];
            if (!f->main || i == skip)
                continue;
            size_t lo = (size_t)-1;
            for (size_t j = 0; j < f->k; j++)
                if (dist[f->scope[j]] < lo)
                    lo = dist[f->scope[j]];
            if (lo == (size_t)-1)
                continue;
            for (size_t j = 0; j < f->k; j++)
                if (dist[f->scope[j]] > lo + 1) {
                    dist[f->scope[j]] = lo + 1;
                    changed = 1;
                }
        }
    }
}

/* The variable of main factor f nearest its tree's root, given distances
 * from the roots. */
static inline size_t tm_up_var(const tm_model *m, size_t f, const size_t *dist)
{
    const tm_factor *fa = &m->f[f];
    size_t best = fa->scope[0];
    for (size_t j = 1; j < fa->k; j++)
        if (dist[fa->scope[j]] < dist[best])
            best = fa->scope[j];
    return best;
}

/* Cavity oracle for p(x | y), x and y in main factor c with y its variable
 * nearest the root: drop every factor lying entirely on y's side (reachable
 * from y without crossing c, y's own local terms included) and the evidence
 * there and on y, keep only x's component, and enumerate. out is
 * [card y][card x], NaN rows where the reduced weight is zero. */
static inline void tm_cavity_conditional(const tm_model *m, const size_t *ev,
                                         size_t c, size_t x, size_t y,
                                         double *out)
{
    int start[TM_MAXV] = {0};
    size_t dist[TM_MAXV];
    start[y] = 1;
    tm_bfs(m, start, c, dist);
    int yside[TM_MAXV]; /* y and everything reachable from it avoiding c */
    for (size_t v = 0; v < m->n; v++)
        yside[v] = dist[v] != (size_t)-1;
    size_t comp[TM_MAXV];
    tm_components(m, comp);
    int use[TM_MAXF];
    for (size_t i = 0; i < m->nf; i++) {
        const tm_factor *f = &m->f[i];
        int all_y = 1;
        for (size_t j = 0; j < f->k; j++)
            if (!yside[f->scope[j]])
                all_y = 0;
        use[i] = !all_y && comp[f->scope[0]] == comp[x];
    }
    size_t ev2[TM_MAXV];
    for (size_t v = 0; v < m->n; v++)
        ev2[v] = (ev && !yside[v] && comp[v] == comp[x]) ? ev[v] : CAI_NONE;
    size_t cy = m->card[y], cx = m->card[x];
    size_t N = tm_joint_size(m);
    double *w = malloc(N * sizeof(double));
    size_t a[TM_MAXV] = {0};
    size_t i = 0;
    double mx[8]; /* per row of y, so rows of very different size all stay exact */
    for (size_t s = 0; s < cy; s++)
        mx[s] = -INFINITY;
    do {
        w[i] = tm_log_weight(m, a, ev2, use);
        if (w[i] > mx[a[y]])
            mx[a[y]] = w[i];
        i++;
    } while (tm_next(m, a));
    for (size_t k = 0; k < cy * cx; k++)
        out[k] = 0.0;
    memset(a, 0, sizeof a);
    i = 0;
    do {
        if (mx[a[y]] > -INFINITY)
            out[a[y] * cx + a[x]] += exp(w[i] - mx[a[y]]);
        i++;
    } while (tm_next(m, a));
    for (size_t s = 0; s < cy; s++) {
        double sum = 0.0;
        for (size_t t = 0; t < cx; t++)
            sum += out[s * cx + t];
        for (size_t t = 0; t < cx; t++)
            out[s * cx + t] = sum > 0 ? out[s * cx + t] / sum : NAN;
    }
    free(w);
}

#endif
