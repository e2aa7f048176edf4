/* lib/engine/csr.c — the sparse conditional p(child | parents) in CSR form
 * and its message kernels: the hot path of a time-homogeneous MDP. */
#include "potential_impl.h"

#include "bigmem.h"

#include "cai/graph.h"
#include "cai/logmath.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct csr_potential {
    cai_potential base;
    size_t *row_ptr; /* n_rows + 1 */
    uint32_t *col;   /* nnz child states, increasing within a row */
    double *prob;    /* nnz probabilities, all > 0 */
} csr_potential;

static const csr_potential *as_csr(const cai_potential *p)
{
    return (const csr_potential *)p;
}

bool cai_potential_csr_arrays(const cai_potential *p, const size_t **out_row_ptr,
                              const uint32_t **out_col, const double **out_prob)
{
    if (p == NULL || p->kind != CAI_POTENTIAL_CSR)
        return false;
    const csr_potential *c = as_csr(p);
    if (out_row_ptr)
        *out_row_ptr = c->row_ptr;
    if (out_col)
        *out_col = c->col;
    if (out_prob)
        *out_prob = c->prob;
    return true;
}

/* ---- CSR conditional ---- */

/* Scaled sum or max over row r of w[col] weighted by the probabilities, or
 * by 1 on the support; inlined with constant flags into each loop below. */
static inline double csr_row_scaled(const csr_potential *c, size_t r, const double *w,
                                    bool max, bool support)
{
    const size_t *rp = c->row_ptr;
    const uint32_t *col = c->col;
    const double *pr = c->prob;
    double s = 0.0;
    for (size_t j = rp[r]; j < rp[r + 1]; j++) {
        double x = support ? w[col[j]] : pr[j] * w[col[j]];
        s = max ? fmax(s, x) : s + x;
    }
    return s;
}

/* The same row in the log domain, for rows whose scaled value underflows. */
static double csr_row_log(const csr_potential *c, size_t r, const double *col_in,
                          bool max, bool support)
{
    cai_lse a;
    cai_lse_init(&a);
    double mx = -INFINITY;
    for (size_t j = c->row_ptr[r]; j < c->row_ptr[r + 1]; j++) {
        double x = (support ? 0.0 : log(c->prob[j])) + col_in[c->col[j]];
        if (max)
            mx = fmax(mx, x);
        else
            cai_lse_add(&a, x);
    }
    return max ? mx : cai_lse_result(&a);
}

static double csr_rows_lin(const cai_potential *p, size_t r0, size_t n, const double *w,
                           double *out, semiring sr);
static void csr_rows_log(const cai_potential *p, size_t r0, size_t n, const double *col_in,
                         double *out, semiring sr);

/* The hot kernel of a time-homogeneous MDP: one sparse matrix-vector product
 * in the scaled linear domain (one exp per column, not per nonzero), with a
 * per-row log-domain fallback where the scaled sum is near underflow. */
static void csr_cols_to_row(const cai_potential *p, const double *col_in,
                            double *row_out, semiring sr, double *scratch)
{
    const csr_potential *c = as_csr(p);
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    if ((sr & SR_BASE) == SR_EXPECT) {
        size_t R = p->n_rows;
        CAI_PARALLEL_FOR(R)
        for (size_t r = 0; r < R; r++)
            csr_rows_log(p, r, 1, col_in, row_out + r, sr);
        return;
    }
    double m = -INFINITY;
    for (size_t k = 0; k < p->n_cols; k++)
        m = fmax(m, col_in[k]);
    if (m == -INFINITY) {
        for (size_t r = 0; r < p->n_rows; r++)
            row_out[r] = -INFINITY;
        return;
    }
    double *w = scratch;
    size_t K = p->n_cols, R = p->n_rows;
    CAI_PARALLEL_FOR(K)
    for (size_t k = 0; k < K; k++)
        w[k] = exp(col_in[k] - m);
    CAI_PARALLEL_FOR(R)
    for (size_t r = 0; r < R; r++)
        csr_rows_lin(p, r, 1, w, row_out + r, sr);
    CAI_PARALLEL_FOR(R)
    for (size_t r = 0; r < R; r++) {
        double s = row_out[r];
        row_out[r] = s >= SCALED_SAFE_MIN ? m + log(s) : csr_row_log(c, r, col_in, max, support);
    }
}

