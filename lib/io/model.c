/* lib/io/model.c — the YAML model loader.
 *
 * libyaml composes the whole document (yaml_parser_load); this file walks the
 * node tree, checks every node against the schema described in cai/model.h
 * and builds the graph through the public builder API only. Every error
 * points at the offending node: libyaml marks are 0-based, cai_error is
 * 1-based. Nothing here recurses over arbitrary YAML, so self-referential
 * aliases cannot make the walk loop. */
#include "cai/model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "cai/logmath.h"
#include "cai/potential.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

struct cai_model {
    cai_model_kind kind;
    char *name;       /* "" when the model has no name */
    cai_graph *graph; /* factor_graph models */
};

typedef struct loader {
    yaml_document_t *doc;
    const char *path; /* for error messages; may be NULL */
    cai_error *err;
} loader;

/* A user string made safe for a one-line message: control characters become
 * '?', long strings are cut (at a UTF-8 boundary) and end in "...". */
typedef struct shown {
    char s[96];
} shown;

static shown show(const char *s)
{
    shown r;
    size_t i = 0, o = 0;
    const size_t max = 60;
    for (; s[i] != '\0' && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        r.s[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i] != '\0') {
        /* output and input advance together: do not cut a multi-byte
         * character in two */
        while (o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80)
            o--;
        memcpy(r.s + o, "...", 3);
        o += 3;
    }
    r.s[o] = '\0';
    return r;
}

static cai_status fail_at(const loader *L, const yaml_node_t *n,
                          const char *fmt, ...) PRINTF_LIKE(3, 4);

