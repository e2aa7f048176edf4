/* lib/io/mdp_stream.c — a `kind: mdp` model's `transitions` and `rewards`
 * read while the YAML is composed (yr_fast_stream, yaml_fast.h).
 *
 * Built whole, the node tree of a model with 10^6 transition entries is
 * about 17 nodes of 96 bytes per entry, ~16 times the text: most of a
 * load's memory and, on a machine where fresh memory is slow to touch, most
 * of its time. So when `kind: mdp`, `states` and `actions` come before a
 * section (as in every model cai writes), its entries are handed here one
 * by one as they are composed: the fast path reads each (mdp_fast_item and
 * mdp_fast_dist or mdp_fast_number) and claims its wildcard slot, and the
 * composer drops its nodes. What is kept per entry is what the loader
 * keeps anyway, plus its line for messages.
 *
 * Only what the loader's own loop would accept without a word is taken.
 * The first entry the fast path declines, or whose slot an earlier one
 * holds, stays in the document with every later one, and the loader's loop
 * reads them (mdp.c) as it reads a section with nothing taken: its
 * messages, entry numbers and lines are the same. Nothing here reports. */
#include "mdp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "model_impl.h"
#include "yaml_fast.h"

enum { TAG_TRANSITIONS = 1, TAG_REWARDS = 2 };

/* A loader on the document being composed, for the yr_* helpers; errors
 * (which nothing here reports) go to *scratch. */
static yr_loader view(const mdp_stream *ms, const yaml_document_t *doc,
                      cai_error *scratch)
{
    return (yr_loader){.path = ms->path, .err = scratch,
                       .doc = (yaml_document_t *)doc};
}

/* n is a scalar whose text is s. */
static bool scalar_is(const yaml_node_t *n, const char *s)
{
    size_t len = strlen(s);
    return n != NULL && n->type == YAML_SCALAR_NODE &&
           n->data.scalar.length == len &&
           memcmp(n->data.scalar.value, s, len) == 0;
}

/* The axes from the root's pairs so far: 1 read, 0 when `kind`, `states`
 * or `actions` is not there yet, -1 when the model is not an mdp or its
 * axes are not readable (the loader reports that, in its own order). */
static int read_axes(mdp_stream *ms, const yr_loader *V, const int *pairs,
                     size_t n_pairs)
{
    const yaml_node_t *kind = NULL, *states = NULL, *actions = NULL;
    for (size_t i = 0; i < n_pairs; i++) {
        const yaml_node_t *k = yr_node_at(V, pairs[2 * i]);
        const yaml_node_t *v = yr_node_at(V, pairs[2 * i + 1]);
        if (kind == NULL && scalar_is(k, "kind"))
            kind = v;
        else if (states == NULL && scalar_is(k, "states"))
            states = v;
        else if (actions == NULL && scalar_is(k, "actions"))
            actions = v;
    }
    if (kind != NULL && !scalar_is(kind, "mdp"))
        return -1;
    if (kind == NULL || states == NULL || actions == NULL)
        return 0;
    axes *ax = &ms->ax;
    size_t SA;
    if (mdp_load_axis(V, states, "states", "state", &ax->states,
                      &ax->state_list) != CAI_OK ||
        mdp_load_axis(V, actions, "actions", "action", &ax->actions,
                      &ax->action_list) != CAI_OK ||
        !cai_size_mul(ax->states.n, ax->actions.n, &SA) ||
        (double)SA > MODEL_MAX_COUNT) {
        mdp_axes_clear(ax);
        *ax = (axes){0};
        return -1;
    }
    return 1;
}

