/* lib/engine/plan.c — analyse a graph once: absorb, check for a forest,
 * root, order; cluster.c lays the clusters out. */
#include "analysis.h"
#include "bigmem.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

cai_plan_options cai_plan_options_default(void)
{
    return (cai_plan_options){.algorithm = CAI_SUM_PRODUCT, .root = CAI_NONE,
                              .max_expectation = false, .upward_only = false};
}

void cai_plan_free(cai_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t v = 0; v < plan->n_vars; v++) {
        free(plan->vars[v].unary);
        free(plan->vars[v].unary_sr);
    }
    for (size_t c = 0; c < plan->n_clusters; c++) {
        for (size_t a = 0; a < plan->clusters[c].n_abs; a++)
            free(plan->clusters[c].abs[a].pos);
        free(plan->clusters[c].abs);
        free(plan->clusters[c].vars);
    }
    if (plan->homes)
        for (size_t f = 0; f < plan->n_factors; f++)
            free(plan->homes[f].pos);
    for (size_t i = 0; i < plan->n_owned; i++)
        cai_potential_unref(plan->owned[i]);
    for (size_t i = 0; i < plan->n_bufs; i++)
        big_free(plan->bufs[i]);
    free(plan->bufs);
    free(plan->owned);
    free(plan->homes);
    free(plan->trees);
    free(plan->clusters);
    free(plan->vars);
    free(plan);
}

static void analysis_free(analysis *a)
{
    free(a->role); free(a->host); free(a->adj_off); free(a->adj); free(a->mark);
    free(a->hosts); free(a->cl_of); free(a->cadj_off); free(a->cadj); free(a->prior);
    free(a->viol); free(a->queue); free(a->par_cl); free(a->seen); free(a->cseen);
    free(a->order); free(a->up_var);
}

/* The absorption order: larger arity, then expectation factors, then lower index. */
static bool comes_before(const analysis *a, size_t h, size_t f)
{
    const factor *H = &a->g->factors[h], *F = &a->g->factors[f];
    if (H->k != F->k)
        return H->k > F->k;
    bool eh = is_expect(a, h), ef = is_expect(a, f);
    return eh != ef ? eh : h < f;
}

/* Does factor h come before f in the absorption order (larger arity, then
 * expectation factors, then lower index), with f's variables a subset of h's?
 * Then f belongs inside h. */
static bool inside(analysis *a, size_t f, size_t h)
{
    const factor *F = &a->g->factors[f], *H = &a->g->factors[h];
    if (h == f || !comes_before(a, h, f))
        return false;
    size_t hits = 0;
    for (size_t i = 0; i < H->k; i++)
        hits += a->mark[H->scope[i]] == f + 1;
    return hits == F->k;
}

static cai_status classify(analysis *a, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars, nf = g->n_factors;
    /* variable -> multi-variable factor adjacency */
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                a->adj_off[g->factors[f].scope[i] + 1]++;
    for (size_t v = 0; v < nv; v++)
        a->adj_off[v + 1] += a->adj_off[v];
    size_t *fill = a->seen; /* borrowed as a cursor */
    memcpy(fill, a->adj_off, nv * sizeof *fill);
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                a->adj[fill[g->factors[f].scope[i]]++] = f;
    for (size_t v = 0; v < nv; v++)
        a->prior[v] = CAI_NONE;

    for (size_t f = 0; f < nf; f++) {
        const factor *F = &g->factors[f];
        a->host[f] = CAI_NONE;
        if (F->k == 1) {
            size_t v = F->scope[0];
            if (!is_expect(a, f)) {
                a->role[f] = ROLE_LOCAL;
                continue;
            }
            if (a->prior[v] != CAI_NONE)
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "variable '%s' has two expectation-mode priors (factors %zu and %zu)",
                                     g->vars[v].name, a->prior[v], f);
            a->prior[v] = f;
            a->role[f] = ROLE_PRIOR;
            continue;
        }
        /* the scope variable with the fewest factors bounds the search */
        size_t best_v = F->scope[0];
        for (size_t i = 0; i < F->k; i++) {
            size_t v = F->scope[i];
            a->mark[v] = f + 1;
            if (a->adj_off[v + 1] - a->adj_off[v] < a->adj_off[best_v + 1] - a->adj_off[best_v])
                best_v = v;
        }
        size_t best = CAI_NONE;
        for (size_t j = a->adj_off[best_v]; j < a->adj_off[best_v + 1]; j++) {
            size_t h = a->adj[j];
            if (!inside(a, f, h))
                continue;
            if (is_expect(a, f))
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "expectation-mode factor %zu lies inside factor %zu: an "
                                     "expectation conditional must be a cluster of its own",
                                     f, h);
            if (best == CAI_NONE || comes_before(a, h, best))
                best = h;
        }
        a->role[f] = best == CAI_NONE ? ROLE_HOST : ROLE_ABSORBED;
        a->host[f] = best;
    }
    /* follow chains f -> h -> H to the final host (keys strictly decrease) */
    for (size_t f = 0; f < nf; f++) {
        size_t h = a->host[f];
        while (h != CAI_NONE && a->role[h] == ROLE_ABSORBED)
            h = a->host[h];
        a->host[f] = h;
    }
    return CAI_OK;
}