static cai_status fail_at(const loader *L, const yaml_node_t *n,
                          const char *fmt, ...)
{
    char msg[CAI_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line = n ? n->start_mark.line + 1 : 0;
    size_t column = n ? n->start_mark.column + 1 : 0;
    return cai_error_set(L->err, CAI_ERR_MODEL, L->path, line, column, "%s",
                         msg);
}

static cai_status nomem(const loader *L)
{
    return cai_error_set(L->err, CAI_ERR_NOMEM, L->path, 0, 0, "out of memory");
}

/* An engine call failed on input the loader had already checked (or ran out
 * of memory): keep out-of-memory as it is, report anything else as a model
 * error at node n. */
static cai_status engine_fail(const loader *L, const yaml_node_t *n,
                              cai_status code, const cai_error *sub,
                              const char *where)
{
    if (code == CAI_ERR_NOMEM)
        return nomem(L);
    return fail_at(L, n, "%s: %s", where, sub->message);
}

static yaml_node_t *node_at(const loader *L, yaml_node_item_t index)
{
    return yaml_document_get_node(L->doc, index);
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
    if (!is_plain(n))
        return false;
    const char *s = text(n);
    return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* A scalar usable as a name: not null, no NUL byte inside. */
static bool is_string(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && !is_null(n) &&
           strlen(text(n)) == n->data.scalar.length;
}

typedef struct described {
    char s[sizeof(shown) + 32];
} described;

/* What a node is, for "got ..." in messages. */
static described describe(const yaml_node_t *n)
{
    described r;
    if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(r.s, sizeof r.s, "a sequence");
    } else if (n->type == YAML_MAPPING_NODE) {
        snprintf(r.s, sizeof r.s, "a mapping");
    } else if (n->type != YAML_SCALAR_NODE) {
        snprintf(r.s, sizeof r.s, "nothing");
    } else if (is_null(n)) {
        snprintf(r.s, sizeof r.s, "null");
    } else {
        shown t = show(text(n));
        if (is_plain(n))
            snprintf(r.s, sizeof r.s, "'%s'", t.s);
        else
            snprintf(r.s, sizeof r.s, "the quoted string \"%s\"", t.s);
    }
    return r;
}

/* Numbers: a decimal number as strtod reads it (no hex, no "infinity", no
 * trailing characters) or, in any case, [+-](.)inf and [+-](.)nan. Only
 * plain scalars are numbers. */
static bool parse_number(const yaml_node_t *n, double *out)
{
    if (!is_plain(n) || is_null(n))
        return false;
    const char *s = text(n);
    size_t len = n->data.scalar.length;
    if (strlen(s) != len)
        return false;
    const char *p = s;
    double sign = 1.0;
    if (*p == '+' || *p == '-')
        sign = (*p++ == '-') ? -1.0 : 1.0;
    const char *q = (*p == '.') ? p + 1 : p;
    if (strcasecmp(q, "inf") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (strcasecmp(q, "nan") == 0) {
        *out = NAN;
        return true;
    }
    bool digit = false;
    for (const char *c = s; *c != '\0'; c++) {
        if (*c >= '0' && *c <= '9')
            digit = true;
        else if (strchr(".eE+-", *c) == NULL)
            return false;
    }
    if (!digit)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s + len)
        return false;
    *out = v; /* 1e999 reads as inf, 1e-999 as 0: both are numbers */
    return true;
}

/* A nonnegative integer <= max (exactly representable: max < 2^53). */
typedef enum int_result { INT_OK, INT_BAD, INT_TOO_BIG } int_result;

static int_result parse_count(const yaml_node_t *n, double max, size_t *out)
{
    double v;
    if (!parse_number(n, &v) || !isfinite(v) || v < 0.0 || v != floor(v))
        return INT_BAD;
    if (v > max)
        return INT_TOO_BIG;
    *out = (size_t)v;
    return INT_OK;
}

/* ---- mappings ---------------------------------------------------------- */

typedef struct field {
    const char *key;
    yaml_node_t *key_node; /* NULL when the key is absent */
    yaml_node_t *value;
} field;

/* "a, b or c" */
static void list_keys(const field *f, size_t nf, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nf && o < size; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == nf ? " or " : ", ");
        int w = snprintf(buf + o, size - o, "%s%s", sep, f[i].key);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Match the keys of mapping map against f[0..nf-1]: every key must be a
 * string, known and not repeated. where names the mapping in messages. */
static cai_status read_fields(const loader *L, yaml_node_t *map,
                              const char *where, field *f, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        f[i].key_node = NULL;
        f[i].value = NULL;
    }
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
         pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(L, pr->key);
        yaml_node_t *v = node_at(L, pr->value);
        if (k == NULL || v == NULL)
            return fail_at(L, map, "malformed mapping in %s", where);
        if (!is_string(k))
            return fail_at(L, k, "keys in %s must be strings, got %s", where,
                           describe(k).s);
        size_t i = 0;
        while (i < nf && strcmp(f[i].key, text(k)) != 0)
            i++;
        if (i == nf) {
            char expected[256];
            list_keys(f, nf, expected, sizeof expected);
            return fail_at(L, k, "unknown key '%s' in %s (expected %s)",
                           show(text(k)).s, where, expected);
        }
        if (f[i].key_node != NULL)
            return fail_at(L, k, "duplicate key '%s' in %s", f[i].key, where);
        f[i].key_node = k;
        f[i].value = v;
    }
    return CAI_OK;
}

static cai_status require(const loader *L, const yaml_node_t *map,
                          const char *where, const field *f)
{
    if (f->value == NULL)
        return fail_at(L, map, "missing key '%s' in %s", f->key, where);
    return CAI_OK;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(const loader *L, const yaml_node_t *n, size_t i)
{
    return node_at(L, n->data.sequence.items.start[i]);
}

/* ---- variables --------------------------------------------------------- */

typedef struct named {
    const char *name;
    size_t index;
} named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

/* The position of the first name (in document order) that repeats an
 * earlier one, or CAI_NONE. *out_first is the earlier one. */
static cai_status find_duplicate(const char *const *names, size_t n,
                                 size_t *out_dup, size_t *out_first)
{
    size_t bytes;
    if (!cai_size_mul(n, sizeof(named), &bytes))
        return CAI_ERR_OVERFLOW;
    named *v = malloc(bytes ? bytes : 1);
    if (v == NULL)
        return CAI_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].name = names[i];
        v[i].index = i;
    }
    qsort(v, n, sizeof *v, cmp_named);
    size_t dup = CAI_NONE, first = CAI_NONE;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i].name, v[i - 1].name) == 0 &&
            (i < 2 || strcmp(v[i - 1].name, v[i - 2].name) != 0) &&
            v[i].index < dup) {
            dup = v[i].index; /* the second occurrence of its group */
            first = v[i - 1].index;
        }
    free(v);
    *out_dup = dup;
    *out_first = first;
    return CAI_OK;
}

