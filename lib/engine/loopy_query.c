/* lib/engine/loopy_query.c — loopy BP's view of a cluster (its stored
 * entries, the cavities of its variables) and the queries. */
#include "loopy_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest factor belief a query fills. */
#define LOOPY_BELIEF_MAX ((size_t)1 << 26)

/* ---- the per-entry view of a cluster ---- */

void loopy_scan(const cai_loopy *lp, const lcluster *c, size_t *idx, loopy_entry_fn fn,
                void *ctx)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, R = p->n_rows, K = p->n_cols;
    const double *logv = potential_table_logv(p);
    const size_t *rp = NULL;
    const uint32_t *col = NULL;
    const double *prob = NULL;
    if (logv == NULL)
        cai_potential_csr_arrays(p, &rp, &col, &prob);
    bool support = c->sr & SR_SUPPORT;
    const size_t *cmem = c->mem;
    for (size_t i = 0; i < kp; i++)
        idx[i] = 0;
    for (size_t r = 0; r < R; r++) {
        double rowc = c->xrow ? c->xrow[r] : 0.0;
        size_t n = logv ? K : rp[r + 1] - rp[r];
        for (size_t i = 0; i < n && rowc > -INFINITY; i++) {
            double v = logv ? logv[r * K + i] : log(prob[rp[r] + i]);
            if (v == -INFINITY)
                continue;
            idx[kp] = logv ? i : col[rp[r] + i];
            v = (support ? 0.0 : v) + rowc;
            for (size_t m = 0; m < c->n_mem && c->n_col; m++)
                if (loopy_touches_column(&lp->factors[cmem[m]], c))
                    v += loopy_factor_value(lp, cmem[m], idx);
            if (v > -INFINITY)
                fn(ctx, idx, v);
        }
        for (size_t i = kp; i-- > 0;) {
            if (++idx[i] < p->cards[i])
                break;
            idx[i] = 0;
        }
    }
}

void loopy_normalise(double *v, size_t n, bool max)
{
    double z = -INFINITY;
    if (max) {
        for (size_t i = 0; i < n; i++)
            z = v[i] > z ? v[i] : z;
    } else {
        z = cai_logsumexp(v, n);
    }
    if (z > -INFINITY && z < INFINITY)
        for (size_t i = 0; i < n; i++)
            v[i] -= z;
}

void loopy_cavities(const cai_loopy *lp, const lcluster *c, double *cav, const double **mu)
{
    bool max = loopy_max(lp);
    for (size_t j = 0, at = 0; j < c->k; j++) {
        size_t e = c->e0 + j, v = c->vars[j], K = lp->card[v];
        double *out = cav + at;
        memcpy(out, lp->local + lp->off[v], K * sizeof(double));
        for (size_t t = lp->vedge_off[v]; t < lp->vedge_off[v + 1]; t++) {
            size_t e2 = lp->vedge[t];
            if (e2 == e)
                continue;
            const double *m = lp->msg + lp->m_off[e2];
            for (size_t x = 0; x < K; x++)
                out[x] += m[x];
        }
        loopy_normalise(out, K, max);
        mu[j] = out;
        at += K;
    }
}

/* ---- queries ---- */

static cai_status ready(const cai_loopy *lp, cai_error *err)
{
    if (lp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (!lp->ran)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "loopy BP has not run (call cai_loopy_run first)");
    return CAI_OK;
}

size_t cai_loopy_iterations(const cai_loopy *lp) { return lp && lp->ran ? lp->iterations : 0; }
bool cai_loopy_converged(const cai_loopy *lp) { return lp && lp->ran && lp->converged; }

double cai_loopy_max_residual(const cai_loopy *lp, size_t *out_factor, size_t *out_var)
{
    if (lp == NULL || !lp->ran)
        return NAN;
    if (out_factor)
        *out_factor = lp->res_factor;
    if (out_var)
        *out_var = lp->res_var;
    return lp->max_residual;
}

double cai_loopy_log_z(const cai_loopy *lp) { return lp && lp->ran ? lp->log_z : NAN; }

