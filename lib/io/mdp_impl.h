/* lib/io/mdp_impl.h — what the `kind: mdp` loader (mdp.c) shares with the
 * reader of its entries (mdp_entry.c): the model's names, sparse
 * distributions, the wildcard slots of a section, and one entry of a
 * section, read by a fast path or by the general path that reports.
 *
 * Internal to libcai (not installed). Positions and messages as in
 * yaml_read.h; entries are numbered from 0 in messages. */
#ifndef CAI_IO_MDP_IMPL_H
#define CAI_IO_MDP_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "yaml_read.h"

/* "*" in a state or action slot. */
#define WILD ((size_t)-2)

/* ---- names (mdp_entry.c) ---------------------------------------------- */

/* The two name spaces of the model. */
typedef struct axes {
    yr_names states, actions;
    const char **state_list, **action_list; /* NULL for counts */
} axes;

/* Frees what mdp_load_axis gave *ax (either axis may be empty). */
void mdp_axes_clear(axes *ax);

/* `states` or `actions` (key; what is "state" or "action"): a positive
 * count or a sequence of distinct names. */
cai_status mdp_load_axis(const yr_loader *L, const yaml_node_t *n,
                         const char *key, const char *what, yr_names *out,
                         const char ***out_list);

/* "unknown state 'x' (states: a, b, c)" at n. */
cai_status mdp_unknown_name(const yr_loader *L, const yaml_node_t *n,
                            const yr_names *t, const char *what,
                            const char *where, const char *name);

/* ---- sparse distributions --------------------------------------------- */

/* One entry of a sparse distribution. */
typedef struct succ {
    size_t s; /* state or action index */
    double p;
} succ;

/* The entries of many distributions, one after the other. */
typedef struct pool {
    succ *v;
    size_t n, cap;
} pool;

/* Node n, the value of key, as a distribution {name: p} over t (names of
 * what), appended to out sorted by index without its zeros; *out_k entries.
 * The sum is taken in index order, as cai_mdp_create takes it. */
cai_status mdp_read_dist(const yr_loader *L, const yaml_node_t *n,
                         const yr_names *t, const char *what,
                         const char *where, const char *key, pool *out,
                         size_t *out_k);

/* ---- wildcard resolution ---------------------------------------------- */

/* The winning entry for every (state, action): one slot per key at each
 * specificity, so resolving all S*A pairs is one pass. */
typedef struct wild {
    size_t S, A;
    size_t *both;      /* S*A, allocated with the first such entry */
    size_t *by_state;  /* S */
    size_t *by_action; /* A */
    size_t any;
} wild;

/* n slots, each CAI_NONE; NULL when out of memory. */
size_t *mdp_none_array(size_t n);

/* Frees what mdp_wild_init and mdp_wild_add allocated. */
void mdp_wild_clear(wild *w);

/* No entries yet, for S states and A actions; *w needs mdp_wild_clear() whether
 * or not this fails. */
cai_status mdp_wild_init(const yr_loader *L, wild *w, size_t S, size_t A);

/* The entry that wins (s, a), or CAI_NONE when none covers it. */
static inline size_t mdp_wild_get(const wild *w, size_t s, size_t a)
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

/* The entries of a section: the first `first` were taken while the YAML
 * was composed (mdp_stream.c), and only their lines are left; entry e >=
 * first is item e - first of seq. */
typedef struct entries {
    const yaml_node_t *seq;
    size_t first;
    const size_t *lines; /* first of them, counted from 0 */
} entries;

/* Entry e's node; NULL for one taken while composing, or when malformed. */
const yaml_node_t *mdp_entry_item(const yr_loader *L, const entries *es,
                                  size_t e);

/* The line (from 0) where entry e starts. */
size_t mdp_entry_line(const yr_loader *L, const entries *es, size_t e);

/* Entry e claims the slot of state s and action a (either may be WILD):
 * 1 when it did, 0 when entry *out_prev holds it, -1 out of memory. */
int mdp_wild_claim(wild *w, size_t s, size_t a, size_t e, size_t *out_prev);

/* Entry e of es (what, e.g. "transition") gives state s and action a
 * (either may be WILD; has_action false when entries have no action).
 * Claims its slot, or fails at the entry when an earlier one holds it. */
cai_status mdp_wild_add(const yr_loader *L, wild *w, const entries *es,
                        const char *what, const axes *ax, size_t s, size_t a,
                        bool has_action, size_t e);