static int want(void *ctx, const yaml_document_t *doc, int key,
                const int *pairs, size_t n_pairs)
{
    mdp_stream *ms = ctx;
    cai_error scratch;
    yr_loader V = view(ms, doc, &scratch);
    const yaml_node_t *k = yr_node_at(&V, key);
    int tag = scalar_is(k, "transitions") ? TAG_TRANSITIONS
              : scalar_is(k, "rewards")   ? TAG_REWARDS
                                          : 0;
    if (tag == 0)
        return 0;
    bool *asked = tag == TAG_TRANSITIONS ? &ms->tr_asked : &ms->rw_asked;
    if (*asked) /* a repeated key, which the loader reports */
        return 0;
    *asked = true;
    if (ms->axes_state == 0)
        ms->axes_state = read_axes(ms, &V, pairs, n_pairs);
    if (ms->axes_state != 1)
        return 0;
    mdp_taken *t = tag == TAG_TRANSITIONS ? &ms->tr : &ms->rw;
    if (mdp_wild_init(&V, &t->W, ms->ax.states.n, ms->ax.actions.n) !=
        CAI_OK) {
        mdp_wild_clear(&t->W);
        t->W = (wild){0};
        return 0;
    }
    return tag;
}

/* Room for entry t->n (and off[t->n + 1]). */
static bool reserve(mdp_taken *t, bool rewards)
{
    if (t->n < t->cap)
        return true;
    size_t cap = t->cap ? 2 * t->cap : 1024, bytes;
    if (!cai_size_mul(cap + 1, sizeof(size_t), &bytes))
        return false;
    size_t *lines = realloc(t->lines, bytes);
    if (lines == NULL)
        return false;
    t->lines = lines;
    if (rewards) {
        double *vals = realloc(t->vals, cap * sizeof *vals);
        if (vals == NULL)
            return false;
        t->vals = vals;
    } else {
        size_t *off = realloc(t->off, bytes);
        if (off == NULL)
            return false;
        t->off = off;
    }
    t->cap = cap;
    return true;
}

static bool take(void *ctx, const yaml_document_t *doc, int tag, int seq,
                 int item)
{
    mdp_stream *ms = ctx;
    bool rewards = tag == TAG_REWARDS;
    mdp_taken *t = rewards ? &ms->rw : &ms->tr;
    if (!reserve(t, rewards))
        return false;
    cai_error scratch;
    yr_loader V = view(ms, doc, &scratch);
    const yaml_node_t *it = yr_node_at(&V, item), *vn;
    size_t s, a, k, prev, p0 = t->P.n;
    double v = 0.0;
    if (!mdp_fast_item(&V, it, rewards ? &mdp_rewards : &mdp_transitions,
                       &ms->ax, &s, &a, &vn))
        return false;
    if (rewards ? !(mdp_fast_number(vn, &v) && isfinite(v))
                : !mdp_fast_dist(&V, vn, &ms->ax.states, &t->P, &k))
        return false;
    if (mdp_wild_claim(&t->W, s, a, t->n, &prev) != 1) {
        t->P.n = p0; /* the loader reads it again, and says what is wrong */
        return false;
    }
    if (rewards) {
        t->vals[t->n] = v;
    } else {
        t->off[t->n] = p0;
        t->off[t->n + 1] = t->P.n;
    }
    t->lines[t->n++] = it->start_mark.line;
    t->seq = seq;
    return true;
}

void mdp_stream_init(mdp_stream *ms, const char *path, yr_fast_stream *out)
{
    *ms = (mdp_stream){.path = path};
    *out = (yr_fast_stream){.want = want, .take = take, .ctx = ms};
}

void mdp_taken_clear(mdp_taken *t)
{
    mdp_wild_clear(&t->W);
    free(t->P.v);
    free(t->off);
    free(t->vals);
    free(t->lines);
    *t = (mdp_taken){0};
}

void mdp_stream_clear(mdp_stream *ms)
{
    mdp_axes_clear(&ms->ax);
    mdp_taken_clear(&ms->tr);
    mdp_taken_clear(&ms->rw);
    *ms = (mdp_stream){.path = ms->path};
}

mdp_stream *mdp_stream_of(const yr_loader *L)
{
    if (L->fast == NULL || L->stream == NULL)
        return NULL;
    return L->stream->ctx; /* model.c installs an mdp_stream's */
}

mdp_taken *mdp_taken_of(const yr_loader *L, mdp_stream *ms,
                        const yaml_node_t *n)
{
    if (ms == NULL || n == NULL)
        return NULL;
    int id = (int)(n - L->doc->nodes.start) + 1;
    if (ms->tr.seq == id && ms->tr.n > 0)
        return &ms->tr;
    if (ms->rw.seq == id && ms->rw.n > 0)
        return &ms->rw;
    return NULL;
}
