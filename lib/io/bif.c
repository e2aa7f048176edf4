/* lib/io/bif.c — the Bayesian-network interchange format (BIF) as bnlearn's
 * network repository writes it (asia, alarm, ...). The conventions are at
 * the top of cai/formats.h.
 *
 * Two passes over the text with one parser: the first reads the network
 * and variable blocks (so probability blocks may come before the variables
 * they use) and skips the probability blocks; the second reads the
 * probability blocks (formats_bif_cpt.c) into one table per variable. The
 * graph is built at the end, once every check has passed. */
#include "formats_bif.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "cai/potential.h"

/* ---- names ------------------------------------------------------------- */

static size_t hash_name(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (size_t)h;
}

/* A name token's text: a word, or a "string" without its quotes. */
void bif_name_text(const fmt_token *t, const char **s, size_t *len)
{
    if (t->len >= 2 && t->s[0] == '"') {
        *s = t->s + 1;
        *len = t->len - 2;
    } else {
        *s = t->s;
        *len = t->len;
    }
}

size_t bif_find_var(const bif_parser *P, const fmt_token *t)
{
    const char *s;
    size_t len;
    bif_name_text(t, &s, &len);
    if (P->n_slots == 0)
        return CAI_NONE;
    for (size_t i = hash_name(s, len) & (P->n_slots - 1);; i = (i + 1) & (P->n_slots - 1)) {
        if (P->slot[i] == 0)
            return CAI_NONE;
        const char *nm = P->vars[P->slot[i] - 1].name;
        if (strlen(nm) == len && memcmp(nm, s, len) == 0)
            return P->slot[i] - 1;
    }
}

static bool rehash(bif_parser *P, size_t n_slots)
{
    size_t *slot = calloc(n_slots, sizeof *slot);
    if (slot == NULL)
        return false;
    for (size_t j = 0; j < P->n; j++) {
        const char *nm = P->vars[j].name;
        size_t i = hash_name(nm, strlen(nm)) & (n_slots - 1);
        while (slot[i] != 0)
            i = (i + 1) & (n_slots - 1);
        slot[i] = j + 1;
    }
    free(P->slot);
    P->slot = slot;
    P->n_slots = n_slots;
    return true;
}

static char *copy_name(const fmt_token *t)
{
    const char *s;
    size_t len;
    bif_name_text(t, &s, &len);
    char *c = malloc(len + 1);
    if (c != NULL) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

static void parser_free(bif_parser *P)
{
    for (size_t j = 0; j < P->n; j++) {
        bif_var *v = &P->vars[j];
        free(v->name);
        for (size_t s = 0; v->states != NULL && s < v->card; s++)
            free(v->states[s]);
        free(v->states);
        free(v->parents);
        free(v->table);
    }
    free(P->vars);
    free(P->slot);
    free(P->network);
    free(P->order);
    free(P->mark);
}

/* ---- tokens ------------------------------------------------------------ */

cai_status bif_step(bif_parser *P)
{
    P->r = fmt_next(&P->lx, &P->t);
    return P->r < 0 ? (P->lx.err ? P->lx.err->code : CAI_ERR_MODEL) : CAI_OK;
}

bool bif_is_punct(const fmt_token *t)
{
    return t->len == 1 && strchr("{}()[],;|", t->s[0]) != NULL;
}

bool bif_is_name(const bif_parser *P)
{
    return P->r > 0 && !bif_is_punct(&P->t);
}

/* "expected WHAT CONTEXT, got X" or "the file ends before WHAT CONTEXT". */
cai_status bif_fail_expected(const bif_parser *P, const char *what, const char *context)
{
    if (P->r == 0)
        return fmt_fail(&P->lx, &P->t, "the file ends before %s %s (truncated?)", what,
                        context);
    return fmt_fail(&P->lx, &P->t, "expected %s %s, got %s", what, context,
                    fmt_show(&P->t).s);
}

/* The current token must be punctuation c; step past it. */
cai_status bif_expect(bif_parser *P, char c, const char *context)
{
    char what[8] = {'\'', c, '\'', '\0'};
    if (P->r <= 0 || !(P->t.len == 1 && P->t.s[0] == c))
        return bif_fail_expected(P, what, context);
    return bif_step(P);
}

bool bif_at_punct(const bif_parser *P, char c)
{
    return P->r > 0 && P->t.len == 1 && P->t.s[0] == c;
}

/* `property ... ;`: skip it (the current token is `property`). */
cai_status bif_skip_property(bif_parser *P)
{
    fmt_token start = P->t;
    cai_status st = bif_step(P);
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, ';') && !bif_at_punct(P, '{') &&
           !bif_at_punct(P, '}'))
        st = bif_step(P);
    if (st != CAI_OK)
        return st;
    if (!bif_at_punct(P, ';'))
        return fmt_fail(&P->lx, &start, "property without its closing ';'");
    return bif_step(P);
}

