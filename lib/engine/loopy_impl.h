/* lib/engine/loopy_impl.h — the loopy BP object, shared by loopy.c (options,
 * analysis), loopy_run.c (messages, schedules, beliefs, decoding) and
 * loopy_query.c (the entries of a cluster, cavities, queries).
 *
 * Layout. Factors of arity >= 2 not absorbed into another are the clusters;
 * each cluster position j is one edge e = c->e0 + j, which carries the
 * cluster -> variable message msg[m_off[e] ..] (card of the variable). The
 * variable -> cluster message of an edge is never stored: it is the cavity,
 * local terms plus the variable's other incoming messages, computed when a
 * cluster sends. Cluster rows and columns are those of the host potential's
 * kernels (rows = joint state of positions 0..k-2, last fastest). */
#ifndef CAI_ENGINE_LOOPY_IMPL_H
#define CAI_ENGINE_LOOPY_IMPL_H

#include "cai/logmath.h"
#include "cai/loopy.h"
#include "potential_impl.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct lfactor {
    cai_potential *p; /* one reference held */
    size_t k;
    size_t *scope;    /* k variables (into lp->scopes) */
    semiring sr;      /* SR_SUPPORT for a support-mode factor, else SR_SUM */
    size_t cluster;   /* its cluster, CAI_NONE for a local term */
    size_t *pos;      /* k positions in the cluster (into lp->positions) */
} lfactor;

typedef struct lcluster {
    size_t host;          /* factor index of the host */
    const cai_potential *p; /* the host's potential */
    size_t k;
    const size_t *vars;   /* the host's scope */
    semiring sr;          /* the host's support flag */
    size_t e0;            /* edges e0 .. e0 + k - 1, one per position */
    const size_t *mem;    /* absorbed factors, increasing */
    size_t n_mem;
    size_t n_col;         /* how many of them touch the column variable: then
                             messages take the generic per-entry path */
    const double *xrow;   /* per row, the log terms of the absorbed factors
                             that do not touch the column (NULL: none);
                             shared by consecutive clusters alike */
} lcluster;

/* Run-time scratch, sized at create. */
typedef struct lscratch {
    double *row_a, *row_b; /* max_rows */
    double *col;           /* 2 * max_cols: kernel scratch */
    cai_lse *acc;          /* max_ccards accumulators */
    double *cav;           /* max_ccards: cavities of one cluster */
    double *out;           /* max_ccards: messages of one cluster */
    double *tmp;           /* max_card */
    size_t *idx, *best;    /* max_k */
    size_t *aoff;          /* max_k: accumulator offset per position */
    const double **mu;     /* max_k: cavity per position */
    double **outp;         /* max_k: output per position or NULL */
    size_t *queue;         /* n_clusters: decoding */
    unsigned char *seen;   /* n_clusters + n_vars: decoding */
} lscratch;

struct cai_loopy {
    cai_loopy_options opt;
    size_t n_vars;
    size_t *card, *off;    /* per variable; off into local / q */
    size_t *evidence;      /* per variable, CAI_NONE when free */
    size_t *vedge_off;     /* n_vars + 1: edges of variable v are */
    size_t *vedge;         /*   vedge[vedge_off[v] .. vedge_off[v+1]] */
    size_t *unary_off;     /* n_vars + 1: local factors of v are */
    size_t *unary;         /*   unary[unary_off[v] .. unary_off[v+1]] */
    size_t var_total;      /* sum of cardinalities */

    size_t n_factors;
    lfactor *factors;
    size_t *scopes, *positions; /* pools behind lfactor.scope / pos */

    size_t n_clusters;
    lcluster *clusters;
    size_t *members;       /* pool behind lcluster.mem */
    size_t n_bufs;
    double **bufs;         /* xrow arrays, owned */
    size_t buf_total;      /* their entries */

    size_t n_edges;
    size_t *edge_cluster, *edge_pos, *edge_var, *m_off; /* per edge */
    size_t *stride;        /* per edge: rows per state of its position
                              (parents only; 1 for the column) */
    size_t msg_total;      /* sum of m_off sizes */

    size_t max_rows, max_cols, max_k, max_ccards, max_card;

    /* run state */
    double *local;         /* var_total: log local terms and evidence */
    double *msg, *pend;    /* msg_total: messages, and new ones not yet used */
    double *q;             /* var_total: normalised log beliefs */
    double *res;           /* per edge: pending residual (residual schedule) */
    size_t *heap, *hpos;   /* per edge: max-heap of residuals, and positions */
    size_t *assign;        /* n_vars: decoded assignment (max-product) */
    lscratch s;

    bool ran;
    bool converged;
    size_t iterations;
    double max_residual, log_z;
    size_t res_factor, res_var;
};

static inline bool loopy_max(const cai_loopy *lp)
{
    return lp->opt.algorithm == CAI_MAX_PRODUCT;
}

/* The kernel semiring of cluster c. */
static inline semiring loopy_sr(const cai_loopy *lp, const lcluster *c)
{
    return (semiring)((loopy_max(lp) ? SR_MAX : SR_SUM) | (c->sr & SR_SUPPORT));
}

/* Add x to an accumulator: log-sum-exp, or the maximum in a->max. */
static inline void loopy_acc_add(cai_lse *a, double x, bool max)
{
    if (max)
        a->max = x > a->max ? x : a->max;
    else
        cai_lse_add(a, x);
}

static inline double loopy_acc_result(const cai_lse *a, bool max)
{
    return max ? a->max : cai_lse_result(a);
}

/* calloc n elements of size elem (at least one) with an overflow check. */
static inline void *loopy_alloc(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    return calloc(1, bytes);
}

/* Does factor F (absorbed into c) touch c's column variable? */
static inline bool loopy_touches_column(const lfactor *F, const lcluster *c)
{
    for (size_t i = 0; i < F->k; i++)
        if (F->pos[i] == c->k - 1)
            return true;
    return false;
}

/* log value of absorbed (or host) factor f at the cluster state idx. */
double loopy_factor_value(const cai_loopy *lp, size_t f, const size_t *idx);

/* Called for every stored entry of positive weight of a cluster. */
typedef void (*loopy_entry_fn)(void *ctx, const size_t *idx, double lv);

/* Visit the entries of cluster c, rows increasing, columns increasing within
 * a row: idx[0..k-1] the states, lv the log of the cluster's weight there
 * (host with its support flag, plus every absorbed factor). */
void loopy_scan(const cai_loopy *lp, const lcluster *c, size_t *idx, loopy_entry_fn fn,
                void *ctx);

/* Cavities of every position of c into cav (position j at the sum of the
 * earlier cards), normalised; mu[j] points at each. */
void loopy_cavities(const cai_loopy *lp, const lcluster *c, double *cav, const double **mu);

/* Normalise a log vector to log-sum-exp 0 (max 0 when max); left alone when
 * it has no mass. */
void loopy_normalise(double *v, size_t n, bool max);

/* Run the schedule and fill the results (loopy_run.c). */
cai_status loopy_run(cai_loopy *lp, cai_error *err);

#endif
