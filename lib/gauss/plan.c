/* lib/gauss/plan.c — analysing a Gaussian graph: copy what execution needs,
 * absorb factors into clusters, check the clusters form a forest, choose
 * each tree's root and orient it. Roles and offsets inside the clusters are
 * in plan_layout.c. */
#include "gauss_impl.h"

#include <stdlib.h>
#include <string.h>

cai_gauss_plan_options cai_gauss_plan_options_default(void)
{
    return (cai_gauss_plan_options){CAI_NONE, false};
}

void cai_gauss_plan_free(cai_gauss_plan *p)
{
    if (p == NULL)
        return;
    for (size_t f = 0; f < p->nf; f++)
        cai_gauss_potential_unref(p->pot[f]);
    void *arrays[] = {p->dim, p->name_off, p->names, p->clamped, p->ev_off,
                      p->ev_default, p->msg_off, p->marg_off, p->up_cluster,
                      p->tree_of, p->loc0, p->nloc, p->loc_fac, p->root, p->cl,
                      p->order, p->slot_var, p->slot_off, p->slot_row, p->slot_by,
                      p->slot_stat, p->cl_fac, p->pot, p->mode, p->role, p->fk,
                      p->fslot0, p->fslot, p->fvar0, p->fvar, p->woff, p->fcluster};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free(arrays[i]);
    free(p);
}

size_t cai_gauss_plan_n_clusters(const cai_gauss_plan *p) { return p->nreal; }
size_t cai_gauss_plan_n_trees(const cai_gauss_plan *p) { return p->ntree; }

size_t cai_gauss_plan_root_of(const cai_gauss_plan *p, size_t var)
{
    return var < p->nv ? p->root[p->tree_of[var]] : CAI_NONE;
}

/* ---- copying the graph ---- */

static cai_status copy_graph(cai_gauss_plan *p, const cai_gauss_graph *g,
                             cai_error *err)
{
    size_t nv = g->nv, nf = g->nf, nchar = 0, nscope = 0;
    for (size_t v = 0; v < nv; v++)
        nchar += strlen(g->name[v]) + 1;
    for (size_t f = 0; f < nf; f++)
        nscope += g->f[f].k;
    p->dim = malloc((nv + 1) * sizeof(size_t));
    p->name_off = malloc((nv + 1) * sizeof(size_t));
    p->names = malloc(nchar + 1);
    p->clamped = calloc(nv + 1, 1);
    p->ev_off = malloc((nv + 1) * sizeof(size_t));
    p->pot = calloc(nf + 1, sizeof *p->pot);
    p->mode = malloc((nf + 1) * sizeof *p->mode);
    p->fk = malloc((nf + 1) * sizeof(size_t));
    p->fvar0 = malloc((nf + 1) * sizeof(size_t));
    p->fvar = malloc((nscope + 1) * sizeof(size_t));
    if (!p->dim || !p->name_off || !p->names || !p->clamped || !p->ev_off ||
        !p->pot || !p->mode || !p->fk || !p->fvar0 || !p->fvar)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    size_t at = 0;
    p->ev_total = 0;
    for (size_t v = 0; v < nv; v++) {
        p->dim[v] = g->dim[v];
        p->name_off[v] = at;
        strcpy(p->names + at, g->name[v]);
        at += strlen(g->name[v]) + 1;
        p->clamped[v] = g->ev[v] != NULL;
        p->ev_off[v] = p->ev_total;
        if (g->ev[v])
            p->ev_total += g->dim[v];
    }
    p->ev_default = gl_alloc(p->ev_total);
    if (p->ev_default == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t v = 0; v < nv; v++)
        if (g->ev[v])
            memcpy(p->ev_default + p->ev_off[v], g->ev[v], g->dim[v] * sizeof(double));
    at = 0;
    for (size_t f = 0; f < nf; f++) {
        p->pot[f] = cai_gauss_potential_ref(g->f[f].pot);
        p->mode[f] = g->f[f].mode;
        p->fk[f] = g->f[f].k;
        p->fvar0[f] = at;
        memcpy(p->fvar + at, g->f[f].scope, g->f[f].k * sizeof(size_t));
        at += g->f[f].k;
    }
    p->nf = nf;
    p->nv = nv;
    return CAI_OK;
}