static double csr_rows_lin(const cai_potential *p, size_t r0, size_t n, const double *w,
                           double *out, semiring sr)
{
    const csr_potential *c = as_csr(p);
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    if (max)
        for (size_t i = 0; i < n; i++)
            out[i] = support ? csr_row_scaled(c, r0 + i, w, true, true)
                             : csr_row_scaled(c, r0 + i, w, true, false);
    else if (support)
        for (size_t i = 0; i < n; i++)
            out[i] = csr_row_scaled(c, r0 + i, w, false, true);
    else
        for (size_t i = 0; i < n; i++)
            out[i] = csr_row_scaled(c, r0 + i, w, false, false);
    return 0.0; /* probabilities are <= 1 */
}

/* One group of rows_lin_groups, its flags constant once inlined. */
static inline double csr_group(const csr_potential *c, size_t r, size_t g, const double *a,
                               const double *w, bool has_a, bool support)
{
    double acc = 0.0;
    for (size_t j = 0; j < g; j++) {
        double dot = csr_row_scaled(c, r + j, w, false, support);
        acc += (has_a ? a[j] : 1.0) * dot;
    }
    return acc;
}

static void csr_rows_lin_groups(const cai_potential *p, size_t r0, size_t ns, size_t g,
                                const double *a, const double *w, double *out, semiring sr)
{
    const csr_potential *c = as_csr(p);
    bool support = sr & SR_SUPPORT;
    if (a && support)
        for (size_t s = 0; s < ns; s++)
            out[s] = csr_group(c, r0 + s * g, g, a + s * g, w, true, true);
    else if (a)
        for (size_t s = 0; s < ns; s++)
            out[s] = csr_group(c, r0 + s * g, g, a + s * g, w, true, false);
    else if (support)
        for (size_t s = 0; s < ns; s++)
            out[s] = csr_group(c, r0 + s * g, g, NULL, w, false, true);
    else
        for (size_t s = 0; s < ns; s++)
            out[s] = csr_group(c, r0 + s * g, g, NULL, w, false, false);
}

