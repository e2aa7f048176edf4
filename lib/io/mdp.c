/* lib/io/mdp.c — the `kind: mdp` loader.
 *
 *     kind: mdp
 *     name: corridor              # optional string
 *     states: [s0, s1, s2]        # distinct names, or a count n: "0".."n-1"
 *     actions: [left, right]      # likewise
 *     initial: {s0: 1.0}          # probabilities, missing = 0, sum 1
 *     transitions:                # every (state, action) must be covered
 *       - {state: s0, action: right, next: {s1: 0.9, s0: 0.1}}
 *       - {state: "*", action: "*", next: {s2: 1.0}}
 *     rewards:                    # optional; state and action default "*"
 *       - {state: s1, value: 1.0}
 *     reward_default: 0           # optional: pairs no reward covers
 *     terminal_rewards: {s2: 10}  # optional, finite horizon only
 *     action_prior:               # optional, default uniform
 *       - {state: "*", probs: {left: 0.5, right: 0.5}}
 *     horizon: 20                 # or discount: 0.95 (exactly one)
 *     temperature: 1.0            # optional, default 1, >= 0
 *
 * For large models `transitions_file: FILE` replaces `transitions` and
 * `rewards_file: FILE` replaces `rewards`: CSV tables (header
 * state,action,next,prob and state,action,value) relative to the YAML
 * file, read by csv_mdp.c. Giving both forms of a key is an error at the
 * later one.
 *
 * Wildcards ("*", quoted: a bare * is a YAML alias): for each (state,
 * action) the most specific entry wins — state and action given, then state
 * given, then action given, then both "*". Two entries of the same
 * specificity that name the same state and action (so cover the same
 * pairs) are an error at the second. In transitions both keys are
 * required; in rewards both default to "*"; action_prior entries have only
 * a state (default "*").
 *
 * With a count the names are the canonical decimals "0".."n-1": {state: 3}
 * and {state: "3"} both name state 3 ("03" names nothing). Probability
 * maps give missing names 0 and must be nonnegative and sum to 1 within
 * 1e-9; zero entries are not stored in the dynamics.
 *
 * Everything is checked here, with positions, before cai_mdp_create. The
 * work is linear in the file plus S*A: names are looked up in hash tables,
 * each wildcard level is one array indexed by its key, and the CSR rows
 * are filled in one pass over the (state, action) pairs. Messages number
 * entries from 0 ("transition 0" is the first). The common entry is read
 * by a fast path that never reports: anything unusual goes to the general
 * path, which says what is wrong (see fast_entry). */
#include "model_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"
#include "cai/logmath.h"
#include "cai/mdp.h"
#include "csv.h"

#define SUM_TOL 1e-9
#define WILD ((size_t)-2) /* "*" in a state or action slot */

/* ---- names ------------------------------------------------------------- */

/* The two name spaces of the model. */
typedef struct axes {
    yr_names states, actions;
    const char **state_list, **action_list; /* NULL for counts */
} axes;

static void axes_clear(axes *ax)
{
    yr_names_clear(&ax->states);
    yr_names_clear(&ax->actions);
    free(ax->state_list);
    free(ax->action_list);
}

/* `states` or `actions` (key; what is "state" or "action"): a positive
 * count or a sequence of distinct names. */