/* ---- clusters ---- */

/* Factors of arity >= 2 by decreasing arity, then index. */
static void sort_by_arity(size_t *ord, size_t n, const size_t *fk)
{
    /* insertion of counts: arity buckets, stable by index */
    size_t maxk = 0;
    for (size_t i = 0; i < n; i++)
        maxk = fk[ord[i]] > maxk ? fk[ord[i]] : maxk;
    size_t *tmp = malloc((n + 1) * sizeof(size_t));
    size_t *cnt = calloc(maxk + 2, sizeof(size_t));
    if (tmp == NULL || cnt == NULL) { /* fall back to a slow stable sort */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && fk[ord[j - 1]] < fk[ord[j]]; j--) {
                size_t t = ord[j];
                ord[j] = ord[j - 1];
                ord[j - 1] = t;
            }
        free(tmp);
        free(cnt);
        return;
    }
    for (size_t i = 0; i < n; i++)
        cnt[maxk - fk[ord[i]] + 1]++;
    for (size_t b = 1; b <= maxk + 1; b++)
        cnt[b] += cnt[b - 1];
    for (size_t i = 0; i < n; i++)
        tmp[cnt[maxk - fk[ord[i]]]++] = ord[i];
    memcpy(ord, tmp, n * sizeof(size_t));
    free(tmp);
    free(cnt);
}

/* Assign every factor of arity >= 2 to a cluster, the cluster being defined
 * by its largest factor; cdef[c] is that factor. */
static cai_status form_clusters(cai_gauss_plan *p, size_t *cdef, size_t *ncl,
                                cai_error *err)
{
    size_t nv = p->nv, nf = p->nf, nscope = p->nf ? p->fvar0[nf - 1] + p->fk[nf - 1] : 0;
    size_t *ord = malloc((nf + 1) * sizeof(size_t));
    size_t *head = malloc((nv + 1) * sizeof(size_t));
    size_t *nxt = malloc((nscope + 1) * sizeof(size_t));
    size_t *ecl = malloc((nscope + 1) * sizeof(size_t));
    size_t *mark = calloc(nv + 1, sizeof(size_t));
    cai_status st = CAI_OK;
    if (!ord || !head || !nxt || !ecl || !mark) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    size_t n = 0, ne = 0, stamp = 0, c = 0;
    for (size_t f = 0; f < nf; f++)
        if (p->fk[f] >= 2)
            ord[n++] = f;
    sort_by_arity(ord, n, p->fk);
    for (size_t v = 0; v < nv; v++)
        head[v] = CAI_NONE;
    for (size_t i = 0; i < n; i++) {
        size_t f = ord[i], found = CAI_NONE;
        const size_t *sc = p->fvar + p->fvar0[f];
        for (size_t e = head[sc[0]]; e != CAI_NONE && found == CAI_NONE; e = nxt[e]) {
            size_t cand = ecl[e], d = cdef[cand];
            stamp++;
            for (size_t j = 0; j < p->fk[d]; j++)
                mark[p->fvar[p->fvar0[d] + j]] = stamp;
            bool all = true;
            for (size_t j = 0; j < p->fk[f] && all; j++)
                all = mark[sc[j]] == stamp;
            if (all)
                found = cand;
        }
        if (found == CAI_NONE) {
            found = c++;
            cdef[found] = f;
            for (size_t j = 0; j < p->fk[f]; j++) {
                ecl[ne] = found;
                nxt[ne] = head[sc[j]];
                head[sc[j]] = ne++;
            }
        }
        p->fcluster[f] = found;
    }
    *ncl = c;
done:
    free(ord);
    free(head);
    free(nxt);
    free(ecl);
    free(mark);
    return st;
}

static size_t uf_find(size_t *par, size_t x)
{
    while (par[x] != x) {
        par[x] = par[par[x]];
        x = par[x];
    }
    return x;
}

/* ---- rooting ---- */

typedef struct forest {
    size_t N;              /* nodes: variables 0..nv-1, clusters nv.. */
    size_t *adj0, *adj;    /* variable -> clusters */
    size_t *par, *tin, *tout, *comp, *cover;
} forest;

