/* lib/io/factor_graph.c — the `kind: factor_graph` loader.
 *
 * Checks every node against the schema described in cai/model.h and builds
 * the graph through the public builder API only. Every error points at the
 * offending node. Variables come first (factors and evidence refer to them
 * by name), then factors, then evidence. */
#include "model_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"
#include "cai/logmath.h"
#include "cai/potential.h"

/* ---- variables --------------------------------------------------------- */

static cai_status load_variable(const yr_loader *L, cai_graph *g,
                                yaml_node_t *item, size_t i,
                                yaml_node_t **name_nodes)
{
    char where[128];
    snprintf(where, sizeof where, "variable %zu", i);
    if (item->type != YAML_MAPPING_NODE)
        return yr_fail_got(
            L, item, "%s must be a mapping like {name: A, card: 2}", where);
    yr_field f[3] = {
        {"name", NULL, NULL}, {"card", NULL, NULL}, {"states", NULL, NULL}};
    cai_status st = yr_read_fields(L, item, where, f, 3);
    if (st != CAI_OK)
        return st;
    if ((st = yr_require(L, item, where, &f[0])) != CAI_OK)
        return st;
    yaml_node_t *nn = f[0].value;
    const char *name;
    if ((st = yr_read_string(L, nn, where, "name", true, &name)) != CAI_OK)
        return st;
    size_t prev = cai_graph_find_variable(g, name);
    if (prev != CAI_NONE)
        return yr_fail_at(
            L, nn, "duplicate variable '%s' (first defined at line %zu)",
            yr_show(name).s, (size_t)name_nodes[prev]->start_mark.line + 1);
    snprintf(where, sizeof where, "variable '%s'", yr_show(name).s);

    size_t card = 0;
    yaml_node_t *cn = f[1].value, *sn = f[2].value;
    if (cn != NULL) {
        yr_int_result r = yr_parse_count(cn, (double)CAI_MAX_CARD, &card);
        if (r == YR_INT_TOO_BIG)
            return yr_fail_at(L, cn, "%s: card %s exceeds the maximum %zu",
                              where, yr_show(yr_text(cn)).s,
                              (size_t)CAI_MAX_CARD);
        if (r != YR_INT_OK || card == 0)
            return yr_fail_got(L, cn, "%s: card must be a positive integer",
                               where);
    } else if (sn == NULL) {
        return yr_fail_at(L, item, "missing key 'card' in %s", where);
    }

    const char **states = NULL;
    if (sn != NULL) {
        if (sn->type != YAML_SEQUENCE_NODE)
            return yr_fail_got(
                L, sn, "%s: 'states' must be a sequence of names", where);
        size_t ns = yr_seq_len(sn);
        if (cn == NULL)
            card = ns;
        if (ns == 0)
            return yr_fail_at(L, sn, "%s: 'states' must not be empty", where);
        if (ns != card)
            return yr_fail_at(L, sn, "%s: %zu state names for card %zu", where,
                              ns, card);
        size_t bytes;
        if (!cai_size_mul(ns, sizeof *states, &bytes))
            return yr_overflow(L, "%s: too many states", where);
        states = malloc(bytes);
        if (states == NULL)
            return yr_nomem(L);
        for (size_t s = 0; s < ns; s++) {
            yaml_node_t *x = yr_seq_item(L, sn, s);
            if (x == NULL || !yr_is_string(x) || x->data.scalar.length == 0) {
                st = yr_fail_at(
                    L, x ? x : sn,
                    "%s: state %zu must be a non-empty string, got %s", where,
                    s, x ? yr_describe(x).s : "nothing");
                goto fail;
            }
            states[s] = yr_text(x);
        }
        size_t dup, first;
        st = yr_find_duplicate(states, ns, &dup, &first);
        if (st != CAI_OK) {
            st = st == CAI_ERR_NOMEM
                     ? yr_nomem(L)
                     : yr_overflow(L, "%s: too many states", where);
            goto fail;
        }
        if (dup != CAI_NONE) {
            st =
                yr_fail_at(L, yr_seq_item(L, sn, dup),
                           "%s: duplicate state name '%s' (states %zu and %zu)",
                           where, yr_show(states[dup]).s, first, dup);
            goto fail;
        }
    }

    cai_error sub;
    cai_error_clear(&sub);
    size_t index;
    st = cai_graph_add_variable(g, name, card, states, &index, &sub);
    if (st != CAI_OK) {
        st = yr_engine_fail(L, item, st, &sub, where);
        goto fail;
    }
    name_nodes[index] = nn;
fail:
    free(states);
    return st;
}

