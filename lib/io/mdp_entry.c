/* lib/io/mdp_entry.c — reading the entries of a `kind: mdp` model (mdp.c):
 * state and action names, sparse distributions, the wildcard slot each
 * entry claims, and one entry of a section. Declarations and what each
 * function does: mdp_impl.h. */
#include "mdp_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "csv.h"
#include "model_impl.h"

/* ---- names ------------------------------------------------------------- */

void mdp_axes_clear(axes *ax)
{
    yr_names_clear(&ax->states);
    yr_names_clear(&ax->actions);
    free(ax->state_list);
    free(ax->action_list);
}

cai_status mdp_load_axis(const yr_loader *L, const yaml_node_t *n,
                         const char *key, const char *what, yr_names *out,
                         const char ***out_list)
{
    size_t count, dup, first;
    if (n->type == YAML_SCALAR_NODE) {
        yr_int_result r = yr_parse_count(n, MODEL_MAX_COUNT, &count);
        if (r == YR_INT_TOO_BIG)
            return yr_fail_at(
                L, n, "'%s': a count of %s %ss exceeds the maximum %.0f", key,
                yr_show(yr_text(n)).s, what, MODEL_MAX_COUNT);
        if (r == YR_INT_OK && count > 0) {
            /* decimal names take no memory: cannot fail */
            yr_names_init(out, NULL, count, &dup, &first);
            *out_list = NULL;
            return CAI_OK;
        }
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, n, "'%s' must be a sequence of %s names or a positive count",
            key, what);
    count = yr_seq_len(n);
    if (count == 0)
        return yr_fail_at(L, n, "'%s' must not be empty", key);
    if ((double)count > MODEL_MAX_COUNT)
        return yr_fail_at(L, n, "'%s': %zu %ss exceed the maximum %.0f", key,
                          count, what, MODEL_MAX_COUNT);
    const char **list = malloc(count * sizeof *list);
    if (list == NULL)
        return yr_nomem(L);
    cai_status st = CAI_OK;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *x = yr_seq_item(L, n, i);
        if (x == NULL || !yr_is_string(x) || x->data.scalar.length == 0) {
            st =
                yr_fail_at(L, x ? x : n,
                           "'%s' entry %zu must be a non-empty %s name, got %s",
                           key, i, what, x ? yr_describe(x).s : "nothing");
            goto fail;
        }
        if (strcmp(yr_text(x), "*") == 0) {
            st = yr_fail_at(L, x,
                            "'%s' entry %zu: '*' cannot name a %s "
                            "(it is the wildcard)",
                            key, i, what);
            goto fail;
        }
        list[i] = yr_text(x);
    }
    st = yr_names_init(out, list, count, &dup, &first);
    if (st != CAI_OK) {
        st = yr_nomem(L);
        goto fail;
    }
    if (dup != CAI_NONE) {
        st = yr_fail_at(L, yr_seq_item(L, n, dup),
                        "duplicate %s name '%s' in '%s' (first at line %zu)",
                        what, yr_show(list[dup]).s, key,
                        (size_t)yr_seq_item(L, n, first)->start_mark.line + 1);
        goto fail;
    }
    *out_list = list;
    return CAI_OK;
fail:
    yr_names_clear(out);
    free(list);
    return st;
}

cai_status mdp_unknown_name(const yr_loader *L, const yaml_node_t *n,
                            const yr_names *t, const char *what,
                            const char *where, const char *name)
{
    char hint[200];
    yr_names_hint(t, hint, sizeof hint);
    return yr_fail_at(L, n, "%sunknown %s '%s' (%ss: %s)",
                      yr_prefix_of(where).s, what, yr_show(name).s, what, hint);
}

/* The state or action (what) named by node n, the value of key; "*" gives
 * WILD. */
static cai_status read_ref(const yr_loader *L, const yaml_node_t *n,
                           const yr_names *t, const char *what,
                           const char *where, const char *key, size_t *out)
{
    if (!yr_is_string(n) || n->data.scalar.length == 0)
        return yr_fail_got(L, n, "%s'%s' must be a %s name or \"*\"",
                           yr_prefix_of(where).s, key, what);
    if (strcmp(yr_text(n), "*") == 0) {
        *out = WILD;
        return CAI_OK;
    }
    size_t i = yr_names_find(t, yr_text(n));
    if (i == CAI_NONE)
        return mdp_unknown_name(L, n, t, what, where, yr_text(n));
    *out = i;
    return CAI_OK;
}