static size_t degree(const cai_gauss_plan *p, const forest *F, const size_t *cdef,
                     size_t u)
{
    return u < p->nv ? F->adj0[u + 1] - F->adj0[u] : p->fk[cdef[u - p->nv]];
}

static size_t neighbour(const cai_gauss_plan *p, const forest *F, const size_t *cdef,
                        size_t u, size_t i)
{
    return u < p->nv ? p->nv + F->adj[F->adj0[u] + i]
                     : p->fvar[p->fvar0[cdef[u - p->nv]] + i];
}

/* Pre-order numbering of the component of r (iterative DFS). */
static void dfs(const cai_gauss_plan *p, forest *F, const size_t *cdef, size_t r,
                size_t comp, size_t *t, size_t *stack, size_t *it)
{
    size_t top = 0;
    stack[top++] = r;
    F->par[r] = CAI_NONE;
    F->tin[r] = (*t)++;
    F->comp[r] = comp;
    it[r] = 0;
    while (top) {
        size_t u = stack[top - 1];
        if (it[u] < degree(p, F, cdef, u)) {
            size_t w = neighbour(p, F, cdef, u, it[u]++);
            if (w == F->par[u])
                continue;
            F->par[w] = u;
            F->tin[w] = (*t)++;
            F->comp[w] = comp;
            it[w] = 0;
            stack[top++] = w;
        } else {
            F->tout[u] = *t - 1;
            top--;
        }
    }
}

/* Factors that need the root on their parents' side: expectation mode or a
 * singular Sigma, arity >= 2. */
static bool directed(const cai_gauss_plan *p, size_t f)
{
    const cai_gauss_potential *q = p->pot[f];
    return p->fk[f] >= 2 && q->kind == CAI_GAUSS_LINEAR &&
           (p->mode[f] == CAI_MODE_EXPECTATION || q->rank < q->n);
}

static size_t child_of(const cai_gauss_plan *p, size_t f)
{
    return p->fvar[p->fvar0[f] + p->fk[f] - 1];
}

/* Does constraint f forbid variable v as root? */
static bool forbids(const cai_gauss_plan *p, const forest *F, size_t f, size_t v)
{
    size_t c = child_of(p, f), C = p->nv + p->fcluster[f];
    if (F->comp[v] != F->comp[c])
        return false;
    if (F->par[c] == C)
        return F->tin[v] >= F->tin[c] && F->tin[v] <= F->tout[c];
    return !(F->tin[v] >= F->tin[C] && F->tin[v] <= F->tout[C]);
}

static cai_status choose_roots(cai_gauss_plan *p, forest *F, size_t want,
                               cai_error *err)
{
    size_t nv = p->nv, N = F->N;
    long *diff = calloc(N + 1, sizeof(long));
    if (diff == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t f = 0; f < p->nf; f++) {
        if (!directed(p, f))
            continue;
        size_t c = child_of(p, f), C = nv + p->fcluster[f];
        if (F->par[c] == C) {
            diff[F->tin[c]]++;
            diff[F->tout[c] + 1]--;
        } else {
            size_t r = p->root[F->comp[c]];
            diff[F->tin[r]]++;
            diff[F->tout[r] + 1]--;
            diff[F->tin[C]]--;
            diff[F->tout[C] + 1]++;
        }
    }
    long run = 0;
    for (size_t i = 0; i < N; i++) {
        run += diff[i];
        diff[i] = run; /* now the cover count of pre-order position i */
    }
    size_t ntree = p->ntree;
    for (size_t t = 0; t < ntree; t++)
        p->root[t] = CAI_NONE;
    if (want != CAI_NONE) {
        if (diff[F->tin[want]] > 0) {
            size_t f = 0;
            while (!(directed(p, f) && forbids(p, F, f, want)))
                f++;
            free(diff);
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "variable '%s' cannot be the root: factor %zu (%s) "
                                 "must send its messages away from its child '%s'",
                                 gp_name(p, want), f,
                                 p->mode[f] == CAI_MODE_EXPECTATION
                                     ? "expectation mode"
                                     : "singular Sigma",
                                 gp_name(p, child_of(p, f)));
        }
        p->root[F->comp[want]] = want;
    }
    for (size_t v = 0; v < nv; v++)
        if (p->root[F->comp[v]] == CAI_NONE && diff[F->tin[v]] == 0)
            p->root[F->comp[v]] = v;
    free(diff);
    for (size_t f = 0; f < p->nf; f++)
        if (directed(p, f) && p->root[F->comp[child_of(p, f)]] == CAI_NONE)
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "no root of the tree of '%s' lets every conditional "
                                 "with a singular Sigma or in expectation mode send "
                                 "away from its child (factor %zu, child '%s')",
                                 gp_name(p, child_of(p, f)), f,
                                 gp_name(p, child_of(p, f)));
    return CAI_OK;
}