static cai_status load_axis(const yr_loader *L, const yaml_node_t *n,
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

/* "unknown state 'x' (states: a, b, c)" at n. */
static cai_status unknown_name(const yr_loader *L, const yaml_node_t *n,
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
        return unknown_name(L, n, t, what, where, yr_text(n));
    *out = i;
    return CAI_OK;
}

/* A name for messages: the name, or "*" for WILD. */
static const char *ref_name(const yr_names *t, size_t i, char *buf, size_t size)
{
    return i == WILD ? "*" : yr_names_get(t, i, buf, size);
}

/* ---- sparse distributions ---------------------------------------------- */

typedef struct succ {
    size_t s; /* state or action index */
    double p;
} succ;

/* The entries of many distributions, one after the other. */
typedef struct pool {
    succ *v;
    size_t n, cap;
} pool;

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

/* Node n, the value of key, as a distribution {name: p} over t (names of
 * what), appended to out sorted by index without its zeros; *out_k entries.
 * The sum is taken in index order, as cai_mdp_create takes it. */
static cai_status read_dist(const yr_loader *L, const yaml_node_t *n,
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
            st = unknown_name(L, it->key, t, what, where, it->name);
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
    if (!(fabs(sum - 1.0) <= SUM_TOL)) {
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

/* The winning entry for every (state, action): one slot per key at each
 * specificity, so resolving all S*A pairs is one pass. */
typedef struct wild {
    size_t S, A;
    size_t *both;      /* S*A, allocated with the first such entry */
    size_t *by_state;  /* S */
    size_t *by_action; /* A */
    size_t any;
} wild;

static size_t *none_array(size_t n)
{
    size_t bytes;
    if (!cai_size_mul(n, sizeof(size_t), &bytes))
        return NULL;
    size_t *v = malloc(bytes);
    if (v != NULL)
        memset(v, 0xFF, bytes); /* every slot CAI_NONE */
    return v;
}

static void wild_clear(wild *w)
{
    free(w->both);
    free(w->by_state);
    free(w->by_action);
}

/* No entries yet, for S states and A actions; *w needs wild_clear() whether
 * or not this fails. */
static cai_status wild_init(const yr_loader *L, wild *w, size_t S, size_t A)
{
    *w = (wild){.S = S, .A = A, .any = CAI_NONE};
    w->by_state = none_array(S);
    w->by_action = none_array(A);
    if (w->by_state == NULL || w->by_action == NULL)
        return yr_nomem(L);
    return CAI_OK;
}

static size_t wild_get(const wild *w, size_t s, size_t a)
{
    size_t e;
    if (w->both != NULL && (e = w->both[s * w->A + a]) != CAI_NONE)
        return e;
    if ((e = w->by_state[s]) != CAI_NONE)
        return e;
    if ((e = w->by_action[a]) != CAI_NONE)
        return e;
    return w->any;
}

/* Entry e of seq (what, e.g. "transition") gives state s and action a
 * (either may be WILD; has_action false when entries have no action).
 * Claims its slot, or fails at the entry when an earlier one holds it. */
static cai_status wild_add(const yr_loader *L, wild *w, const yaml_node_t *seq,
                           const char *what, const axes *ax, size_t s, size_t a,
                           bool has_action, size_t e)
{
    size_t *slot;
    if (s != WILD && a != WILD) {
        if (w->both == NULL && (w->both = none_array(w->S * w->A)) == NULL)
            return yr_nomem(L);
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
        return CAI_OK;
    }
    size_t prev = *slot;
    char sb[32], ab[32], pair[256];
    yr_shown sn = yr_show(ref_name(&ax->states, s, sb, sizeof sb));
    if (has_action)
        snprintf(pair, sizeof pair, "state '%s' and action '%s'", sn.s,
                 yr_show(ref_name(&ax->actions, a, ab, sizeof ab)).s);
    else
        snprintf(pair, sizeof pair, "state '%s'", sn.s);
    return yr_fail_at(L, yr_seq_item(L, seq, e),
                      "%s %zu conflicts with %s %zu (line %zu): both give %s, "
                      "so neither is more specific",
                      what, e, what, prev,
                      (size_t)yr_seq_item(L, seq, prev)->start_mark.line + 1,
                      pair);
}

/* ---- sections ---------------------------------------------------------- */

/* Item e of seq, named where in messages, must be a mapping (like the
 * example `like`) whose keys are among f; fills f. */
static cai_status read_entry(const yr_loader *L, const yaml_node_t *seq,
                             size_t e, const char *where, const char *like,
                             yr_field *f, size_t nf, yaml_node_t **out_item)
{
    yaml_node_t *item = yr_seq_item(L, seq, e);
    if (item == NULL)
        return yr_fail_at(L, seq, "malformed sequence");
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

/* A sequence of entries that name a state, maybe an action, and a value,
 * resolved by wildcards: `transitions`, `rewards` or `action_prior`. */
typedef struct section {
    const char *what;      /* an entry in messages: "transition" */
    const char *like;      /* an example entry for messages */
    const char *value_key; /* the entry's value: "next" */
    bool has_action;       /* entries have an `action` key */
    bool slots_required;   /* `state` and `action` must be given */
} section;

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

/* yr_parse_number(n, out), sooner for plain decimals. */
static bool fast_number(const yaml_node_t *n, double *out)
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

/* Entry e of seq in section sec: a mapping of distinct known keys, the
 * value and (when sec->slots_required) the slots present, and the slots
 * naming what exists; *out_s and *out_a as read_section_entry gives them,
 * *out_value the value's node. */
static bool fast_entry(const yr_loader *L, const yaml_node_t *seq, size_t e,
                       const section *sec, const axes *ax, size_t *out_s,
                       size_t *out_a, const yaml_node_t **out_value)
{
    const yaml_node_t *item = yr_seq_item(L, seq, e);
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

/* read_dist's common case: a mapping of existing distinct names to numbers
 * in [0, 1] summing to 1, appended to out sorted, without zeros. */
static bool fast_dist(const yr_loader *L, const yaml_node_t *n,
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
            !fast_number(x, &p) || !(p >= 0.0 && p <= 1.0))
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
    if (!(fabs(sum - 1.0) <= SUM_TOL))
        return false;
    out->n += m;
    *out_k = m;
    return true;
}

/* Entry e of seq in section sec: where becomes "WHAT E" (for messages); the
 * entry must be a mapping like sec->like with the keys state, action (when
 * sec->has_action) and sec->value_key, which is required. Its state and
 * action go to *out_s and *out_a (WILD for "*", for an absent key and for
 * the action of entries without one), the value's field to *out_value. */
static cai_status read_section_entry(const yr_loader *L, const yaml_node_t *seq,
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
    cai_status st = read_entry(L, seq, e, where, sec->like, f, nf, &item);
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

/* A section whose values are distributions (`transitions`, `action_prior`),
 * read: entry e's distribution is P.v[off[e] .. off[e + 1]), and W holds
 * the entry that wins each (state, action). */
typedef struct dist_section {
    wild W;
    pool P;
    size_t *off; /* one per entry, and one past the last */
} dist_section;

static void dist_section_clear(dist_section *d)
{
    wild_clear(&d->W);
    free(d->P.v);
    free(d->off);
}

/* Read the entries of section sec in seq n (a sequence) into *d, each value
 * a distribution over t (names of what). *d needs dist_section_clear()
 * whether or not this fails. */
static cai_status read_dist_section(const yr_loader *L, const yaml_node_t *n,
                                    const section *sec, const axes *ax,
                                    const yr_names *t, const char *what,
                                    dist_section *d)
{
    size_t E = yr_seq_len(n);
    d->P = (pool){0};
    d->off = none_array(E + 1);
    cai_status st = wild_init(L, &d->W, ax->states.n, ax->actions.n);
    if (st == CAI_OK && d->off == NULL)
        st = yr_nomem(L);
    for (size_t e = 0; st == CAI_OK && e < E; e++) {
        char where[64];
        yr_field value;
        const yaml_node_t *vn;
        size_t s, a, k;
        d->off[e] = d->P.n;
        if (fast_entry(L, n, e, sec, ax, &s, &a, &vn) &&
            fast_dist(L, vn, t, &d->P, &k)) {
            st = wild_add(L, &d->W, n, sec->what, ax, s, a, sec->has_action, e);
            continue;
        }
        if ((st = read_section_entry(L, n, e, sec, ax, where, sizeof where, &s,
                                     &a, &value)) != CAI_OK)
            break;
        if ((st = read_dist(L, value.value, t, what, where, sec->value_key,
                            &d->P, &k)) == CAI_OK)
            st = wild_add(L, &d->W, n, sec->what, ax, s, a, sec->has_action, e);
    }
    if (st == CAI_OK)
        d->off[E] = d->P.n;
    return st;
}

/* The dynamics: a CSR row per (state, action), row s * A + a; the same
 * arrays as a transitions_file gives. */
typedef csv_csr csr;

static cai_status load_transitions(const yr_loader *L, const yaml_node_t *n,
                                   const axes *ax, csr *out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n,
                           "'transitions' must be a sequence of {state, "
                           "action, next} mappings");
    size_t S = ax->states.n, A = ax->actions.n, SA = S * A, nnz = 0;
    static const section sec = {"transition",
                                "{state: s0, action: a0, next: {s1: 1}}",
                                "next", true, true};
    dist_section d;
    cai_status st = read_dist_section(L, n, &sec, ax, &ax->states, "state", &d);
    if (st != CAI_OK)
        goto done;
    const size_t *off = d.off;
    for (size_t r = 0; r < SA; r++) {
        size_t e = wild_get(&d.W, r / A, r % A);
        if (e == CAI_NONE) {
            char sb[32], ab[32];
            st = yr_fail_at(
                L, n,
                "'transitions' do not cover state '%s', action '%s' (give "
                "an entry for it, or a wildcard)",
                yr_show(yr_names_get(&ax->states, r / A, sb, sizeof sb)).s,
                yr_show(yr_names_get(&ax->actions, r % A, ab, sizeof ab)).s);
            goto done;
        }
        if (!cai_size_add(nnz, off[e + 1] - off[e], &nnz)) {
            st = yr_overflow(L, "'transitions': too many nonzeros");
            goto done;
        }
    }
    size_t rp_bytes, nx_bytes, pr_bytes;
    if (!cai_size_mul(SA + 1, sizeof(size_t), &rp_bytes) ||
        !cai_size_mul(nnz, sizeof(size_t), &nx_bytes) ||
        !cai_size_mul(nnz, sizeof(double), &pr_bytes)) {
        st = yr_overflow(L, "'transitions': too many nonzeros");
        goto done;
    }
    out->row_ptr = malloc(rp_bytes);
    out->next = malloc(nx_bytes ? nx_bytes : 1);
    out->prob = malloc(pr_bytes ? pr_bytes : 1);
    if (out->row_ptr == NULL || out->next == NULL || out->prob == NULL) {
        st = yr_nomem(L); /* the caller frees out */
        goto done;
    }
    size_t j = 0;
    out->row_ptr[0] = 0;
    for (size_t r = 0; r < SA; r++) {
        size_t e = wild_get(&d.W, r / A, r % A);
        for (size_t i = off[e]; i < off[e + 1]; i++, j++) {
            out->next[j] = d.P.v[i].s;
            out->prob[j] = d.P.v[i].p;
        }
        out->row_ptr[r + 1] = j;
    }
done:
    dist_section_clear(&d);
    return st;
}

/* reward (S*A) from `rewards` and reward_default. */
static cai_status load_rewards(const yr_loader *L, const yaml_node_t *n,
                               const axes *ax, double dflt, double *reward)
{
    size_t S = ax->states.n, A = ax->actions.n, SA = S * A;
    if (n == NULL) {
        for (size_t r = 0; r < SA; r++)
            reward[r] = dflt;
        return CAI_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, n,
            "'rewards' must be a sequence of {state, action, value} mappings");
    size_t E = yr_seq_len(n), bytes;
    if (!cai_size_mul(E ? E : 1, sizeof(double), &bytes))
        return yr_overflow(L, "'rewards': too many entries");
    static const section sec = {"reward", "{state: s0, action: a0, value: 1}",
                                "value", true, false};
    double *vals = malloc(bytes);
    wild W;
    cai_status st = wild_init(L, &W, S, A);
    if (st == CAI_OK && vals == NULL)
        st = yr_nomem(L);
    for (size_t e = 0; st == CAI_OK && e < E; e++) {
        char where[64];
        yr_field value;
        const yaml_node_t *vn;
        size_t s, a;
        if (fast_entry(L, n, e, &sec, ax, &s, &a, &vn) &&
            fast_number(vn, &vals[e]) && isfinite(vals[e])) {
            st = wild_add(L, &W, n, sec.what, ax, s, a, sec.has_action, e);
            continue;
        }
        if ((st = read_section_entry(L, n, e, &sec, ax, where, sizeof where, &s,
                                     &a, &value)) == CAI_OK &&
            (st = model_read_number(L, &value, where, 0.0, &vals[e])) == CAI_OK)
            st = wild_add(L, &W, n, sec.what, ax, s, a, sec.has_action, e);
    }
    if (st != CAI_OK)
        goto done;
    for (size_t r = 0; r < SA; r++) {
        size_t e = wild_get(&W, r / A, r % A);
        reward[r] = e == CAI_NONE ? dflt : vals[e];
    }
done:
    wild_clear(&W);
    free(vals);
    return st;
}

/* terminal (S, zeroed) from the mapping `terminal_rewards`. */
static cai_status load_terminal(const yr_loader *L, const yaml_node_t *n,
                                const axes *ax, double *terminal)
{
    yr_named_number *items;
    size_t k;
    cai_status st =
        yr_read_number_map(L, n, NULL, "terminal_rewards", &items, &k);
    if (st != CAI_OK)
        return st;
    for (size_t i = 0; i < k; i++) {
        size_t s = yr_names_find(&ax->states, items[i].name);
        if (s == CAI_NONE) {
            st = unknown_name(L, items[i].key, &ax->states, "state",
                              "terminal_rewards", items[i].name);
            break;
        }
        terminal[s] = items[i].value;
    }
    free(items);
    return st;
}

/* prior (S*A) from `action_prior`; states no entry covers are uniform. */
static cai_status load_prior(const yr_loader *L, const yaml_node_t *n,
                             const axes *ax, double *prior)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(
            L, n,
            "'action_prior' must be a sequence of {state, probs} mappings");
    size_t S = ax->states.n, A = ax->actions.n;
    static const section sec = {"action prior",
                                "{state: \"*\", probs: {a0: 0.5, a1: 0.5}}",
                                "probs", false, false};
    dist_section d;
    cai_status st =
        read_dist_section(L, n, &sec, ax, &ax->actions, "action", &d);
    if (st != CAI_OK)
        goto done;
    for (size_t s = 0; s < S; s++) {
        double *row = prior + s * A;
        size_t e = wild_get(&d.W, s, 0);
        for (size_t a = 0; a < A; a++)
            row[a] = e == CAI_NONE ? 1.0 / (double)A : 0.0;
        if (e != CAI_NONE)
            for (size_t i = d.off[e]; i < d.off[e + 1]; i++)
                row[d.P.v[i].s] = d.P.v[i].p;
    }
done:
    dist_section_clear(&d);
    return st;
}

/* ---- CSV tables (csv_mdp.c) -------------------------------------------- */

/* Of a YAML key and its `*_file` form, at most one may be given: the later
 * one is the error. */
static cai_status one_of(const yr_loader *L, const yr_field *a,
                         const yr_field *b)
{
    if (a->value == NULL || b->value == NULL)
        return CAI_OK;
    bool b_later =
        b->key_node->start_mark.index > a->key_node->start_mark.index;
    const yr_field *later = b_later ? b : a, *earlier = b_later ? a : b;
    return yr_fail_at(
        L, later->key_node,
        "give either '%s' or '%s', not both ('%s' is at line %zu)", a->key,
        b->key, earlier->key, (size_t)earlier->key_node->start_mark.line + 1);
}

/* ---- the model --------------------------------------------------------- */

enum {
    K_KIND,
    K_NAME,
    K_STATES,
    K_ACTIONS,
    K_INITIAL,
    K_TRANSITIONS,
    K_TRANSITIONS_FILE,
    K_REWARDS,
    K_REWARDS_FILE,
    K_REWARD_DEFAULT,
    K_TERMINAL,
    K_PRIOR,
    K_HORIZON,
    K_DISCOUNT,
    K_TEMPERATURE,
    K_COUNT
};

/* A zeroed array of n doubles (n > 0), NULL when it does not fit. */
static double *zeros(size_t n)
{
    size_t bytes;
    if (!cai_size_mul(n, sizeof(double), &bytes))
        return NULL;
    return calloc(1, bytes);
}

cai_status model_load_mdp(const yr_loader *L, yaml_node_t *root, cai_model *m)
{
    const char *where = "the model";
    yr_field f[K_COUNT] = {
        [K_KIND] = {"kind", NULL, NULL},
        [K_NAME] = {"name", NULL, NULL},
        [K_STATES] = {"states", NULL, NULL},
        [K_ACTIONS] = {"actions", NULL, NULL},
        [K_INITIAL] = {"initial", NULL, NULL},
        [K_TRANSITIONS] = {"transitions", NULL, NULL},
        [K_TRANSITIONS_FILE] = {"transitions_file", NULL, NULL},
        [K_REWARDS] = {"rewards", NULL, NULL},
        [K_REWARDS_FILE] = {"rewards_file", NULL, NULL},
        [K_REWARD_DEFAULT] = {"reward_default", NULL, NULL},
        [K_TERMINAL] = {"terminal_rewards", NULL, NULL},
        [K_PRIOR] = {"action_prior", NULL, NULL},
        [K_HORIZON] = {"horizon", NULL, NULL},
        [K_DISCOUNT] = {"discount", NULL, NULL},
        [K_TEMPERATURE] = {"temperature", NULL, NULL},
    };
    cai_status st;
    if ((st = model_read_root(L, root, f, K_COUNT, K_NAME, m)) != CAI_OK ||
        (st = yr_require(L, root, where, &f[K_STATES])) != CAI_OK ||
        (st = yr_require(L, root, where, &f[K_ACTIONS])) != CAI_OK ||
        (st = yr_require(L, root, where, &f[K_INITIAL])) != CAI_OK ||
        (st = one_of(L, &f[K_TRANSITIONS], &f[K_TRANSITIONS_FILE])) != CAI_OK ||
        (st = one_of(L, &f[K_REWARDS], &f[K_REWARDS_FILE])) != CAI_OK ||
        (f[K_TRANSITIONS_FILE].value == NULL &&
         (st = yr_require(L, root, where, &f[K_TRANSITIONS])) != CAI_OK))
        return st;

    axes ax = {0};
    cai_mdp_spec sp = {0};
    double *rho = NULL, *reward = NULL, *terminal = NULL, *prior = NULL;
    csr dyn = {0};
    pool init = {0};
    if ((st = load_axis(L, f[K_STATES].value, "states", "state", &ax.states,
                        &ax.state_list)) != CAI_OK ||
        (st = load_axis(L, f[K_ACTIONS].value, "actions", "action", &ax.actions,
                        &ax.action_list)) != CAI_OK)
        goto done;
    size_t S = ax.states.n, A = ax.actions.n, SA;
    if (!cai_size_mul(S, A, &SA) || (double)SA > MODEL_MAX_COUNT) {
        st = yr_fail_at(L, f[K_ACTIONS].value,
                        "%zu states x %zu actions is too many pairs (the "
                        "maximum is %.0f)",
                        S, A, MODEL_MAX_COUNT);
        goto done;
    }
    if ((st = model_read_time(L, root, &f[K_HORIZON], &f[K_DISCOUNT],
                              &sp.horizon, &sp.discount)) != CAI_OK ||
        (st = model_read_temperature(L, &f[K_TEMPERATURE], &sp.temperature)) !=
            CAI_OK)
        goto done;
    double dflt;
    if ((st = model_read_number(L, &f[K_REWARD_DEFAULT], NULL, 0.0, &dflt)) !=
        CAI_OK)
        goto done;
    if (f[K_TERMINAL].value != NULL && sp.horizon == 0) {
        st = yr_fail_at(L, f[K_TERMINAL].key_node,
                        "'terminal_rewards' need a finite horizon (this model "
                        "has a discount)");
        goto done;
    }

    rho = zeros(S);
    reward = zeros(SA);
    if (f[K_TERMINAL].value != NULL)
        terminal = zeros(S);
    if (f[K_PRIOR].value != NULL)
        prior = zeros(SA);
    if (rho == NULL || reward == NULL ||
        (f[K_TERMINAL].value != NULL && terminal == NULL) ||
        (f[K_PRIOR].value != NULL && prior == NULL)) {
        st = yr_nomem(L);
        goto done;
    }
    size_t k;
    if ((st = read_dist(L, f[K_INITIAL].value, &ax.states, "state", NULL,
                        "initial", &init, &k)) != CAI_OK)
        goto done;
    for (size_t i = 0; i < k; i++)
        rho[init.v[i].s] = init.v[i].p;
    const yr_field *tf = &f[K_TRANSITIONS_FILE], *rf = &f[K_REWARDS_FILE];
    if ((st = tf->value != NULL
                  ? csv_mdp_transitions(L, tf, &ax.states, &ax.actions, &dyn)
                  : load_transitions(L, f[K_TRANSITIONS].value, &ax, &dyn)) !=
            CAI_OK ||
        (st = load_rewards(L, f[K_REWARDS].value, &ax, dflt, reward)) !=
            CAI_OK ||
        (rf->value != NULL &&
         (st = csv_mdp_rewards(L, rf, &ax.states, &ax.actions, reward)) !=
             CAI_OK) ||
        (terminal != NULL && (st = load_terminal(L, f[K_TERMINAL].value, &ax,
                                                 terminal)) != CAI_OK) ||
        (prior != NULL &&
         (st = load_prior(L, f[K_PRIOR].value, &ax, prior)) != CAI_OK))
        goto done;

    sp.n_states = S;
    sp.n_actions = A;
    sp.state_names = ax.state_list;
    sp.action_names = ax.action_list;
    sp.initial = rho;
    sp.row_ptr = dyn.row_ptr;
    sp.next = dyn.next;
    sp.prob = dyn.prob;
    sp.reward = reward;
    sp.terminal = terminal;
    sp.action_prior = prior;
    cai_error sub;
    cai_error_clear(&sub);
    st = cai_mdp_create(&sp, &m->mdp, &sub);
    if (st != CAI_OK)
        st = yr_engine_fail(L, root, st, &sub, where);
done:
    free(init.v);
    free(dyn.row_ptr);
    free(dyn.next);
    free(dyn.prob);
    free(prior);
    free(terminal);
    free(reward);
    free(rho);
    axes_clear(&ax);
    return st;
}