static void csr_rows_log(const cai_potential *p, size_t r0, size_t n, const double *col_in,
                         double *out, semiring sr)
{
    const csr_potential *c = as_csr(p);
    bool support = sr & SR_SUPPORT;
    if ((sr & SR_BASE) == SR_EXPECT) {
        const size_t *rp = c->row_ptr;
        const uint32_t *col = c->col;
        const double *pr = c->prob;
        for (size_t i = 0; i < n; i++) {
            double s = 0.0;
            if (support)
                for (size_t j = rp[r0 + i]; j < rp[r0 + i + 1]; j++)
                    s += col_in[col[j]];
            else
                for (size_t j = rp[r0 + i]; j < rp[r0 + i + 1]; j++)
                    s += pr[j] * col_in[col[j]];
            out[i] = s;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = csr_row_log(c, r0 + i, col_in, (sr & SR_BASE) == SR_MAX, support);
}

static void csr_rows_to_col(const cai_potential *p, const double *row_in,
                            double *col_out, semiring sr, double *scratch)
{
    const csr_potential *c = as_csr(p);
    const size_t *rp = c->row_ptr;
    const uint32_t *col = c->col;
    const double *pr = c->prob;
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    size_t K = p->n_cols;
    double m = -INFINITY;
    for (size_t r = 0; r < p->n_rows; r++)
        m = fmax(m, row_in[r]);
    if (m == -INFINITY) {
        for (size_t k = 0; k < K; k++)
            col_out[k] = -INFINITY;
        return;
    }
    double *lin = scratch;
    for (size_t k = 0; k < K; k++)
        lin[k] = 0.0;
    for (size_t r = 0; r < p->n_rows; r++) {
        if (row_in[r] == -INFINITY)
            continue;
        double v = exp(row_in[r] - m);
        for (size_t j = rp[r]; j < rp[r + 1]; j++) {
            double x = support ? v : pr[j] * v;
            lin[col[j]] = max ? fmax(lin[col[j]], x) : lin[col[j]] + x;
        }
    }
    int fallback = 0;
    for (size_t k = 0; k < K; k++) {
        if (lin[k] >= SCALED_SAFE_MIN)
            col_out[k] = m + log(lin[k]);
        else
            fallback = 1;
    }
    if (!fallback)
        return;
    /* Some columns are near underflow: recompute those in the log domain,
     * two passes (max, then scaled sum). lin[k] becomes a flag, 0 = redo. */
    for (size_t k = 0; k < K; k++) {
        lin[k] = lin[k] >= SCALED_SAFE_MIN ? 1.0 : 0.0;
        if (lin[k] == 0.0)
            col_out[k] = -INFINITY;
    }
    for (size_t r = 0; r < p->n_rows; r++) {
        if (row_in[r] == -INFINITY)
            continue;
        for (size_t j = rp[r]; j < rp[r + 1]; j++)
            if (lin[col[j]] == 0.0)
                col_out[col[j]] = fmax(col_out[col[j]], row_in[r] + (support ? 0.0 : log(pr[j])));
    }
    if (max)
        return;
    double *sum = scratch + K;
    for (size_t k = 0; k < K; k++)
        sum[k] = 0.0;
    for (size_t r = 0; r < p->n_rows; r++) {
        if (row_in[r] == -INFINITY)
            continue;
        for (size_t j = rp[r]; j < rp[r + 1]; j++)
            if (lin[col[j]] == 0.0 && col_out[col[j]] > -INFINITY)
                sum[col[j]] += exp(row_in[r] + (support ? 0.0 : log(pr[j])) - col_out[col[j]]);
    }
    for (size_t k = 0; k < K; k++)
        if (lin[k] == 0.0 && col_out[k] > -INFINITY)
            col_out[k] += log(sum[k]);
}

static size_t csr_row_argmax(const cai_potential *p, size_t r, const double *col_in,
                             semiring sr, double *out_val)
{
    const csr_potential *c = as_csr(p);
    size_t best = 0;
    double bv = -INFINITY;
    for (size_t j = c->row_ptr[r]; j < c->row_ptr[r + 1]; j++) {
        double x = ((sr & SR_SUPPORT) ? 0.0 : log(c->prob[j]))
                   + (col_in ? col_in[c->col[j]] : 0.0);
        if (x > bv) {
            bv = x;
            best = c->col[j];
        }
    }
    *out_val = bv;
    return best;
}

static void csr_expect_rows(const cai_potential *p,
                            double (*term)(void *ctx, size_t r, size_t c), void *ctx,
                            double *row_out)
{
    const csr_potential *c = as_csr(p);
    for (size_t r = 0; r < p->n_rows; r++) {
        double s = 0.0;
        for (size_t j = c->row_ptr[r]; j < c->row_ptr[r + 1]; j++)
            s += c->prob[j] * term(ctx, r, c->col[j]);
        row_out[r] = s;
    }
}

static double csr_log_value_rc(const cai_potential *p, size_t r, size_t k)
{
    const csr_potential *c = as_csr(p);
    size_t lo = c->row_ptr[r], hi = c->row_ptr[r + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->col[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->row_ptr[r + 1] && c->col[lo] == k ? log(c->prob[lo]) : -INFINITY;
}

static void csr_destroy(cai_potential *p)
{
    csr_potential *c = (csr_potential *)p;
    big_free(c->row_ptr);
    big_free(c->col);
    big_free(c->prob);
    free(p->cards);
    free(c);
}

static const potential_ops csr_ops = {
    .name = "csr",
    .cols_to_row = csr_cols_to_row,   /* scaled SpMV with per-row fallback */
    .rows_lin = csr_rows_lin,         /* the plain scaled SpMV over a block of rows */
    .rows_lin_groups = csr_rows_lin_groups, /* and the weighted sums per group */
    .rows_log = csr_rows_log,         /* the same rows, log domain */
    .rows_to_col = csr_rows_to_col,   /* scaled transposed SpMV, per-column fallback */
    .row_argmax = csr_row_argmax,     /* lowest maximiser among the nonzeros */
    .expect_rows = csr_expect_rows,   /* over the stored nonzeros */
    .log_value_rc = csr_log_value_rc, /* binary search within the row */
    .destroy = csr_destroy,           /* five arrays */
};

cai_status cai_potential_csr_create(size_t n_parents, const size_t *parent_cards,
                                    size_t child_card, const size_t *row_ptr,
                                    const size_t *col, const double *prob,
                                    cai_potential **out_p, cai_error *err)
{
    if ((n_parents > 0 && parent_cards == NULL) || row_ptr == NULL || out_p == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (child_card > UINT32_MAX)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "child cardinality %zu is above the CSR limit %u",
                             child_card, (unsigned)UINT32_MAX);
    size_t k = n_parents + 1, cb;
    if (k == 0 || !cai_size_mul(k, sizeof(size_t), &cb))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many parents");
    size_t *cards = malloc(cb);
    if (cards == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if (n_parents)
        memcpy(cards, parent_cards, n_parents * sizeof(size_t));
    cards[n_parents] = child_card;
    csr_potential *c = calloc(1, sizeof *c);
    cai_status st;
    if (c == NULL) {
        free(cards);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    st = potential_base_init(&c->base, k, cards, err);
    free(cards);
    if (st != CAI_OK)
        goto fail;
    size_t R = c->base.n_rows, total = row_ptr[R];
    if (row_ptr[0] != 0) {
        st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "row_ptr[0] must be 0");
        goto fail;
    }
    if (total > 0 && (col == NULL || prob == NULL)) {
        st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL column or probability array");
        goto fail;
    }
    size_t nnz = 0;
    for (size_t r = 0; r < R; r++) {
        if (row_ptr[r + 1] < row_ptr[r] || row_ptr[r + 1] > total) {
            st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                               "row_ptr is not nondecreasing at row %zu", r);
            goto fail;
        }
        double s = 0.0;
        for (size_t j = row_ptr[r]; j < row_ptr[r + 1]; j++) {
            if (col[j] >= child_card) {
                st = cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                                   "row %zu: column %zu is out of range (child has %zu states)",
                                   r, col[j], child_card);
                goto fail;
            }
            if (j > row_ptr[r] && col[j] <= col[j - 1]) {
                st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                   "row %zu: columns must be strictly increasing", r);
                goto fail;
            }
            if (!(prob[j] >= 0.0 && prob[j] <= 1.0)) {
                st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                   "row %zu: probability %g is not in [0, 1]", r, prob[j]);
                goto fail;
            }
            s += prob[j];
            nnz += prob[j] > 0.0;
        }
        if (!(fabs(s - 1.0) <= 1e-9)) {
            st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                               "row %zu sums to %.17g, not 1", r, s);
            goto fail;
        }
    }
    size_t rb, colb, pb;
    if (!cai_size_mul(R + 1, sizeof(size_t), &rb) || !cai_size_mul(nnz, sizeof(uint32_t), &colb)
        || !cai_size_mul(nnz, sizeof(double), &pb)) {
        st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "CSR arrays too large");
        goto fail;
    }
    /* on huge pages where the system has them: one pass over these per
     * message, so fewer TLB misses and prefetch across 4 KiB pages */
    c->row_ptr = big_alloc_uninit(R + 1, sizeof(size_t));
    c->col = big_alloc_uninit(nnz, sizeof(uint32_t));
    c->prob = big_alloc_uninit(nnz, sizeof(double));
    if (c->row_ptr == NULL || c->col == NULL || c->prob == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    size_t n = 0;
    c->row_ptr[0] = 0;
    for (size_t r = 0; r < R; r++) {
        for (size_t j = row_ptr[r]; j < row_ptr[r + 1]; j++) {
            if (prob[j] > 0.0) {
                c->col[n] = (uint32_t)col[j];
                c->prob[n] = prob[j];
                n++;
            }
        }
        c->row_ptr[r + 1] = n;
    }
    c->base.ops = &csr_ops;
    c->base.kind = CAI_POTENTIAL_CSR;
    c->base.nnz = nnz;
    c->base.bytes += sizeof *c + rb + colb + pb;
    *out_p = &c->base;
    return CAI_OK;
fail:
    big_free(c->row_ptr);
    big_free(c->col);
    big_free(c->prob);
    free(c->base.cards);
    free(c);
    return st;
}
