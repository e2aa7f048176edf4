/* lib/io/factored.c — the `kind: factored_mdp` loader (format in cai/model.h).
 *
 * Every node is checked here, with its position, before cai_factored_create
 * (which checks again, without positions). The model keeps the factored MDP
 * and its unrolled dynamic Bayes net as the model's graph; cai_model_flatten
 * adds the flat MDP on request. Messages number entries and rows from 0. */
#include "model_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/factored.h"
#include "cai/logmath.h"

typedef struct fvars {
    size_t n;
    const char **names;
    yaml_node_t **nodes;       /* each variable's name node */
    size_t *card;
    const char ***states;      /* per variable: card names (owned arrays) */
    yr_names index;
} fvars;

static void fvars_clear(fvars *v)
{
    for (size_t i = 0; v->states && i < v->n; i++)
        free(v->states[i]);
    free(v->states);
    free(v->names);
    free(v->nodes);
    free(v->card);
    yr_names_clear(&v->index);
}

static size_t find_state(const fvars *v, size_t i, const char *name)
{
    for (size_t s = 0; s < v->card[i]; s++)
        if (strcmp(v->states[i][s], name) == 0)
            return s;
    return CAI_NONE;
}

/* A sequence of distinct non-empty names, or a positive count (names
 * "0".."n-1" into a fresh array *out of *out_n borrowed/formatted names). */
static cai_status read_names(const yr_loader *L, yaml_node_t *n, const char *where,
                             const char *key, const char *what, double max, char *digits,
                             const char ***out, size_t *out_n)
{
    size_t count;
    if (n->type == YAML_SCALAR_NODE) {
        yr_int_result r = yr_parse_count(n, max, &count);
        if (r == YR_INT_TOO_BIG)
            return yr_fail_at(L, n, "%s'%s': %s %ss exceed the maximum %.0f",
                              yr_prefix_of(where).s, key, yr_show(yr_text(n)).s, what, max);
        if (r == YR_INT_OK && count > 0) {
            const char **list = malloc(count * sizeof *list);
            if (list == NULL)
                return yr_nomem(L);
            /* digits holds "0\0" "1\0" ... for small counts; larger counts are
             * formatted into it by the caller's buffer size */
            char *p = digits;
            for (size_t i = 0; i < count; i++) {
                list[i] = p;
                p += sprintf(p, "%zu", i) + 1;
            }
            *out = list;
            *out_n = count;
            return CAI_OK;
        }
    }
    if (n->type != YAML_SEQUENCE_NODE || yr_seq_len(n) == 0)
        return yr_fail_got(L, n, "%s'%s' must be a non-empty sequence of %s names or a "
                           "positive count", yr_prefix_of(where).s, key, what);
    count = yr_seq_len(n);
    if ((double)count > max)
        return yr_fail_at(L, n, "%s'%s': %zu %ss exceed the maximum %.0f",
                          yr_prefix_of(where).s, key, count, what, max);
    const char **list = malloc(count * sizeof *list);
    if (list == NULL)
        return yr_nomem(L);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *x = yr_seq_item(L, n, i);
        if (x == NULL || !yr_is_string(x) || x->data.scalar.length == 0) {
            free(list);
            return yr_fail_at(L, x ? x : n, "%s'%s' entry %zu must be a non-empty %s name, "
                              "got %s", yr_prefix_of(where).s, key, i, what,
                              x ? yr_describe(x).s : "nothing");
        }
        list[i] = yr_text(x);
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j], list[i]) == 0) {
                free(list);
                return yr_fail_at(L, x, "%sduplicate %s name '%s' in '%s'",
                                  yr_prefix_of(where).s, what, yr_show(yr_text(x)).s, key);
            }
    }
    *out = list;
    *out_n = count;
    return CAI_OK;
}

/* Counts are names "0".."n-1" formatted into buffers the loader owns. */
typedef struct digit_pool {
    char **buf;
    size_t n, cap;
} digit_pool;