static size_t uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Hosts become clusters; check the variable-cluster graph is a forest. */
static cai_status check_forest(analysis *a, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars, nf = g->n_factors;
    a->n_hosts = 0;
    for (size_t f = 0; f < nf; f++) {
        a->cl_of[f] = CAI_NONE;
        if (a->role[f] == ROLE_HOST) {
            a->cl_of[f] = a->n_hosts;
            a->hosts[a->n_hosts++] = f;
        }
    }
    size_t *parent = alloc_array(nv + a->n_hosts, sizeof(size_t));
    if (parent == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < nv + a->n_hosts; i++)
        parent[i] = i;
    cai_status st = CAI_OK;
    for (size_t c = 0; c < a->n_hosts && st == CAI_OK; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++) {
            size_t x = uf_find(parent, F->scope[i]), y = uf_find(parent, nv + c);
            if (x == y) {
                st = cai_error_set(err, CAI_ERR_CYCLE, NULL, 0, 0,
                                   "the graph has a cycle through variable '%s' (factor %zu); "
                                   "exact message passing needs a forest",
                                   g->vars[F->scope[i]].name, a->hosts[c]);
                break;
            }
            parent[x] = y;
        }
    }
    free(parent);
    if (st != CAI_OK)
        return st;
    /* variable -> cluster adjacency, in cluster order */
    for (size_t c = 0; c < a->n_hosts; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++)
            a->cadj_off[F->scope[i] + 1]++;
    }
    for (size_t v = 0; v < nv; v++)
        a->cadj_off[v + 1] += a->cadj_off[v];
    size_t *fill = a->seen;
    memcpy(fill, a->cadj_off, nv * sizeof *fill);
    for (size_t c = 0; c < a->n_hosts; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++)
            a->cadj[fill[F->scope[i]]++] = c;
    }
    return CAI_OK;
}

/* Breadth-first from root: a->queue[*q0 ..) gets the variables, a->par_cl
 * the cluster each came through, a->up_var each cluster's up variable, and
 * (when order != NULL) the clusters in top-down order. Returns the number of
 * variables visited. */
static size_t bfs(analysis *a, size_t root, size_t stamp, size_t q0,
                  size_t *order, size_t *n_order)
{
    const cai_graph *g = a->g;
    size_t head = q0, tail = q0;
    a->queue[tail++] = root;
    a->seen[root] = stamp;
    a->par_cl[root] = CAI_NONE;
    while (head < tail) {
        size_t v = a->queue[head++];
        for (size_t j = a->cadj_off[v]; j < a->cadj_off[v + 1]; j++) {
            size_t c = a->cadj[j];
            if (a->cseen[c] == stamp)
                continue;
            a->cseen[c] = stamp;
            a->up_var[c] = v;
            if (order)
                order[(*n_order)++] = c;
            const factor *F = &g->factors[a->hosts[c]];
            for (size_t i = 0; i < F->k; i++) {
                size_t w = F->scope[i];
                if (a->seen[w] == stamp)
                    continue;
                a->seen[w] = stamp;
                a->par_cl[w] = c;
                a->queue[tail++] = w;
            }
        }
    }
    return tail - q0;
}

/* Child variable of cluster c when it is an expectation conditional. */
static size_t expect_child(const analysis *a, size_t c)
{
    size_t f = a->hosts[c];
    if (!is_expect(a, f))
        return CAI_NONE;
    const factor *F = &a->g->factors[f];
    return F->scope[F->k - 1];
}

