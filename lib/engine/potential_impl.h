/* lib/engine/potential_impl.h — what the engine sees inside a potential.
 *
 * Every kind embeds cai_potential first and points it at a static method
 * table. The message kernels view a potential of scope (x_0 .. x_{k-1}) as a
 * matrix: rows are the joint index of x_0 .. x_{k-2} (last fastest; one row
 * when k == 1) and columns are x_{k-1}. All vectors are logs. */
#ifndef CAI_ENGINE_POTENTIAL_IMPL_H
#define CAI_ENGINE_POTENTIAL_IMPL_H

#include "cai/potential.h"

/* How a kernel combines the terms of a row or column: a base operation,
 * optionally with SR_SUPPORT or-ed in, which replaces every positive entry of
 * the potential by 1 (log 0), so only its zero pattern counts. */
typedef enum semiring {
    SR_SUM = 0,     /* log sum exp: sum-product */
    SR_MAX = 1,     /* max: max-product */
    SR_EXPECT = 2,  /* sum_c p[r,c] * col_in[c]: expectation mode (cols_to_row only) */
    SR_BASE = 3,    /* mask of the base operation */
    SR_SUPPORT = 4  /* flag: the potential's support, not its values */
} semiring;

/* Below this a scaled linear sum is too close to underflow to trust and the
 * kernels recompute the affected entries in the log domain. */
#define SCALED_SAFE_MIN 1e-280

/* A sum of scaled rows below this is recomputed in the log domain: terms
 * below SCALED_SAFE_MIN are then at most 1e-80 of it. */
#define SCALED_GROUP_MIN 1e-200

typedef struct potential_ops {
    const char *name; /* "table", "csr" */
    /* row_out[r] = (+)_c (log p[r,c] + col_in[c]) for every row.
     * scratch holds at least n_cols doubles. */
    void (*cols_to_row)(const cai_potential *p, const double *col_in,
                        double *row_out, semiring sr, double *scratch);
    /* The scaled linear kernel over n consecutive rows r0..r0+n-1:
     * out[i] = sum_c p[r0+i,c] * w[c] * exp(-shift) (w = exp of a message
     * minus its max), or the max of the terms under SR_MAX; with SR_SUPPORT
     * every positive p counts as 1. Returns the log shift it applied (0 for
     * conditionals, whose values are <= 1; the largest entry for tables, so
     * nothing overflows): potential_lin_shift(p, sr). The engine calls it on
     * blocks of a few hundred rows, so the gathers of a block overlap. */
    double (*rows_lin)(const cai_potential *p, size_t r0, size_t n, const double *w,
                       double *out, semiring sr);
    /* rows_lin's sums (SR_SUM, maybe with SR_SUPPORT; not SR_MAX) weighted
     * and added up in groups of g consecutive rows: out[s] = sum_{j<g}
     * a[s g + j] * row (r0 + s g + j), for s < ns, a NULL for ones, each
     * group in order j = 0, 1, ... -- rows_lin into a buffer and the sums
     * after, in one pass. NULL when the potential has no such kernel. */
    void (*rows_lin_groups)(const cai_potential *p, size_t r0, size_t ns, size_t g,
                            const double *a, const double *w, double *out, semiring sr);
    /* The same rows in the log domain (any semiring): out[i] = (+)_c
     * (log p[r0+i,c] + col_in[c]); under SR_EXPECT sum_c p[r0+i,c] col_in[c].
     * The fallback where scaled sums underflow, expectation and max-product
     * messages, Gauss-Seidel sweeps. */
    void (*rows_log)(const cai_potential *p, size_t r0, size_t n, const double *col_in,
                     double *out, semiring sr);
    /* col_out[c] = (+)_r (row_in[r] + log p[r,c]) for every column (SR_SUM or
     * SR_MAX). scratch holds at least 2 * n_cols doubles. */
    void (*rows_to_col)(const cai_potential *p, const double *row_in,
                        double *col_out, semiring sr, double *scratch);
    /* Lowest column c maximising log p[r,c] + col_in[c] (col_in may be NULL
     * for zeros; sr is SR_MAX, maybe with SR_SUPPORT); *out_val gets the
     * maximum. 0 and -INFINITY when no column has positive weight. */
    size_t (*row_argmax)(const cai_potential *p, size_t r, const double *col_in,
                         semiring sr, double *out_val);
    /* row_out[r] = sum_c p[r,c] * term(ctx, r, c) over the entries with
     * p[r,c] > 0, rows in increasing order (expected log-terms of an
     * expectation factor). */
    void (*expect_rows)(const cai_potential *p,
                        double (*term)(void *ctx, size_t r, size_t c), void *ctx,
                        double *row_out);
    /* log p[r,c] */
    double (*log_value_rc)(const cai_potential *p, size_t r, size_t c);
    /* release the kind's arrays and the struct */
    void (*destroy)(cai_potential *p);
} potential_ops;

