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
 * path, which says what is wrong (see mdp_fast_entry, mdp_entry.c).
 *
 * When `kind`, `states` and `actions` come before `transitions` or
 * `rewards`, the fast path already reads that section's entries while the
 * YAML is composed, and their nodes are dropped one by one (mdp_stream.c):
 * a 10^6-entry model then loads in a tenth of the memory. The loops here
 * start after what was taken there (mdp_taken) and read the rest. */
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
#include "mdp_impl.h"

/* ---- sections ---------------------------------------------------------- */

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
    mdp_wild_clear(&d->W);
    free(d->P.v);
    free(d->off);
}

/* Read the entries of section sec in seq n (a sequence) into *d, each value
 * a distribution over t (names of what), after those taken while composing
 * (pre, or NULL), whose arrays move into *d. *d needs dist_section_clear()
 * whether or not this fails. */
static cai_status read_dist_section(const yr_loader *L, const yaml_node_t *n,
                                    mdp_taken *pre, const section *sec,
                                    const axes *ax, const yr_names *t,
                                    const char *what, dist_section *d)
{
    entries es = {n, pre ? pre->n : 0, pre ? pre->lines : NULL};
    size_t E = es.first + yr_seq_len(n);
    cai_status st = CAI_OK;
    if (pre != NULL) {
        d->W = pre->W;
        d->P = pre->P;
        pre->W = (wild){0};
        pre->P = (pool){0};
        d->off = realloc(pre->off, (E + 1) * sizeof *d->off);
        if (d->off == NULL)
            st = yr_nomem(L);
        else
            pre->off = NULL;
    } else {
        d->P = (pool){0};
        d->off = mdp_none_array(E + 1);
        st = mdp_wild_init(L, &d->W, ax->states.n, ax->actions.n);
        if (st == CAI_OK && d->off == NULL)
            st = yr_nomem(L);
    }
    for (size_t e = es.first; st == CAI_OK && e < E; e++) {
        char where[64];
        yr_field value;
        const yaml_node_t *vn;
        size_t s, a, k;
        d->off[e] = d->P.n;
        if (mdp_fast_entry(L, &es, e, sec, ax, &s, &a, &vn) &&
            mdp_fast_dist(L, vn, t, &d->P, &k)) {
            st = mdp_wild_add(L, &d->W, &es, sec->what, ax, s, a,
                              sec->has_action, e);
            continue;
        }
        if ((st = mdp_read_section_entry(L, &es, e, sec, ax, where,
                                         sizeof where, &s, &a, &value)) !=
            CAI_OK)
            break;
        if ((st = mdp_read_dist(L, value.value, t, what, where,
                                sec->value_key, &d->P, &k)) == CAI_OK)
            st = mdp_wild_add(L, &d->W, &es, sec->what, ax, s, a,
                              sec->has_action, e);
    }
    if (st == CAI_OK)
        d->off[E] = d->P.n;
    return st;
}

/* The dynamics: a CSR row per (state, action), row s * A + a; the same
 * arrays as a transitions_file gives. */
typedef csv_csr csr;