/* A buffer for the names of the count at n, "" when n is no count, NULL
 * when out of memory. */
static char *digits_for(const yaml_node_t *n, digit_pool *dp)
{
    size_t count;
    if (n->type != YAML_SCALAR_NODE ||
        yr_parse_count(n, CAI_FACTORED_MAX_CARD, &count) != YR_INT_OK || count == 0)
        return (char *)""; /* not a count: read_names does not write it */
    if (dp->n == dp->cap) {
        size_t cap = dp->cap ? 2 * dp->cap : 16;
        char **b = realloc(dp->buf, cap * sizeof *b);
        if (b == NULL)
            return NULL;
        dp->buf = b;
        dp->cap = cap;
    }
    char *b = malloc(count * 8 + 1); /* "999999" and its NUL */
    if (b != NULL)
        dp->buf[dp->n++] = b;
    return b;
}

static void digits_clear(digit_pool *dp)
{
    for (size_t i = 0; i < dp->n; i++)
        free(dp->buf[i]);
    free(dp->buf);
}

/* ---- variables --------------------------------------------------------- */

static cai_status load_variables(const yr_loader *L, yaml_node_t *n, fvars *v,
                                 digit_pool *dp)
{
    if (n->type != YAML_SEQUENCE_NODE || yr_seq_len(n) == 0)
        return yr_fail_got(L, n, "'variables' must be a non-empty sequence like "
                                 "[{name: m0, states: [down, up]}]");
    size_t count = yr_seq_len(n);
    if (count > CAI_FACTORED_MAX_VARIABLES)
        return yr_fail_at(L, n, "'variables': %zu variables exceed the maximum %d", count,
                          CAI_FACTORED_MAX_VARIABLES);
    v->n = count;
    if ((v->names = calloc(count, sizeof *v->names)) == NULL ||
        (v->nodes = calloc(count, sizeof *v->nodes)) == NULL ||
        (v->card = calloc(count, sizeof *v->card)) == NULL ||
        (v->states = calloc(count, sizeof *v->states)) == NULL)
        return yr_nomem(L);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yr_seq_item(L, n, i);
        char where[160];
        snprintf(where, sizeof where, "variable %zu", i);
        if (item == NULL || item->type != YAML_MAPPING_NODE)
            return yr_fail_got(L, item ? item : n,
                               "%s must be a mapping like {name: m0, states: [down, up]}",
                               where);
        yr_field f[2] = {{"name", NULL, NULL}, {"states", NULL, NULL}};
        cai_status st = yr_read_fields(L, item, where, f, 2);
        if (st != CAI_OK || (st = yr_require(L, item, where, &f[0])) != CAI_OK ||
            (st = yr_read_string(L, f[0].value, where, "name", true, &v->names[i])) != CAI_OK)
            return st;
        const char *name = v->names[i];
        v->nodes[i] = f[0].value;
        if (strchr(name, '@') != NULL || strcmp(name, "action") == 0)
            return yr_fail_at(L, f[0].value,
                              "variable '%s': a name must not contain '@' nor be 'action' "
                              "(the unrolled graph names its variables NAME@t and action@t)",
                              yr_show(name).s);
        snprintf(where, sizeof where, "variable '%s'", yr_show(name).s);
        if ((st = yr_require(L, item, where, &f[1])) != CAI_OK)
            return st;
        char *digits = digits_for(f[1].value, dp);
        if (digits == NULL)
            return yr_nomem(L);
        if ((st = read_names(L, f[1].value, where, "states", "state", CAI_FACTORED_MAX_CARD,
                             digits, &v->states[i], &v->card[i])) != CAI_OK)
            return st;
    }
    size_t dup, first;
    if (yr_names_init(&v->index, v->names, count, &dup, &first) != CAI_OK)
        return yr_nomem(L);
    if (dup != CAI_NONE)
        return yr_fail_at(L, v->nodes[dup], "duplicate variable '%s' (first at line %zu)",
                          yr_show(v->names[dup]).s,
                          (size_t)v->nodes[first]->start_mark.line + 1);
    return CAI_OK;
}