struct cai_potential {
    const potential_ops *ops;
    size_t refs;
    cai_potential_kind kind;
    size_t k;       /* arity */
    size_t *cards;  /* k cardinalities */
    size_t n_rows;  /* product of cards[0..k-2] (1 when k == 1) */
    size_t n_cols;  /* cards[k-1] */
    size_t nnz;     /* stored entries */
    size_t bytes;   /* everything this potential allocated */
    double vmax;    /* largest log value (0 for conditionals): the shift of the
                       scaled kernels, so exp never overflows */
};

/* The log shift of the scaled kernels for semiring sr. */
static inline double potential_lin_shift(const cai_potential *p, semiring sr)
{
    return (sr & SR_SUPPORT) ? 0.0 : p->vmax;
}

/* log p[r,c], or 0 / -INFINITY for its support under SR_SUPPORT. */
static inline double potential_log_value_sr(const cai_potential *p, size_t r, size_t c,
                                            semiring sr)
{
    double v = p->ops->log_value_rc(p, r, c);
    return (sr & SR_SUPPORT) && v > -__builtin_inf() ? 0.0 : v;
}

/* Asks for the cache line at address p ahead of its use (nothing where the
 * compiler has no such builtin). */
#if defined(__GNUC__)
#define CAI_PREFETCH(p) __builtin_prefetch(p)
#else
#define CAI_PREFETCH(p) ((void)(p))
#endif

/* Loops over rows split among OpenMP threads when there are enough rows to
 * pay for it (65536: below that, thread start-up and waiting cost more than
 * they save, badly so on a busy machine). Each iteration writes only its own outputs, in the same
 * order whatever the thread count, so results are bit-identical. */
#if defined(_OPENMP)
#define CAI_PRAGMA(x) _Pragma(#x)
#define CAI_PARALLEL_FOR(n) CAI_PRAGMA(omp parallel for schedule(static) if ((n) >= 65536))
/* The same with v the maximum over the loop (exact, so order-free). */
#define CAI_PARALLEL_MAX(n, v) \
    CAI_PRAGMA(omp parallel for schedule(static) reduction(max : v) if ((n) >= 65536))
/* At most this many per-thread copies of a message. */
enum { CAI_MAX_COPIES = 64 };

/* A parallel region of n threads with v a max and k a count over it; a loop
 * in it whose iterations are split evenly, the same way in every call. */
#define CAI_PARALLEL_REGION(n, v, k) \
    CAI_PRAGMA(omp parallel num_threads(n) reduction(max : v) reduction(+ : k))
#define CAI_FOR_STATIC CAI_PRAGMA(omp for schedule(static))
/* Every thread of the region waits here for the others. */
#define CAI_BARRIER CAI_PRAGMA(omp barrier)
/* A loop vectorized. */
#define CAI_SIMD CAI_PRAGMA(omp simd)
#include <omp.h>
/* The threads a parallel region may use, at most cap; this thread's number
 * in the region it runs in. */
static inline int cai_threads_max(int cap)
{
    int n = omp_get_max_threads();
    return n < cap ? n : cap;
}
static inline int cai_thread_num(void)
{
    return omp_get_thread_num();
}
static inline int cai_num_threads(void)
{
    return omp_get_num_threads();
}
#else
#define CAI_PARALLEL_FOR(n)
#define CAI_PARALLEL_MAX(n, v)
#define CAI_PARALLEL_REGION(n, v, k)
#define CAI_FOR_STATIC
#define CAI_BARRIER
#define CAI_SIMD
enum { CAI_MAX_COPIES = 1 };
static inline int cai_threads_max(int cap)
{
    (void)cap;
    return 1;
}
static inline int cai_thread_num(void)
{
    return 0;
}
static inline int cai_num_threads(void)
{
    return 1;
}
#endif

/* Check cards and fill the shared fields of a new potential (one
 * reference, rows, columns, bytes); ops, kind and nnz are the caller's. */
cai_status potential_base_init(cai_potential *b, size_t k, const size_t *cards,
                               cai_error *err);

/* A table's log values, row-major (NULL for other kinds). */
const double *potential_table_logv(const cai_potential *p);

/* Row-major joint index of idx[0..k-2] (the row). */
size_t potential_row_of(const cai_potential *p, const size_t *idx);

#endif