static cai_status load_variable(const loader *L, cai_graph *g,
                                yaml_node_t *item, size_t i,
                                yaml_node_t **name_nodes)
{
    char where[128];
    snprintf(where, sizeof where, "variable %zu", i);
    if (item->type != YAML_MAPPING_NODE)
        return fail_at(L, item,
                       "%s must be a mapping like {name: A, card: 2}, got %s",
                       where, describe(item).s);
    field f[3] = {{"name", NULL, NULL}, {"card", NULL, NULL},
                  {"states", NULL, NULL}};
    cai_status st = read_fields(L, item, where, f, 3);
    if (st != CAI_OK)
        return st;
    if ((st = require(L, item, where, &f[0])) != CAI_OK)
        return st;
    yaml_node_t *nn = f[0].value;
    if (!is_string(nn) || nn->data.scalar.length == 0)
        return fail_at(L, nn, "%s: 'name' must be a non-empty string, got %s",
                       where, describe(nn).s);
    const char *name = text(nn);
    size_t prev = cai_graph_find_variable(g, name);
    if (prev != CAI_NONE)
        return fail_at(L, nn,
                       "duplicate variable '%s' (first defined at line %zu)",
                       show(name).s,
                       (size_t)name_nodes[prev]->start_mark.line + 1);
    snprintf(where, sizeof where, "variable '%s'", show(name).s);

    size_t card = 0;
    yaml_node_t *cn = f[1].value, *sn = f[2].value;
    if (cn != NULL) {
        int_result r = parse_count(cn, (double)CAI_MAX_CARD, &card);
        if (r == INT_TOO_BIG)
            return fail_at(L, cn, "%s: card %s exceeds the maximum %zu",
                           where, show(text(cn)).s, (size_t)CAI_MAX_CARD);
        if (r != INT_OK || card == 0)
            return fail_at(L, cn, "%s: card must be a positive integer, got %s",
                           where, describe(cn).s);
    } else if (sn == NULL) {
        return fail_at(L, item, "missing key 'card' in %s", where);
    }

    const char **states = NULL;
    if (sn != NULL) {
        if (sn->type != YAML_SEQUENCE_NODE)
            return fail_at(L, sn,
                           "%s: 'states' must be a sequence of names, got %s",
                           where, describe(sn).s);
        size_t ns = seq_len(sn);
        if (cn == NULL)
            card = ns;
        if (ns == 0)
            return fail_at(L, sn, "%s: 'states' must not be empty", where);
        if (ns != card)
            return fail_at(L, sn, "%s: %zu state names for card %zu", where,
                           ns, card);
        size_t bytes;
        if (!cai_size_mul(ns, sizeof *states, &bytes))
            return cai_error_set(L->err, CAI_ERR_OVERFLOW, L->path, 0, 0,
                                 "%s: too many states", where);
        states = malloc(bytes);
        if (states == NULL)
            return nomem(L);
        for (size_t s = 0; s < ns; s++) {
            yaml_node_t *x = seq_item(L, sn, s);
            if (x == NULL || !is_string(x) || x->data.scalar.length == 0) {
                st = fail_at(L, x ? x : sn,
                             "%s: state %zu must be a non-empty string, got %s",
                             where, s, x ? describe(x).s : "nothing");
                goto fail;
            }
            states[s] = text(x);
        }
        size_t dup, first;
        st = find_duplicate(states, ns, &dup, &first);
        if (st != CAI_OK) {
            st = st == CAI_ERR_NOMEM ? nomem(L)
                                     : cai_error_set(L->err, st, L->path, 0, 0,
                                                     "%s: too many states", where);
            goto fail;
        }
        if (dup != CAI_NONE) {
            st = fail_at(L, seq_item(L, sn, dup),
                         "%s: duplicate state name '%s' (states %zu and %zu)",
                         where, show(states[dup]).s, first, dup);
            goto fail;
        }
    }

    cai_error sub;
    cai_error_clear(&sub);
    size_t index;
    st = cai_graph_add_variable(g, name, card, states, &index, &sub);
    if (st != CAI_OK) {
        st = engine_fail(L, item, st, &sub, where);
        goto fail;
    }
    name_nodes[index] = nn;
fail:
    free(states);
    return st;
}