/* The variable named by node x (the value of key in where). */
static cai_status read_var(const yr_loader *L, const yaml_node_t *x, const fvars *v,
                           const char *where, const char *key, size_t *out)
{
    if (!yr_is_string(x) || x->data.scalar.length == 0)
        return yr_fail_got(L, x, "%s'%s' must name a variable", yr_prefix_of(where).s, key);
    size_t i = yr_names_find(&v->index, yr_text(x));
    if (i == CAI_NONE) {
        char hint[200];
        yr_names_hint(&v->index, hint, sizeof hint);
        return yr_fail_at(L, x, "%sunknown variable '%s' (variables: %s)",
                          yr_prefix_of(where).s, yr_show(yr_text(x)).s, hint);
    }
    *out = i;
    return CAI_OK;
}

/* A sequence of distinct variables (key in where) into a fresh array. */
static cai_status read_scope(const yr_loader *L, const yaml_node_t *n, const fvars *v,
                             const char *where, const char *key, size_t **out, size_t *out_k)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "%s'%s' must be a sequence of variable names",
                           yr_prefix_of(where).s, key);
    size_t k = yr_seq_len(n);
    if (k > v->n)
        return yr_fail_at(L, n, "%s'%s' lists %zu variables, more than the model has",
                          yr_prefix_of(where).s, key, k);
    size_t *s = malloc((k ? k : 1) * sizeof *s);
    if (s == NULL)
        return yr_nomem(L);
    for (size_t j = 0; j < k; j++) {
        yaml_node_t *x = yr_seq_item(L, n, j);
        cai_status st = read_var(L, x ? x : n, v, where, key, &s[j]);
        for (size_t l = 0; st == CAI_OK && l < j; l++)
            if (s[l] == s[j])
                st = yr_fail_at(L, x, "%svariable '%s' repeated in '%s'",
                                yr_prefix_of(where).s, yr_show(v->names[s[j]]).s, key);
        if (st != CAI_OK) {
            free(s);
            return st;
        }
    }
    *out = s;
    *out_k = k;
    return CAI_OK;
}

/* prod card(scope) * extra, refusing tables above CAI_FACTORED_MAX_TABLE. */
static cai_status table_size(const yr_loader *L, const yaml_node_t *n, const fvars *v,
                             const size_t *scope, size_t k, size_t extra, const char *where,
                             size_t *out)
{
    size_t s = extra;
    for (size_t j = 0; j < k; j++)
        if (!cai_size_mul(s, v->card[scope[j]], &s) || s > CAI_FACTORED_MAX_TABLE)
            return yr_fail_at(L, n, "%s: the table would have more than %d entries", where,
                              CAI_FACTORED_MAX_TABLE);
    *out = s;
    return CAI_OK;
}

/* "m0=down, m3=up, action=reboot0" for row r of a table over scope (+ action). */
static void describe_row(const fvars *v, const size_t *scope, size_t k, const char *action,
                         size_t A, size_t r, char *buf, size_t size)
{
    size_t d[64];
    if (action != NULL)
        r /= A;
    size_t kk = k < 64 ? k : 64;
    for (size_t j = kk; j-- > 0;) {
        d[j] = r % v->card[scope[j]];
        r /= v->card[scope[j]];
    }
    size_t used = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < kk && used < size; j++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", j ? ", " : "",
                                 v->names[scope[j]], v->states[scope[j]][d[j]]);
    if (action != NULL && used < size)
        snprintf(buf + used, size - used, "%saction=%s", kk ? ", " : "", action);
}

/* ---- the model --------------------------------------------------------- */

