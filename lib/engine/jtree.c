/* lib/engine/jtree.c — compile a graph with cycles into a tree of clique and
 * separator variables that cai_plan solves exactly (see cai/jtree.h); the
 * queries are in jtree_query.c. */
#include "jtree_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cai_jtree_options cai_jtree_options_default(void)
{
    return (cai_jtree_options){.algorithm = CAI_SUM_PRODUCT, .max_clique_entries = 1e8,
                               .compile_forests = false};
}

void cai_jtree_free(cai_jtree *jt)
{
    if (jt == NULL)
        return;
    cai_workspace_free(jt->ws);
    cai_plan_free(jt->plan);
    cai_graph_free(jt->tree);
    jt_structure_free(&jt->s);
    free(jt->card); free(jt->ev); free(jt->cl_card); free(jt->home);
    free(jt->f_clique); free(jt->f_off); free(jt->f_scope);
    free(jt);
}

void jt_clique_strides(const cai_jtree *jt, size_t c, const size_t *sub, size_t k_sub,
                       size_t *card, size_t *stride)
{
    const size_t *cv = jt->s.vars + jt->s.off[c];
    size_t k = jt->s.off[c + 1] - jt->s.off[c];
    for (size_t t = 0; t < k; t++) {
        card[t] = jt->card[cv[t]];
        stride[t] = 0;
        size_t sd = 1;
        for (size_t i = k_sub; i-- > 0;) {
            if (sub[i] == cv[t]) {
                stride[t] = sd;
                break;
            }
            sd *= jt->card[sub[i]];
        }
    }
}