static cai_status load_variables(const loader *L, cai_graph *g,
                                 yaml_node_t *vars, yaml_node_t ***out_nodes)
{
    if (vars->type != YAML_SEQUENCE_NODE)
        return fail_at(L, vars,
                       "'variables' must be a sequence of "
                       "{name, card, states} mappings, got %s",
                       describe(vars).s);
    size_t n = seq_len(vars), bytes;
    if (!cai_size_mul(n ? n : 1, sizeof(yaml_node_t *), &bytes))
        return cai_error_set(L->err, CAI_ERR_OVERFLOW, L->path, 0, 0,
                             "too many variables");
    yaml_node_t **nodes = calloc(1, bytes);
    if (nodes == NULL)
        return nomem(L);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = seq_item(L, vars, i);
        cai_status st = item ? load_variable(L, g, item, i, nodes)
                             : fail_at(L, vars, "malformed sequence");
        if (st != CAI_OK) {
            free(nodes);
            return st;
        }
    }
    *out_nodes = nodes;
    return CAI_OK;
}

/* ---- factors ----------------------------------------------------------- */

/* "2 x 3 x 4", cut to fit. */
static void format_cards(const size_t *cards, size_t k, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k && o + 1 < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%zu", i ? " x " : "", cards[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Read table values into vals (n entries); log_form for log_table. */
static cai_status read_values(const loader *L, yaml_node_t *tn, bool log_form,
                              size_t n, const char *where, double *vals)
{
    const char *key = log_form ? "log_table" : "table";
    for (size_t e = 0; e < n; e++) {
        yaml_node_t *x = seq_item(L, tn, e);
        double v;
        if (x == NULL || !parse_number(x, &v))
            return fail_at(L, x ? x : tn,
                           "%s: %s entry %zu is not a number, got %s", where,
                           key, e, x ? describe(x).s : "nothing");
        if (isnan(v))
            return fail_at(L, x, "%s: %s entry %zu is NaN", where, key, e);
        if (log_form && v > 0.0 && isinf(v))
            return fail_at(L, x,
                           "%s: log_table entry %zu is +inf (log values must "
                           "be finite or -inf)",
                           where, e);
        if (!log_form && v < 0.0)
            return fail_at(L, x, "%s: table entry %zu is negative (%s)", where,
                           e, show(text(x)).s);
        if (!log_form && isinf(v))
            return fail_at(L, x, "%s: table entry %zu is infinite (%s)", where,
                           e, show(text(x)).s);
        vals[e] = v;
    }
    return CAI_OK;
}

static cai_status load_factor(const loader *L, cai_graph *g, yaml_node_t *item,
                              size_t j)
{
    char where[64];
    snprintf(where, sizeof where, "factor %zu", j);
    if (item->type != YAML_MAPPING_NODE)
        return fail_at(L, item,
                       "%s must be a mapping like {scope: [A], table: [...]}, "
                       "got %s",
                       where, describe(item).s);
    field f[3] = {{"scope", NULL, NULL}, {"table", NULL, NULL},
                  {"log_table", NULL, NULL}};
    cai_status st = read_fields(L, item, where, f, 3);
    if (st != CAI_OK)
        return st;
    if ((st = require(L, item, where, &f[0])) != CAI_OK)
        return st;
    if (f[1].value != NULL && f[2].value != NULL) {
        const yaml_node_t *later =
            f[1].key_node->start_mark.index > f[2].key_node->start_mark.index
                ? f[1].key_node
                : f[2].key_node;
        return fail_at(L, later,
                       "%s: has both 'table' and 'log_table' (give one)", where);
    }
    if (f[1].value == NULL && f[2].value == NULL)
        return fail_at(L, item, "%s: missing key 'table' or 'log_table'", where);
    bool log_form = f[2].value != NULL;
    yaml_node_t *tn = log_form ? f[2].value : f[1].value;
    const char *key = log_form ? "log_table" : "table";

    yaml_node_t *sn = f[0].value;
    if (sn->type != YAML_SEQUENCE_NODE)
        return fail_at(L, sn,
                       "%s: 'scope' must be a sequence of variable names, "
                       "got %s",
                       where, describe(sn).s);
    size_t k = seq_len(sn);
    if (k == 0)
        return fail_at(L, sn, "%s: 'scope' must not be empty", where);
    if (tn->type != YAML_SEQUENCE_NODE)
        return fail_at(L, tn, "%s: '%s' must be a sequence of numbers, got %s",
                       where, key, describe(tn).s);

    size_t *scope = NULL, *cards = NULL;
    double *vals = NULL;
    cai_potential *p = NULL;
    size_t bytes;
    if (!cai_size_mul(k, sizeof(size_t), &bytes)) {
        st = cai_error_set(L->err, CAI_ERR_OVERFLOW, L->path, 0, 0,
                           "%s: scope too long", where);
        goto fail;
    }
    scope = malloc(bytes);
    cards = malloc(bytes);
    if (scope == NULL || cards == NULL) {
        st = nomem(L);
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *x = seq_item(L, sn, i);
        if (x == NULL || !is_string(x)) {
            st = fail_at(L, x ? x : sn,
                         "%s: scope entry %zu must be a variable name, got %s",
                         where, i, x ? describe(x).s : "nothing");
            goto fail;
        }
        size_t v = cai_graph_find_variable(g, text(x));
        if (v == CAI_NONE) {
            st = fail_at(L, x, "%s: unknown variable '%s' in scope", where,
                         show(text(x)).s);
            goto fail;
        }
        for (size_t h = 0; h < i; h++)
            if (scope[h] == v) {
                st = fail_at(L, x, "%s: variable '%s' appears twice in scope",
                             where, show(text(x)).s);
                goto fail;
            }
        scope[i] = v;
        cards[i] = cai_graph_variable_card(g, v);
    }

    char shape[160];
    format_cards(cards, k, shape, sizeof shape);
    size_t size = 1;
    for (size_t i = 0; i < k; i++)
        if (!cai_size_mul(size, cards[i], &size)) {
            st = fail_at(L, sn, "%s: table size %s overflows size_t", where,
                         shape);
            goto fail;
        }
    size_t got = seq_len(tn);
    if (got != size) {
        st = fail_at(L, tn, "%s: %s has %zu entries, expected %zu (%s)", where,
                     key, got, size, shape);
        goto fail;
    }
    if (!cai_size_mul(size, sizeof(double), &bytes)) {
        st = cai_error_set(L->err, CAI_ERR_OVERFLOW, L->path, 0, 0,
                           "%s: table too large", where);
        goto fail;
    }
    vals = malloc(bytes);
    if (vals == NULL) {
        st = nomem(L);
        goto fail;
    }
    if ((st = read_values(L, tn, log_form, size, where, vals)) != CAI_OK)
        goto fail;

    cai_error sub;
    cai_error_clear(&sub);
    st = log_form ? cai_potential_table_create(k, cards, vals, &p, &sub)
                  : cai_potential_table_create_linear(k, cards, vals, &p, &sub);
    if (st == CAI_OK)
        st = cai_graph_add_factor(g, p, scope, k, CAI_MODE_NORMAL, NULL, &sub);
    if (st != CAI_OK)
        st = engine_fail(L, item, st, &sub, where);
fail:
    cai_potential_unref(p);
    free(vals);
    free(cards);
    free(scope);
    return st;
}

static cai_status load_factors(const loader *L, cai_graph *g, yaml_node_t *fs)
{
    if (fs->type != YAML_SEQUENCE_NODE)
        return fail_at(L, fs,
                       "'factors' must be a sequence of {scope, table} "
                       "mappings, got %s",
                       describe(fs).s);
    for (size_t j = 0; j < seq_len(fs); j++) {
        yaml_node_t *item = seq_item(L, fs, j);
        cai_status st = item ? load_factor(L, g, item, j)
                             : fail_at(L, fs, "malformed sequence");
        if (st != CAI_OK)
            return st;
    }
    return CAI_OK;
}

/* ---- evidence ---------------------------------------------------------- */

/* "lo, mid, hi", cut to fit. */
static void list_states(const cai_graph *g, size_t v, char *buf, size_t size)
{
    size_t o = 0, card = cai_graph_variable_card(g, v);
    buf[0] = '\0';
    for (size_t s = 0; s < card && o + 1 < size; s++) {
        int w = snprintf(buf + o, size - o, "%s%s", s ? ", " : "",
                         show(cai_graph_state_name(g, v, s)).s);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o + 1 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

static cai_status load_evidence(const loader *L, cai_graph *g, yaml_node_t *ev)
{
    if (ev->type != YAML_MAPPING_NODE)
        return fail_at(L, ev,
                       "'evidence' must be a mapping from variable names to "
                       "states, got %s",
                       describe(ev).s);
    for (yaml_node_pair_t *pr = ev->data.mapping.pairs.start;
         pr < ev->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(L, pr->key), *x = node_at(L, pr->value);
        if (k == NULL || x == NULL)
            return fail_at(L, ev, "malformed mapping in evidence");
        if (!is_string(k))
            return fail_at(L, k,
                           "keys in evidence must be variable names, got %s",
                           describe(k).s);
        const char *name = text(k);
        size_t v = cai_graph_find_variable(g, name);
        if (v == CAI_NONE)
            return fail_at(L, k, "unknown variable '%s' in evidence",
                           show(name).s);
        if (cai_graph_evidence(g, v) != CAI_NONE)
            return fail_at(L, k, "duplicate evidence for '%s'", show(name).s);
        size_t card = cai_graph_variable_card(g, v);
        bool has_names = cai_graph_state_name(g, v, 0) != NULL;
        size_t state = CAI_NONE;
        double num;
        if (x->type != YAML_SCALAR_NODE || is_null(x))
            return fail_at(L, x,
                           "evidence for '%s': expected a state index or name, "
                           "got %s",
                           show(name).s, describe(x).s);
        if (parse_number(x, &num)) {
            /* a plain number is an index; quote a state called "1" */
            if (!isfinite(num) || num != floor(num) || num < 0.0)
                return fail_at(L, x,
                               "evidence for '%s': state index must be a "
                               "nonnegative integer, got %s",
                               show(name).s, describe(x).s);
            if (num >= (double)card)
                return fail_at(L, x,
                               "evidence for '%s': state %s is out of range "
                               "(card %zu)",
                               show(name).s, show(text(x)).s, card);
            state = (size_t)num;
        } else if (!has_names) {
            return fail_at(L, x,
                           "evidence for '%s': %s is not a state index and "
                           "'%s' has no state names",
                           show(name).s, describe(x).s, show(name).s);
        } else {
            state = is_string(x) ? cai_graph_find_state(g, v, text(x))
                                 : CAI_NONE;
            if (state == CAI_NONE) {
                char list[200];
                list_states(g, v, list, sizeof list);
                return fail_at(L, x,
                               "evidence for '%s': unknown state %s "
                               "(states: %s)",
                               show(name).s, describe(x).s, list);
            }
        }
        cai_error sub;
        cai_error_clear(&sub);
        cai_status st = cai_graph_set_evidence(g, v, state, &sub);
        if (st != CAI_OK)
            return engine_fail(L, x, st, &sub, "evidence");
    }
    return CAI_OK;
}

/* ---- documents --------------------------------------------------------- */

static cai_status load_factor_graph(const loader *L, yaml_node_t *root,
                                    cai_model *m)
{
    const char *where = "the model";
    field f[5] = {{"kind", NULL, NULL},
                  {"name", NULL, NULL},
                  {"variables", NULL, NULL},
                  {"factors", NULL, NULL},
                  {"evidence", NULL, NULL}};
    cai_status st = read_fields(L, root, where, f, 5);
    if (st != CAI_OK)
        return st;
    if ((st = require(L, root, where, &f[2])) != CAI_OK ||
        (st = require(L, root, where, &f[3])) != CAI_OK)
        return st;
    if (f[1].value != NULL) {
        yaml_node_t *nn = f[1].value;
        if (!is_string(nn))
            return fail_at(L, nn, "'name' must be a string, got %s",
                           describe(nn).s);
        m->name = strdup(text(nn));
        if (m->name == NULL)
            return nomem(L);
    }
    yaml_node_t **name_nodes = NULL;
    cai_error sub;
    cai_error_clear(&sub);
    st = cai_graph_create(&m->graph, &sub);
    if (st != CAI_OK)
        return engine_fail(L, root, st, &sub, where);
    st = load_variables(L, m->graph, f[2].value, &name_nodes);
    if (st == CAI_OK)
        st = load_factors(L, m->graph, f[3].value);
    if (st == CAI_OK && f[4].value != NULL)
        st = load_evidence(L, m->graph, f[4].value);
    free(name_nodes);
    return st;
}

/* Dispatch on `kind`; fills m. */
static cai_status load_document(const loader *L, yaml_node_t *root,
                                cai_model *m)
{
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(L, root,
                       "a model must be a mapping with a 'kind', got %s",
                       describe(root).s);
    yaml_node_t *kind = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
         pr < root->data.mapping.pairs.top && kind == NULL; pr++) {
        yaml_node_t *k = node_at(L, pr->key);
        if (k != NULL && is_string(k) && strcmp(text(k), "kind") == 0)
            kind = node_at(L, pr->value);
    }
    if (kind == NULL)
        return fail_at(L, root,
                       "missing key 'kind' in the model (expected kind: "
                       "factor_graph)");
    if (!is_string(kind))
        return fail_at(L, kind, "'kind' must be a string, got %s",
                       describe(kind).s);
    if (strcmp(text(kind), "factor_graph") == 0) {
        m->kind = CAI_MODEL_FACTOR_GRAPH;
        return load_factor_graph(L, root, m);
    }
    return fail_at(L, kind, "unknown kind '%s' (expected factor_graph)",
                   show(text(kind)).s);
}

/* The position of byte offset in text, counted as libyaml counts: 0-based
 * lines and characters. */
static void offset_mark(const char *txt, size_t len, size_t offset,
                        size_t *out_line, size_t *out_column)
{
    size_t line = 0, column = 0;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (txt[i] == '\n') {
            line++;
            column = 0;
        } else if (((unsigned char)txt[i] & 0xC0) != 0x80) {
            column++;
        }
    }
    *out_line = line;
    *out_column = column;
}

static cai_status syntax_error(const yaml_parser_t *p, const char *path,
                               const char *txt, size_t len, cai_error *err)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0,
                             "out of memory while reading YAML");
    case YAML_READER_ERROR: {
        size_t line, column;
        offset_mark(txt, len, p->problem_offset, &line, &column);
        if (p->problem_value != -1)
            return cai_error_set(err, CAI_ERR_SYNTAX, path, line + 1,
                                 column + 1, "%s (byte 0x%02X)", problem,
                                 (unsigned)p->problem_value & 0xFFu);
        return cai_error_set(err, CAI_ERR_SYNTAX, path, line + 1, column + 1,
                             "%s", problem);
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR:
        if (p->context != NULL)
            return cai_error_set(err, CAI_ERR_SYNTAX, path,
                                 p->problem_mark.line + 1,
                                 p->problem_mark.column + 1,
                                 "%s (%s at line %zu, column %zu)", problem,
                                 p->context, p->context_mark.line + 1,
                                 p->context_mark.column + 1);
        return cai_error_set(err, CAI_ERR_SYNTAX, path,
                             p->problem_mark.line + 1,
                             p->problem_mark.column + 1, "%s", problem);
    default:
        return cai_error_set(err, CAI_ERR_SYNTAX, path, 0, 0, "%s", problem);
    }
}

