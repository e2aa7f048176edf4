/* lib/engine/jtree_query.c — a compiled junction tree's evidence, run and
 * queries: marginals and factor beliefs by summing clique states, the MAP
 * assignment by decoding them, and the tree's sizes (see cai/jtree.h). */
#include "jtree_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cai_status cai_jtree_set_evidence(cai_jtree *jt, size_t var, size_t state, cai_error *err)
{
    if (jt == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL junction tree");
    if (var >= jt->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    if (state != CAI_NONE && state >= jt->card[var])
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "evidence state %zu of variable %zu: cardinality is %zu", state,
                             var, jt->card[var]);
    if (!jt->compiled) {
        cai_status st = cai_workspace_set_evidence(jt->ws, var, state, err);
        if (st != CAI_OK)
            return st;
    }
    jt->ev[var] = state;
    jt->ran = false;
    return CAI_OK;
}

/* Evidence as 0 / -inf soft evidence on each clamped variable's home clique. */
static cai_status apply_evidence(cai_jtree *jt, cai_error *err)
{
    double *buf = NULL;
    size_t scratch[3 * 64], *big_scratch = NULL;
    cai_status st = CAI_OK;
    for (size_t c = 0; c < jt->s.n_cliques && st == CAI_OK; c++) {
        size_t a = jt->s.off[c], kc = jt->s.off[c + 1] - a;
        bool any = false;
        for (size_t x = a; x < a + kc; x++)
            any = any || (jt->ev[jt->s.vars[x]] != CAI_NONE && jt->home[jt->s.vars[x]] == c);
        if (!any) {
            st = cai_workspace_set_soft_evidence(jt->ws, c, NULL, err);
            continue;
        }
        size_t *sc = scratch;
        if (kc > 64) {
            free(big_scratch);
            sc = big_scratch = jt_calloc(3 * kc, sizeof(size_t));
        }
        free(buf);
        buf = jt_calloc(jt->cl_card[c], sizeof(double));
        if (buf == NULL || sc == NULL) {
            st = jt_nomem(err);
            break;
        }
        /* the clique's joint states in order; clamp[t]: the evidence of
         * position t when this is its variable's home, else CAI_NONE */
        size_t *digit = sc, *card = sc + kc, *clamp = sc + 2 * kc;
        for (size_t t = 0; t < kc; t++) {
            size_t v = jt->s.vars[a + t];
            digit[t] = 0;
            card[t] = jt->card[v];
            clamp[t] = jt->home[v] == c ? jt->ev[v] : CAI_NONE;
        }
        size_t bad = 0; /* positions whose digit breaks its clamp */
        for (size_t t = 0; t < kc; t++)
            bad += clamp[t] != CAI_NONE && clamp[t] != 0;
        for (size_t s = 0; s < jt->cl_card[c]; s++) {
            buf[s] = bad ? -INFINITY : 0.0;
            for (size_t t = kc; t-- > 0;) {
                size_t old = digit[t];
                digit[t] = old + 1 < card[t] ? old + 1 : 0;
                if (clamp[t] != CAI_NONE)
                    bad += (digit[t] != clamp[t]) - (old != clamp[t]);
                if (digit[t] != 0)
                    break;
            }
        }
        st = cai_workspace_set_soft_evidence(jt->ws, c, buf, err);
    }
    free(buf);
    free(big_scratch);
    return st;
}

cai_status cai_jtree_run(cai_jtree *jt, cai_error *err)
{
    if (jt == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL junction tree");
    jt->ran = false;
    cai_status st = jt->compiled ? apply_evidence(jt, err) : CAI_OK;
    if (st == CAI_OK)
        st = cai_plan_execute(jt->plan, jt->ws, err);
    jt->ran = st == CAI_OK;
    return st;
}

static cai_status ready(const cai_jtree *jt, cai_algorithm alg, cai_error *err)
{
    if (jt == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL junction tree");
    if (!jt->ran)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the junction tree has not been run (call cai_jtree_run first)");
    if (jt->alg != alg)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0, "this query needs a %s junction tree",
                             alg == CAI_SUM_PRODUCT ? "sum-product" : "max-product");
    return CAI_OK;
}

double cai_jtree_log_z(const cai_jtree *jt)
{
    return jt && jt->ran ? cai_query_log_z(jt->ws) : NAN;
}

/* The marginal of clique c into a fresh array *out_q (caller frees). */
static cai_status clique_marginal(const cai_jtree *jt, size_t c, double **out_q, cai_error *err)
{
    double *q = jt_calloc(jt->cl_card[c], sizeof(double));
    if (q == NULL)
        return jt_nomem(err);
    cai_status st = cai_query_marginal(jt->ws, c, q, err);
    if (st != CAI_OK) {
        free(q);
        return st;
    }
    *out_q = q;
    return CAI_OK;
}

cai_status cai_jtree_marginal(const cai_jtree *jt, size_t var, double *out, cai_error *err)
{
    cai_status st = ready(jt, CAI_SUM_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    if (var >= jt->n_vars || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             out ? "unknown variable index %zu" : "NULL output (variable %zu)", var);
    if (!jt->compiled)
        return cai_query_marginal(jt->ws, var, out, err);
    size_t c = jt->home[var], stride = 1, card = jt->card[var];
    for (size_t x = jt->s.off[c + 1]; x-- > jt->s.off[c] && jt->s.vars[x] != var;)
        stride *= jt->card[jt->s.vars[x]];
    double *q = NULL;
    if ((st = clique_marginal(jt, c, &q, err)) != CAI_OK)
        return st;
    for (size_t x = 0; x < card; x++)
        out[x] = 0.0;
    for (size_t s = 0; s < jt->cl_card[c]; s++)
        out[(s / stride) % card] += q[s];
    free(q);
    return CAI_OK;
}

cai_status cai_jtree_factor_belief(const cai_jtree *jt, size_t f, double *out, cai_error *err)
{
    cai_status st = ready(jt, CAI_SUM_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    if (f >= jt->n_factors || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             out ? "unknown factor index %zu" : "NULL output (factor %zu)", f);
    if (!jt->compiled)
        return cai_query_factor_belief(jt->ws, f, out, err);
    size_t c = jt->f_clique[f], kc = jt->s.off[c + 1] - jt->s.off[c];
    size_t k = jt->f_off[f + 1] - jt->f_off[f], size = 1;
    const size_t *scope = jt->f_scope + jt->f_off[f];
    for (size_t i = 0; i < k; i++)
        size *= jt->card[scope[i]];
    size_t *sc = jt_calloc(3 * kc, sizeof(size_t));
    double *q = NULL;
    if (sc == NULL)
        return jt_nomem(err);
    if ((st = clique_marginal(jt, c, &q, err)) != CAI_OK) {
        free(sc);
        return st;
    }
    jt_clique_strides(jt, c, scope, k, sc + kc, sc + 2 * kc);
    for (size_t x = 0; x < size; x++)
        out[x] = 0.0;
    size_t idx = 0;
    for (size_t s = 0; s < jt->cl_card[c]; s++) {
        out[idx] += q[s];
        jt_odo_next(kc, sc + kc, sc + 2 * kc, sc, &idx);
    }
    free(q);
    free(sc);
    return CAI_OK;
}

cai_status cai_jtree_map(const cai_jtree *jt, size_t *out, double *out_log_score, cai_error *err)
{
    cai_status st = ready(jt, CAI_MAX_PRODUCT, err);
    if (st != CAI_OK)
        return st;
    if (!jt->compiled)
        return cai_query_map(jt->ws, out, out_log_score, err);
    size_t nt = cai_graph_n_variables(jt->tree);
    size_t *assign = jt_calloc(nt, sizeof(size_t));
    if (assign == NULL)
        return jt_nomem(err);
    double score;
    st = cai_query_map(jt->ws, assign, &score, err);
    if (st == CAI_OK && out) {
        for (size_t v = 0; v < jt->n_vars; v++) {
            size_t c = jt->home[v], stride = 1;
            for (size_t x = jt->s.off[c + 1]; x-- > jt->s.off[c] && jt->s.vars[x] != v;)
                stride *= jt->card[jt->s.vars[x]];
            out[v] = (assign[c] / stride) % jt->card[v];
        }
    }
    if (st == CAI_OK && out_log_score)
        *out_log_score = score;
    free(assign);
    return st;
}

bool cai_jtree_is_compiled(const cai_jtree *jt)
{
    return jt && jt->compiled;
}

size_t cai_jtree_n_cliques(const cai_jtree *jt)
{
    return jt ? jt->n_cliques : 0;
}

size_t cai_jtree_max_clique_entries(const cai_jtree *jt)
{
    return jt ? jt->max_entries : 0;
}

size_t cai_jtree_treewidth(const cai_jtree *jt)
{
    return jt ? jt->treewidth : 0;
}

const size_t *cai_jtree_clique(const cai_jtree *jt, size_t c, size_t *out_k)
{
    if (jt == NULL || !jt->compiled || c >= jt->s.n_cliques)
        return NULL;
    if (out_k)
        *out_k = jt->s.off[c + 1] - jt->s.off[c];
    return jt->s.vars + jt->s.off[c];
}

size_t cai_jtree_message_bytes(const cai_jtree *jt)
{
    if (jt == NULL || jt->plan == NULL)
        return 0;
    return cai_plan_workspace_bytes(jt->plan) + jt->expanded_bytes;
}

const cai_graph *cai_jtree_tree_graph(const cai_jtree *jt)
{
    return jt && jt->compiled ? jt->tree : NULL;
}