cai_status cai_loopy_marginal(const cai_loopy *lp, size_t var, double *out, cai_error *err)
{
    cai_status st = ready(lp, err);
    if (st != CAI_OK)
        return st;
    if (out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL output");
    if (var >= lp->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu",
                             var);
    const double *q = lp->q + lp->off[var];
    for (size_t x = 0; x < lp->card[var]; x++)
        out[x] = exp(q[x]);
    return CAI_OK;
}

typedef struct belief_ctx {
    const lfactor *F;
    const double *const *mu;
    size_t k;
    bool max;
    cai_lse z;     /* pass 1: the normaliser */
    double *out;   /* pass 2: the belief, linear */
    const size_t *cards;
} belief_ctx;

static double with_cavities(const belief_ctx *b, const size_t *idx, double lv)
{
    for (size_t j = 0; j < b->k; j++)
        lv += b->mu[j][idx[j]];
    return lv;
}

static void belief_norm(void *ctx, const size_t *idx, double lv)
{
    belief_ctx *b = ctx;
    loopy_acc_add(&b->z, with_cavities(b, idx, lv), b->max);
}

static void belief_fill(void *ctx, const size_t *idx, double lv)
{
    belief_ctx *b = ctx;
    double t = with_cavities(b, idx, lv);
    if (t == -INFINITY)
        return;
    size_t cell = 0;
    for (size_t i = 0; i < b->F->k; i++)
        cell = cell * b->cards[i] + idx[b->F->pos[i]];
    double w = exp(t - loopy_acc_result(&b->z, b->max));
    b->out[cell] = b->max ? (w > b->out[cell] ? w : b->out[cell]) : b->out[cell] + w;
}

cai_status cai_loopy_factor_belief(const cai_loopy *lp, size_t f, double *out, cai_error *err)
{
    cai_status st = ready(lp, err);
    if (st != CAI_OK)
        return st;
    if (out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL output");
    if (f >= lp->n_factors)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown factor index %zu", f);
    const lfactor *F = &lp->factors[f];
    if (F->cluster == CAI_NONE)
        return cai_loopy_marginal(lp, F->scope[0], out, err);
    size_t n_out = 1;
    for (size_t i = 0; i < F->k; i++)
        if (!cai_size_mul(n_out, F->p->cards[i], &n_out) || n_out > LOOPY_BELIEF_MAX)
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                                 "factor %zu: its scope has more than %zu joint states", f,
                                 LOOPY_BELIEF_MAX);
    const lcluster *c = &lp->clusters[F->cluster];
    double *cav = loopy_alloc(lp->max_ccards, sizeof(double));
    size_t *idx = loopy_alloc(c->k, sizeof(size_t));
    const double **mu = loopy_alloc(c->k, sizeof(double *));
    if (!cav || !idx || !mu) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    loopy_cavities(lp, c, cav, mu);
    belief_ctx b = {.F = F, .mu = mu, .k = c->k, .max = loopy_max(lp), .out = out,
                    .cards = F->p->cards};
    cai_lse_init(&b.z);
    for (size_t i = 0; i < n_out; i++)
        out[i] = 0.0;
    loopy_scan(lp, c, idx, belief_norm, &b);
    double z = loopy_acc_result(&b.z, b.max);
    if (!(z > -INFINITY && z < INFINITY) || (!b.max && lp->log_z == -INFINITY)) {
        for (size_t i = 0; i < n_out; i++)
            out[i] = NAN;
    } else {
        loopy_scan(lp, c, idx, belief_fill, &b);
    }
done:
    free(cav);
    free(idx);
    free(mu);
    return st;
}

cai_status cai_loopy_map(const cai_loopy *lp, size_t *out, double *out_log_score,
                         cai_error *err)
{
    cai_status st = ready(lp, err);
    if (st != CAI_OK)
        return st;
    if (!loopy_max(lp))
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the MAP assignment needs max-product (CAI_MAX_PRODUCT)");
    if (out)
        memcpy(out, lp->assign, lp->n_vars * sizeof(size_t));
    if (out_log_score)
        *out_log_score = lp->log_z;
    return CAI_OK;
}
