/* lib/io/fg.c — reading libDAI's .fg factor graphs (the writer is in
 * formats_write.c). The conventions are at the top of cai/formats.h.
 *
 * libDAI numbers a factor's entries with the FIRST variable of the block
 * fastest (doc.h, "Factor block format"; factorgraph.cpp reads an index
 * with that convention and permutes it into its own label order). cai's
 * tables are row-major with the LAST scope variable fastest, so an index
 * li of a block over cards c0, c1, ... is the assignment x0 = li mod c0,
 * x1 = (li / c0) mod c1, ..., stored at sum_i x_i * (c_{i+1} ... c_{k-1}).
 *
 * The variables are only known once every block has been read, so the
 * blocks are kept (already in cai's layout) and the graph is built at the
 * end: variables in increasing order of label, then the factors in file
 * order. */
#include "formats_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "cai/potential.h"

/* ---- labels ------------------------------------------------------------ */

/* One label: its cardinality and where it was first seen. */
typedef struct label_info {
    size_t label, card;
    size_t factor;  /* the first factor it appears in */
    fmt_token where;
    size_t var;     /* its cai variable, once sorted */
} label_info;

/* Labels in order of appearance plus an open-addressing hash of them. */
typedef struct label_set {
    label_info *info;
    size_t n, cap;
    size_t *slot; /* hash slots: index + 1 into info, 0 = empty */
    size_t n_slots;
} label_set;

static void labels_free(label_set *s)
{
    free(s->info);
    free(s->slot);
}

static size_t hash_label(size_t x)
{
    uint64_t h = (uint64_t)x * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29));
}

/* The index in s->info of label, or CAI_NONE. */
static size_t labels_find(const label_set *s, size_t label)
{
    if (s->n_slots == 0)
        return CAI_NONE;
    for (size_t i = hash_label(label) & (s->n_slots - 1);; i = (i + 1) & (s->n_slots - 1)) {
        if (s->slot[i] == 0)
            return CAI_NONE;
        if (s->info[s->slot[i] - 1].label == label)
            return s->slot[i] - 1;
    }
}

static bool rehash(label_set *s, size_t n_slots)
{
    size_t *slot = calloc(n_slots, sizeof *slot);
    if (slot == NULL)
        return false;
    for (size_t j = 0; j < s->n; j++) {
        size_t i = hash_label(s->info[j].label) & (n_slots - 1);
        while (slot[i] != 0)
            i = (i + 1) & (n_slots - 1);
        slot[i] = j + 1;
    }
    free(s->slot);
    s->slot = slot;
    s->n_slots = n_slots;
    return true;
}

/* Add a new label (not yet in s); false when out of memory. */
static bool labels_add(label_set *s, const label_info *li)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        label_info *info = realloc(s->info, cap * sizeof *info);
        if (info == NULL)
            return false;
        s->info = info;
        s->cap = cap;
    }
    s->info[s->n++] = *li;
    if (2 * s->n > s->n_slots && !rehash(s, s->n_slots ? 2 * s->n_slots : 128)) {
        s->n--;
        return false;
    }
    size_t i = hash_label(li->label) & (s->n_slots - 1);
    while (s->slot[i] != 0 && s->slot[i] != s->n)
        i = (i + 1) & (s->n_slots - 1);
    s->slot[i] = s->n;
    return true;
}

/* ---- blocks ------------------------------------------------------------ */

typedef struct fg_block {
    size_t k;
    size_t *label;  /* k, in file order */
    size_t *card;   /* k */
    double *val;    /* the table in cai's layout */
    fmt_token where; /* its number of variables */
} fg_block;

static void blocks_free(fg_block *b, size_t n)
{
    for (size_t i = 0; i < n && b != NULL; i++) {
        free(b[i].label);
        free(b[i].card);
        free(b[i].val);
    }
    free(b);
}

/* (value, position) pairs, for finding repeats in O(k log k). */
typedef struct pos_value {
    size_t value, pos;
} pos_value;