/* Orient each tree from its root (breadth first): cluster up variables,
 * each variable's cluster above it, the pre-order. */
static cai_status orient(cai_gauss_plan *p, const forest *F, const size_t *cdef,
                         cai_error *err)
{
    size_t nv = p->nv, nreal = p->nreal;
    size_t *queue = malloc((nv + 1) * sizeof(size_t));
    if (queue == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    size_t no = 0;
    for (size_t t = 0; t < p->ntree; t++) {
        size_t r = p->root[t], pc = nreal + t, qh = 0, qt = 0;
        p->cl[pc] = (gcluster){.up = CAI_NONE, .tree = t, .label = CAI_NONE};
        p->order[no++] = pc;
        p->up_cluster[r] = pc;
        queue[qt++] = r;
        while (qh < qt) {
            size_t v = queue[qh++];
            p->tree_of[v] = t;
            for (size_t e = F->adj0[v]; e < F->adj0[v + 1]; e++) {
                size_t c = F->adj[e];
                if (c == p->up_cluster[v])
                    continue;
                p->cl[c] = (gcluster){.up = v, .tree = t, .label = cdef[c]};
                p->order[no++] = c;
                const size_t *sc = p->fvar + p->fvar0[cdef[c]];
                for (size_t j = 0; j < p->fk[cdef[c]]; j++)
                    if (sc[j] != v) {
                        p->up_cluster[sc[j]] = c;
                        queue[qt++] = sc[j];
                    }
            }
        }
    }
    free(queue);
    return CAI_OK;
}

static cai_status build_forest(cai_gauss_plan *p, const size_t *cdef, size_t want,
                               cai_error *err)
{
    size_t nv = p->nv, nreal = p->nreal, N = nv + nreal, nadj = 0;
    for (size_t c = 0; c < nreal; c++)
        nadj += p->fk[cdef[c]];
    forest F = {.N = N};
    F.adj0 = calloc(nv + 2, sizeof(size_t));
    F.adj = malloc((nadj + 1) * sizeof(size_t));
    F.par = malloc((N + 1) * sizeof(size_t));
    F.tin = malloc((N + 1) * sizeof(size_t));
    F.tout = malloc((N + 1) * sizeof(size_t));
    F.comp = malloc((N + 1) * sizeof(size_t));
    size_t *stack = malloc((N + 1) * sizeof(size_t));
    size_t *it = malloc((N + 1) * sizeof(size_t));
    cai_status st = CAI_OK;
    if (!F.adj0 || !F.adj || !F.par || !F.tin || !F.tout || !F.comp || !stack || !it) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < nreal; c++)
        for (size_t j = 0; j < p->fk[cdef[c]]; j++)
            F.adj0[p->fvar[p->fvar0[cdef[c]] + j] + 1]++;
    for (size_t v = 0; v < nv; v++)
        F.adj0[v + 1] += F.adj0[v];
    for (size_t v = 0; v <= nv; v++)
        it[v] = F.adj0[v];
    for (size_t c = 0; c < nreal; c++)
        for (size_t j = 0; j < p->fk[cdef[c]]; j++)
            F.adj[it[p->fvar[p->fvar0[cdef[c]] + j]]++] = c;
    /* forest check: union-find over variables and clusters */
    for (size_t u = 0; u < N; u++)
        F.par[u] = u;
    for (size_t c = 0; c < nreal && st == CAI_OK; c++)
        for (size_t j = 0; j < p->fk[cdef[c]]; j++) {
            size_t v = p->fvar[p->fvar0[cdef[c]] + j];
            size_t a = uf_find(F.par, v), b = uf_find(F.par, nv + c);
            if (a == b) {
                st = cai_error_set(err, CAI_ERR_CYCLE, NULL, 0, 0,
                                   "the factor graph has a cycle through variable "
                                   "'%s' (factor %zu closes it)",
                                   gp_name(p, v), cdef[c]);
                break;
            }
            F.par[a] = b;
        }
    if (st != CAI_OK)
        goto done;
    for (size_t u = 0; u < N; u++)
        F.tin[u] = CAI_NONE;
    size_t t = 0, ntree = 0;
    for (size_t v = 0; v < nv; v++)
        if (F.tin[v] == CAI_NONE) {
            p->root[ntree] = v; /* provisional: the DFS root of the component */
            dfs(p, &F, cdef, v, ntree++, &t, stack, it);
        }
    p->ntree = ntree;
    st = choose_roots(p, &F, want, err);
    if (st == CAI_OK)
        st = orient(p, &F, cdef, err);
done:
    free(F.adj0);
    free(F.adj);
    free(F.par);
    free(F.tin);
    free(F.tout);
    free(F.comp);
    free(stack);
    free(it);
    return st;
}

