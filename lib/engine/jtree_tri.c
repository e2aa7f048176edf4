/* lib/engine/jtree_tri.c — the junction tree's structure: min-fill
 * triangulation of the moral graph, maximal elimination cliques, and a
 * maximum-weight spanning forest over them. Only structure is computed here
 * (memory linear in the graph plus its fill edges); nothing of clique size. */
#include "jtree_impl.h"

#include "cai/logmath.h"

#include <stdlib.h>
#include <string.h>

/* A growable array of indices. */
typedef struct vlist {
    size_t *a;
    size_t n, cap;
} vlist;

static bool vl_push(vlist *l, size_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4, bytes;
        if (!cai_size_mul(cap, sizeof(size_t), &bytes))
            return false;
        size_t *a = realloc(l->a, bytes);
        if (a == NULL)
            return false;
        l->a = a;
        l->cap = cap;
    }
    l->a[l->n++] = x;
    return true;
}

/* Min-heap of (fill, variable) with lazy deletion: an entry is stale when its
 * variable is gone or its fill has changed since it was pushed. */
typedef struct hitem {
    size_t key, v;
} hitem;

typedef struct heap {
    hitem *a;
    size_t n, cap;
} heap;

static bool h_less(hitem x, hitem y)
{
    return x.key != y.key ? x.key < y.key : x.v < y.v;
}

static bool heap_push(heap *h, hitem x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16, bytes;
        if (!cai_size_mul(cap, sizeof(hitem), &bytes))
            return false;
        hitem *a = realloc(h->a, bytes);
        if (a == NULL)
            return false;
        h->a = a;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && h_less(x, h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
    return true;
}

static hitem heap_pop(heap *h)
{
    hitem top = h->a[0], x = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h_less(h->a[c + 1], h->a[c]))
            c++;
        if (!h_less(h->a[c], x))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0)
        h->a[i] = x;
    return top;
}

typedef struct tri {
    size_t n;
    vlist *adj;     /* current neighbours of the remaining variables */
    size_t *stamp;  /* marks for fill counting */
    size_t token;
    size_t *mark;   /* marks for the affected set */
    size_t mtoken;
    size_t *fill;
    bool *gone;
    heap h;
} tri;