typedef struct loaded {
    fvars v;
    const char **actions;
    size_t A;
    double **initial;       /* per variable, or NULL until given */
    yaml_node_t **init_node;
    cai_factored_transition *trans;
    yaml_node_t **trans_node;
    cai_factored_reward *rew;
    size_t K;
    digit_pool dp;
} loaded;

static void loaded_clear(loaded *l)
{
    for (size_t i = 0; i < l->v.n; i++) {
        if (l->initial)
            free(l->initial[i]);
        if (l->trans) {
            free((void *)l->trans[i].parents);
            free((void *)l->trans[i].table);
        }
    }
    for (size_t k = 0; l->rew && k < l->K; k++) {
        free((void *)l->rew[k].scope);
        free((void *)l->rew[k].values);
    }
    free(l->initial);
    free(l->init_node);
    free(l->trans);
    free(l->trans_node);
    free(l->rew);
    free(l->actions);
    fvars_clear(&l->v);
    digits_clear(&l->dp);
}

static cai_status load_initial(const yr_loader *L, yaml_node_t *n, loaded *l)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "'initial' must be a sequence like "
                                 "[{variable: m0, probs: {up: 1}}]");
    for (size_t e = 0; e < yr_seq_len(n); e++) {
        yaml_node_t *item = yr_seq_item(L, n, e);
        char where[160];
        snprintf(where, sizeof where, "initial %zu", e);
        if (item == NULL || item->type != YAML_MAPPING_NODE)
            return yr_fail_got(L, item ? item : n, "%s must be a mapping like "
                               "{variable: m0, probs: {up: 1}}", where);
        yr_field f[2] = {{"variable", NULL, NULL}, {"probs", NULL, NULL}};
        size_t i;
        cai_status st = yr_read_fields(L, item, where, f, 2);
        if (st != CAI_OK || (st = yr_require(L, item, where, &f[0])) != CAI_OK ||
            (st = yr_require(L, item, where, &f[1])) != CAI_OK ||
            (st = read_var(L, f[0].value, &l->v, where, "variable", &i)) != CAI_OK)
            return st;
        if (l->initial[i] != NULL)
            return yr_fail_at(L, f[0].value,
                              "%s: variable '%s' already has an initial distribution "
                              "(line %zu)", where, yr_show(l->v.names[i]).s,
                              (size_t)l->init_node[i]->start_mark.line + 1);
        snprintf(where, sizeof where, "initial of '%s'", yr_show(l->v.names[i]).s);
        yr_named_number *items;
        size_t k;
        if ((st = yr_read_number_map(L, f[1].value, where, "probs", &items, &k)) != CAI_OK)
            return st;
        double *p = calloc(l->v.card[i], sizeof *p);
        if (p == NULL) {
            free(items);
            return yr_nomem(L);
        }
        l->initial[i] = p;
        l->init_node[i] = f[0].value;
        for (size_t j = 0; j < k; j++) {
            size_t s = find_state(&l->v, i, items[j].name);
            if (s == CAI_NONE)
                st = yr_fail_at(L, items[j].key, "%s: unknown state '%s' of '%s'", where,
                                yr_show(items[j].name).s, yr_show(l->v.names[i]).s);
            else if (!(items[j].value >= 0 && items[j].value <= 1))
                st = yr_fail_at(L, items[j].node, "%s: probability %g of '%s' is not in "
                                "[0, 1]", where, items[j].value, yr_show(items[j].name).s);
            if (st != CAI_OK) {
                free(items);
                return st;
            }
            p[s] = items[j].value;
        }
        free(items);
        double sum = 0;
        for (size_t s = 0; s < l->v.card[i]; s++)
            sum += p[s];
        if (fabs(sum - 1.0) > MODEL_SUM_TOL)
            return yr_fail_at(L, f[1].value, "%s: probabilities sum to %.17g, not 1 (within "
                              "1e-9)", where, sum);
    }
    for (size_t i = 0; i < l->v.n; i++)
        if (l->initial[i] == NULL)
            return yr_fail_at(L, n, "'initial': variable '%s' has no initial distribution",
                              yr_show(l->v.names[i]).s);
    return CAI_OK;
}