/* A name for messages: the name, or "*" for WILD. */
static const char *ref_name(const yr_names *t, size_t i, char *buf, size_t size)
{
    return i == WILD ? "*" : yr_names_get(t, i, buf, size);
}

/* ---- sparse distributions ---------------------------------------------- */

static bool pool_reserve(pool *p, size_t more)
{
    size_t need;
    if (!cai_size_add(p->n, more, &need))
        return false;
    if (need <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 64, bytes;
    while (cap < need)
        if (!cai_size_mul(cap, 2, &cap))
            return false;
    if (!cai_size_mul(cap, sizeof(succ), &bytes))
        return false;
    succ *v = realloc(p->v, bytes);
    if (v == NULL)
        return false;
    p->v = v;
    p->cap = cap;
    return true;
}

static int cmp_succ(const void *a, const void *b)
{
    const succ *x = a, *y = b;
    return (x->s > y->s) - (x->s < y->s);
}

cai_status mdp_read_dist(const yr_loader *L, const yaml_node_t *n,
                         const yr_names *t, const char *what,
                         const char *where, const char *key, pool *out,
                         size_t *out_k)
{
    yr_named_number *items;
    size_t k;
    cai_status st = yr_read_number_map(L, n, where, key, &items, &k);
    if (st != CAI_OK)
        return st;
    yr_prefix pre = yr_prefix_of(where);
    if (!pool_reserve(out, k)) {
        st = yr_nomem(L);
        goto done;
    }
    succ *dst = out->v + out->n;
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        const yr_named_number *it = &items[i];
        size_t idx = yr_names_find(t, it->name);
        if (idx == CAI_NONE) {
            st = mdp_unknown_name(L, it->key, t, what, where, it->name);
            goto done;
        }
        if (it->value < 0.0) {
            st = yr_fail_at(
                L, it->node, "%snegative probability %s for '%s' in '%s'",
                pre.s, yr_show(yr_text(it->node)).s, yr_show(it->name).s, key);
            goto done;
        }
        if (it->value > 1.0) {
            st = yr_fail_at(L, it->node,
                            "%sprobability %s for '%s' in '%s' is greater "
                            "than 1",
                            pre.s, yr_show(yr_text(it->node)).s,
                            yr_show(it->name).s, key);
            goto done;
        }
        if (it->value > 0.0)
            dst[m++] = (succ){idx, it->value};
    }
    if (m > 1)
        qsort(dst, m, sizeof *dst, cmp_succ);
    double sum = 0.0;
    for (size_t i = 0; i < m; i++)
        sum += dst[i].p;
    if (!(fabs(sum - 1.0) <= MODEL_SUM_TOL)) {
        st = yr_fail_at(L, n,
                        "%sprobabilities in '%s' sum to %.17g, not 1 (within "
                        "1e-9)",
                        pre.s, key, sum);
        goto done;
    }
    out->n += m;
    *out_k = m;
done:
    free(items);
    return st;
}

/* ---- wildcard resolution ----------------------------------------------- */

size_t *mdp_none_array(size_t n)
{
    size_t bytes;
    if (!cai_size_mul(n, sizeof(size_t), &bytes))
        return NULL;
    size_t *v = malloc(bytes);
    if (v != NULL)
        memset(v, 0xFF, bytes); /* every slot CAI_NONE */
    return v;
}

void mdp_wild_clear(wild *w)
{
    free(w->both);
    free(w->by_state);
    free(w->by_action);
}

cai_status mdp_wild_init(const yr_loader *L, wild *w, size_t S, size_t A)
{
    *w = (wild){.S = S, .A = A, .any = CAI_NONE};
    w->by_state = mdp_none_array(S);
    w->by_action = mdp_none_array(A);
    if (w->by_state == NULL || w->by_action == NULL)
        return yr_nomem(L);
    return CAI_OK;
}

int mdp_wild_claim(wild *w, size_t s, size_t a, size_t e, size_t *out_prev)
{
    size_t *slot;
    if (s != WILD && a != WILD) {
        if (w->both == NULL && (w->both = mdp_none_array(w->S * w->A)) == NULL)
            return -1;
        slot = &w->both[s * w->A + a];
    } else if (s != WILD) {
        slot = &w->by_state[s];
    } else if (a != WILD) {
        slot = &w->by_action[a];
    } else {
        slot = &w->any;
    }
    if (*slot == CAI_NONE) {
        *slot = e;
        return 1;
    }
    *out_prev = *slot;
    return 0;
}