/* Is variable v in clique c? (clique variables are increasing) */
static bool in_clique(const cai_jtree *jt, size_t c, size_t v)
{
    size_t lo = jt->s.off[c], hi = jt->s.off[c + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (jt->s.vars[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < jt->s.off[c + 1] && jt->s.vars[lo] == v;
}

/* Joint sizes of the cliques, then the limit, before anything of clique size
 * is allocated. */
static cai_status check_sizes(cai_jtree *jt, const cai_graph *g, double limit, cai_error *err)
{
    size_t m = jt->s.n_cliques, big = 0, big_k = 0;
    double big_d = 0.0;
    bool overflow = false;
    jt->cl_card = jt_calloc(m, sizeof(size_t));
    if (jt->cl_card == NULL)
        return jt_nomem(err);
    for (size_t c = 0; c < m; c++) {
        size_t k = jt->s.off[c + 1] - jt->s.off[c], n = 1;
        double d = 1.0;
        bool ovf = false;
        for (size_t t = 0; t < k; t++) {
            size_t card = jt->card[jt->s.vars[jt->s.off[c] + t]];
            d *= (double)card;
            ovf = ovf || !cai_size_mul(n, card, &n);
        }
        jt->cl_card[c] = ovf ? SIZE_MAX : n;
        if (d > big_d || c == 0) {
            big_d = d;
            big = c;
            overflow = ovf;
        }
        if (k > big_k)
            big_k = k;
    }
    jt->treewidth = big_k ? big_k - 1 : 0;
    jt->max_entries = m ? jt->cl_card[big] : 0;
    if (m == 0 || (!overflow && big_d <= limit))
        return CAI_OK;
    char names[300];
    size_t used = 0, k = jt->s.off[big + 1] - jt->s.off[big];
    names[0] = '\0';
    for (size_t t = 0; t < k; t++) {
        const char *nm = cai_graph_variable_name(g, jt->s.vars[jt->s.off[big] + t]);
        size_t len = strlen(nm);
        if (used + len + 8 >= sizeof names) {
            memcpy(names + used, ", ...", 6);
            break;
        }
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", t ? ", " : "", nm);
    }
    return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                         "junction tree: the largest clique has %.6g joint states "
                         "(%zu variables: %s), more than max_clique_entries = %.6g",
                         big_d, k, names, limit);
}

/* Each variable's home (lowest clique containing it) and each factor's clique
 * (the lowest containing its scope), with the scopes copied. */
static cai_status assign_factors(cai_jtree *jt, const cai_graph *g, cai_error *err)
{
    size_t n = jt->n_vars, nf = jt->n_factors, total = 0;
    jt->home = jt_calloc(n, sizeof(size_t));
    jt->f_clique = jt_calloc(nf, sizeof(size_t));
    jt->f_off = jt_calloc(nf + 1, sizeof(size_t));
    if (!jt->home || !jt->f_clique || !jt->f_off)
        return jt_nomem(err);
    for (size_t v = 0; v < n; v++)
        jt->home[v] = CAI_NONE;
    for (size_t c = jt->s.n_cliques; c-- > 0;)
        for (size_t x = jt->s.off[c]; x < jt->s.off[c + 1]; x++)
            jt->home[jt->s.vars[x]] = c;
    for (size_t f = 0; f < nf; f++) {
        size_t k;
        cai_graph_factor_scope(g, f, &k);
        total += k;
        jt->f_off[f + 1] = total;
    }
    jt->f_scope = jt_calloc(total, sizeof(size_t));
    if (!jt->f_scope)
        return jt_nomem(err);
    for (size_t f = 0; f < nf; f++) {
        size_t k;
        const size_t *scope = cai_graph_factor_scope(g, f, &k);
        memcpy(jt->f_scope + jt->f_off[f], scope, k * sizeof(size_t));
        /* the maximal cliques cover every clique of the moral graph; the
         * first containing scope[0] and the rest is found from its home on */
        size_t c = jt->home[scope[0]];
        for (; c < jt->s.n_cliques; c++) {
            size_t i = 0;
            while (i < k && in_clique(jt, c, scope[i]))
                i++;
            if (i == k)
                break;
        }
        if (c >= jt->s.n_cliques) /* cannot happen for a valid triangulation */
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "junction tree: no clique holds factor %zu", f);
        jt->f_clique[f] = c;
    }
    return CAI_OK;
}

/* Add factor f's values (as its mode weighs them) to the table over clique c. */
static cai_status expand_factor(const cai_jtree *jt, const cai_graph *g, size_t f, size_t c,
                                double *table, size_t *scratch, cai_error *err)
{
    const cai_potential *p = cai_graph_factor_potential(g, f);
    bool support = cai_graph_factor_mode(g, f) == CAI_MODE_SUPPORT;
    size_t k = jt->f_off[f + 1] - jt->f_off[f], kc = jt->s.off[c + 1] - jt->s.off[c];
    const size_t *scope = jt->f_scope + jt->f_off[f];
    size_t size = 1;
    for (size_t i = 0; i < k; i++)
        size *= jt->card[scope[i]]; /* at most the clique's size */
    double *fv = jt_calloc(size, sizeof(double));
    if (fv == NULL)
        return jt_nomem(err);
    size_t *digit = scratch, *card = scratch + kc, *stride = scratch + 2 * kc;
    memset(digit, 0, k * sizeof(size_t));
    for (size_t x = 0; x < size; x++) {
        double lv = cai_potential_log_value(p, digit);
        fv[x] = support ? (lv > -INFINITY ? 0.0 : -INFINITY) : lv;
        for (size_t t = k; t-- > 0;) {
            if (++digit[t] < jt->card[scope[t]])
                break;
            digit[t] = 0;
        }
    }
    jt_clique_strides(jt, c, scope, k, card, stride);
    memset(digit, 0, kc * sizeof(size_t));
    size_t idx = 0;
    for (size_t s = 0; s < jt->cl_card[c]; s++) {
        table[s] += fv[idx];
        jt_odo_next(kc, card, stride, digit, &idx);
    }
    free(fv);
    return CAI_OK;
}

/* The deterministic conditional p(separator e | clique c), scope (c, sep). */
static cai_status add_link(cai_jtree *jt, size_t c, size_t e, const size_t *sep, size_t ks,
                           size_t sep_card, size_t *scratch, cai_error *err)
{
    size_t rows = jt->cl_card[c], kc = jt->s.off[c + 1] - jt->s.off[c];
    size_t *row_ptr = jt_calloc(rows + 1, sizeof(size_t));
    size_t *col = jt_calloc(rows, sizeof(size_t));
    double *prob = jt_calloc(rows, sizeof(double));
    cai_potential *p = NULL;
    cai_status st = CAI_OK;
    if (!row_ptr || !col || !prob) {
        st = jt_nomem(err);
        goto done;
    }
    size_t *digit = scratch, *card = scratch + kc, *stride = scratch + 2 * kc, idx = 0;
    jt_clique_strides(jt, c, sep, ks, card, stride);
    memset(digit, 0, kc * sizeof(size_t));
    for (size_t s = 0; s < rows; s++) {
        row_ptr[s] = s;
        col[s] = idx;
        prob[s] = 1.0;
        jt_odo_next(kc, card, stride, digit, &idx);
    }
    row_ptr[rows] = rows;
    st = cai_potential_csr_create(1, &rows, sep_card, row_ptr, col, prob, &p, err);
    jt->expanded_bytes += rows * (2 * sizeof(size_t) + sizeof(double));
    if (st == CAI_OK) {
        size_t scope[2] = {c, jt->s.n_cliques + e};
        st = cai_graph_add_factor(jt->tree, p, scope, 2, CAI_MODE_NORMAL, NULL, err);
    }
done:
    cai_potential_unref(p);
    free(row_ptr); free(col); free(prob);
    return st;
}

static cai_status build_tree(cai_jtree *jt, const cai_graph *g, cai_error *err)
{
    size_t m = jt->s.n_cliques, max_k = 1, big = 0;
    for (size_t c = 0; c < m; c++) {
        if (jt->s.off[c + 1] - jt->s.off[c] > max_k)
            max_k = jt->s.off[c + 1] - jt->s.off[c];
        if (jt->cl_card[c] > big)
            big = jt->cl_card[c];
    }
    size_t *scratch = jt_calloc(3 * max_k, sizeof(size_t));
    size_t *sep = jt_calloc(max_k, sizeof(size_t));
    size_t *fc_off = jt_calloc(m + 1, sizeof(size_t));
    size_t *fc = jt_calloc(jt->n_factors, sizeof(size_t));
    double *table = NULL;
    cai_potential *p = NULL;
    cai_status st = CAI_OK;
    if (!scratch || !sep || !fc_off || !fc) {
        st = jt_nomem(err);
        goto done;
    }
    if ((st = cai_graph_create(&jt->tree, err)) != CAI_OK)
        goto done;
    char name[48];
    for (size_t c = 0; c < m && st == CAI_OK; c++) {
        snprintf(name, sizeof name, "c%zu", c);
        st = cai_graph_add_variable(jt->tree, name, jt->cl_card[c], NULL, NULL, err);
    }
    for (size_t e = 0; e < jt->s.n_edges && st == CAI_OK; e++) {
        size_t i = jt->s.edge[2 * e], j = jt->s.edge[2 * e + 1], ks = 0, sep_card = 1;
        for (size_t x = jt->s.off[i]; x < jt->s.off[i + 1]; x++)
            if (in_clique(jt, j, jt->s.vars[x])) {
                sep[ks++] = jt->s.vars[x];
                sep_card *= jt->card[jt->s.vars[x]];
            }
        snprintf(name, sizeof name, "s%zu", e);
        st = cai_graph_add_variable(jt->tree, name, sep_card, NULL, NULL, err);
        if (st == CAI_OK)
            st = add_link(jt, i, e, sep, ks, sep_card, scratch, err);
        if (st == CAI_OK)
            st = add_link(jt, j, e, sep, ks, sep_card, scratch, err);
    }
    if (st != CAI_OK)
        goto done;
    /* the factors of each clique, in increasing factor order */
    for (size_t f = 0; f < jt->n_factors; f++)
        fc_off[jt->f_clique[f] + 1]++;
    for (size_t c = 0; c < m; c++)
        fc_off[c + 1] += fc_off[c];
    for (size_t f = 0; f < jt->n_factors; f++) /* advances fc_off[c] to fc_off[c + 1] */
        fc[fc_off[jt->f_clique[f]]++] = f;
    for (size_t c = m; c-- > 0;)
        fc_off[c + 1] = fc_off[c];
    fc_off[0] = 0;
    table = jt_calloc(big, sizeof(double));
    if (table == NULL) {
        st = jt_nomem(err);
        goto done;
    }
    for (size_t c = 0; c < m && st == CAI_OK; c++) {
        if (fc_off[c] == fc_off[c + 1])
            continue;
        memset(table, 0, jt->cl_card[c] * sizeof(double));
        for (size_t a = fc_off[c]; a < fc_off[c + 1] && st == CAI_OK; a++)
            st = expand_factor(jt, g, fc[a], c, table, scratch, err);
        if (st == CAI_OK)
            st = cai_potential_table_create(1, &jt->cl_card[c], table, &p, err);
        jt->expanded_bytes += jt->cl_card[c] * sizeof(double);
        if (st == CAI_OK)
            st = cai_graph_add_factor(jt->tree, p, &c, 1, CAI_MODE_NORMAL, NULL, err);
        p = cai_potential_unref(p);
    }
done:
    free(scratch); free(sep); free(fc_off); free(fc); free(table);
    return st;
}

/* The structure statistics of a forest planned directly. */
static void forest_stats(cai_jtree *jt, const cai_graph *g)
{
    size_t n = jt->n_vars, max_k = n ? 1 : 0, big = 0, lone = 0;
    bool *in_multi = jt_calloc(n, sizeof(bool));
    for (size_t v = 0; v < n; v++)
        if (jt->card[v] > big)
            big = jt->card[v];
    for (size_t f = 0; f < jt->n_factors; f++) {
        size_t k, size = 1;
        const size_t *scope = cai_graph_factor_scope(g, f, &k);
        if (k > max_k)
            max_k = k;
        for (size_t i = 0; i < k; i++) {
            if (!cai_size_mul(size, jt->card[scope[i]], &size))
                size = SIZE_MAX;
            if (k >= 2 && in_multi)
                in_multi[scope[i]] = true;
        }
        if (size > big)
            big = size;
    }
    for (size_t v = 0; v < n && in_multi; v++)
        lone += !in_multi[v];
    free(in_multi);
    jt->n_cliques = cai_plan_n_clusters(jt->plan) + lone;
    jt->max_entries = big;
    jt->treewidth = max_k ? max_k - 1 : 0;
}

cai_status cai_jtree_create(const cai_graph *g, const cai_jtree_options *opt,
                            cai_jtree **out_jt, cai_error *err)
{
    if (g == NULL || out_jt == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_jtree_create: NULL %s", g == NULL ? "graph" : "output");
    cai_jtree_options o = opt ? *opt : cai_jtree_options_default();
    if (o.algorithm != CAI_SUM_PRODUCT && o.algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "junction tree: unknown algorithm %d", (int)o.algorithm);
    if (!(o.max_clique_entries >= 1.0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "junction tree: max_clique_entries must be >= 1 (got %g)",
                             o.max_clique_entries);
    cai_jtree *jt = jt_calloc(1, sizeof *jt);
    if (jt == NULL)
        return jt_nomem(err);
    cai_status st = CAI_OK;
    jt->alg = o.algorithm;
    jt->n_vars = cai_graph_n_variables(g);
    jt->n_factors = cai_graph_n_factors(g);
    jt->card = jt_calloc(jt->n_vars, sizeof(size_t));
    jt->ev = jt_calloc(jt->n_vars, sizeof(size_t));
    if (!jt->card || !jt->ev) {
        st = jt_nomem(err);
        goto fail;
    }
    for (size_t v = 0; v < jt->n_vars; v++) {
        jt->card[v] = cai_graph_variable_card(g, v);
        jt->ev[v] = cai_graph_evidence(g, v);
    }
    cai_plan_options po = cai_plan_options_default();
    po.algorithm = o.algorithm;
    if (!o.compile_forests) {
        cai_error perr;
        st = cai_plan_create(g, &po, &jt->plan, &perr);
        if (st == CAI_OK) {
            forest_stats(jt, g);
            goto workspace;
        }
        if (st != CAI_ERR_CYCLE) {
            if (err)
                *err = perr;
            goto fail;
        }
    }
    jt->compiled = true;
    for (size_t f = 0; f < jt->n_factors; f++)
        if (cai_graph_factor_mode(g, f) == CAI_MODE_EXPECTATION) {
            st = cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                               "junction tree: factor %zu is in expectation mode, which "
                               "needs a forest of clusters; this graph has cycles", f);
            goto fail;
        }
    if ((st = jt_triangulate(g, &jt->s, err)) != CAI_OK)
        goto fail;
    jt->n_cliques = jt->s.n_cliques;
    if ((st = check_sizes(jt, g, o.max_clique_entries, err)) != CAI_OK)
        goto fail;
    if ((st = jt_join(jt->n_vars, &jt->s, err)) != CAI_OK
        || (st = assign_factors(jt, g, err)) != CAI_OK
        || (st = build_tree(jt, g, err)) != CAI_OK
        || (st = cai_plan_create(jt->tree, &po, &jt->plan, err)) != CAI_OK)
        goto fail;
workspace:
    if ((st = cai_workspace_create(jt->plan, &jt->ws, err)) != CAI_OK)
        goto fail;
    *out_jt = jt;
    return CAI_OK;
fail:
    cai_jtree_free(jt);
    return st;
}