static cai_status load_transitions(const yr_loader *L, yaml_node_t *n, loaded *l)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "'transitions' must be a sequence like "
                                 "[{variable: m0, parents: [m0], table: [...]}]");
    for (size_t e = 0; e < yr_seq_len(n); e++) {
        yaml_node_t *item = yr_seq_item(L, n, e);
        char where[200];
        snprintf(where, sizeof where, "transition %zu", e);
        if (item == NULL || item->type != YAML_MAPPING_NODE)
            return yr_fail_got(L, item ? item : n, "%s must be a mapping like "
                               "{variable: m0, parents: [m0], table: [...]}", where);
        yr_field f[3] = {{"variable", NULL, NULL}, {"parents", NULL, NULL},
                         {"table", NULL, NULL}};
        size_t i;
        cai_status st = yr_read_fields(L, item, where, f, 3);
        if (st != CAI_OK || (st = yr_require(L, item, where, &f[0])) != CAI_OK ||
            (st = yr_require(L, item, where, &f[1])) != CAI_OK ||
            (st = yr_require(L, item, where, &f[2])) != CAI_OK ||
            (st = read_var(L, f[0].value, &l->v, where, "variable", &i)) != CAI_OK)
            return st;
        if (l->trans_node[i] != NULL)
            return yr_fail_at(L, f[0].value, "%s: variable '%s' already has a transition "
                              "(line %zu)", where, yr_show(l->v.names[i]).s,
                              (size_t)l->trans_node[i]->start_mark.line + 1);
        l->trans_node[i] = f[0].value;
        snprintf(where, sizeof where, "transition of '%s'", yr_show(l->v.names[i]).s);
        cai_factored_transition *t = &l->trans[i];
        size_t *par, k, rows, entries;
        if ((st = read_scope(L, f[1].value, &l->v, where, "parents", &par, &k)) != CAI_OK)
            return st;
        t->parents = par;
        t->n_parents = k;
        if ((st = table_size(L, f[2].value, &l->v, par, k, l->A * l->v.card[i], where,
                             &entries)) != CAI_OK)
            return st;
        rows = entries / l->v.card[i];
        yaml_node_t *tn = f[2].value;
        if (tn->type != YAML_SEQUENCE_NODE || yr_seq_len(tn) != entries)
            return yr_fail_got(L, tn, "%s: 'table' must be a sequence of %zu numbers (%zu "
                               "rows (parents..., action) of %zu states of '%s')", where,
                               entries, rows, l->v.card[i], yr_show(l->v.names[i]).s);
        double *tab = malloc(entries * sizeof *tab);
        if (tab == NULL)
            return yr_nomem(L);
        t->table = tab;
        if ((st = yr_read_doubles(L, tn, where, "table", entries, tab)) != CAI_OK)
            return st;
        size_t card = l->v.card[i];
        for (size_t r = 0; r < rows; r++) {
            double sum = 0;
            char row[200];
            for (size_t c = 0; c < card; c++) {
                double p = tab[r * card + c];
                if (!(p >= 0 && p <= 1)) {
                    describe_row(&l->v, par, k, l->actions[r % l->A], l->A, r, row,
                                 sizeof row);
                    return yr_fail_at(L, yr_seq_item(L, tn, r * card + c),
                                      "%s: table entry %zu (row %zu: %s) must be a "
                                      "probability in [0, 1], got %g", where, r * card + c,
                                      r, row, p);
                }
                sum += p;
            }
            if (fabs(sum - 1.0) > MODEL_SUM_TOL) {
                describe_row(&l->v, par, k, l->actions[r % l->A], l->A, r, row, sizeof row);
                return yr_fail_at(L, yr_seq_item(L, tn, r * card),
                                  "%s: table row %zu (%s) sums to %.17g, not 1 (within "
                                  "1e-9)", where, r, row, sum);
            }
        }
    }
    for (size_t i = 0; i < l->v.n; i++)
        if (l->trans_node[i] == NULL)
            return yr_fail_at(L, n, "'transitions': variable '%s' has no transition",
                              yr_show(l->v.names[i]).s);
    return CAI_OK;
}