cai_status cai_gauss_plan_create(const cai_gauss_graph *g,
                                 const cai_gauss_plan_options *opt,
                                 cai_gauss_plan **out_plan, cai_error *err)
{
    if (g == NULL || out_plan == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "graph and out_plan must not be NULL");
    cai_gauss_plan_options o = opt ? *opt : cai_gauss_plan_options_default();
    if (o.root != CAI_NONE && o.root >= g->nv)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "root option %zu: no such variable", o.root);
    cai_gauss_plan *p = calloc(1, sizeof *p);
    if (p == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    p->upward_only = o.upward_only;
    size_t *cdef = NULL;
    cai_status st = copy_graph(p, g, err);
    if (st != CAI_OK)
        goto fail;
    size_t nv = p->nv, nf = p->nf;
    /* clamped children of conditionals that cannot be densities */
    for (size_t f = 0; f < nf; f++) {
        const cai_gauss_potential *q = p->pot[f];
        size_t c = child_of(p, f);
        if (q->kind == CAI_GAUSS_LINEAR && p->clamped[c] &&
            (p->mode[f] == CAI_MODE_EXPECTATION || !q->has_density)) {
            st = cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                               "factor %zu: its child '%s' is clamped, which needs "
                               "%s",
                               f, gp_name(p, c),
                               p->mode[f] == CAI_MODE_EXPECTATION
                                   ? "normal mode (not expectation)"
                                   : "a positive definite Sigma (evidence on a child "
                                     "with singular noise would be a hard constraint)");
            goto fail;
        }
    }
    p->fcluster = malloc((nf + 1) * sizeof(size_t));
    cdef = malloc((nf + 1) * sizeof(size_t));
    p->root = malloc((nv + 1) * sizeof(size_t));
    p->up_cluster = malloc((nv + 1) * sizeof(size_t));
    p->tree_of = malloc((nv + 1) * sizeof(size_t));
    if (!p->fcluster || !cdef || !p->root || !p->up_cluster || !p->tree_of) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    for (size_t f = 0; f < nf; f++)
        p->fcluster[f] = CAI_NONE;
    if ((st = form_clusters(p, cdef, &p->nreal, err)) != CAI_OK)
        goto fail;
    /* at most nv trees: size the cluster table for the worst case */
    p->cl = calloc(p->nreal + nv + 1, sizeof(gcluster));
    p->order = malloc((p->nreal + nv + 1) * sizeof(size_t));
    if (!p->cl || !p->order) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = build_forest(p, cdef, o.root, err)) != CAI_OK)
        goto fail;
    p->ncl = p->nreal + p->ntree;
    /* priors join the cluster above their variable */
    for (size_t f = 0; f < nf; f++)
        if (p->fk[f] == 1 && p->pot[f]->kind == CAI_GAUSS_LINEAR)
            p->fcluster[f] = p->up_cluster[p->fvar[p->fvar0[f]]];
    if ((st = gp_layout(p, err)) != CAI_OK)
        goto fail;
    free(cdef);
    *out_plan = p;
    return CAI_OK;
fail:
    free(cdef);
    cai_gauss_plan_free(p);
    return st;
}
