/* lib/gauss/graph.c — graphs of Gaussian vector variables and factors. */
#include "gauss_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

cai_status cai_gauss_graph_create(cai_gauss_graph **out_g, cai_error *err)
{
    if (out_g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "out_g is NULL");
    cai_gauss_graph *g = calloc(1, sizeof *g);
    if (g == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    *out_g = g;
    return CAI_OK;
}

/* ---- the name index: open addressing, FNV-1a ---- */

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static size_t index_slot(const cai_gauss_graph *g, const char *name)
{
    size_t mask = g->hcap - 1, i = hash_name(name) & mask;
    while (g->hidx[i] != CAI_NONE && strcmp(g->name[g->hidx[i]], name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Keep the table at most half full; false when out of memory. */
static bool index_reserve(cai_gauss_graph *g, size_t n)
{
    if (2 * n <= g->hcap)
        return true;
    size_t cap = g->hcap ? g->hcap : 32;
    while (2 * n > cap)
        cap *= 2;
    size_t *t = malloc(cap * sizeof(size_t));
    if (t == NULL)
        return false;
    free(g->hidx);
    g->hidx = t;
    g->hcap = cap;
    for (size_t i = 0; i < cap; i++)
        t[i] = CAI_NONE;
    for (size_t v = 0; v < g->nv; v++)
        t[index_slot(g, g->name[v])] = v;
    return true;
}

void cai_gauss_graph_free(cai_gauss_graph *g)
{
    if (g == NULL)
        return;
    for (size_t v = 0; v < g->nv; v++) {
        free(g->name[v]);
        free(g->ev[v]);
    }
    for (size_t f = 0; f < g->nf; f++) {
        cai_gauss_potential_unref(g->f[f].pot);
        free(g->f[f].scope);
    }
    free(g->name);
    free(g->dim);
    free(g->ev);
    free(g->f);
    free(g->hidx);
    free(g);
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    if (nc > (size_t)-1 / elem)
        return false;
    void *a = realloc(*arr, nc * elem);
    if (a == NULL)
        return false;
    *arr = a;
    *cap = nc;
    return true;
}

cai_status cai_gauss_graph_add_variable(cai_gauss_graph *g, const char *name,
                                        size_t dim, size_t *out_var, cai_error *err)
{
    if (g == NULL || name == NULL || name[0] == '\0')
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a variable needs a graph and a non-empty name");
    if (dim == 0 || dim > CAI_GAUSS_MAX_DIM)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "variable '%s': dimension %zu is not in 1..%zu", name, dim,
                             (size_t)CAI_GAUSS_MAX_DIM);
    if (cai_gauss_graph_find_variable(g, name) != CAI_NONE)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable '%s' already exists", name);
    size_t cap = g->capv;
    bool ok = grow((void **)&g->name, &cap, g->nv + 1, sizeof(char *));
    cap = g->capv;
    ok = ok && grow((void **)&g->dim, &cap, g->nv + 1, sizeof(size_t));
    cap = g->capv;
    ok = ok && grow((void **)&g->ev, &cap, g->nv + 1, sizeof(double *));
    ok = ok && index_reserve(g, g->nv + 1);
    char *copy = ok ? malloc(strlen(name) + 1) : NULL;
    if (copy == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    g->capv = cap;
    strcpy(copy, name);
    g->name[g->nv] = copy;
    g->dim[g->nv] = dim;
    g->ev[g->nv] = NULL;
    g->hidx[index_slot(g, copy)] = g->nv;
    if (out_var)
        *out_var = g->nv;
    g->nv++;
    return CAI_OK;
}

cai_status cai_gauss_graph_add_factor(cai_gauss_graph *g, cai_gauss_potential *p,
                                      const size_t *scope, size_t k,
                                      cai_factor_mode mode, size_t *out_factor,
                                      cai_error *err)
{
    if (g == NULL || p == NULL || scope == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a factor needs a graph, a potential and a scope");
    if (k != p->k)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the scope has %zu variables but the potential %zu "
                             "positions",
                             k, p->k);
    if (mode != CAI_MODE_NORMAL && mode != CAI_MODE_EXPECTATION)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a Gaussian factor is in normal or expectation mode");
    if (mode == CAI_MODE_EXPECTATION && p->kind != CAI_GAUSS_LINEAR)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "expectation mode needs a linear-Gaussian conditional");
    for (size_t i = 0; i < k; i++) {
        if (scope[i] >= g->nv)
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "scope position %zu: no variable %zu", i, scope[i]);
        if (g->dim[scope[i]] != p->dims[i])
            return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                                 "scope position %zu: variable '%s' has dimension %zu "
                                 "but the potential expects %zu",
                                 i, g->name[scope[i]], g->dim[scope[i]], p->dims[i]);
        for (size_t j = 0; j < i; j++)
            if (scope[j] == scope[i])
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "variable '%s' appears twice in the scope",
                                     g->name[scope[i]]);
    }
    size_t cap = g->capf;
    size_t *sc = malloc(k * sizeof(size_t));
    if (sc == NULL || !grow((void **)&g->f, &cap, g->nf + 1, sizeof(gfactor))) {
        free(sc);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    g->capf = cap;
    memcpy(sc, scope, k * sizeof(size_t));
    g->f[g->nf] = (gfactor){cai_gauss_potential_ref(p), sc, k, mode};
    if (out_factor)
        *out_factor = g->nf;
    g->nf++;
    return CAI_OK;
}

cai_status cai_gauss_graph_set_evidence(cai_gauss_graph *g, size_t var,
                                        const double *value, cai_error *err)
{
    if (g == NULL || var >= (g ? g->nv : 0))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "no variable %zu", var);
    if (value == NULL) {
        free(g->ev[var]);
        g->ev[var] = NULL;
        return CAI_OK;
    }
    for (size_t i = 0; i < g->dim[var]; i++)
        if (!isfinite(value[i]))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "evidence on '%s': entry %zu is %g (must be finite)",
                                 g->name[var], i, value[i]);
    if (g->ev[var] == NULL && (g->ev[var] = gl_alloc(g->dim[var])) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(g->ev[var], value, g->dim[var] * sizeof(double));
    return CAI_OK;
}

