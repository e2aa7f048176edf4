/* lib/engine/workspace.c — the mutable half of plan / execute: message
 * storage, evidence, soft evidence and results of one executor. */
#include "plan_impl.h"

#include "bigmem.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The max_rows scratch rows serve the downward pass and messages to a
 * cluster's child; upward messages to a parent stream over the rows. */
static bool plan_needs_rows(const cai_plan *plan)
{
    if (!plan->upward_only)
        return true;
    for (size_t i = 0; i < plan->n_clusters; i++)
        if (plan->clusters[i].up + 1 == plan->clusters[i].k)
            return true;
    return false;
}

/* Copies of a child's message the upward pass keeps: one per thread (as
 * many as OpenMP would start now; an execute with more threads uses this
 * many) when it is small enough to stay in a core's cache, else one. */
static size_t col_copies(const cai_plan *plan)
{
    return plan->max_cols <= COPY_MAX ? (size_t)cai_threads_max(CAI_MAX_COPIES) : 1;
}

size_t cai_plan_workspace_bytes(const cai_plan *plan)
{
    size_t down = plan->upward_only ? 0 : plan->var_total + plan->msg_total;
    size_t d = plan->var_total + down + (plan_needs_rows(plan) ? 2 * plan->max_rows : 0)
               + (3 + col_copies(plan)) * plan->max_cols + 2 * plan->max_parent_cards
               + 2 * plan->max_card + 2 * plan->max_inner;
    return d * sizeof(double) + (2 * plan->n_vars + 3 * plan->max_k) * sizeof(size_t)
           + 2 * plan->max_k * sizeof(double *) + CAI_MAX_COPIES * sizeof(chunk_run);
}

void cai_workspace_free(cai_workspace *ws)
{
    if (ws == NULL)
        return;
    if (ws->soft)
        for (size_t v = 0; v < ws->plan->n_vars; v++)
            free(ws->soft[v]);
    free(ws->soft);
    free(ws->evidence); free(ws->assign);
    free(ws->umax); free(ws->fresh);
    big_cache_put(ws->u_cache, ws->U); big_free(ws->q); big_free(ws->M);
    big_free(ws->row_a); big_free(ws->row_b);
    big_free(ws->col_a); big_free(ws->col_b); big_free(ws->col_t);
    free(ws->runs); free(ws->acc); free(ws->idx); free(ws->vbuf); free(ws->mbuf);
    free(ws->inner); free(ws->vecs);
    free(ws);
}

cai_status cai_workspace_create(const cai_plan *plan, cai_workspace **out_ws, cai_error *err)
{
    return cai_workspace_create_cached(plan, NULL, out_ws, err);
}

cai_status cai_buffer_cache_create(cai_buffer_cache **out_cache, cai_error *err)
{
    if (out_cache == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_buffer_cache *c = calloc(1, sizeof *c); /* empty */
    if (c == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    atomic_flag_clear(&c->lock);
    *out_cache = c;
    return CAI_OK;
}

void cai_buffer_cache_free(cai_buffer_cache *cache)
{
    big_cache_clear(cache);
    free(cache);
}

cai_status cai_workspace_create_cached(const cai_plan *plan, cai_buffer_cache *cache,
                                       cai_workspace **out_ws, cai_error *err)
{
    if (plan == NULL || out_ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_workspace *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    ws->plan = plan;
    ws->evidence = alloc_array(plan->n_vars, sizeof(size_t));
    ws->soft = alloc_array(plan->n_vars, sizeof(double *));
    ws->assign = alloc_array(plan->n_vars, sizeof(size_t));
    ws->umax = alloc_array(plan->n_vars, sizeof(double));
    ws->fresh = alloc_array(plan->n_vars, sizeof(bool));
    ws->u_cache = cache;
    ws->U = big_cache_take(cache, plan->var_total, sizeof(double)); /* execute writes it whole */
    bool down = !plan->upward_only;
    ws->q = down ? big_alloc(plan->var_total, sizeof(double)) : NULL;
    ws->M = down ? big_alloc(plan->msg_total, sizeof(double)) : NULL;
    ws->mbuf = alloc_array(plan->max_card, sizeof(double));
    bool rows = plan_needs_rows(plan);
    ws->row_a = rows ? big_alloc(plan->max_rows, sizeof(double)) : NULL;
    ws->row_b = rows ? big_alloc(plan->max_rows, sizeof(double)) : NULL;
    ws->inner = alloc_array(2 * plan->max_inner, sizeof(double));
    ws->vecs = alloc_array(2 * plan->max_k, sizeof(double *));
    size_t n_el;
    ws->col_a = cai_size_mul(plan->max_cols, 2, &n_el) ? big_alloc(n_el, sizeof(double)) : NULL;
    ws->col_b = big_alloc(plan->max_cols, sizeof(double));
    ws->n_col_t = col_copies(plan);
    ws->col_t = cai_size_mul(plan->max_cols, ws->n_col_t, &n_el)
                    ? big_alloc_uninit(n_el, sizeof(double))
                    : NULL;
    ws->runs = aligned_alloc(alignof(chunk_run), 2 * CAI_MAX_COPIES * sizeof(chunk_run));
    ws->acc = alloc_array(plan->max_parent_cards, sizeof(cai_lse));
    ws->idx = alloc_array(3 * plan->max_k, sizeof(size_t));
    ws->vbuf = alloc_array(plan->max_card, sizeof(double));
    if (!ws->soft || !ws->umax || !ws->fresh || !ws->vbuf
        || !ws->mbuf || !ws->evidence || !ws->assign || !ws->U
        || (down && (!ws->q || !ws->M)) || (rows && (!ws->row_a || !ws->row_b))
        || !ws->inner || !ws->vecs
        || !ws->col_a || !ws->col_b || !ws->col_t || !ws->runs || !ws->acc || !ws->idx) {
        cai_workspace_free(ws);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0,
                             "out of memory for a workspace of %zu bytes",
                             cai_plan_workspace_bytes(plan));
    }
    for (size_t v = 0; v < plan->n_vars; v++)
        ws->evidence[v] = plan->vars[v].evidence;
    *out_ws = ws;
    return CAI_OK;
}

cai_status cai_workspace_set_evidence(cai_workspace *ws, size_t var, size_t state,
                                      cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= ws->plan->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    if (state != CAI_NONE && state >= ws->plan->vars[var].card)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "evidence %zu for variable %zu is out of range (%zu states)",
                             state, var, ws->plan->vars[var].card);
    ws->evidence[var] = state;
    ws->executed = false;
    return CAI_OK;
}

cai_status cai_workspace_set_soft_evidence(cai_workspace *ws, size_t var,
                                           const double *log_values, cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= ws->plan->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    size_t card = ws->plan->vars[var].card;
    if (log_values == NULL) {
        free(ws->soft[var]);
        ws->soft[var] = NULL;
        ws->executed = false;
        return CAI_OK;
    }
    for (size_t x = 0; x < card; x++)
        if (isnan(log_values[x]) || log_values[x] == INFINITY)
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "soft evidence for variable %zu: entry %zu is %g", var, x,
                                 log_values[x]);
    if (ws->soft[var] == NULL && (ws->soft[var] = alloc_array(card, sizeof(double))) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(ws->soft[var], log_values, card * sizeof(double));
    ws->executed = false;
    return CAI_OK;
}