void cai_model_free(cai_model *m)
{
    if (m == NULL)
        return;
    cai_graph_free(m->graph);
    free(m->name);
    free(m);
}

cai_status cai_model_load_string(const char *txt, size_t len, const char *name,
                                 cai_model **out_model, cai_error *err)
{
    if (txt == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_load_string: NULL argument");
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    loader L = {&doc, name, err};
    bool have_doc = false;
    cai_model *m = NULL;
    cai_status st = CAI_OK;
    if (!yaml_parser_initialize(&parser))
        return cai_error_set(err, CAI_ERR_NOMEM, name, 0, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)txt, len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = syntax_error(&parser, name, txt, len, err);
        goto fail;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root == NULL) {
        st = cai_error_set(err, CAI_ERR_MODEL, name, doc.start_mark.line + 1,
                           doc.start_mark.column + 1,
                           "empty model: expected a mapping with a 'kind'");
        goto fail;
    }
    /* the stream must end after one document */
    if (!yaml_parser_load(&parser, &extra)) {
        st = syntax_error(&parser, name, txt, len, err);
        goto fail;
    }
    yaml_node_t *more = yaml_document_get_root_node(&extra);
    if (more != NULL)
        st = fail_at(&L, more, "a model file must hold one YAML document");
    yaml_document_delete(&extra);
    if (st != CAI_OK)
        goto fail;

    m = calloc(1, sizeof *m);
    if (m == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, name, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = load_document(&L, root, m)) != CAI_OK)
        goto fail;
    if (m->name == NULL && (m->name = strdup("")) == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, name, 0, 0, "out of memory");
        goto fail;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    *out_model = m;
    return CAI_OK;
fail:
    cai_model_free(m);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return st;
}

cai_status cai_model_load(const char *path, cai_model **out_model,
                          cai_error *err)
{
    if (path == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot open: %s",
                             strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    cai_status st = CAI_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap;
            if (!cai_size_mul(cap ? cap : 4096, 2, &ncap)) {
                st = cai_error_set(err, CAI_ERR_OVERFLOW, path, 0, 0,
                                   "file too large");
                goto fail;
            }
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                st = cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0,
                                   "out of memory");
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        st = cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot read: %s",
                           strerror(errno));
        goto fail;
    }
    st = cai_model_load_string(buf, len, path, out_model, err);
fail:
    free(buf);
    fclose(f);
    return st;
}

cai_model_kind cai_model_get_kind(const cai_model *m)
{
    return m->kind;
}

const char *cai_model_kind_name(cai_model_kind kind)
{
    switch (kind) {
    case CAI_MODEL_FACTOR_GRAPH:
        return "factor_graph";
    }
    return "unknown";
}

const char *cai_model_name(const cai_model *m)
{
    return m->name ? m->name : "";
}

const cai_graph *cai_model_graph(const cai_model *m)
{
    return m->graph;
}
