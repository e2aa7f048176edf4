/* lib/engine/plan_impl.h — the plan and workspace layouts.
 *
 * After absorption the model is a forest of clusters (maximal factors) and
 * variables. Each tree is rooted at a variable; every other variable has one
 * cluster above it ("up cluster") and every cluster one variable above it
 * ("up position"). Messages therefore need only:
 *   U[v]  the message from v to its up cluster (at the root: the whole
 *         upward belief): local terms plus the messages of the clusters below;
 *   M[c]  the message from cluster c to its up variable;
 *   q[v]  the marginal (sum-product), written top-down from q of the up
 *         variable and the conditional of each cluster.
 * Cluster rows are the joint states of positions 0..k-2 and columns position
 * k-1, as in the potential kernels. */
#ifndef CAI_ENGINE_PLAN_IMPL_H
#define CAI_ENGINE_PLAN_IMPL_H

#include "cai/logmath.h"
#include "cai/plan.h"
#include "potential_impl.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* A factor absorbed into a cluster, evaluated per row. */
typedef struct absorbed {
    const cai_potential *p; /* reference held by the plan */
    size_t k;
    size_t *pos; /* k cluster positions (all < cluster k - 1) */
    semiring sr; /* SR_SUPPORT for a support-mode factor, else 0 */
} absorbed;

typedef struct cluster {
    const cai_potential *p; /* host potential (reference held) */
    size_t k;
    size_t *vars;      /* k variables in host order */
    size_t up;         /* position of the up variable */
    bool expect;       /* expectation mode (sum-product or max_expectation) */
    semiring support;  /* SR_SUPPORT for a support-mode host, else 0 */
    absorbed *abs;     /* absorbed factors folded into rows */
    size_t n_abs;
    const double *erow; /* expectation host: per row, sum_c p(c|r) log F(r, c) of
                           the absorbed factors that touch the child (shared
                           between clusters alike), or NULL */
    const double *xrow; /* per row, the constant log terms: every absorbed
                           factor plus erow; NULL when there are none. Shared
                           by consecutive clusters alike (tied models). */
    const double *wrow; /* exp(xrow - xmax), for the scaled kernels */
    double xmax;        /* max of xrow (0 without xrow) */
    size_t m_off;      /* offset of M in the message pool */
    bool first_in;     /* the first cluster, upward, to send to its up variable */
} cluster;

typedef struct plan_var {
    size_t card;
    size_t off;        /* offset of U and q */
    size_t up_cluster; /* CAI_NONE at a root */
    size_t tree;
    size_t evidence;   /* the graph's evidence at plan time */
    size_t n_unary;
    bool has_in;       /* some cluster sends to it upward */
    const cai_potential **unary; /* local one-variable potentials */
    semiring *unary_sr;          /* SR_SUPPORT for support-mode ones */
} plan_var;

typedef struct plan_tree {
    size_t root;
    const cai_potential *prior; /* parentless expectation prior, or NULL */
} plan_tree;

/* Where an original factor went. */
typedef struct factor_home {
    size_t cluster; /* CAI_NONE: a one-variable factor (local term) */
    size_t var;     /* for a local term: its variable */
    size_t k;
    size_t *pos;    /* k cluster positions of the factor's scope */
} factor_home;

struct cai_plan {
    cai_algorithm alg;
    bool max_expect;       /* max-product honouring expectation factors */
    bool upward_only;      /* no downward pass, no downward storage */
    size_t n_vars;
    plan_var *vars;
    size_t n_clusters;
    cluster *clusters; /* in top-down (BFS) order */
    size_t n_trees;
    plan_tree *trees;
    size_t n_factors;
    factor_home *homes;
    size_t n_owned;
    cai_potential **owned; /* every reference the plan holds */
    size_t n_bufs;
    double **bufs;         /* erow, xrow and wrow arrays, owned (big_alloc) */
    size_t var_total;      /* sum of cards */
    size_t msg_total;      /* sum of cards of the up variables of clusters */
    size_t max_rows, max_cols, max_k, max_parent_cards, max_card;
    size_t max_inner;      /* largest run of rows per up state (parents after it) */
};

/* Up to this many entries (1 MiB) each thread gets its own copy of a
 * child's message in the upward pass (rows.c). */
enum { COPY_MAX = 1 << 17 };

/* A thread's run of chunks in a loop split among threads (rows.c): the next
 * chunk to take and the end of the run, on a cache line of its own. */
typedef struct chunk_run {
    alignas(64) atomic_size_t next;
    size_t end;
} chunk_run;

struct cai_workspace {
    const cai_plan *plan;
    size_t *evidence;
    double **soft;         /* per variable: soft evidence (card logs) or NULL */
    double *U, *q, *M;
    cai_buffer_cache *u_cache; /* where U goes back when the workspace is freed, or NULL */
    double *umax;          /* per variable: the max of its U, kept by execute */
    bool *fresh;           /* per variable: no local terms and a message coming, so
                            * execute leaves U to the first message (written, not added) */
    size_t *assign;
    double log_z;
    bool executed;
    /* scratch */
    double *row_a, *row_b; /* max_rows each */
    double *col_a;         /* 2 * max_cols */
    double *col_b;         /* max_cols */
    double *col_t;         /* n_col_t * max_cols: a child's message, a copy per thread
                            * when max_cols <= COPY_MAX, else one */
    size_t n_col_t;
    chunk_run *runs;       /* 2 CAI_MAX_COPIES: the upward pass's runs of blocks, one
                            * per thread, then its runs of exp pieces */
    cai_lse *acc;          /* max_parent_cards accumulators */
    size_t *idx;           /* 3 * max_k */
    double *inner;         /* 2 * max_inner: terms of the parents after the up one */
    const double **vecs;   /* 2 * max_k message pointers */
    double *vbuf;          /* max_card */
    double *mbuf;          /* max_card: M when the plan keeps none */
};

/* calloc n elements of size elem with an overflow check. */
static inline void *alloc_array(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    return calloc(1, bytes);
}

/* ---- execute.c, rows.c, query.c and cluster.c ---- */

/* row_out[r] = extras(r) + sum of U over parent positions except excl
 * (CAI_NONE = include all). */
void cluster_row_in(const cai_plan *plan, const double *U, const cluster *c,
                    size_t excl, double *row_out);

/* out[i] = exp(x[i] - shift) for i < n (vm_exp_shift), in pieces split
 * among threads; bit-identical for any thread count. */
void exp_shift_threads(double *out, const double *x, double shift, size_t n);

/* Value of position i in row r of cluster c (i < k - 1). */
size_t cluster_row_state(const cai_plan *plan, const cluster *c, size_t r, size_t i);

/* The kernel semiring of cluster c: the plan's operation (or expectation)
 * with the cluster's support flag. */
static inline semiring cluster_sr(const cai_plan *plan, const cluster *c)
{
    semiring base = c->expect ? SR_EXPECT : plan->alg == CAI_MAX_PRODUCT ? SR_MAX : SR_SUM;
    return (semiring)(base | c->support);
}

/* The plan's plain operation (sum or max) with c's support flag. */
static inline semiring cluster_sr_plain(const cai_plan *plan, const cluster *c)
{
    return (semiring)((plan->alg == CAI_MAX_PRODUCT ? SR_MAX : SR_SUM) | c->support);
}

/* log q(v) - M(v) for the top-down conditional, -INFINITY where q is 0. */
static inline double cond_shift(double lq, double m)
{
    return lq == -__builtin_inf() ? lq : lq - m;
}

#endif
