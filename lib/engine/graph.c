/* lib/engine/graph.c — variables, factors, evidence. */
#include "graph_impl.h"

#include "cai/logmath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- name index: open addressing over variable indices ---- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static size_t index_lookup(const cai_graph *g, const char *name)
{
    if (g->index_cap == 0)
        return CAI_NONE;
    size_t mask = g->index_cap - 1;
    for (size_t i = hash_name(name) & mask;; i = (i + 1) & mask) {
        size_t v = g->index[i];
        if (v == CAI_NONE)
            return CAI_NONE;
        if (strcmp(g->vars[v].name, name) == 0)
            return v;
    }
}

static void index_insert(size_t *index, size_t cap, const char *name, size_t v)
{
    size_t mask = cap - 1;
    size_t i = hash_name(name) & mask;
    while (index[i] != CAI_NONE)
        i = (i + 1) & mask;
    index[i] = v;
}

/* Keep the table at most half full. */
static cai_status index_reserve(cai_graph *g, size_t n, cai_error *err)
{
    size_t need;
    if (!cai_size_mul(n, 2, &need))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many variables");
    if (need <= g->index_cap)
        return CAI_OK;
    size_t cap = g->index_cap ? g->index_cap : 16, bytes;
    while (cap < need)
        cap *= 2;
    if (!cai_size_mul(cap, sizeof(size_t), &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many variables");
    size_t *index = malloc(bytes);
    if (index == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < cap; i++)
        index[i] = CAI_NONE;
    for (size_t v = 0; v < g->n_vars; v++)
        index_insert(index, cap, g->vars[v].name, v);
    free(g->index);
    g->index = index;
    g->index_cap = cap;
    return CAI_OK;
}

/* Grow *arr (of *cap elements of size elem) to hold n + 1. */
static cai_status grow(void **arr, size_t *cap, size_t n, size_t elem, cai_error *err)
{
    if (n < *cap)
        return CAI_OK;
    size_t nc = *cap ? *cap : 8, bytes;
    while (nc <= n)
        if (!cai_size_mul(nc, 2, &nc))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many elements");
    if (!cai_size_mul(nc, elem, &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many elements");
    void *p = realloc(*arr, bytes);
    if (p == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    *arr = p;
    *cap = nc;
    return CAI_OK;
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- graph ---- */

cai_status cai_graph_create(cai_graph **out_g, cai_error *err)
{
    if (out_g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_graph *g = calloc(1, sizeof *g);
    if (g == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    *out_g = g;
    return CAI_OK;
}

static void free_states(char **states, size_t n)
{
    if (states == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(states[i]);
    free(states);
}

void cai_graph_free(cai_graph *g)
{
    if (g == NULL)
        return;
    for (size_t v = 0; v < g->n_vars; v++) {
        free(g->vars[v].name);
        free_states(g->vars[v].states, g->vars[v].card);
    }
    for (size_t f = 0; f < g->n_factors; f++) {
        cai_potential_unref(g->factors[f].p);
        free(g->factors[f].scope);
    }
    free(g->vars);
    free(g->factors);
    free(g->index);
    free(g);
}

cai_status cai_graph_add_variable(cai_graph *g, const char *name, size_t card,
                                  const char *const *state_names,
                                  size_t *out_var, cai_error *err)
{
    if (g == NULL || name == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (name[0] == '\0')
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "variable name is empty");
    if (card == 0 || card > CAI_MAX_CARD)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "variable '%s': cardinality %zu is not in 1..%zu", name,
                             card, (size_t)CAI_MAX_CARD);
    if (index_lookup(g, name) != CAI_NONE)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable '%s' is defined twice", name);
    char **states = NULL;
    cai_status st = CAI_OK;
    if (state_names) {
        for (size_t i = 0; i < card; i++) {
            if (state_names[i] == NULL || state_names[i][0] == '\0')
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "variable '%s': state %zu has no name", name, i);
            for (size_t j = 0; j < i; j++)
                if (strcmp(state_names[i], state_names[j]) == 0)
                    return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                         "variable '%s': state name '%s' appears twice",
                                         name, state_names[i]);
        }
        size_t bytes;
        if (!cai_size_mul(card, sizeof(char *), &bytes))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many states");
        states = calloc(card, sizeof(char *));
        if (states == NULL)
            return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        for (size_t i = 0; i < card; i++)
            if ((states[i] = dup_string(state_names[i])) == NULL)
                goto nomem;
    }
    char *nm = dup_string(name);
    if (nm == NULL)
        goto nomem;
    if ((st = grow((void **)&g->vars, &g->cap_vars, g->n_vars, sizeof(variable), err)) != CAI_OK
        || (st = index_reserve(g, g->n_vars + 1, err)) != CAI_OK) {
        free(nm);
        free_states(states, card);
        return st;
    }
    size_t v = g->n_vars++;
    g->vars[v] = (variable){.name = nm, .card = card, .states = states, .evidence = CAI_NONE};
    index_insert(g->index, g->index_cap, nm, v);
    if (out_var)
        *out_var = v;
    return CAI_OK;
nomem:
    free_states(states, card);
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}

cai_status cai_graph_add_factor(cai_graph *g, cai_potential *p,
                                const size_t *scope, size_t k,
                                cai_factor_mode mode, size_t *out_factor,
                                cai_error *err)
{
    if (g == NULL || p == NULL || (k > 0 && scope == NULL))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (k != p->k)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "scope has %zu variables but the potential has %zu positions",
                             k, p->k);
    for (size_t i = 0; i < k; i++) {
        if (scope[i] >= g->n_vars)
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "scope position %zu: unknown variable index %zu", i,
                                 scope[i]);
        for (size_t j = 0; j < i; j++)
            if (scope[j] == scope[i])
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "variable '%s' appears twice in one scope",
                                     g->vars[scope[i]].name);
        if (g->vars[scope[i]].card != p->cards[i])
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "variable '%s' has %zu states but potential position %zu has %zu",
                                 g->vars[scope[i]].name, g->vars[scope[i]].card, i,
                                 p->cards[i]);
    }
    if (mode != CAI_MODE_NORMAL && mode != CAI_MODE_EXPECTATION && mode != CAI_MODE_SUPPORT)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown factor mode %d", (int)mode);
    if (mode == CAI_MODE_EXPECTATION && p->kind != CAI_POTENTIAL_CSR)
        return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                             "expectation mode needs a conditional (CSR) potential, not a %s",
                             p->ops->name);
    size_t bytes;
    if (!cai_size_mul(k, sizeof(size_t), &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "scope too large");
    size_t *sc = malloc(bytes);
    if (sc == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(sc, scope, bytes);
    cai_status st = grow((void **)&g->factors, &g->cap_factors, g->n_factors, sizeof(factor), err);
    if (st != CAI_OK) {
        free(sc);
        return st;
    }
    size_t f = g->n_factors++;
    g->factors[f] = (factor){.p = cai_potential_ref(p), .scope = sc, .k = k, .mode = mode};
    if (out_factor)
        *out_factor = f;
    return CAI_OK;
}

cai_status cai_graph_set_evidence(cai_graph *g, size_t var, size_t state, cai_error *err)
{
    if (g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= g->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    if (state != CAI_NONE && state >= g->vars[var].card)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "evidence %zu for variable '%s' is out of range (%zu states)",
                             state, g->vars[var].name, g->vars[var].card);
    g->vars[var].evidence = state;
    return CAI_OK;
}

size_t cai_graph_n_variables(const cai_graph *g) { return g->n_vars; }
size_t cai_graph_n_factors(const cai_graph *g) { return g->n_factors; }
const char *cai_graph_variable_name(const cai_graph *g, size_t var) { return g->vars[var].name; }
size_t cai_graph_variable_card(const cai_graph *g, size_t var) { return g->vars[var].card; }
size_t cai_graph_evidence(const cai_graph *g, size_t var) { return g->vars[var].evidence; }

const char *cai_graph_state_name(const cai_graph *g, size_t var, size_t state)
{
    const variable *v = &g->vars[var];
    return v->states && state < v->card ? v->states[state] : NULL;
}

size_t cai_graph_find_variable(const cai_graph *g, const char *name)
{
    return name ? index_lookup(g, name) : CAI_NONE;
}

size_t cai_graph_find_state(const cai_graph *g, size_t var, const char *name)
{
    const variable *v = &g->vars[var];
    if (v->states == NULL || name == NULL)
        return CAI_NONE;
    for (size_t i = 0; i < v->card; i++)
        if (strcmp(v->states[i], name) == 0)
            return i;
    return CAI_NONE;
}

const cai_potential *cai_graph_factor_potential(const cai_graph *g, size_t f)
{
    return g->factors[f].p;
}

const size_t *cai_graph_factor_scope(const cai_graph *g, size_t f, size_t *out_k)
{
    if (out_k)
        *out_k = g->factors[f].k;
    return g->factors[f].scope;
}

cai_factor_mode cai_graph_factor_mode(const cai_graph *g, size_t f)
{
    return g->factors[f].mode;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(const cai_potential *const *)a;
    uintptr_t y = (uintptr_t)*(const cai_potential *const *)b;
    return (x > y) - (x < y);
}

/* Visit each distinct potential once: sort the pointers. */
static size_t distinct_potentials(const cai_graph *g, size_t *out_bytes)
{
    *out_bytes = 0;
    if (g->n_factors == 0)
        return 0;
    const cai_potential **ps = malloc(g->n_factors * sizeof *ps);
    size_t n = 0;
    if (ps == NULL) { /* fall back to a quadratic scan rather than fail */
        for (size_t f = 0; f < g->n_factors; f++) {
            size_t j = 0;
            while (j < f && g->factors[j].p != g->factors[f].p)
                j++;
            if (j == f) {
                n++;
                *out_bytes += g->factors[f].p->bytes;
            }
        }
        return n;
    }
    for (size_t f = 0; f < g->n_factors; f++)
        ps[f] = g->factors[f].p;
    qsort(ps, g->n_factors, sizeof *ps, cmp_ptr);
    for (size_t f = 0; f < g->n_factors; f++) {
        if (f == 0 || ps[f] != ps[f - 1]) {
            n++;
            *out_bytes += ps[f]->bytes;
        }
    }
    free(ps);
    return n;
}

size_t cai_graph_potential_bytes(const cai_graph *g)
{
    size_t bytes;
    distinct_potentials(g, &bytes);
    return bytes;
}

size_t cai_graph_n_potentials(const cai_graph *g)
{
    size_t bytes;
    return distinct_potentials(g, &bytes);
}