size_t cai_gauss_graph_n_variables(const cai_gauss_graph *g) { return g->nv; }
size_t cai_gauss_graph_n_factors(const cai_gauss_graph *g) { return g->nf; }
const char *cai_gauss_graph_variable_name(const cai_gauss_graph *g, size_t var)
{
    return g->name[var];
}
size_t cai_gauss_graph_variable_dim(const cai_gauss_graph *g, size_t var)
{
    return g->dim[var];
}

size_t cai_gauss_graph_find_variable(const cai_gauss_graph *g, const char *name)
{
    if (g == NULL || name == NULL || g->hcap == 0)
        return CAI_NONE;
    return g->hidx[index_slot(g, name)];
}

const cai_gauss_potential *cai_gauss_graph_factor_potential(const cai_gauss_graph *g,
                                                            size_t f)
{
    return g->f[f].pot;
}

const size_t *cai_gauss_graph_factor_scope(const cai_gauss_graph *g, size_t f,
                                           size_t *out_k)
{
    if (out_k)
        *out_k = g->f[f].k;
    return g->f[f].scope;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(const cai_gauss_potential *const *)a;
    uintptr_t y = (uintptr_t)*(const cai_gauss_potential *const *)b;
    return x < y ? -1 : x > y;
}

size_t cai_gauss_graph_potential_bytes(const cai_gauss_graph *g)
{
    /* each distinct potential once */
    if (g->nf == 0)
        return 0;
    const cai_gauss_potential **ps = malloc(g->nf * sizeof *ps);
    if (ps == NULL)
        return 0;
    for (size_t f = 0; f < g->nf; f++)
        ps[f] = g->f[f].pot;
    qsort(ps, g->nf, sizeof *ps, cmp_ptr);
    size_t bytes = 0;
    for (size_t f = 0; f < g->nf; f++)
        if (f == 0 || ps[f] != ps[f - 1])
            bytes += ps[f]->bytes;
    free(ps);
    return bytes;
}