/* Edges missing among v's neighbours. */
static size_t fill_of(tri *t, size_t v)
{
    const vlist *N = &t->adj[v];
    size_t missing = 0;
    for (size_t i = 0; i < N->n; i++) {
        size_t a = N->a[i], tok = ++t->token;
        for (size_t j = 0; j < t->adj[a].n; j++)
            t->stamp[t->adj[a].a[j]] = tok;
        for (size_t j = i + 1; j < N->n; j++)
            missing += t->stamp[N->a[j]] != tok;
    }
    return missing;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

/* Two variables are adjacent when they share a factor. */
static bool moral_graph(const cai_graph *g, tri *t)
{
    size_t nf = cai_graph_n_factors(g);
    for (size_t f = 0; f < nf; f++) {
        size_t k;
        const size_t *scope = cai_graph_factor_scope(g, f, &k);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                if (i != j && !vl_push(&t->adj[scope[i]], scope[j]))
                    return false;
    }
    for (size_t v = 0; v < t->n; v++) {
        vlist *l = &t->adj[v];
        if (l->n == 0)
            continue;
        qsort(l->a, l->n, sizeof(size_t), cmp_size);
        size_t u = 1;
        for (size_t i = 1; i < l->n; i++)
            if (l->a[i] != l->a[u - 1])
                l->a[u++] = l->a[i];
        l->n = u;
    }
    return true;
}

/* Eliminate v: record its clique, connect its neighbours, update the fill of
 * every variable whose neighbourhood or neighbours' edges changed. */
static bool eliminate(tri *t, size_t v, size_t *nb, vlist *cl)
{
    size_t nn = t->adj[v].n;
    if (nn)
        memcpy(nb, t->adj[v].a, nn * sizeof(size_t));
    if (!vl_push(cl, v))
        return false;
    for (size_t i = 0; i < nn; i++)
        if (!vl_push(cl, nb[i]))
            return false;
    t->gone[v] = true;
    free(t->adj[v].a);
    t->adj[v] = (vlist){0};
    for (size_t i = 0; i < nn; i++) {
        vlist *l = &t->adj[nb[i]];
        for (size_t j = 0; j < l->n; j++)
            if (l->a[j] == v) {
                l->a[j] = l->a[--l->n];
                break;
            }
    }
    for (size_t i = 0; i < nn; i++) {
        size_t a = nb[i], tok = ++t->token;
        vlist *l = &t->adj[a];
        size_t len = l->n;
        for (size_t j = 0; j < len; j++)
            t->stamp[l->a[j]] = tok;
        t->stamp[a] = tok;
        for (size_t j = 0; j < nn; j++)
            if (t->stamp[nb[j]] != tok && !vl_push(l, nb[j]))
                return false;
    }
    size_t mt = ++t->mtoken;
    for (size_t i = 0; i < nn; i++) {
        size_t a = nb[i];
        for (size_t j = 0; j <= t->adj[a].n; j++) {
            size_t w = j == 0 ? a : t->adj[a].a[j - 1];
            if (t->mark[w] == mt)
                continue;
            t->mark[w] = mt;
            size_t f = fill_of(t, w);
            if (f != t->fill[w]) {
                t->fill[w] = f;
                if (!heap_push(&t->h, (hitem){f, w}))
                    return false;
            }
        }
    }
    return true;
}

void jt_structure_free(jt_structure *s)
{
    free(s->off);
    free(s->vars);
    free(s->edge);
    *s = (jt_structure){0};
}

cai_status jt_triangulate(const cai_graph *g, jt_structure *out, cai_error *err)
{
    size_t n = cai_graph_n_variables(g);
    tri t = {.n = n};
    vlist cl = {0};
    size_t *cl_off = jt_calloc(n + 1, sizeof(size_t));
    size_t *pos = jt_calloc(n, sizeof(size_t));
    size_t *order = jt_calloc(n, sizeof(size_t));
    size_t *nb = jt_calloc(n, sizeof(size_t));
    bool *nonmax = jt_calloc(n, sizeof(bool));
    jt_structure s = {0};
    cai_status st = CAI_ERR_NOMEM;
    t.adj = jt_calloc(n, sizeof(vlist));
    t.stamp = jt_calloc(n, sizeof(size_t));
    t.mark = jt_calloc(n, sizeof(size_t));
    t.fill = jt_calloc(n, sizeof(size_t));
    t.gone = jt_calloc(n, sizeof(bool));
    if (!cl_off || !pos || !order || !nb || !nonmax || !t.adj || !t.stamp || !t.mark
        || !t.fill || !t.gone || !moral_graph(g, &t))
        goto fail;
    for (size_t v = 0; v < n; v++) {
        t.fill[v] = fill_of(&t, v);
        if (!heap_push(&t.h, (hitem){t.fill[v], v}))
            goto fail;
    }
    for (size_t step = 0; step < n; step++) {
        hitem it;
        do
            it = heap_pop(&t.h);
        while (t.gone[it.v] || it.key != t.fill[it.v]);
        cl_off[step] = cl.n;
        order[step] = it.v;
        pos[it.v] = step;
        if (!eliminate(&t, it.v, nb, &cl))
            goto fail;
    }
    cl_off[n] = cl.n;
    /* Clique i is contained in an earlier one exactly when a child u in the
     * elimination tree (its parent: the first eliminated of u's neighbours)
     * has one more variable: then C_u minus u is C_i. */
    for (size_t i = 0; i < n; i++) {
        size_t a = cl_off[i], b = cl_off[i + 1];
        if (b - a < 2)
            continue;
        size_t par = n;
        for (size_t j = a + 1; j < b; j++)
            if (pos[cl.a[j]] < par)
                par = pos[cl.a[j]];
        if (b - a == cl_off[par + 1] - cl_off[par] + 1)
            nonmax[par] = true;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (!nonmax[i]) {
            s.n_cliques++;
            total += cl_off[i + 1] - cl_off[i];
        }
    s.off = jt_calloc(s.n_cliques + 1, sizeof(size_t));
    s.vars = jt_calloc(total, sizeof(size_t));
    if (!s.off || !s.vars)
        goto fail;
    size_t c = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        if (nonmax[i])
            continue;
        size_t k = cl_off[i + 1] - cl_off[i];
        memcpy(s.vars + at, cl.a + cl_off[i], k * sizeof(size_t));
        qsort(s.vars + at, k, sizeof(size_t), cmp_size);
        s.off[c++] = at;
        at += k;
    }
    s.off[c] = at;
    *out = s;
    s = (jt_structure){0};
    st = CAI_OK;
fail:
    if (st != CAI_OK)
        cai_error_set(err, st, NULL, 0, 0, "out of memory");
    jt_structure_free(&s);
    if (t.adj)
        for (size_t v = 0; v < n; v++)
            free(t.adj[v].a);
    free(t.adj); free(t.stamp); free(t.mark); free(t.fill); free(t.gone); free(t.h.a);
    free(cl.a); free(cl_off); free(pos); free(order); free(nb); free(nonmax);
    return st;
}

typedef struct wedge {
    size_t w, i, j;
} wedge;

static int cmp_edge(const void *x, const void *y)
{
    const wedge *a = x, *b = y;
    if (a->w != b->w)
        return a->w > b->w ? -1 : 1;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

static size_t uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

cai_status jt_join(size_t n_vars, jt_structure *s, cai_error *err)
{
    size_t m = s->n_cliques, total = s->off[m];
    size_t *vc_off = jt_calloc(n_vars + 1, sizeof(size_t));
    size_t *vc = jt_calloc(total, sizeof(size_t));
    size_t *cursor = jt_calloc(n_vars, sizeof(size_t));
    size_t *mark = jt_calloc(m, sizeof(size_t));
    size_t *cnt = jt_calloc(m, sizeof(size_t));
    size_t *touched = jt_calloc(m, sizeof(size_t));
    size_t *parent = jt_calloc(m, sizeof(size_t));
    size_t *edge = jt_calloc(m ? 2 * (m - 1) : 0, sizeof(size_t));
    wedge *e = NULL;
    size_t ne = 0, cap = 0;
    cai_status st = CAI_ERR_NOMEM;
    if (!vc_off || !vc || !cursor || !mark || !cnt || !touched || !parent || !edge)
        goto fail;
    /* variable -> cliques, in increasing clique order */
    for (size_t x = 0; x < total; x++)
        vc_off[s->vars[x] + 1]++;
    for (size_t v = 0; v < n_vars; v++)
        vc_off[v + 1] += vc_off[v];
    memcpy(cursor, vc_off, n_vars * sizeof(size_t));
    for (size_t c = 0; c < m; c++)
        for (size_t x = s->off[c]; x < s->off[c + 1]; x++)
            vc[cursor[s->vars[x]]++] = c;
    /* candidate edges: pairs of cliques sharing variables, weighted by how many */
    for (size_t i = 0; i < m; i++) {
        size_t nt = 0;
        for (size_t x = s->off[i]; x < s->off[i + 1]; x++) {
            size_t v = s->vars[x];
            for (size_t y = vc_off[v]; y < vc_off[v + 1]; y++) {
                size_t j = vc[y];
                if (j <= i)
                    continue;
                if (mark[j] != i + 1) {
                    mark[j] = i + 1;
                    cnt[j] = 0;
                    touched[nt++] = j;
                }
                cnt[j]++;
            }
        }
        for (size_t a = 0; a < nt; a++) {
            if (ne == cap) {
                size_t nc = cap ? 2 * cap : 64, bytes;
                if (!cai_size_mul(nc, sizeof(wedge), &bytes))
                    goto fail;
                wedge *ne_arr = realloc(e, bytes);
                if (ne_arr == NULL)
                    goto fail;
                e = ne_arr;
                cap = nc;
            }
            e[ne++] = (wedge){cnt[touched[a]], i, touched[a]};
        }
    }
    if (ne > 1)
        qsort(e, ne, sizeof(wedge), cmp_edge);
    for (size_t c = 0; c < m; c++)
        parent[c] = c;
    size_t n_edges = 0;
    for (size_t a = 0; a < ne && n_edges + 1 < m; a++) {
        size_t ri = uf_find(parent, e[a].i), rj = uf_find(parent, e[a].j);
        if (ri == rj)
            continue;
        parent[ri] = rj;
        edge[2 * n_edges] = e[a].i;
        edge[2 * n_edges + 1] = e[a].j;
        n_edges++;
    }
    free(s->edge);
    s->edge = edge;
    s->n_edges = n_edges;
    edge = NULL;
    st = CAI_OK;
fail:
    if (st != CAI_OK)
        cai_error_set(err, st, NULL, 0, 0, "out of memory");
    free(vc_off); free(vc); free(cursor); free(mark); free(cnt); free(touched);
    free(parent); free(edge); free(e);
    return st;
}