cai_status mdp_wild_add(const yr_loader *L, wild *w, const entries *es,
                        const char *what, const axes *ax, size_t s, size_t a,
                        bool has_action, size_t e)
{
    size_t prev;
    int got = mdp_wild_claim(w, s, a, e, &prev);
    if (got != 0)
        return got > 0 ? CAI_OK : yr_nomem(L);
    char sb[32], ab[32], pair[256];
    yr_shown sn = yr_show(ref_name(&ax->states, s, sb, sizeof sb));
    if (has_action)
        snprintf(pair, sizeof pair, "state '%s' and action '%s'", sn.s,
                 yr_show(ref_name(&ax->actions, a, ab, sizeof ab)).s);
    else
        snprintf(pair, sizeof pair, "state '%s'", sn.s);
    return yr_fail_at(L, mdp_entry_item(L, es, e),
                      "%s %zu conflicts with %s %zu (line %zu): both give %s, "
                      "so neither is more specific",
                      what, e, what, prev, mdp_entry_line(L, es, prev) + 1,
                      pair);
}

const yaml_node_t *mdp_entry_item(const yr_loader *L, const entries *es,
                                  size_t e)
{
    return e < es->first ? NULL : yr_seq_item(L, es->seq, e - es->first);
}

size_t mdp_entry_line(const yr_loader *L, const entries *es, size_t e)
{
    if (e < es->first)
        return es->lines[e];
    const yaml_node_t *item = mdp_entry_item(L, es, e);
    return item ? (size_t)item->start_mark.line : 0;
}

/* ---- one entry of a section ------------------------------------------- */

/* Item e of seq, named where in messages, must be a mapping (like the
 * example `like`) whose keys are among f; fills f. */
static cai_status read_entry(const yr_loader *L, const entries *es,
                             size_t e, const char *where, const char *like,
                             yr_field *f, size_t nf, yaml_node_t **out_item)
{
    yaml_node_t *item = (yaml_node_t *)mdp_entry_item(L, es, e);
    if (item == NULL)
        return yr_fail_at(L, es->seq, "malformed sequence");
    if (item->type != YAML_MAPPING_NODE)
        return yr_fail_got(L, item, "%s must be a mapping like %s", where,
                           like);
    cai_status st = yr_read_fields(L, item, where, f, nf);
    if (st != CAI_OK)
        return st;
    *out_item = item;
    return CAI_OK;
}

/* An optional state or action slot of an entry: WILD when absent. */
static cai_status read_slot(const yr_loader *L, const yr_field *f,
                            const yr_names *t, const char *what,
                            const char *where, size_t *out)
{
    if (f->value == NULL) {
        *out = WILD;
        return CAI_OK;
    }
    return read_ref(L, f->value, t, what, where, f->key, out);
}

const section mdp_transitions = {"transition",
                                 "{state: s0, action: a0, next: {s1: 1}}",
                                 "next", true, true};
const section mdp_rewards = {"reward", "{state: s0, action: a0, value: 1}",
                             "value", true, false};

/* Loading a large model is mostly its `transitions` entries. The general
 * path below formats "transition N" for every entry and allocates three
 * times in yr_read_number_map; these read the common entry without either,
 * and decline (returning false, having committed nothing) at anything the
 * general path would reject or that they do not handle, so the general
 * path then reads that entry again and reports it, with the same message.
 * What they accept they read exactly as the general path does. */

/* yr_is_string(n) and not empty, without string compares: with no NUL
 * inside, yr_is_null's compares are these length and byte checks. */
static bool fast_name(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0)
        return false;
    size_t len = n->data.scalar.length;
    const char *s = yr_text(n);
    if (memchr(s, '\0', len) != NULL)
        return false;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return true;
    if (len == 1)
        return s[0] != '~';
    return len != 4 || (memcmp(s, "null", 4) != 0 &&
                        memcmp(s, "Null", 4) != 0 && memcmp(s, "NULL", 4) != 0);
}

/* Key k, a fast_name, is the text key. */
static bool key_is(const yaml_node_t *k, const char *key)
{
    size_t len = strlen(key);
    return k->data.scalar.length == len && memcmp(yr_text(k), key, len) == 0;
}

bool mdp_fast_number(const yaml_node_t *n, double *out)
{
    if (n->type == YAML_SCALAR_NODE &&
        n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        csv_decimal(yr_text(n), n->data.scalar.length, out))
        return true; /* empty is not a decimal: nulls never get here */
    return yr_parse_number(n, out);
}