static cai_status load_variables(const yr_loader *L, cai_graph *g,
                                 yaml_node_t *vars, yaml_node_t ***out_nodes)
{
    if (vars->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, vars,
            "'variables' must be a sequence of {name, card, states} mappings");
    size_t n = yr_seq_len(vars), bytes;
    if (!cai_size_mul(n ? n : 1, sizeof(yaml_node_t *), &bytes))
        return yr_overflow(L, "too many variables");
    yaml_node_t **nodes = calloc(1, bytes);
    if (nodes == NULL)
        return yr_nomem(L);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yr_seq_item(L, vars, i);
        cai_status st = item ? load_variable(L, g, item, i, nodes)
                             : yr_fail_at(L, vars, "malformed sequence");
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
static cai_status read_values(const yr_loader *L, yaml_node_t *tn,
                              bool log_form, size_t n, const char *where,
                              double *vals)
{
    const char *key = log_form ? "log_table" : "table";
    for (size_t e = 0; e < n; e++) {
        yaml_node_t *x = yr_seq_item(L, tn, e);
        double v;
        if (x == NULL || !yr_parse_number(x, &v))
            return yr_fail_at(L, x ? x : tn,
                              "%s: %s entry %zu is not a number, got %s", where,
                              key, e, x ? yr_describe(x).s : "nothing");
        if (isnan(v))
            return yr_fail_at(L, x, "%s: %s entry %zu is NaN", where, key, e);
        if (log_form && v > 0.0 && isinf(v))
            return yr_fail_at(
                L, x,
                "%s: log_table entry %zu is +inf (log values must "
                "be finite or -inf)",
                where, e);
        if (!log_form && v < 0.0)
            return yr_fail_at(L, x, "%s: table entry %zu is negative (%s)",
                              where, e, yr_show(yr_text(x)).s);
        if (!log_form && isinf(v))
            return yr_fail_at(L, x, "%s: table entry %zu is infinite (%s)",
                              where, e, yr_show(yr_text(x)).s);
        vals[e] = v;
    }
    return CAI_OK;
}

/* `mode`: normal (the default), expectation or support. */
static cai_status read_mode(const yr_loader *L, const yaml_node_t *n, const char *where,
                            cai_factor_mode *out)
{
    static const struct { const char *name; cai_factor_mode mode; } modes[] = {
        {"normal", CAI_MODE_NORMAL},
        {"expectation", CAI_MODE_EXPECTATION},
        {"support", CAI_MODE_SUPPORT},
    };
    if (yr_is_string(n))
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
            if (strcmp(yr_text(n), modes[i].name) == 0) {
                *out = modes[i].mode;
                return CAI_OK;
            }
    return yr_fail_got(L, n, "%s: 'mode' must be normal, expectation or support", where);
}

/* The table as a CSR conditional p(last | the others): rows are the joint
 * states of the others, zeros dropped; the engine checks the rows sum to 1. */
static cai_status conditional_from_table(size_t k, const size_t *cards, const double *vals,
                                         bool log_form, cai_potential **out,
                                         cai_error *err)
{
    size_t K = cards[k - 1], R = 1, nnz = 0;
    for (size_t i = 0; i + 1 < k; i++)
        R *= cards[i]; /* the table's size did not overflow */
    for (size_t i = 0; i < R * K; i++)
        nnz += (log_form ? vals[i] > -INFINITY : vals[i] != 0.0);
    size_t *row_ptr = malloc((R + 1) * sizeof *row_ptr);
    size_t *col = malloc((nnz ? nnz : 1) * sizeof *col);
    double *prob = malloc((nnz ? nnz : 1) * sizeof *prob);
    cai_status st;
    if (row_ptr == NULL || col == NULL || prob == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    } else {
        size_t j = 0;
        for (size_t r = 0; r < R; r++) {
            row_ptr[r] = j;
            for (size_t c = 0; c < K; c++) {
                double v = vals[r * K + c];
                if (log_form ? v > -INFINITY : v != 0.0) {
                    col[j] = c;
                    prob[j++] = log_form ? exp(v) : v;
                }
            }
        }
        row_ptr[R] = j;
        st = cai_potential_csr_create(k - 1, cards, K, row_ptr, col, prob, out, err);
    }
    free(row_ptr);
    free(col);
    free(prob);
    return st;
}

static cai_status load_factor(const yr_loader *L, cai_graph *g,
                              yaml_node_t *item, size_t j)
{
    char where[64];
    snprintf(where, sizeof where, "factor %zu", j);
    if (item->type != YAML_MAPPING_NODE)
        return yr_fail_got(
            L, item, "%s must be a mapping like {scope: [A], table: [...]}",
            where);
    yr_field f[4] = {{"scope", NULL, NULL},
                     {"table", NULL, NULL},
                     {"log_table", NULL, NULL},
                     {"mode", NULL, NULL}};
    cai_status st = yr_read_fields(L, item, where, f, 4);
    if (st != CAI_OK)
        return st;
    if ((st = yr_require(L, item, where, &f[0])) != CAI_OK)
        return st;
    if (f[1].value != NULL && f[2].value != NULL) {
        const yaml_node_t *later =
            f[1].key_node->start_mark.index > f[2].key_node->start_mark.index
                ? f[1].key_node
                : f[2].key_node;
        return yr_fail_at(
            L, later, "%s: has both 'table' and 'log_table' (give one)", where);
    }
    if (f[1].value == NULL && f[2].value == NULL)
        return yr_fail_at(L, item, "%s: missing key 'table' or 'log_table'",
                          where);
    cai_factor_mode mode = CAI_MODE_NORMAL;
    if (f[3].value != NULL && (st = read_mode(L, f[3].value, where, &mode)) != CAI_OK)
        return st;
    bool log_form = f[2].value != NULL;
    yaml_node_t *tn = log_form ? f[2].value : f[1].value;
    const char *key = log_form ? "log_table" : "table";

    yaml_node_t *sn = f[0].value;
    if (sn->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, sn, "%s: 'scope' must be a sequence of variable names", where);
    size_t k = yr_seq_len(sn);
    if (k == 0)
        return yr_fail_at(L, sn, "%s: 'scope' must not be empty", where);
    if (tn->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, tn, "%s: '%s' must be a sequence of numbers",
                           where, key);

    size_t *scope = NULL, *cards = NULL;
    double *vals = NULL;
    cai_potential *p = NULL;
    size_t bytes;
    if (!cai_size_mul(k, sizeof(size_t), &bytes)) {
        st = yr_overflow(L, "%s: scope too long", where);
        goto fail;
    }
    scope = malloc(bytes);
    cards = malloc(bytes);
    if (scope == NULL || cards == NULL) {
        st = yr_nomem(L);
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *x = yr_seq_item(L, sn, i);
        if (x == NULL || !yr_is_string(x)) {
            st = yr_fail_at(
                L, x ? x : sn,
                "%s: scope entry %zu must be a variable name, got %s", where, i,
                x ? yr_describe(x).s : "nothing");
            goto fail;
        }
        size_t v = cai_graph_find_variable(g, yr_text(x));
        if (v == CAI_NONE) {
            st = yr_fail_at(L, x, "%s: unknown variable '%s' in scope", where,
                            yr_show(yr_text(x)).s);
            goto fail;
        }
        for (size_t h = 0; h < i; h++)
            if (scope[h] == v) {
                st =
                    yr_fail_at(L, x, "%s: variable '%s' appears twice in scope",
                               where, yr_show(yr_text(x)).s);
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
            st = yr_fail_at(L, sn, "%s: table size %s overflows size_t", where,
                            shape);
            goto fail;
        }
    size_t got = yr_seq_len(tn);
    if (got != size) {
        st = yr_fail_at(L, tn, "%s: %s has %zu entries, expected %zu (%s)",
                        where, key, got, size, shape);
        goto fail;
    }
    if (!cai_size_mul(size, sizeof(double), &bytes)) {
        st = yr_overflow(L, "%s: table too large", where);
        goto fail;
    }
    vals = malloc(bytes);
    if (vals == NULL) {
        st = yr_nomem(L);
        goto fail;
    }
    if ((st = read_values(L, tn, log_form, size, where, vals)) != CAI_OK)
        goto fail;

    cai_error sub;
    cai_error_clear(&sub);
    if (mode == CAI_MODE_EXPECTATION && k < 2) {
        st = yr_fail_at(L, f[3].value, "%s: mode expectation needs a conditional: a "
                        "scope of at least two variables, the last the child", where);
        goto fail;
    }
    if (mode == CAI_MODE_EXPECTATION)
        st = conditional_from_table(k, cards, vals, log_form, &p, &sub);
    else
        st = log_form ? cai_potential_table_create(k, cards, vals, &p, &sub)
                      : cai_potential_table_create_linear(k, cards, vals, &p, &sub);
    if (st == CAI_OK)
        st = cai_graph_add_factor(g, p, scope, k, mode, NULL, &sub);
    if (st != CAI_OK)
        st = yr_engine_fail(L, item, st, &sub, where);
fail:
    cai_potential_unref(p);
    free(vals);
    free(cards);
    free(scope);
    return st;
}

static cai_status load_factors(const yr_loader *L, cai_graph *g,
                               yaml_node_t *fs)
{
    if (fs->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, fs, "'factors' must be a sequence of {scope, table} mappings");
    for (size_t j = 0; j < yr_seq_len(fs); j++) {
        yaml_node_t *item = yr_seq_item(L, fs, j);
        cai_status st = item ? load_factor(L, g, item, j)
                             : yr_fail_at(L, fs, "malformed sequence");
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
                         yr_show(cai_graph_state_name(g, v, s)).s);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o + 1 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

static cai_status load_evidence(const yr_loader *L, cai_graph *g,
                                yaml_node_t *ev)
{
    if (ev->type != YAML_MAPPING_NODE)
        return yr_fail_got(
            L, ev,
            "'evidence' must be a mapping from variable names to states");
    for (yaml_node_pair_t *pr = ev->data.mapping.pairs.start;
         pr < ev->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yr_node_at(L, pr->key), *x = yr_node_at(L, pr->value);
        if (k == NULL || x == NULL)
            return yr_fail_at(L, ev, "malformed mapping in evidence");
        if (!yr_is_string(k))
            return yr_fail_got(L, k, "keys in evidence must be variable names");
        const char *name = yr_text(k);
        size_t v = cai_graph_find_variable(g, name);
        if (v == CAI_NONE)
            return yr_fail_at(L, k, "unknown variable '%s' in evidence",
                              yr_show(name).s);
        if (cai_graph_evidence(g, v) != CAI_NONE)
            return yr_fail_at(L, k, "duplicate evidence for '%s'",
                              yr_show(name).s);
        size_t card = cai_graph_variable_card(g, v);
        bool has_names = cai_graph_state_name(g, v, 0) != NULL;
        size_t state = CAI_NONE;
        double num;
        if (x->type != YAML_SCALAR_NODE || yr_is_null(x))
            return yr_fail_got(
                L, x, "evidence for '%s': expected a state index or name",
                yr_show(name).s);
        if (yr_parse_number(x, &num)) {
            /* a plain number is an index; quote a state called "1" */
            if (!isfinite(num) || num != floor(num) || num < 0.0)
                return yr_fail_got(L, x,
                                   "evidence for '%s': state index must be a "
                                   "nonnegative integer",
                                   yr_show(name).s);
            if (num >= (double)card)
                return yr_fail_at(L, x,
                                  "evidence for '%s': state %s is out of range "
                                  "(card %zu)",
                                  yr_show(name).s, yr_show(yr_text(x)).s, card);
            state = (size_t)num;
        } else if (!has_names) {
            return yr_fail_at(L, x,
                              "evidence for '%s': %s is not a state index and "
                              "'%s' has no state names",
                              yr_show(name).s, yr_describe(x).s,
                              yr_show(name).s);
        } else {
            state = yr_is_string(x) ? cai_graph_find_state(g, v, yr_text(x))
                                    : CAI_NONE;
            if (state == CAI_NONE) {
                char list[200];
                list_states(g, v, list, sizeof list);
                return yr_fail_at(L, x,
                                  "evidence for '%s': unknown state %s "
                                  "(states: %s)",
                                  yr_show(name).s, yr_describe(x).s, list);
            }
        }
        cai_error sub;
        cai_error_clear(&sub);
        cai_status st = cai_graph_set_evidence(g, v, state, &sub);
        if (st != CAI_OK)
            return yr_engine_fail(L, x, st, &sub, "evidence");
    }
    return CAI_OK;
}

/* ---- the model --------------------------------------------------------- */

cai_status model_load_factor_graph(const yr_loader *L, yaml_node_t *root,
                                   cai_model *m)
{
    const char *where = "the model";
    yr_field f[6] = {{"kind", NULL, NULL},
                     {"name", NULL, NULL},
                     {"variables", NULL, NULL},
                     {"factors", NULL, NULL},
                     {"evidence", NULL, NULL},
                     {"inference", NULL, NULL}};
    cai_status st = yr_read_fields(L, root, where, f, 6);
    if (st != CAI_OK)
        return st;
    if ((st = yr_require(L, root, where, &f[2])) != CAI_OK ||
        (st = yr_require(L, root, where, &f[3])) != CAI_OK)
        return st;
    if ((st = model_read_name(L, &f[1], m)) != CAI_OK)
        return st;
    yaml_node_t *clusters = NULL;
    if (f[5].value != NULL
        && (st = model_read_inference(L, f[5].value, &m->inference, &clusters)) != CAI_OK)
        return st;
    yaml_node_t **name_nodes = NULL;
    cai_error sub;
    cai_error_clear(&sub);
    st = cai_graph_create(&m->graph, &sub);
    if (st != CAI_OK)
        return yr_engine_fail(L, root, st, &sub, where);
    st = load_variables(L, m->graph, f[2].value, &name_nodes);
    if (st == CAI_OK)
        st = load_factors(L, m->graph, f[3].value);
    if (st == CAI_OK && f[4].value != NULL)
        st = load_evidence(L, m->graph, f[4].value);
    if (st == CAI_OK && clusters != NULL)
        st = model_read_clusters(L, m->graph, clusters, &m->inference);
    free(name_nodes);
    return st;
}