/* ---- one entry of a section ------------------------------------------- */

/* A sequence of entries that name a state, maybe an action, and a value,
 * resolved by wildcards: `transitions`, `rewards` or `action_prior`. */
typedef struct section {
    const char *what;      /* an entry in messages: "transition" */
    const char *like;      /* an example entry for messages */
    const char *value_key; /* the entry's value: "next" */
    bool has_action;       /* entries have an `action` key */
    bool slots_required;   /* `state` and `action` must be given */
} section;

/* yr_parse_number(n, out), sooner for plain decimals. */
bool mdp_fast_number(const yaml_node_t *n, double *out);

/* The `transitions` and `rewards` sections (mdp_entry.c). */
extern const section mdp_transitions, mdp_rewards;

/* An entry (item, NULL for none) of section sec: a mapping of distinct
 * known keys, the value and (when sec->slots_required) the slots present,
 * and the slots naming what exists; *out_s and *out_a as
 * mdp_read_section_entry gives them, *out_value the value's node. */
bool mdp_fast_item(const yr_loader *L, const yaml_node_t *item,
                   const section *sec, const axes *ax, size_t *out_s,
                   size_t *out_a, const yaml_node_t **out_value);

/* mdp_fast_item of entry e of es. */
static inline bool mdp_fast_entry(const yr_loader *L, const entries *es,
                                  size_t e, const section *sec,
                                  const axes *ax, size_t *out_s, size_t *out_a,
                                  const yaml_node_t **out_value)
{
    return mdp_fast_item(L, mdp_entry_item(L, es, e), sec, ax, out_s, out_a,
                         out_value);
}

/* mdp_read_dist's common case: a mapping of existing distinct names to numbers
 * in [0, 1] summing to 1, appended to out sorted, without zeros. */
bool mdp_fast_dist(const yr_loader *L, const yaml_node_t *n,
                   const yr_names *t, pool *out, size_t *out_k);

/* Entry e of es in section sec: where becomes "WHAT E" (for messages); the
 * entry must be a mapping like sec->like with the keys state, action (when
 * sec->has_action) and sec->value_key, which is required. Its state and
 * action go to *out_s and *out_a (WILD for "*", for an absent key and for
 * the action of entries without one), the value's field to *out_value. */
cai_status mdp_read_section_entry(const yr_loader *L, const entries *es,
                                  size_t e, const section *sec,
                                  const axes *ax, char *where,
                                  size_t where_size, size_t *out_s,
                                  size_t *out_a, yr_field *out_value);

/* ---- sections read while composing (mdp_stream.c) ------------------- */

/* The first n entries of a section (transitions or rewards), taken by the
 * fast path while the YAML was composed: exactly what the loader's loop
 * over them would have read, and nothing it would have reported. */
typedef struct mdp_taken {
    int seq;      /* the sequence's node id; 0 when nothing was taken */
    size_t n;     /* entries taken */
    size_t *lines; /* the line of each (from 0) */
    wild W;       /* their slots */
    pool P;       /* transitions: entry e is P.v[off[e] .. off[e + 1]) */
    size_t *off;
    double *vals; /* rewards: entry e's value */
    size_t cap;   /* entries that lines and vals hold (off: one more) */
} mdp_taken;

/* What a `kind: mdp` model's stream read: the axes, once `kind: mdp`,
 * `states` and `actions` came before the section, and the sections. */
typedef struct mdp_stream {
    const char *path;
    int axes_state; /* 0 not read yet, 1 read into ax, -1 not readable */
    axes ax;
    mdp_taken tr, rw;
    bool tr_asked, rw_asked;
} mdp_stream;

/* An empty *ms and the yr_fast_stream (into *out) that fills it; release
 * it with mdp_stream_clear() after the load. */
void mdp_stream_init(mdp_stream *ms, const char *path, struct yr_fast_stream *out);
void mdp_stream_clear(mdp_stream *ms);

/* The stream L's document was composed with (model.c installs one for
 * every YAML model), or NULL when there was none or libyaml composed the
 * document (then nothing the stream took counts). */
mdp_stream *mdp_stream_of(const yr_loader *L);

/* What *ms took of sequence node n (the loader moves its arrays out), or
 * NULL when it took nothing of n. */
mdp_taken *mdp_taken_of(const yr_loader *L, mdp_stream *ms, const yaml_node_t *n);

void mdp_taken_clear(mdp_taken *t);

#endif