static cai_status load_rewards(const yr_loader *L, yaml_node_t *n, loaded *l)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "'rewards' must be a sequence like "
                                 "[{scope: [m0], values: [0, 1]}]");
    l->K = yr_seq_len(n);
    if ((l->rew = calloc(l->K ? l->K : 1, sizeof *l->rew)) == NULL)
        return yr_nomem(L);
    for (size_t e = 0; e < l->K; e++) {
        yaml_node_t *item = yr_seq_item(L, n, e);
        char where[64];
        snprintf(where, sizeof where, "reward %zu", e);
        if (item == NULL || item->type != YAML_MAPPING_NODE)
            return yr_fail_got(L, item ? item : n, "%s must be a mapping like "
                               "{scope: [m0], values: [0, 1]}", where);
        yr_field f[3] = {{"scope", NULL, NULL}, {"action", NULL, NULL},
                         {"values", NULL, NULL}};
        cai_status st = yr_read_fields(L, item, where, f, 3);
        if (st != CAI_OK || (st = yr_require(L, item, where, &f[0])) != CAI_OK ||
            (st = yr_require(L, item, where, &f[2])) != CAI_OK)
            return st;
        cai_factored_reward *r = &l->rew[e];
        size_t *sc, k, size;
        if ((st = read_scope(L, f[0].value, &l->v, where, "scope", &sc, &k)) != CAI_OK)
            return st;
        r->scope = sc;
        r->n_scope = k;
        if (f[1].value != NULL &&
            (st = yr_read_bool(L, f[1].value, where, "action", &r->action)) != CAI_OK)
            return st;
        if ((st = table_size(L, f[2].value, &l->v, sc, k, r->action ? l->A : 1, where,
                             &size)) != CAI_OK)
            return st;
        yaml_node_t *vn = f[2].value;
        if (vn->type != YAML_SEQUENCE_NODE || yr_seq_len(vn) != size)
            return yr_fail_got(L, vn, "%s: 'values' must be a sequence of %zu numbers (one "
                               "per joint state of the scope%s)", where, size,
                               r->action ? " and action, action last" : "");
        double *vals = malloc(size * sizeof *vals);
        if (vals == NULL)
            return yr_nomem(L);
        r->values = vals;
        if ((st = yr_read_doubles(L, vn, where, "values", size, vals)) != CAI_OK)
            return st;
    }
    return CAI_OK;
}