/* Pick each tree's root and order the clusters top-down. */
static cai_status root_trees(analysis *a, cai_plan *plan, size_t want_root,
                             cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars;
    size_t stamp = 1, n_order = 0, q0 = 0;
    for (size_t v = 0; v < nv; v++)
        a->seen[v] = 0;
    for (size_t c = 0; c < a->n_hosts; c++)
        a->cseen[c] = 0;
    plan->n_trees = 0;
    for (size_t r0 = 0; r0 < nv; r0++) {
        if (a->seen[r0] != 0)
            continue;
        /* first pass from the lowest variable: count violations there, then
         * carry them across each cluster (only that cluster's side flips) */
        size_t n_first = n_order;
        size_t n = bfs(a, r0, stamp++, q0, a->order, &n_first);
        long v0 = 0;
        for (size_t i = 0; i < n; i++) {
            size_t v = a->queue[q0 + i];
            if (a->prior[v] != CAI_NONE && v != r0)
                v0++;
        }
        for (size_t i = n_order; i < n_first; i++) {
            size_t c = a->order[i];
            if (expect_child(a, c) == a->up_var[c])
                v0++;
        }
        a->viol[r0] = v0;
        size_t root = CAI_NONE;
        bool want_here = false;
        for (size_t i = 0; i < n; i++) {
            size_t w = a->queue[q0 + i];
            if (w != r0) {
                size_t c = a->par_cl[w], u = a->up_var[c], ch = expect_child(a, c);
                a->viol[w] = a->viol[u] - (ch == u) + (ch == w)
                             + (a->prior[u] != CAI_NONE) - (a->prior[w] != CAI_NONE);
            }
            if (w == want_root)
                want_here = true;
        }
        if (want_here) {
            if (a->viol[want_root] != 0)
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "variable '%s' cannot be the root: it is not on the "
                                     "parents' side of every expectation-mode factor",
                                     g->vars[want_root].name);
            root = want_root;
        } else {
            for (size_t i = 0; i < n; i++) {
                size_t w = a->queue[q0 + i];
                if (a->viol[w] == 0 && (root == CAI_NONE || w < root))
                    root = w;
            }
        }
        if (root == CAI_NONE)
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "the expectation-mode factors around variable '%s' conflict: "
                                 "no root lies on the parents' side of all of them",
                                 g->vars[r0].name);
        /* second pass from the chosen root fixes the order */
        bfs(a, root, stamp++, q0, a->order, &n_order);
        plan_tree *t = &plan->trees[plan->n_trees];
        t->root = root;
        t->prior = a->prior[root] != CAI_NONE ? g->factors[a->prior[root]].p : NULL;
        for (size_t i = 0; i < n; i++) {
            size_t w = a->queue[q0 + i];
            plan->vars[w].tree = plan->n_trees;
            plan->vars[w].up_cluster = a->par_cl[w]; /* a host index for now */
        }
        plan->n_trees++;
        q0 += n;
    }
    return CAI_OK;
}

