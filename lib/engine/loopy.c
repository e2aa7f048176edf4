/* lib/engine/loopy.c — loopy belief propagation: options, the analysis of a
 * graph into clusters (absorbing factors as cai_plan does), edges and
 * message storage, and evidence. The schedules and the beliefs are in
 * loopy_run.c, the queries in loopy_query.c. */
#include "graph_impl.h"
#include "loopy_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cai_loopy_options cai_loopy_options_default(void)
{
    return (cai_loopy_options){.algorithm = CAI_SUM_PRODUCT,
                               .schedule = CAI_SCHEDULE_SEQUENTIAL,
                               .damping = 0.0,
                               .tol = 1e-10,
                               .max_iterations = 1000,
                               .trace = NULL,
                               .trace_ctx = NULL};
}

static cai_status check_options(const cai_loopy_options *o, cai_error *err)
{
    if (o->algorithm != CAI_SUM_PRODUCT && o->algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown algorithm %d",
                             (int)o->algorithm);
    if (o->schedule != CAI_SCHEDULE_FLOODING && o->schedule != CAI_SCHEDULE_SEQUENTIAL
        && o->schedule != CAI_SCHEDULE_RESIDUAL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown schedule %d",
                             (int)o->schedule);
    if (!(o->damping >= 0.0 && o->damping < 1.0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "damping %g is not in [0, 1)", o->damping);
    if (!(o->tol > 0.0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "tolerance %g is not positive", o->tol);
    if (o->max_iterations == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "max_iterations must be at least 1");
    return CAI_OK;
}

void cai_loopy_free(cai_loopy *lp)
{
    if (lp == NULL)
        return;
    if (lp->factors)
        for (size_t f = 0; f < lp->n_factors; f++)
            cai_potential_unref(lp->factors[f].p);
    for (size_t i = 0; i < lp->n_bufs; i++)
        free(lp->bufs[i]);
    free(lp->bufs);
    free(lp->card); free(lp->off); free(lp->evidence);
    free(lp->vedge_off); free(lp->vedge); free(lp->unary_off); free(lp->unary);
    free(lp->factors); free(lp->scopes); free(lp->positions);
    free(lp->clusters); free(lp->members);
    free(lp->edge_cluster); free(lp->edge_pos); free(lp->edge_var); free(lp->m_off);
    free(lp->stride);
    free(lp->local); free(lp->msg); free(lp->pend); free(lp->q);
    free(lp->res); free(lp->heap); free(lp->hpos); free(lp->assign);
    lscratch *s = &lp->s;
    free(s->row_a); free(s->row_b); free(s->col); free(s->acc); free(s->cav); free(s->out);
    free(s->tmp); free(s->idx); free(s->best); free(s->aoff); free(s->mu); free(s->outp);
    free(s->queue); free(s->seen);
    free(lp);
}

/* ---- analysis ---- */

/* Does h come before f in the absorption order (larger arity, then lower
 * index), as in cai_plan? */
static bool comes_before(const cai_graph *g, size_t h, size_t f)
{
    size_t kh = g->factors[h].k, kf = g->factors[f].k;
    return kh != kf ? kh > kf : h < f;
}

/* The host of every factor of arity >= 2: itself, or the first factor in
 * the absorption order whose scope contains its scope. mark is n_vars
 * stamps, adj/adj_off the variable -> factor (arity >= 2) adjacency. */
static void find_hosts(const cai_graph *g, const size_t *adj_off, const size_t *adj,
                       size_t *mark, size_t *host)
{
    for (size_t f = 0; f < g->n_factors; f++) {
        const factor *F = &g->factors[f];
        host[f] = CAI_NONE;
        if (F->k < 2)
            continue;
        size_t best_v = F->scope[0];
        for (size_t i = 0; i < F->k; i++) {
            size_t v = F->scope[i];
            mark[v] = f + 1;
            if (adj_off[v + 1] - adj_off[v] < adj_off[best_v + 1] - adj_off[best_v])
                best_v = v;
        }
        size_t best = f;
        for (size_t j = adj_off[best_v]; j < adj_off[best_v + 1]; j++) {
            size_t h = adj[j];
            if (h == f || !comes_before(g, h, best))
                continue;
            const factor *H = &g->factors[h];
            size_t hits = 0;
            for (size_t i = 0; i < H->k; i++)
                hits += mark[H->scope[i]] == f + 1;
            if (hits == F->k)
                best = h;
        }
        host[f] = best;
    }
    /* the first in the order among the supersets is never absorbed itself:
     * a superset of it would be a superset of f coming earlier */
}

/* Do clusters c and d get the same row terms (same host potential, same
 * non-column absorbed factors at the same positions)? */
static bool same_row_terms(const cai_loopy *lp, const lcluster *c, const lcluster *d)
{
    if (c->p != d->p || c->n_mem - c->n_col != d->n_mem - d->n_col)
        return false;
    size_t i = 0, j = 0;
    for (;;) {
        while (i < c->n_mem && loopy_touches_column(&lp->factors[c->mem[i]], c))
            i++;
        while (j < d->n_mem && loopy_touches_column(&lp->factors[d->mem[j]], d))
            j++;
        if (i == c->n_mem || j == d->n_mem)
            return i == c->n_mem && j == d->n_mem;
        const lfactor *a = &lp->factors[c->mem[i++]], *b = &lp->factors[d->mem[j++]];
        if (a->p != b->p || a->sr != b->sr || a->k != b->k)
            return false;
        for (size_t t = 0; t < a->k; t++)
            if (a->pos[t] != b->pos[t])
                return false;
    }
}

double loopy_factor_value(const cai_loopy *lp, size_t f, const size_t *idx)
{
    const lfactor *F = &lp->factors[f];
    size_t row = 0;
    for (size_t j = 0; j + 1 < F->k; j++)
        row = row * F->p->cards[j] + idx[F->pos[j]];
    return potential_log_value_sr(F->p, row, idx[F->pos[F->k - 1]], F->sr);
}

/* The row terms of cluster c, or reuse those of prev. */
static cai_status build_row_terms(cai_loopy *lp, lcluster *c, const lcluster *prev,
                                  cai_error *err)
{
    if (c->n_mem == c->n_col)
        return CAI_OK;
    if (prev && prev->xrow && same_row_terms(lp, c, prev)) {
        c->xrow = prev->xrow;
        return CAI_OK;
    }
    size_t R = c->p->n_rows, kp = c->k - 1;
    double *x = loopy_alloc(R, sizeof(double));
    if (x == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    lp->bufs[lp->n_bufs++] = x;
    lp->buf_total += R;
    size_t *idx = lp->s.idx; /* allocated before the clusters */
    for (size_t i = 0; i < c->k; i++)
        idx[i] = 0;
    for (size_t r = 0; r < R; r++) {
        double s = 0.0;
        for (size_t m = 0; m < c->n_mem; m++)
            if (!loopy_touches_column(&lp->factors[c->mem[m]], c))
                s += loopy_factor_value(lp, c->mem[m], idx);
        x[r] = s;
        for (size_t i = kp; i-- > 0;) {
            if (++idx[i] < c->p->cards[i])
                break;
            idx[i] = 0;
        }
    }
    c->xrow = x;
    return CAI_OK;
}

/* Copy the variables and factors of g (one reference per factor). */
static cai_status copy_graph(cai_loopy *lp, const cai_graph *g, cai_error *err)
{
    size_t nv = g->n_vars, nf = g->n_factors, n_scope = 0;
    for (size_t f = 0; f < nf; f++)
        if (!cai_size_add(n_scope, g->factors[f].k, &n_scope))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many scope entries");
    lp->n_vars = nv;
    lp->n_factors = nf;
    lp->card = loopy_alloc(nv, sizeof(size_t));
    lp->off = loopy_alloc(nv, sizeof(size_t));
    lp->evidence = loopy_alloc(nv, sizeof(size_t));
    lp->unary_off = loopy_alloc(nv + 1, sizeof(size_t));
    lp->factors = loopy_alloc(nf, sizeof(lfactor));
    lp->scopes = loopy_alloc(n_scope, sizeof(size_t));
    lp->positions = loopy_alloc(n_scope, sizeof(size_t));
    if (!lp->card || !lp->off || !lp->evidence || !lp->unary_off || !lp->factors
        || !lp->scopes || !lp->positions)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t v = 0; v < nv; v++) {
        lp->card[v] = g->vars[v].card;
        lp->evidence[v] = g->vars[v].evidence;
        lp->off[v] = lp->var_total;
        if (!cai_size_add(lp->var_total, lp->card[v], &lp->var_total))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many states");
        lp->max_card = lp->card[v] > lp->max_card ? lp->card[v] : lp->max_card;
    }
    size_t at = 0, n_unary = 0;
    for (size_t f = 0; f < nf; f++) {
        const factor *F = &g->factors[f];
        lfactor *L = &lp->factors[f];
        L->p = cai_potential_ref(F->p);
        L->k = F->k;
        L->scope = lp->scopes + at;
        L->pos = lp->positions + at;
        memcpy(L->scope, F->scope, F->k * sizeof(size_t));
        at += F->k;
        L->sr = F->mode == CAI_MODE_SUPPORT ? SR_SUPPORT : SR_SUM;
        L->cluster = CAI_NONE;
        if (F->k == 1) {
            lp->unary_off[F->scope[0] + 1]++;
            n_unary++;
        }
    }
    for (size_t v = 0; v < nv; v++)
        lp->unary_off[v + 1] += lp->unary_off[v];
    lp->unary = loopy_alloc(n_unary, sizeof(size_t));
    size_t *fill = loopy_alloc(nv, sizeof(size_t));
    if (!lp->unary || !fill) {
        free(fill);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(fill, lp->unary_off, nv * sizeof(size_t));
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k == 1)
            lp->unary[fill[g->factors[f].scope[0]]++] = f;
    free(fill);
    return CAI_OK;
}

/* Clusters, absorbed members and row terms, from the hosts. */
static cai_status build_clusters(cai_loopy *lp, const size_t *host, cai_error *err)
{
    size_t nf = lp->n_factors;
    size_t *cl_of = loopy_alloc(nf, sizeof(size_t));
    size_t *count = NULL;
    cai_status st = CAI_OK;
    if (cl_of == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t f = 0; f < nf; f++)
        if (host[f] == f)
            cl_of[f] = lp->n_clusters++;
    lp->clusters = loopy_alloc(lp->n_clusters, sizeof(lcluster));
    lp->members = loopy_alloc(nf, sizeof(size_t));
    lp->bufs = loopy_alloc(lp->n_clusters, sizeof(double *));
    count = loopy_alloc(lp->n_clusters + 1, sizeof(size_t));
    if (!lp->clusters || !lp->members || !lp->bufs || !count) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t f = 0; f < nf; f++)
        if (host[f] != CAI_NONE && host[f] != f)
            count[cl_of[host[f]] + 1]++;
    for (size_t c = 0; c < lp->n_clusters; c++)
        count[c + 1] += count[c];
    for (size_t f = 0; f < nf; f++) {
        if (host[f] == CAI_NONE)
            continue;
        size_t c = cl_of[host[f]];
        lcluster *C = &lp->clusters[c];
        if (host[f] == f) {
            const lfactor *H = &lp->factors[f];
            C->host = f;
            C->p = H->p;
            C->k = H->k;
            C->vars = H->scope;
            C->sr = H->sr;
            C->mem = lp->members + count[c];
        } else {
            lp->members[count[c] + C->n_mem++] = f;
        }
    }
    /* positions of every factor in its cluster */
    for (size_t f = 0; f < nf; f++) {
        lfactor *F = &lp->factors[f];
        if (host[f] == CAI_NONE)
            continue;
        F->cluster = cl_of[host[f]];
        const lcluster *C = &lp->clusters[F->cluster];
        for (size_t i = 0; i < F->k; i++)
            for (size_t j = 0; j < C->k; j++)
                if (C->vars[j] == F->scope[i])
                    F->pos[i] = j;
    }
    for (size_t c = 0; c < lp->n_clusters; c++) {
        lcluster *C = &lp->clusters[c];
        for (size_t m = 0; m < C->n_mem; m++)
            C->n_col += loopy_touches_column(&lp->factors[C->mem[m]], C);
        const cai_potential *p = C->p;
        lp->max_rows = p->n_rows > lp->max_rows ? p->n_rows : lp->max_rows;
        lp->max_cols = p->n_cols > lp->max_cols ? p->n_cols : lp->max_cols;
        lp->max_k = C->k > lp->max_k ? C->k : lp->max_k;
        size_t cc = 0;
        for (size_t j = 0; j < C->k; j++)
            cc += p->cards[j]; /* cannot overflow: each is a variable's card */
        lp->max_ccards = cc > lp->max_ccards ? cc : lp->max_ccards;
    }
    lp->s.idx = loopy_alloc(lp->max_k, sizeof(size_t));
    if (lp->s.idx == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    const lcluster *prev = NULL;
    for (size_t c = 0; c < lp->n_clusters && st == CAI_OK; c++) {
        st = build_row_terms(lp, &lp->clusters[c], prev, err);
        if (lp->clusters[c].xrow)
            prev = &lp->clusters[c];
    }
done:
    free(cl_of);
    free(count);
    return st;
}

/* Edges, message offsets, strides and the variable -> edge adjacency. */
static cai_status build_edges(cai_loopy *lp, cai_error *err)
{
    size_t ne = 0;
    for (size_t c = 0; c < lp->n_clusters; c++) {
        lp->clusters[c].e0 = ne;
        ne += lp->clusters[c].k; /* bounded by the scope pool */
    }
    lp->n_edges = ne;
    lp->edge_cluster = loopy_alloc(ne, sizeof(size_t));
    lp->edge_pos = loopy_alloc(ne, sizeof(size_t));
    lp->edge_var = loopy_alloc(ne, sizeof(size_t));
    lp->m_off = loopy_alloc(ne, sizeof(size_t));
    lp->stride = loopy_alloc(ne, sizeof(size_t));
    lp->vedge_off = loopy_alloc(lp->n_vars + 1, sizeof(size_t));
    lp->vedge = loopy_alloc(ne, sizeof(size_t));
    size_t *fill = loopy_alloc(lp->n_vars, sizeof(size_t));
    if (!lp->edge_cluster || !lp->edge_pos || !lp->edge_var || !lp->m_off || !lp->stride
        || !lp->vedge_off || !lp->vedge || !fill) {
        free(fill);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    for (size_t c = 0; c < lp->n_clusters; c++) {
        const lcluster *C = &lp->clusters[c];
        size_t stride = 1;
        for (size_t j = C->k; j-- > 0;) {
            size_t e = C->e0 + j, v = C->vars[j];
            lp->edge_cluster[e] = c;
            lp->edge_pos[e] = j;
            lp->edge_var[e] = v;
            lp->stride[e] = j + 1 == C->k ? 1 : stride;
            if (j + 1 < C->k)
                stride *= C->p->cards[j];
            lp->vedge_off[v + 1]++;
        }
    }
    for (size_t e = 0; e < ne; e++) {
        lp->m_off[e] = lp->msg_total;
        if (!cai_size_add(lp->msg_total, lp->card[lp->edge_var[e]], &lp->msg_total)) {
            free(fill);
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many message entries");
        }
    }
    for (size_t v = 0; v < lp->n_vars; v++)
        lp->vedge_off[v + 1] += lp->vedge_off[v];
    memcpy(fill, lp->vedge_off, lp->n_vars * sizeof(size_t));
    for (size_t e = 0; e < ne; e++)
        lp->vedge[fill[lp->edge_var[e]]++] = e;
    free(fill);
    return CAI_OK;
}

static cai_status alloc_state(cai_loopy *lp, cai_error *err)
{
    size_t nv = lp->n_vars, ne = lp->n_edges, nc = lp->n_clusters, cols2;
    lscratch *s = &lp->s;
    if (!cai_size_mul(lp->max_cols, 2, &cols2))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many columns");
    lp->local = loopy_alloc(lp->var_total, sizeof(double));
    lp->q = loopy_alloc(lp->var_total, sizeof(double));
    lp->msg = loopy_alloc(lp->msg_total, sizeof(double));
    lp->pend = loopy_alloc(lp->msg_total, sizeof(double));
    lp->res = loopy_alloc(ne, sizeof(double));
    lp->heap = loopy_alloc(ne, sizeof(size_t));
    lp->hpos = loopy_alloc(ne, sizeof(size_t));
    lp->assign = loopy_alloc(nv, sizeof(size_t));
    s->row_a = loopy_alloc(lp->max_rows, sizeof(double));
    s->row_b = loopy_alloc(lp->max_rows, sizeof(double));
    s->col = loopy_alloc(cols2, sizeof(double));
    s->acc = loopy_alloc(lp->max_ccards, sizeof(cai_lse));
    s->cav = loopy_alloc(lp->max_ccards, sizeof(double));
    s->out = loopy_alloc(lp->max_ccards, sizeof(double));
    s->tmp = loopy_alloc(lp->max_card, sizeof(double));
    s->best = loopy_alloc(lp->max_k, sizeof(size_t));
    s->aoff = loopy_alloc(lp->max_k, sizeof(size_t));
    s->mu = loopy_alloc(lp->max_k, sizeof(double *));
    s->outp = loopy_alloc(lp->max_k, sizeof(double *));
    s->queue = loopy_alloc(nc, sizeof(size_t));
    s->seen = loopy_alloc(nc + nv, 1);
    if (!lp->local || !lp->q || !lp->msg || !lp->pend || !lp->res || !lp->heap || !lp->hpos
        || !lp->assign || !s->row_a || !s->row_b || !s->col || !s->acc || !s->cav || !s->out
        || !s->tmp || !s->best || !s->aoff || !s->mu || !s->outp || !s->queue || !s->seen)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    return CAI_OK;
}

cai_status cai_loopy_create(const cai_graph *g, const cai_loopy_options *opt,
                            cai_loopy **out_lp, cai_error *err)
{
    if (g == NULL || out_lp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_loopy_options o = opt ? *opt : cai_loopy_options_default();
    cai_status st = check_options(&o, err);
    if (st != CAI_OK)
        return st;
    for (size_t f = 0; f < g->n_factors; f++)
        if (g->factors[f].mode == CAI_MODE_EXPECTATION)
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "factor %zu is in expectation mode, which loopy belief "
                                 "propagation does not support (plan it with cai_plan_create)",
                                 f);
    cai_loopy *lp = calloc(1, sizeof *lp);
    if (lp == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    lp->opt = o;
    size_t nv = g->n_vars, nf = g->n_factors, n_adj = 0;
    size_t *adj_off = NULL, *adj = NULL, *mark = NULL, *host = NULL;
    if ((st = copy_graph(lp, g, err)) != CAI_OK)
        goto fail;
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            n_adj += g->factors[f].k; /* bounded by the scope pool */
    adj_off = loopy_alloc(nv + 1, sizeof(size_t));
    adj = loopy_alloc(n_adj, sizeof(size_t));
    mark = loopy_alloc(nv, sizeof(size_t));
    host = loopy_alloc(nf, sizeof(size_t));
    if (!adj_off || !adj || !mark || !host) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                adj_off[g->factors[f].scope[i] + 1]++;
    for (size_t v = 0; v < nv; v++)
        adj_off[v + 1] += adj_off[v];
    memcpy(mark, adj_off, nv * sizeof(size_t)); /* a cursor first */
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                adj[mark[g->factors[f].scope[i]]++] = f;
    memset(mark, 0, (nv ? nv : 1) * sizeof(size_t));
    find_hosts(g, adj_off, adj, mark, host);
    if ((st = build_clusters(lp, host, err)) != CAI_OK || (st = build_edges(lp, err)) != CAI_OK
        || (st = alloc_state(lp, err)) != CAI_OK)
        goto fail;
    free(adj_off);
    free(adj);
    free(mark);
    free(host);
    lp->max_residual = NAN;
    lp->log_z = NAN;
    lp->res_factor = lp->res_var = CAI_NONE;
    *out_lp = lp;
    return CAI_OK;
fail:
    free(adj_off);
    free(adj);
    free(mark);
    free(host);
    cai_loopy_free(lp);
    return st;
}

cai_status cai_loopy_set_evidence(cai_loopy *lp, size_t var, size_t state, cai_error *err)
{
    if (lp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= lp->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu",
                             var);
    if (state != CAI_NONE && state >= lp->card[var])
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "state %zu is out of range (variable %zu has %zu states)", state,
                             var, lp->card[var]);
    lp->evidence[var] = state;
    lp->ran = false;
    return CAI_OK;
}

size_t cai_loopy_n_clusters(const cai_loopy *lp) { return lp ? lp->n_clusters : 0; }
size_t cai_loopy_n_messages(const cai_loopy *lp) { return lp ? lp->n_edges : 0; }

size_t cai_loopy_message_bytes(const cai_loopy *lp)
{
    if (lp == NULL)
        return 0;
    size_t rows = lp->buf_total; /* the row terms of absorbed factors */
    size_t d = 2 * lp->var_total + 2 * lp->msg_total + lp->n_edges + 2 * lp->max_rows
               + 2 * lp->max_cols + 2 * lp->max_ccards + lp->max_card;
    return (d + rows) * sizeof(double) + lp->max_ccards * sizeof(cai_lse)
           + (3 * lp->n_edges + lp->n_vars + 2 * lp->max_k + lp->n_clusters) * sizeof(size_t)
           + 2 * lp->max_k * sizeof(double *) + lp->n_clusters + lp->n_vars;
}

cai_status cai_loopy_run(cai_loopy *lp, cai_error *err)
{
    if (lp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    return loopy_run(lp, err);
}

