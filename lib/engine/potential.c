/* lib/engine/potential.c — what every potential shares (creation checks,
 * references, accessors) and the dense log-table kind with its kernels; the
 * CSR conditional is in csr.c. */
#include "potential_impl.h"

#include "bigmem.h"

#include "cai/graph.h"
#include "cai/logmath.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct table_potential {
    cai_potential base;
    double *logv; /* n_rows * n_cols log values */
} table_potential;

static const table_potential *as_table(const cai_potential *p)
{
    return (const table_potential *)p;
}

const double *potential_table_logv(const cai_potential *p)
{
    return p->kind == CAI_POTENTIAL_TABLE ? as_table(p)->logv : NULL;
}

size_t potential_row_of(const cai_potential *p, const size_t *idx)
{
    size_t r = 0;
    for (size_t i = 0; i + 1 < p->k; i++)
        r = r * p->cards[i] + idx[i];
    return r;
}

/* ---- shared creation ---- */

/* Check cards and compute rows/cols; fills base fields except ops/kind. */
cai_status potential_base_init(cai_potential *b, size_t k, const size_t *cards,
                            cai_error *err)
{
    if (k == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "a potential needs at least one scope position");
    size_t total = 1;
    for (size_t i = 0; i < k; i++) {
        if (cards[i] == 0 || cards[i] > CAI_MAX_CARD)
            return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                                 "position %zu: cardinality %zu is not in 1..%zu",
                                 i, cards[i], (size_t)CAI_MAX_CARD);
        if (!cai_size_mul(total, cards[i], &total))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                                 "the product of the cardinalities overflows");
    }
    size_t bytes;
    if (!cai_size_mul(k, sizeof(size_t), &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "arity too large");
    b->cards = malloc(bytes);
    if (b->cards == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(b->cards, cards, bytes);
    b->refs = 1;
    b->k = k;
    b->n_cols = cards[k - 1];
    b->n_rows = total / cards[k - 1];
    b->bytes = bytes;
    return CAI_OK;
}

cai_potential *cai_potential_ref(cai_potential *p)
{
    if (p)
        p->refs++;
    return p;
}

cai_potential *cai_potential_unref(cai_potential *p)
{
    if (p && --p->refs == 0)
        p->ops->destroy(p);
    return NULL;
}

cai_potential_kind cai_potential_get_kind(const cai_potential *p) { return p->kind; }
size_t cai_potential_arity(const cai_potential *p) { return p->k; }
size_t cai_potential_card(const cai_potential *p, size_t i) { return i < p->k ? p->cards[i] : 0; }
size_t cai_potential_nnz(const cai_potential *p) { return p->nnz; }
size_t cai_potential_bytes(const cai_potential *p) { return p->bytes; }

double cai_potential_log_value(const cai_potential *p, const size_t *idx)
{
    return p->ops->log_value_rc(p, potential_row_of(p, idx), idx[p->k - 1]);
}

/* ---- dense log-table ---- */

/* A stored log value as a kernel sees it: itself, or 0 on the support. */
static inline double table_entry(double v, bool support)
{
    return support && v > -INFINITY ? 0.0 : v;
}

static void table_cols_to_row(const cai_potential *p, const double *col_in,
                              double *row_out, semiring sr, double *scratch)
{
    (void)scratch;
    const double *v = as_table(p)->logv;
    size_t K = p->n_cols;
    bool support = sr & SR_SUPPORT;
    for (size_t r = 0; r < p->n_rows; r++, v += K) {
        if ((sr & SR_BASE) == SR_MAX) {
            double m = -INFINITY;
            for (size_t c = 0; c < K; c++)
                m = fmax(m, table_entry(v[c], support) + col_in[c]);
            row_out[r] = m;
        } else if ((sr & SR_BASE) == SR_EXPECT) {
            double s = 0.0;
            for (size_t c = 0; c < K; c++)
                if (v[c] > -INFINITY)
                    s += exp(table_entry(v[c], support)) * col_in[c];
            row_out[r] = s;
        } else {
            cai_lse a;
            cai_lse_init(&a);
            for (size_t c = 0; c < K; c++)
                cai_lse_add(&a, table_entry(v[c], support) + col_in[c]);
            row_out[r] = cai_lse_result(&a);
        }
    }
}

static double table_row_lin(const cai_potential *p, size_t r, const double *w, semiring sr)
{
    const double *v = as_table(p)->logv + r * p->n_cols;
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    double shift = potential_lin_shift(p, sr), s = 0.0;
    for (size_t c = 0; c < p->n_cols; c++) {
        double x = v[c] == -INFINITY ? 0.0 : exp(table_entry(v[c], support) - shift) * w[c];
        s = max ? (x > s ? x : s) : s + x;
    }
    return s;
}

static double table_rows_lin(const cai_potential *p, size_t r0, size_t n, const double *w,
                             double *out, semiring sr)
{
    for (size_t i = 0; i < n; i++)
        out[i] = table_row_lin(p, r0 + i, w, sr);
    return potential_lin_shift(p, sr);
}

static double table_row_log(const cai_potential *p, size_t r, const double *col_in, semiring sr)
{
    const double *v = as_table(p)->logv + r * p->n_cols;
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    if ((sr & SR_BASE) == SR_EXPECT) {
        double s = 0.0;
        for (size_t c = 0; c < p->n_cols; c++)
            if (v[c] > -INFINITY)
                s += exp(table_entry(v[c], support)) * col_in[c];
        return s;
    }
    cai_lse a;
    cai_lse_init(&a);
    double mx = -INFINITY;
    for (size_t c = 0; c < p->n_cols; c++) {
        double x = table_entry(v[c], support) + col_in[c];
        if (max)
            mx = fmax(mx, x);
        else
            cai_lse_add(&a, x);
    }
    return max ? mx : cai_lse_result(&a);
}

static void table_rows_log(const cai_potential *p, size_t r0, size_t n, const double *col_in,
                           double *out, semiring sr)
{
    for (size_t i = 0; i < n; i++)
        out[i] = table_row_log(p, r0 + i, col_in, sr);
}

static void table_rows_to_col(const cai_potential *p, const double *row_in,
                              double *col_out, semiring sr, double *scratch)
{
    size_t K = p->n_cols;
    bool max = (sr & SR_BASE) == SR_MAX, support = sr & SR_SUPPORT;
    cai_lse *acc = (cai_lse *)scratch; /* 2 * K doubles = K accumulators */
    for (size_t c = 0; c < K; c++) {
        cai_lse_init(&acc[c]);
        col_out[c] = -INFINITY;
    }
    const double *v = as_table(p)->logv;
    for (size_t r = 0; r < p->n_rows; r++, v += K) {
        if (row_in[r] == -INFINITY)
            continue;
        for (size_t c = 0; c < K; c++) {
            double x = row_in[r] + table_entry(v[c], support);
            if (max)
                col_out[c] = fmax(col_out[c], x);
            else
                cai_lse_add(&acc[c], x);
        }
    }
    if (!max)
        for (size_t c = 0; c < K; c++)
            col_out[c] = cai_lse_result(&acc[c]);
}

static size_t table_row_argmax(const cai_potential *p, size_t r, const double *col_in,
                               semiring sr, double *out_val)
{
    const double *v = as_table(p)->logv + r * p->n_cols;
    size_t best = 0;
    double bv = -INFINITY;
    for (size_t c = 0; c < p->n_cols; c++) {
        double x = table_entry(v[c], sr & SR_SUPPORT) + (col_in ? col_in[c] : 0.0);
        if (x > bv) {
            bv = x;
            best = c;
        }
    }
    *out_val = bv;
    return best;
}

static void table_expect_rows(const cai_potential *p,
                              double (*term)(void *ctx, size_t r, size_t c), void *ctx,
                              double *row_out)
{
    const double *v = as_table(p)->logv;
    for (size_t r = 0; r < p->n_rows; r++, v += p->n_cols) {
        double s = 0.0;
        for (size_t c = 0; c < p->n_cols; c++)
            if (v[c] > -INFINITY)
                s += exp(v[c]) * term(ctx, r, c);
        row_out[r] = s;
    }
}

static double table_log_value_rc(const cai_potential *p, size_t r, size_t c)
{
    return as_table(p)->logv[r * p->n_cols + c];
}

static void table_destroy(cai_potential *p)
{
    table_potential *t = (table_potential *)p;
    big_free(t->logv);
    free(p->cards);
    free(t);
}

static const potential_ops table_ops = {
    .name = "table",
    .cols_to_row = table_cols_to_row,   /* per-row log-sum-exp */
    .rows_lin = table_rows_lin,         /* exp per entry: tables are small */
    .rows_log = table_rows_log,         /* row by row, log domain */
    .rows_to_col = table_rows_to_col,   /* per-column streaming log-sum-exp */
    .row_argmax = table_row_argmax,     /* lowest maximiser */
    .expect_rows = table_expect_rows,   /* weights exp(log value) */
    .log_value_rc = table_log_value_rc, /* direct index */
    .destroy = table_destroy,           /* three arrays */
};

static cai_status table_create(size_t k, const size_t *cards,
                               const double *values, int linear,
                               cai_potential **out_p, cai_error *err)
{
    if ((k > 0 && cards == NULL) || out_p == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    table_potential *t = calloc(1, sizeof *t);
    if (t == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    cai_status st = potential_base_init(&t->base, k, cards, err);
    if (st != CAI_OK)
        goto fail;
    size_t n = t->base.n_rows * t->base.n_cols, bytes;
    if (!cai_size_mul(n, sizeof(double), &bytes)) {
        st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                           "a table of %zu entries is too large", n);
        goto fail;
    }
    if (values == NULL) {
        st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL table values");
        goto fail;
    }
    t->logv = big_alloc_uninit(n, sizeof(double)); /* written whole below */
    if (t->logv == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    /* checked and stored in one pass */
    t->base.vmax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = values[i];
        if (isnan(x)) {
            st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "entry %zu is NaN", i);
            goto fail;
        }
        if (linear && x < 0) {
            st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                               "entry %zu is negative (%g)", i, x);
            goto fail;
        }
        if (x == INFINITY) {
            st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "entry %zu is infinite", i);
            goto fail;
        }
        double lv = linear ? log(x) : x;
        t->logv[i] = lv;
        t->base.vmax = lv > t->base.vmax ? lv : t->base.vmax;
    }
    if (t->base.vmax == -INFINITY)
        t->base.vmax = 0.0;
    t->base.ops = &table_ops;
    t->base.kind = CAI_POTENTIAL_TABLE;
    t->base.nnz = n;
    t->base.bytes += bytes + sizeof *t;
    *out_p = &t->base;
    return CAI_OK;
fail:
    big_free(t->logv);
    free(t->base.cards);
    free(t);
    return st;
}

cai_status cai_potential_table_create(size_t k, const size_t *cards,
                                      const double *log_values,
                                      cai_potential **out_p, cai_error *err)
{
    return table_create(k, cards, log_values, 0, out_p, err);
}

cai_status cai_potential_table_create_linear(size_t k, const size_t *cards,
                                             const double *values,
                                             cai_potential **out_p,
                                             cai_error *err)
{
    return table_create(k, cards, values, 1, out_p, err);
}