/* ---- network and variable blocks --------------------------------------- */

static cai_status parse_network(bif_parser *P)
{
    fmt_token kw = P->t;
    cai_status st = bif_step(P);
    if (st != CAI_OK)
        return st;
    if (!P->second) {
        if (P->has_network)
            return fmt_fail(&P->lx, &kw, "a second network block (the first is at line %zu)",
                            P->network_at.line);
        P->has_network = true;
        P->network_at = kw;
    }
    if (bif_is_name(P)) {
        if (!P->second && (P->network = copy_name(&P->t)) == NULL)
            return fmt_nomem(&P->lx);
        if ((st = bif_step(P)) != CAI_OK)
            return st;
    }
    if ((st = bif_expect(P, '{', "after the network's name")) != CAI_OK)
        return st;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '}')) {
        if (!fmt_is(&P->t, "property"))
            return fmt_fail(&P->lx, &P->t,
                            "unexpected %s in the network block (expected property or '}')",
                            fmt_show(&P->t).s);
        st = bif_skip_property(P);
    }
    return st == CAI_OK ? bif_expect(P, '}', "to close the network block") : st;
}

/* `type discrete [ n ] { s1, s2, ... };` of variable v (first pass). */
static cai_status parse_type(bif_parser *P, bif_var *v, bool store)
{
    fmt_token kw = P->t;
    cai_status st = bif_step(P);
    if (st != CAI_OK)
        return st;
    if (store && v->card != 0)
        return fmt_fail(&P->lx, &kw, "variable '%s': a second type", v->name);
    if (!fmt_is(&P->t, "discrete")) {
        if (bif_is_name(P))
            return fmt_fail(&P->lx, &P->t,
                            "variable '%s': only discrete variables are supported, got %s",
                            v->name, fmt_show(&P->t).s);
        return bif_fail_expected(P, "discrete", "after 'type'");
    }
    if ((st = bif_step(P)) != CAI_OK || (st = bif_expect(P, '[', "after 'discrete'")) != CAI_OK)
        return st;
    size_t card;
    fmt_token ct = P->t;
    if (P->r <= 0)
        return bif_fail_expected(P, "the number of states", "after 'discrete ['");
    if (!fmt_parse_size(&ct, CAI_MAX_CARD, &card) || card == 0)
        return fmt_fail(&P->lx, &ct,
                        "variable '%s': the number of states must be an integer in 1..%zu, "
                        "got %s",
                        v->name, (size_t)CAI_MAX_CARD, fmt_show(&ct).s);
    if ((st = fmt_check_fits(&P->lx, card, "state names")) != CAI_OK)
        return st;
    if ((st = bif_step(P)) != CAI_OK || (st = bif_expect(P, ']', "after the number of states")) != CAI_OK ||
        (st = bif_expect(P, '{', "before the state names")) != CAI_OK)
        return st;
    char **states = store ? calloc(card, sizeof *states) : NULL;
    if (store && states == NULL)
        return fmt_nomem(&P->lx);
    size_t n = 0;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '}')) {
        if (bif_at_punct(P, ',')) {
            st = bif_step(P);
            continue;
        }
        if (!bif_is_name(P)) {
            st = bif_fail_expected(P, "a state name", "in the type's { ... }");
            break;
        }
        if (n == card) {
            st = fmt_fail(&P->lx, &P->t, "variable '%s': more than the %zu states of "
                                         "discrete [ %zu ]", v->name, card, card);
            break;
        }
        if (store) {
            if ((states[n] = copy_name(&P->t)) == NULL) {
                st = fmt_nomem(&P->lx);
                break;
            }
            for (size_t h = 0; h < n; h++)
                if (strcmp(states[h], states[n]) == 0) {
                    st = fmt_fail(&P->lx, &P->t, "variable '%s': state '%s' appears twice",
                                  v->name, states[n]);
                    break;
                }
        }
        n++;
        if (st == CAI_OK)
            st = bif_step(P);
    }
    if (st == CAI_OK && P->r == 0)
        st = bif_fail_expected(P, "'}'", "to close the state names");
    if (st == CAI_OK && n < card)
        st = fmt_fail(&P->lx, &P->t, "variable '%s': %zu state names for discrete [ %zu ]",
                      v->name, n, card);
    if (st == CAI_OK)
        st = bif_step(P); /* past '}' */
    if (st == CAI_OK && bif_at_punct(P, ';'))
        st = bif_step(P);
    if (st != CAI_OK) {
        for (size_t s = 0; states != NULL && s < card; s++)
            free(states[s]);
        free(states);
        return st;
    }
    if (store) {
        v->card = card;
        v->states = states;
    }
    return CAI_OK;
}