static int cmp_pos_value(const void *a, const void *b)
{
    const pos_value *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The first position of a[0..k-1] whose value occurred before it, or
 * CAI_NONE; CAI_ERR_NOMEM when out of memory. */
static cai_status first_repeat(const size_t *a, size_t k, size_t *out)
{
    *out = CAI_NONE;
    if (k <= 32) { /* the usual case: a few variables */
        for (size_t i = 1; i < k && *out == CAI_NONE; i++)
            for (size_t h = 0; h < i; h++)
                if (a[h] == a[i]) {
                    *out = i;
                    break;
                }
        return CAI_OK;
    }
    pos_value *pv = malloc(k * sizeof *pv);
    if (pv == NULL)
        return CAI_ERR_NOMEM;
    for (size_t i = 0; i < k; i++)
        pv[i] = (pos_value){a[i], i};
    qsort(pv, k, sizeof *pv, cmp_pos_value);
    for (size_t i = 1; i < k; i++) /* the second of each run of equal values */
        if (pv[i].value == pv[i - 1].value && (i < 2 || pv[i - 2].value != pv[i].value) &&
            (*out == CAI_NONE || pv[i].pos < *out))
            *out = pv[i].pos;
    free(pv);
    return CAI_OK;
}

static cai_status read_block_head(fmt_lexer *lx, size_t I, fg_block *b, label_set *ls)
{
    char what[96];
    cai_status st = fmt_read_count(lx, CAI_FORMATS_MAX_ENTRIES, &b->k, &b->where,
                                   "the number of variables of factor %zu", I);
    if (st != CAI_OK)
        return st;
    if (b->k == 0)
        return fmt_fail(lx, &b->where,
                        "factor %zu has no variables (a constant factor is not supported)", I);
    snprintf(what, sizeof what, "labels and cardinalities of factor %zu", I);
    if ((st = fmt_check_fits(lx, 2 * b->k, what)) != CAI_OK)
        return st;
    b->label = malloc(b->k * sizeof *b->label);
    b->card = malloc(b->k * sizeof *b->card);
    fmt_token *lt = malloc(b->k * sizeof *lt);
    if (b->label == NULL || b->card == NULL || lt == NULL) {
        free(lt);
        return fmt_nomem(lx);
    }
    for (size_t i = 0; i < b->k && st == CAI_OK; i++)
        st = fmt_read_count(lx, (size_t)-1, &b->label[i], &lt[i], "label %zu of factor %zu", i,
                            I);
    if (st == CAI_OK) {
        size_t dup;
        if ((st = first_repeat(b->label, b->k, &dup)) != CAI_OK)
            st = fmt_nomem(lx);
        else if (dup != CAI_NONE)
            st = fmt_fail(lx, &lt[dup], "factor %zu: label %zu appears twice", I,
                          b->label[dup]);
    }
    for (size_t i = 0; i < b->k && st == CAI_OK; i++) {
        fmt_token ct;
        if ((st = fmt_read_count(lx, CAI_MAX_CARD, &b->card[i], &ct,
                                 "the cardinality of label %zu in factor %zu", b->label[i],
                                 I)) != CAI_OK)
            break;
        if (b->card[i] == 0) {
            st = fmt_fail(lx, &ct, "factor %zu: label %zu has cardinality 0 (must be >= 1)",
                          I, b->label[i]);
            break;
        }
        size_t j = labels_find(ls, b->label[i]);
        if (j == CAI_NONE) {
            label_info li = {b->label[i], b->card[i], I, lt[i], 0};
            if (!labels_add(ls, &li))
                st = fmt_nomem(lx);
        } else if (ls->info[j].card != b->card[i]) {
            st = fmt_fail(lx, &ct,
                          "factor %zu: label %zu has cardinality %zu here but %zu in "
                          "factor %zu (line %zu)",
                          I, b->label[i], b->card[i], ls->info[j].card, ls->info[j].factor,
                          ls->info[j].where.line);
        }
    }
    free(lt);
    return st;
}

static cai_status read_block(fmt_lexer *lx, size_t I, fg_block *b, label_set *ls)
{
    cai_status st = read_block_head(lx, I, b, ls);
    if (st != CAI_OK)
        return st;
    size_t size;
    if (!fmt_table_size(b->card, b->k, &size))
        return fmt_fail(lx, &b->where, "factor %zu: its table would have more than %zu entries",
                        I, (size_t)CAI_FORMATS_MAX_ENTRIES);
    char what[96];
    size_t nnz;
    fmt_token nt;
    if ((st = fmt_read_count(lx, (size_t)-1, &nnz, &nt,
                             "the number of nonzero entries of factor %zu", I)) != CAI_OK)
        return st;
    if (nnz > size)
        return fmt_fail(lx, &nt, "factor %zu: %zu nonzero entries, but its table has only %zu",
                        I, nnz, size);
    snprintf(what, sizeof what, "numbers of the index-value pairs of factor %zu", I);
    if ((st = fmt_check_fits(lx, 2 * nnz, what)) != CAI_OK)
        return st;
    b->val = calloc(size, sizeof *b->val);
    unsigned char *seen = calloc(size / 8 + 1, 1);
    if (b->val == NULL || seen == NULL) {
        free(seen);
        return fmt_nomem(lx);
    }
    /* strides of cai's layout, last fastest */
    size_t *stride = malloc(b->k * sizeof *stride);
    if (stride == NULL) {
        free(seen);
        return fmt_nomem(lx);
    }
    stride[b->k - 1] = 1;
    for (size_t i = b->k - 1; i-- > 0;)
        stride[i] = stride[i + 1] * b->card[i + 1];
    for (size_t e = 0; e < nnz; e++) {
        fmt_token it, vt;
        size_t li;
        double v;
        if ((st = fmt_read_count(lx, (size_t)-1, &li, &it, "the index of entry %zu of factor %zu",
                                 e, I)) != CAI_OK)
            break;
        if (li >= size) {
            st = fmt_fail(lx, &it, "factor %zu: entry index %zu is out of range 0..%zu", I,
                          li, size - 1);
            break;
        }
        if (seen[li / 8] & (1u << (li % 8))) {
            st = fmt_fail(lx, &it, "factor %zu: entry index %zu is listed twice", I, li);
            break;
        }
        seen[li / 8] |= (unsigned char)(1u << (li % 8));
        if ((st = fmt_read_weight(lx, &v, &vt, "factor %zu entry %zu", I, li)) != CAI_OK)
            break;
        /* libDAI: the first variable fastest */
        size_t off = 0, rest = li;
        for (size_t i = 0; i < b->k; i++) {
            off += (rest % b->card[i]) * stride[i];
            rest /= b->card[i];
        }
        b->val[off] = v;
    }
    free(stride);
    free(seen);
    return st;
}

static int cmp_label(const void *a, const void *b)
{
    size_t x = (*(const label_info *const *)a)->label;
    size_t y = (*(const label_info *const *)b)->label;
    return x < y ? -1 : x > y;
}

/* The graph: variables by increasing label, factors in file order. */
static cai_status build(const fmt_lexer *lx, label_set *ls, const fg_block *b, size_t nb,
                        cai_graph **out)
{
    cai_graph *g = NULL;
    label_info **order = malloc((ls->n ? ls->n : 1) * sizeof *order);
    size_t *scope = NULL;
    size_t max_k = 1;
    for (size_t I = 0; I < nb; I++)
        max_k = b[I].k > max_k ? b[I].k : max_k;
    scope = malloc(max_k * sizeof *scope);
    cai_error sub;
    cai_error_clear(&sub);
    cai_status st = CAI_OK;
    if (order == NULL || scope == NULL || cai_graph_create(&g, &sub) != CAI_OK) {
        st = fmt_nomem(lx);
        goto done;
    }
    for (size_t j = 0; j < ls->n; j++)
        order[j] = &ls->info[j];
    qsort(order, ls->n, sizeof *order, cmp_label);
    for (size_t j = 0; j < ls->n && st == CAI_OK; j++) {
        char name[32];
        snprintf(name, sizeof name, "%zu", order[j]->label);
        st = cai_graph_add_variable(g, name, order[j]->card, NULL, &order[j]->var, &sub);
        if (st != CAI_OK)
            st = fmt_engine_fail(lx, &order[j]->where, st, &sub, "variable");
    }
    for (size_t I = 0; I < nb && st == CAI_OK; I++) {
        for (size_t i = 0; i < b[I].k; i++)
            scope[i] = ls->info[labels_find(ls, b[I].label[i])].var;
        cai_potential *p = NULL;
        char where[64];
        snprintf(where, sizeof where, "factor %zu", I);
        st = cai_potential_table_create_linear(b[I].k, b[I].card, b[I].val, &p, &sub);
        if (st == CAI_OK)
            st = cai_graph_add_factor(g, p, scope, b[I].k, CAI_MODE_NORMAL, NULL, &sub);
        if (st != CAI_OK)
            st = fmt_engine_fail(lx, &b[I].where, st, &sub, where);
        cai_potential_unref(p);
    }
done:
    free(order);
    free(scope);
    if (st != CAI_OK) {
        cai_graph_free(g);
        return st;
    }
    *out = g;
    return CAI_OK;
}

cai_status cai_model_parse_fg(const char *text, size_t len, const char *name,
                              cai_model **out_model, cai_error *err)
{
    if ((text == NULL && len > 0) || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_parse_fg: NULL argument");
    fmt_lexer lx;
    fmt_lexer_init(&lx, text, len, name, FMT_SYNTAX_FG, err);
    label_set ls = {0};
    fg_block *b = NULL;
    size_t nb = 0;
    cai_graph *g = NULL;
    cai_status st = fmt_read_count(&lx, CAI_FORMATS_MAX_ENTRIES, &nb, NULL,
                                   "the number of factors");
    if (st == CAI_OK)
        st = fmt_check_fits(&lx, nb, "factor blocks");
    if (st == CAI_OK && (b = calloc(nb ? nb : 1, sizeof *b)) == NULL)
        st = fmt_nomem(&lx);
    for (size_t I = 0; I < nb && st == CAI_OK; I++)
        st = read_block(&lx, I, &b[I], &ls);
    if (st == CAI_OK)
        st = fmt_expect_end(&lx, nb ? "the last factor" : "the number of factors");
    if (st == CAI_OK)
        st = build(&lx, &ls, b, nb, &g);
    blocks_free(b, nb);
    labels_free(&ls);
    if (st != CAI_OK)
        return st;
    return fmt_model_create(g, "", out_model, err);
}