static cai_status load_transitions(const yr_loader *L, const yaml_node_t *n,
                                   mdp_taken *pre, const axes *ax, csr *out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n,
                           "'transitions' must be a sequence of {state, "
                           "action, next} mappings");
    size_t S = ax->states.n, A = ax->actions.n, SA = S * A, nnz = 0;
    dist_section d;
    cai_status st = read_dist_section(L, n, pre, &mdp_transitions, ax,
                                      &ax->states, "state", &d);
    if (st != CAI_OK)
        goto done;
    const size_t *off = d.off;
    for (size_t r = 0; r < SA; r++) {
        size_t e = mdp_wild_get(&d.W, r / A, r % A);
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
        size_t e = mdp_wild_get(&d.W, r / A, r % A);
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

/* reward (S*A) from `rewards` (after what was taken of it while composing:
 * pre, or NULL) and reward_default. */
static cai_status load_rewards(const yr_loader *L, const yaml_node_t *n,
                               mdp_taken *pre, const axes *ax, double dflt,
                               double *reward)
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
    entries es = {n, pre ? pre->n : 0, pre ? pre->lines : NULL};
    size_t E = es.first + yr_seq_len(n), bytes;
    if (!cai_size_mul(E ? E : 1, sizeof(double), &bytes))
        return yr_overflow(L, "'rewards': too many entries");
    const section *sec = &mdp_rewards;
    double *vals;
    wild W;
    cai_status st = CAI_OK;
    if (pre != NULL) {
        W = pre->W;
        pre->W = (wild){0};
        if ((vals = realloc(pre->vals, bytes)) != NULL)
            pre->vals = NULL;
    } else {
        vals = malloc(bytes);
        st = mdp_wild_init(L, &W, S, A);
    }
    if (st == CAI_OK && vals == NULL)
        st = yr_nomem(L);
    for (size_t e = es.first; st == CAI_OK && e < E; e++) {
        char where[64];
        yr_field value;
        const yaml_node_t *vn;
        size_t s, a;
        if (mdp_fast_entry(L, &es, e, sec, ax, &s, &a, &vn) &&
            mdp_fast_number(vn, &vals[e]) && isfinite(vals[e])) {
            st = mdp_wild_add(L, &W, &es, sec->what, ax, s, a,
                              sec->has_action, e);
            continue;
        }
        if ((st = mdp_read_section_entry(L, &es, e, sec, ax, where,
                                         sizeof where, &s, &a, &value)) ==
                CAI_OK &&
            (st = model_read_number(L, &value, where, 0.0, &vals[e])) == CAI_OK)
            st = mdp_wild_add(L, &W, &es, sec->what, ax, s, a,
                              sec->has_action, e);
    }
    if (st != CAI_OK)
        goto done;
    for (size_t r = 0; r < SA; r++) {
        size_t e = mdp_wild_get(&W, r / A, r % A);
        reward[r] = e == CAI_NONE ? dflt : vals[e];
    }
done:
    mdp_wild_clear(&W);
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
            st = mdp_unknown_name(L, items[i].key, &ax->states, "state",
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
        read_dist_section(L, n, NULL, &sec, ax, &ax->actions, "action", &d);
    if (st != CAI_OK)
        goto done;
    for (size_t s = 0; s < S; s++) {
        double *row = prior + s * A;
        size_t e = mdp_wild_get(&d.W, s, 0);
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
    /* what was read while composing: the same axes, from the same nodes */
    mdp_stream *ms = mdp_stream_of(L);
    if (ms != NULL && ms->axes_state == 1) {
        ax = ms->ax;
        ms->ax = (axes){0};
        ms->axes_state = 0;
    } else if ((st = mdp_load_axis(L, f[K_STATES].value, "states", "state",
                                   &ax.states, &ax.state_list)) != CAI_OK ||
               (st = mdp_load_axis(L, f[K_ACTIONS].value, "actions", "action",
                                   &ax.actions, &ax.action_list)) != CAI_OK) {
        goto done;
    }
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
    if ((st = mdp_read_dist(L, f[K_INITIAL].value, &ax.states, "state",
                            NULL, "initial", &init, &k)) != CAI_OK)
        goto done;
    for (size_t i = 0; i < k; i++)
        rho[init.v[i].s] = init.v[i].p;
    const yr_field *tf = &f[K_TRANSITIONS_FILE], *rf = &f[K_REWARDS_FILE];
    if ((st = tf->value != NULL
                  ? csv_mdp_transitions(L, tf, &ax.states, &ax.actions, &dyn)
                  : load_transitions(L, f[K_TRANSITIONS].value,
                                     mdp_taken_of(L, ms, f[K_TRANSITIONS].value),
                                     &ax, &dyn)) != CAI_OK ||
        (st = load_rewards(L, f[K_REWARDS].value,
                           mdp_taken_of(L, ms, f[K_REWARDS].value), &ax, dflt,
                           reward)) != CAI_OK ||
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
    mdp_axes_clear(&ax);
    return st;
}