static cai_status parse_variable(bif_parser *P)
{
    cai_status st = bif_step(P);
    if (st != CAI_OK)
        return st;
    if (!bif_is_name(P))
        return bif_fail_expected(P, "a variable name", "after 'variable'");
    bif_var scratch = {0}, *v = &scratch;
    bool store = !P->second;
    if (store) {
        size_t prev = bif_find_var(P, &P->t);
        if (prev != CAI_NONE)
            return fmt_fail(&P->lx, &P->t, "variable '%s' is declared twice (first at line %zu)",
                            P->vars[prev].name, P->vars[prev].where.line);
        if (P->n == P->cap) {
            size_t cap = P->cap ? 2 * P->cap : 32;
            bif_var *nv = realloc(P->vars, cap * sizeof *nv);
            if (nv == NULL)
                return fmt_nomem(&P->lx);
            P->vars = nv;
            P->cap = cap;
        }
        v = &P->vars[P->n];
        *v = (bif_var){.where = P->t};
        if ((v->name = copy_name(&P->t)) == NULL)
            return fmt_nomem(&P->lx);
        P->n++;
        if (2 * P->n > P->n_slots && !rehash(P, P->n_slots ? 2 * P->n_slots : 64))
            return fmt_nomem(&P->lx);
        { /* finds its own slot when rehash just placed it */
            size_t i = hash_name(v->name, strlen(v->name)) & (P->n_slots - 1);
            while (P->slot[i] != 0 && P->slot[i] != P->n)
                i = (i + 1) & (P->n_slots - 1);
            P->slot[i] = P->n;
        }
    } else {
        v = &P->vars[bif_find_var(P, &P->t)];
    }
    fmt_token name = P->t;
    if ((st = bif_step(P)) != CAI_OK || (st = bif_expect(P, '{', "after the variable's name")) != CAI_OK)
        return st;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '}')) {
        if (fmt_is(&P->t, "property"))
            st = bif_skip_property(P);
        else if (fmt_is(&P->t, "type"))
            st = parse_type(P, v, store);
        else
            return fmt_fail(&P->lx, &P->t,
                            "unexpected %s in variable '%s' (expected type, property or '}')",
                            fmt_show(&P->t).s, v->name);
    }
    if (st != CAI_OK)
        return st;
    if ((st = bif_expect(P, '}', "to close the variable block")) != CAI_OK)
        return st;
    if (store && v->card == 0)
        return fmt_fail(&P->lx, &name, "variable '%s' has no type (type discrete [ n ] { ... })",
                        v->name);
    return CAI_OK;
}

/* ---- the file ---------------------------------------------------------- */

static cai_status parse_pass(bif_parser *P)
{
    cai_status st = bif_step(P);
    while (st == CAI_OK && P->r > 0) {
        if (fmt_is(&P->t, "network"))
            st = parse_network(P);
        else if (fmt_is(&P->t, "variable"))
            st = parse_variable(P);
        else if (fmt_is(&P->t, "probability"))
            st = P->second ? bif_parse_probability(P) : bif_skip_probability(P);
        else
            st = fmt_fail(&P->lx, &P->t,
                          "expected network, variable or probability, got %s",
                          fmt_show(&P->t).s);
    }
    return st;
}