cai_status cai_plan_create(const cai_graph *g, const cai_plan_options *opt,
                           cai_plan **out_plan, cai_error *err)
{
    if (g == NULL || out_plan == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_plan_options o = opt ? *opt : cai_plan_options_default();
    if (o.algorithm != CAI_SUM_PRODUCT && o.algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown algorithm %d",
                             (int)o.algorithm);
    if (o.root != CAI_NONE && o.root >= g->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "root %zu is not a variable",
                             o.root);
    size_t nv = g->n_vars, nf = g->n_factors;
    size_t adj_n = 0;
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2 && !cai_size_add(adj_n, g->factors[f].k, &adj_n))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "graph too large");

    analysis a = {.g = g,
                  .expect_on = o.algorithm == CAI_SUM_PRODUCT || o.max_expectation};
    cai_plan *plan = calloc(1, sizeof *plan);
    cai_status st = CAI_OK;
    if (plan == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    plan->alg = o.algorithm;
    plan->max_expect = o.algorithm == CAI_MAX_PRODUCT && o.max_expectation;
    plan->upward_only = o.upward_only;
    plan->n_vars = nv;
    plan->n_factors = nf;
    plan->vars = alloc_array(nv, sizeof(plan_var));
    plan->trees = alloc_array(nv, sizeof(plan_tree));
    plan->homes = alloc_array(nf, sizeof(factor_home));
    plan->owned = alloc_array(2 * nf + 1, sizeof(cai_potential *));
    a.role = alloc_array(nf, sizeof(enum role));
    a.host = alloc_array(nf, sizeof(size_t));
    a.adj_off = alloc_array(nv + 1, sizeof(size_t));
    a.adj = alloc_array(adj_n, sizeof(size_t));
    a.mark = alloc_array(nv, sizeof(size_t));
    a.hosts = alloc_array(nf, sizeof(size_t));
    a.cl_of = alloc_array(nf, sizeof(size_t));
    a.cadj_off = alloc_array(nv + 1, sizeof(size_t));
    a.cadj = alloc_array(adj_n, sizeof(size_t));
    a.prior = alloc_array(nv, sizeof(size_t));
    a.viol = alloc_array(nv, sizeof(long));
    a.queue = alloc_array(nv, sizeof(size_t));
    a.par_cl = alloc_array(nv, sizeof(size_t));
    a.seen = alloc_array(nv, sizeof(size_t));
    a.cseen = alloc_array(nf, sizeof(size_t));
    a.order = alloc_array(nf, sizeof(size_t));
    a.up_var = alloc_array(nf, sizeof(size_t));
    if (!plan->vars || !plan->trees || !plan->homes || !plan->owned || !a.role || !a.host
        || !a.adj_off || !a.adj || !a.mark || !a.hosts || !a.cl_of || !a.cadj_off || !a.cadj
        || !a.prior || !a.viol || !a.queue || !a.par_cl || !a.seen || !a.cseen || !a.order
        || !a.up_var) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = classify(&a, err)) != CAI_OK || (st = check_forest(&a, err)) != CAI_OK)
        goto fail;
    plan->n_clusters = a.n_hosts;
    plan->clusters = alloc_array(a.n_hosts, sizeof(cluster));
    plan->bufs = alloc_array(3 * a.n_hosts, sizeof(double *));
    if (plan->clusters == NULL || plan->bufs == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = root_trees(&a, plan, o.root, err)) != CAI_OK
        || (st = plan_build_clusters(&a, plan, err)) != CAI_OK
        || (st = plan_build_row_terms(plan, err)) != CAI_OK)
        goto fail;
    /* variables: message offsets and local terms */
    size_t off = 0;
    for (size_t v = 0; v < nv; v++) {
        plan_var *pv = &plan->vars[v];
        pv->card = g->vars[v].card;
        pv->evidence = g->vars[v].evidence;
        pv->off = off;
        if (pv->card > plan->max_card)
            plan->max_card = pv->card;
        if (!cai_size_add(off, pv->card, &off)) {
            st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "graph too large");
            goto fail;
        }
    }
    plan->var_total = off;
    for (size_t f = 0; f < nf; f++)
        if (a.role[f] == ROLE_LOCAL)
            plan->vars[g->factors[f].scope[0]].n_unary++;
    for (size_t v = 0; v < nv; v++) {
        if (plan->vars[v].n_unary == 0)
            continue;
        plan->vars[v].unary = alloc_array(plan->vars[v].n_unary, sizeof(cai_potential *));
        plan->vars[v].unary_sr = alloc_array(plan->vars[v].n_unary, sizeof(semiring));
        if (plan->vars[v].unary == NULL || plan->vars[v].unary_sr == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto fail;
        }
        plan->vars[v].n_unary = 0;
    }
    for (size_t f = 0; f < nf; f++) {
        if (a.role[f] != ROLE_LOCAL && a.role[f] != ROLE_PRIOR)
            continue;
        cai_potential *p = g->factors[f].p;
        hold(plan, cai_potential_ref(p));
        if (a.role[f] == ROLE_LOCAL) {
            plan_var *pv = &plan->vars[g->factors[f].scope[0]];
            pv->unary_sr[pv->n_unary] = factor_sr(&g->factors[f]);
            pv->unary[pv->n_unary++] = p;
        }
    }
    /* upward runs the clusters from the last: the first to reach a variable */
    for (size_t i = plan->n_clusters; i-- > 0;) {
        cluster *c = &plan->clusters[i];
        plan_var *pv = &plan->vars[c->vars[c->up]];
        c->first_in = !pv->has_in;
        pv->has_in = true;
    }
    analysis_free(&a);
    *out_plan = plan;
    return CAI_OK;
fail:
    analysis_free(&a);
    cai_plan_free(plan);
    return st;
}

cai_algorithm cai_plan_algorithm(const cai_plan *plan) { return plan->alg; }
size_t cai_plan_n_clusters(const cai_plan *plan) { return plan->n_clusters; }
size_t cai_plan_n_trees(const cai_plan *plan) { return plan->n_trees; }

size_t cai_plan_root_of(const cai_plan *plan, size_t var)
{
    return var < plan->n_vars ? plan->trees[plan->vars[var].tree].root : CAI_NONE;
}