/* A state or action slot: a name that exists, or "*" (WILD). */
static bool fast_slot(const yaml_node_t *n, const yr_names *t, size_t *out)
{
    if (!fast_name(n))
        return false;
    const char *s = yr_text(n);
    if (s[0] == '*' && s[1] == '\0') {
        *out = WILD;
        return true;
    }
    return (*out = yr_names_find(t, s)) != CAI_NONE;
}

bool mdp_fast_item(const yr_loader *L, const yaml_node_t *item,
                   const section *sec, const axes *ax, size_t *out_s,
                   size_t *out_a, const yaml_node_t **out_value)
{
    if (item == NULL || item->type != YAML_MAPPING_NODE)
        return false;
    const yaml_node_t *sn = NULL, *an = NULL, *vn = NULL;
    for (const yaml_node_pair_t *pr = item->data.mapping.pairs.start;
         pr < item->data.mapping.pairs.top; pr++) {
        const yaml_node_t *k = yr_node_at(L, pr->key);
        const yaml_node_t *v = yr_node_at(L, pr->value);
        if (k == NULL || v == NULL || !fast_name(k))
            return false;
        const yaml_node_t **slot = NULL;
        if (key_is(k, "state"))
            slot = &sn;
        else if (sec->has_action && key_is(k, "action"))
            slot = &an;
        else if (key_is(k, sec->value_key))
            slot = &vn;
        if (slot == NULL || *slot != NULL)
            return false;
        *slot = v;
    }
    if (vn == NULL ||
        (sec->slots_required && (sn == NULL || (sec->has_action && !an))))
        return false;
    *out_s = *out_a = WILD;
    if ((sn != NULL && !fast_slot(sn, &ax->states, out_s)) ||
        (an != NULL && !fast_slot(an, &ax->actions, out_a)))
        return false;
    *out_value = vn;
    return true;
}

bool mdp_fast_dist(const yr_loader *L, const yaml_node_t *n,
                   const yr_names *t, pool *out, size_t *out_k)
{
    if (n->type != YAML_MAPPING_NODE)
        return false;
    size_t k =
        (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (!pool_reserve(out, k))
        return false;
    succ *dst = out->v + out->n;
    for (size_t i = 0; i < k; i++) {
        const yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        const yaml_node_t *key = yr_node_at(L, pr->key);
        const yaml_node_t *x = yr_node_at(L, pr->value);
        double p;
        if (key == NULL || x == NULL || !fast_name(key) ||
            !mdp_fast_number(x, &p) || !(p >= 0.0 && p <= 1.0))
            return false;
        size_t idx = yr_names_find(t, yr_text(key));
        if (idx == CAI_NONE)
            return false;
        size_t j = i; /* insertion sort by index: k is small */
        for (; j > 0 && dst[j - 1].s > idx; j--)
            dst[j] = dst[j - 1];
        if (j > 0 && dst[j - 1].s == idx) /* a repeated name */
            return false;
        dst[j] = (succ){idx, p};
    }
    size_t m = 0;
    double sum = 0.0;
    for (size_t i = 0; i < k; i++)
        if (dst[i].p > 0.0) {
            sum += dst[i].p;
            dst[m++] = dst[i];
        }
    if (!(fabs(sum - 1.0) <= MODEL_SUM_TOL))
        return false;
    out->n += m;
    *out_k = m;
    return true;
}

cai_status mdp_read_section_entry(const yr_loader *L, const entries *es,
                                  size_t e, const section *sec,
                                  const axes *ax, char *where,
                                  size_t where_size, size_t *out_s,
                                  size_t *out_a, yr_field *out_value)
{
    snprintf(where, where_size, "%s %zu", sec->what, e);
    yr_field f[3] = {{"state", NULL, NULL},
                     {"action", NULL, NULL},
                     {sec->value_key, NULL, NULL}};
    size_t nf = sec->has_action ? 3 : 2;
    if (!sec->has_action)
        f[1] = f[2]; /* {state, VALUE} */
    yr_field *value = &f[nf - 1];
    yaml_node_t *item = NULL;
    cai_status st = read_entry(L, es, e, where, sec->like, f, nf, &item);
    for (size_t i = 0; st == CAI_OK && i < nf; i++)
        if (sec->slots_required || &f[i] == value)
            st = yr_require(L, item, where, &f[i]);
    if (st == CAI_OK)
        st = read_slot(L, &f[0], &ax->states, "state", where, out_s);
    if (st == CAI_OK && sec->has_action)
        st = read_slot(L, &f[1], &ax->actions, "action", where, out_a);
    else if (st == CAI_OK)
        *out_a = WILD;
    if (st == CAI_OK)
        *out_value = *value;
    return st;
}