cai_status model_load_factored(const yr_loader *L, yaml_node_t *root, cai_model *m)
{
    enum { F_KIND, F_NAME, F_VARS, F_ACTIONS, F_INIT, F_TRANS, F_REW, F_HOR, F_DISC, F_TEMP,
           N_F };
    yr_field f[N_F] = {
        {"kind", NULL, NULL},        {"name", NULL, NULL},    {"variables", NULL, NULL},
        {"actions", NULL, NULL},     {"initial", NULL, NULL}, {"transitions", NULL, NULL},
        {"rewards", NULL, NULL},     {"horizon", NULL, NULL}, {"discount", NULL, NULL},
        {"temperature", NULL, NULL},
    };
    loaded l;
    memset(&l, 0, sizeof l);
    cai_factored_variable *vars = NULL;
    cai_status st = model_read_root(L, root, f, N_F, F_NAME, m);
    if (st != CAI_OK)
        goto done;
    if (f[F_DISC].value != NULL) {
        st = yr_fail_at(L, f[F_DISC].key_node,
                        "a factored_mdp has a finite horizon only: give 'horizon', not "
                        "'discount' (flatten a discounted model into a kind: mdp file)");
        goto done;
    }
    static const int required[] = {F_VARS, F_ACTIONS, F_INIT, F_TRANS, F_HOR};
    for (size_t j = 0; j < sizeof required / sizeof required[0]; j++)
        if ((st = yr_require(L, root, "the model", &f[required[j]])) != CAI_OK)
            goto done;
    if ((st = load_variables(L, f[F_VARS].value, &l.v, &l.dp)) != CAI_OK)
        goto done;
    char *digits = digits_for(f[F_ACTIONS].value, &l.dp);
    if (digits == NULL) {
        st = yr_nomem(L);
        goto done;
    }
    if ((st = read_names(L, f[F_ACTIONS].value, NULL, "actions", "action",
                         CAI_FACTORED_MAX_CARD, digits, &l.actions, &l.A)) != CAI_OK)
        goto done;
    size_t nv = l.v.n;
    if ((l.initial = calloc(nv, sizeof *l.initial)) == NULL ||
        (l.init_node = calloc(nv, sizeof *l.init_node)) == NULL ||
        (l.trans = calloc(nv, sizeof *l.trans)) == NULL ||
        (l.trans_node = calloc(nv, sizeof *l.trans_node)) == NULL ||
        (vars = calloc(nv, sizeof *vars)) == NULL) {
        st = yr_nomem(L);
        goto done;
    }
    if ((st = load_initial(L, f[F_INIT].value, &l)) != CAI_OK ||
        (st = load_transitions(L, f[F_TRANS].value, &l)) != CAI_OK)
        goto done;
    if (f[F_REW].value != NULL && (st = load_rewards(L, f[F_REW].value, &l)) != CAI_OK)
        goto done;
    size_t T;
    yr_int_result r = yr_parse_count(f[F_HOR].value, MODEL_MAX_COUNT, &T);
    if (r != YR_INT_OK || T == 0) {
        st = yr_fail_got(L, f[F_HOR].value, "'horizon' must be an integer in 1..%.0f",
                         MODEL_MAX_COUNT);
        goto done;
    }
    if ((double)(T + 1) * (double)(nv + 1) > CAI_FACTORED_MAX_GRAPH) {
        st = yr_fail_at(L, f[F_HOR].value, "horizon %zu: the unrolled graph would have "
                        "(T + 1) * (n + 1) = %.0f variables, more than %d", T,
                        (double)(T + 1) * (double)(nv + 1), CAI_FACTORED_MAX_GRAPH);
        goto done;
    }
    double alpha;
    if ((st = model_read_temperature(L, &f[F_TEMP], &alpha)) != CAI_OK)
        goto done;
    if (!(alpha > 0)) {
        st = yr_fail_at(L, f[F_TEMP].value, "'temperature' must be > 0 in a factored_mdp "
                        "(its optimality factors are exp(r/alpha))");
        goto done;
    }
    for (size_t i = 0; i < nv; i++)
        vars[i] = (cai_factored_variable){l.v.names[i], l.v.card[i], l.v.states[i],
                                          l.initial[i]};
    cai_factored_spec spec = {
        .n_variables = nv, .variables = vars, .transitions = l.trans,
        .n_actions = l.A, .action_names = l.actions, .n_rewards = l.K,
        .rewards = l.rew, .horizon = T, .temperature = alpha,
    };
    cai_error sub;
    cai_error_clear(&sub);
    if ((st = cai_factored_create(&spec, &m->factored, &sub)) != CAI_OK) {
        st = yr_engine_fail(L, root, st, &sub, "factored_mdp");
        goto done;
    }
    if ((st = cai_factored_graph(m->factored, NAN, 0, &m->graph, &sub)) != CAI_OK)
        st = yr_engine_fail(L, root, st, &sub, "factored_mdp");
done:
    free(vars);
    loaded_clear(&l);
    return st;
}