static cai_status check_network(bif_parser *P)
{
    for (size_t j = 0; j < P->n; j++)
        if (!P->vars[j].has_block)
            return fmt_fail(&P->lx, &P->vars[j].where,
                            "variable '%s' has no probability block", P->vars[j].name);
    size_t total = 0;
    for (size_t j = 0; j < P->n; j++)
        total += P->vars[j].n_parents;
    size_t *ptr = malloc((P->n + 1) * sizeof *ptr), *pa = malloc((total ? total : 1) * sizeof *pa);
    size_t *cycle = malloc((P->n ? P->n : 1) * sizeof *cycle);
    cai_status st = CAI_OK;
    if (ptr == NULL || pa == NULL || cycle == NULL) {
        st = fmt_nomem(&P->lx);
        goto done;
    }
    size_t o = 0;
    for (size_t j = 0; j < P->n; j++) {
        ptr[j] = o;
        for (size_t i = 0; i < P->vars[j].n_parents; i++)
            pa[o++] = P->vars[j].parents[i];
    }
    ptr[P->n] = o;
    size_t len;
    bool found;
    if (fmt_find_cycle(P->n, ptr, pa, cycle, &len, &found) != CAI_OK) {
        st = fmt_nomem(&P->lx);
        goto done;
    }
    if (found) {
        char path[256];
        size_t w = 0;
        for (size_t i = 0; i <= len && w + 8 < sizeof path; i++)
            w += (size_t)snprintf(path + w, sizeof path - w, "%s%s", i ? " -> " : "",
                                  P->vars[cycle[i % len]].name);
        st = fmt_fail(&P->lx, &P->vars[cycle[0]].block,
                      "the parents form a directed cycle %s", path);
    }
done:
    free(ptr);
    free(pa);
    free(cycle);
    return st;
}

static cai_status build(bif_parser *P, cai_graph **out)
{
    cai_graph *g = NULL;
    cai_error sub;
    cai_error_clear(&sub);
    size_t max_k = 1;
    for (size_t j = 0; j < P->n; j++)
        max_k = P->vars[j].n_parents + 1 > max_k ? P->vars[j].n_parents + 1 : max_k;
    size_t *scope = malloc(max_k * sizeof *scope), *cards = malloc(max_k * sizeof *cards);
    cai_status st = CAI_OK;
    if (scope == NULL || cards == NULL || cai_graph_create(&g, &sub) != CAI_OK) {
        st = fmt_nomem(&P->lx);
        goto done;
    }
    for (size_t j = 0; j < P->n && st == CAI_OK; j++) {
        const bif_var *v = &P->vars[j];
        st = cai_graph_add_variable(g, v->name, v->card, (const char *const *)v->states, NULL,
                                    &sub);
        if (st != CAI_OK)
            st = fmt_engine_fail(&P->lx, &v->where, st, &sub, "variable");
    }
    for (size_t b = 0; b < P->n_blocks && st == CAI_OK; b++) {
        size_t c = P->order[b];
        const bif_var *v = &P->vars[c];
        size_t k = v->n_parents + 1;
        for (size_t i = 0; i + 1 < k; i++) {
            scope[i] = v->parents[i];
            cards[i] = P->vars[v->parents[i]].card;
        }
        scope[k - 1] = c;
        cards[k - 1] = v->card;
        cai_potential *p = NULL;
        st = cai_potential_table_create_linear(k, cards, v->table, &p, &sub);
        if (st == CAI_OK)
            st = cai_graph_add_factor(g, p, scope, k, CAI_MODE_NORMAL, NULL, &sub);
        if (st != CAI_OK)
            st = fmt_engine_fail(&P->lx, &v->block, st, &sub, "probability");
        cai_potential_unref(p);
    }
done:
    free(scope);
    free(cards);
    if (st != CAI_OK) {
        cai_graph_free(g);
        return st;
    }
    *out = g;
    return CAI_OK;
}

cai_status cai_model_parse_bif(const char *text, size_t len, const char *name,
                               cai_model **out_model, cai_error *err)
{
    if ((text == NULL && len > 0) || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_parse_bif: NULL argument");
    bif_parser P = {0};
    fmt_lexer_init(&P.lx, text, len, name, FMT_SYNTAX_BIF, err);
    cai_graph *g = NULL;
    cai_status st = parse_pass(&P);
    if (st == CAI_OK && P.n == 0 && !P.has_network)
        st = fmt_fail(&P.lx, &P.t, "empty BIF file: expected network, variable and "
                                   "probability blocks");
    if (st == CAI_OK && ((P.order = malloc((P.n ? P.n : 1) * sizeof *P.order)) == NULL ||
                         (P.mark = calloc(P.n ? P.n : 1, sizeof *P.mark)) == NULL))
        st = fmt_nomem(&P.lx);
    if (st == CAI_OK) {
        P.second = true;
        fmt_lexer_init(&P.lx, text, len, name, FMT_SYNTAX_BIF, err);
        st = parse_pass(&P);
    }
    if (st == CAI_OK)
        st = check_network(&P);
    if (st == CAI_OK)
        st = build(&P, &g);
    if (st == CAI_OK)
        st = fmt_model_create(g, P.network, out_model, err);
    parser_free(&P);
    return st;
}
