/* lib/engine/query.c — answers read from an executed workspace. */
#include "plan_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* Largest cluster joint a belief query enumerates. */
#define QUERY_JOINT_MAX ((size_t)1 << 26)

static cai_status ready(const cai_workspace *ws, cai_algorithm alg, cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL workspace");
    if (!ws->executed)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the workspace has not been executed (call cai_plan_execute first)");
    if (ws->plan->alg != alg)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0, "this query needs a %s plan",
                             alg == CAI_SUM_PRODUCT ? "sum-product" : "max-product");
    return CAI_OK;
}

/* Marginals, beliefs and the MAP come from the downward pass. */
static cai_status ready_down(const cai_workspace *ws, cai_algorithm alg, cai_error *err)
{
    cai_status st = ready(ws, alg, err);
    if (st == CAI_OK && ws->plan->upward_only)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the plan runs the upward pass only (upward_only): no marginals, "
                             "beliefs or MAP");
    return st;
}

double cai_query_log_z(const cai_workspace *ws)
{
    return ws && ws->executed ? ws->log_z : NAN;
}

cai_status cai_query_marginal(const cai_workspace *ws, size_t var, double *out, cai_error *err)
{
    cai_status st = ready_down(ws, CAI_SUM_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    if (var >= ws->plan->n_vars || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    const plan_var *pv = &ws->plan->vars[var];
    for (size_t x = 0; x < pv->card; x++)
        out[x] = exp(ws->q[pv->off + x]);
    return CAI_OK;
}

cai_status cai_query_map(const cai_workspace *ws, size_t *out, double *out_log_score,
                         cai_error *err)
{
    cai_status st = ready_down(ws, CAI_MAX_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    if (ws->plan->max_expect)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "a max-product plan with expectation factors has no MAP assignment");
    if (out)
        for (size_t v = 0; v < ws->plan->n_vars; v++)
            out[v] = ws->assign[v];
    if (out_log_score)
        *out_log_score = ws->log_z;
    return CAI_OK;
}

/* Scratch for one query, since the workspace is read-only here. */
typedef struct qscratch {
    double *row_in, *rv, *col;
    size_t *idx;
} qscratch;

static void qscratch_free(qscratch *s)
{
    free(s->row_in);
    free(s->rv);
    free(s->col);
    free(s->idx);
}

static cai_status qscratch_init(qscratch *s, const cai_plan *plan, cai_error *err)
{
    size_t rows = plan->max_rows ? plan->max_rows : 1, cols = plan->max_cols ? plan->max_cols : 1;
    s->row_in = malloc(rows * sizeof(double));
    s->rv = malloc(rows * sizeof(double));
    s->col = malloc(3 * cols * sizeof(double)); /* output + kernel scratch */
    s->idx = malloc((plan->max_k ? plan->max_k : 1) * sizeof(size_t));
    if (!s->row_in || !s->rv || !s->col || !s->idx) {
        qscratch_free(s);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    return CAI_OK;
}

cai_status cai_query_factor_belief(const cai_workspace *ws, size_t f, double *out, cai_error *err)
{
    cai_status st = ready_down(ws, CAI_SUM_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    const cai_plan *plan = ws->plan;
    if (f >= plan->n_factors || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown factor index %zu", f);
    const factor_home *h = &plan->homes[f];
    if (h->cluster == CAI_NONE)
        return cai_query_marginal(ws, h->var, out, err);
    const cluster *c = &plan->clusters[h->cluster];
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows, K = p->n_cols, total;
    if (!cai_size_mul(R, K, &total) || total > QUERY_JOINT_MAX)
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                             "factor %zu: its cluster has more than %zu joint states",
                             f, QUERY_JOINT_MAX);
    size_t n_out = 1;
    for (size_t j = 0; j < h->k; j++)
        n_out *= p->cards[h->pos[j]];
    qscratch s = {0};
    if ((st = qscratch_init(&s, plan, err)) != CAI_OK)
        return st;
    cai_lse *acc = malloc(n_out * sizeof *acc);
    size_t *x = malloc(c->k * sizeof *x);
    if (acc == NULL || x == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t e = 0; e < n_out; e++)
        cai_lse_init(&acc[e]);
    const plan_var *vu = &plan->vars[c->vars[u]];
    const double *lq_u = ws->q + vu->off, *M = ws->M + c->m_off;
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
    cluster_row_in(plan, ws->U, c, u < kp ? u : CAI_NONE, s.row_in);
    if (c->expect)
        p->ops->cols_to_row(p, U_child, s.rv, SR_EXPECT, s.col);
    for (size_t r = 0; r < R; r++) {
        for (size_t i = 0; i < kp; i++)
            x[i] = cluster_row_state(plan, c, r, i);
        for (size_t col = 0; col < K; col++) {
            x[kp] = col;
            double lp = potential_log_value_sr(p, r, col, c->support);
            if (lp == -INFINITY)
                continue;
            double v = cond_shift(lq_u[x[u]], M[x[u]]) + s.row_in[r] + lp;
            if (u < kp)
                v += c->expect ? s.rv[r] : U_child[col];
            size_t e = 0;
            for (size_t j = 0; j < h->k; j++)
                e = e * p->cards[h->pos[j]] + x[h->pos[j]];
            cai_lse_add(&acc[e], v);
        }
    }
    for (size_t e = 0; e < n_out; e++)
        out[e] = isnan(ws->log_z) || ws->log_z == -INFINITY ? NAN : exp(cai_lse_result(&acc[e]));
done:
    free(acc);
    free(x);
    qscratch_free(&s);
    return st;
}

cai_status cai_query_upward(const cai_workspace *ws, size_t var, double *out, cai_error *err)
{
    if (ws == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (!ws->executed)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the workspace has not been executed (call cai_plan_execute first)");
    if (var >= ws->plan->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    const plan_var *pv = &ws->plan->vars[var];
    for (size_t x = 0; x < pv->card; x++)
        out[x] = ws->U[pv->off + x];
    return CAI_OK;
}

/* The cavity of (x, y) as unnormalised logs, [card y][card x]. */
static cai_status cavity(const cai_workspace *ws, size_t x, size_t y, double *out,
                         cai_error *err)
{
    const cai_plan *plan = ws->plan;
    if (!ws->executed)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the workspace has not been executed (call cai_plan_execute first)");
    if (x >= plan->n_vars || y >= plan->n_vars || x == y || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a cavity needs two distinct variable indices");
    /* y must be the up variable of x's up cluster */
    size_t ci = plan->vars[x].up_cluster;
    const cluster *c = ci == CAI_NONE ? NULL : &plan->clusters[ci];
    if (c == NULL || c->vars[c->up] != y)
        return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                             "p(x | y) needs y to be the variable of a factor of x nearest the "
                             "root (variables %zu and %zu; root %zu)",
                             x, y, plan->trees[plan->vars[x].tree].root);
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows, K = p->n_cols;
    size_t px = 0;
    while (c->vars[px] != x)
        px++;
    size_t cy = plan->vars[y].card, cx = plan->vars[x].card, n_out;
    if (!cai_size_mul(cy, cx, &n_out))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "cavity table too large");
    bool max = plan->alg == CAI_MAX_PRODUCT;
    semiring plain = cluster_sr_plain(plan, c);
    qscratch s = {0};
    cai_status st = qscratch_init(&s, plan, err);
    if (st != CAI_OK)
        return st;
    cai_lse *acc = malloc(n_out * sizeof *acc);
    if (acc == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t e = 0; e < n_out; e++) {
        cai_lse_init(&acc[e]);
        out[e] = -INFINITY;
    }
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
/* one term of the cavity into cell e: max or log-sum-exp */
#define ADD(e, v) (max ? (void)(out[e] = fmax(out[e], (v))) : cai_lse_add(&acc[e], (v)))
    /* every message into the cluster except y's own */
    cluster_row_in(plan, ws->U, c, u < kp ? u : CAI_NONE, s.row_in);
    if (u < kp) {
        p->ops->cols_to_row(p, U_child, s.rv, cluster_sr(plan, c), s.col);
        if (px < kp) {
            for (size_t r = 0; r < R; r++)
                ADD(cluster_row_state(plan, c, r, u) * cx + cluster_row_state(plan, c, r, px),
                    s.row_in[r] + s.rv[r]);
        } else {
            /* x is the child: push the rows of each y state through the kernel */
            if (c->expect)
                for (size_t r = 0; r < R; r++)
                    s.row_in[r] += s.rv[r];
            for (size_t yv = 0; yv < cy; yv++) {
                for (size_t r = 0; r < R; r++)
                    s.rv[r] = cluster_row_state(plan, c, r, u) == yv ? s.row_in[r] : -INFINITY;
                p->ops->rows_to_col(p, s.rv, s.col, plain, s.col + K);
                for (size_t col = 0; col < K; col++)
                    ADD(yv * cx + col, s.col[col] + (c->expect ? 0.0 : U_child[col]));
            }
        }
    } else {
        /* y is the cluster's child variable and x a parent */
        for (size_t r = 0; r < R; r++)
            for (size_t col = 0; col < K; col++)
                ADD(col * cx + cluster_row_state(plan, c, r, px),
                    s.row_in[r] + potential_log_value_sr(p, r, col, c->support));
    }
#undef ADD
    if (!max)
        for (size_t e = 0; e < n_out; e++)
            out[e] = cai_lse_result(&acc[e]);
done:
    free(acc);
    qscratch_free(&s);
    return st;
}

cai_status cai_query_cavity(const cai_workspace *ws, size_t x, size_t y, double *out,
                            cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL workspace");
    return cavity(ws, x, y, out, err);
}

cai_status cai_query_conditional(const cai_workspace *ws, size_t x, size_t y, double *out,
                                 cai_error *err)
{
    cai_status st = ready(ws, CAI_SUM_PRODUCT, err);
    if (st != CAI_OK || (st = cavity(ws, x, y, out, err)) != CAI_OK)
        return st;
    size_t cy = ws->plan->vars[y].card, cx = ws->plan->vars[x].card;
    for (size_t yv = 0; yv < cy; yv++) {
        double *row = out + yv * cx;
        double lz = cai_logsumexp(row, cx);
        for (size_t xv = 0; xv < cx; xv++)
            row[xv] = lz > -INFINITY && lz < INFINITY ? exp(row[xv] - lz) : NAN;
    }
    return CAI_OK;
}
