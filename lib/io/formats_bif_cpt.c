/* lib/io/formats_bif_cpt.c — BIF probability blocks: the parents, then
 * `table`, `default` and `(states) probabilities;` rows into one table per
 * variable, row-major over the parents in their listed order with the
 * child fastest. Every row is checked as it is read (count, sign, NaN,
 * sum within FMT_ROW_TOL); rows left out take the default or are an error
 * naming their parent states. */
#include "formats_bif.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"

/* First pass: skip `probability ( ... ) { ... }` without looking inside. */
cai_status bif_skip_probability(bif_parser *P)
{
    fmt_token kw = P->t;
    cai_status st = bif_step(P);
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '{') && !bif_at_punct(P, '}'))
        st = bif_step(P);
    if (st == CAI_OK && bif_at_punct(P, '{'))
        st = bif_step(P);
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '}') && !bif_at_punct(P, '{'))
        st = bif_step(P);
    if (st != CAI_OK)
        return st;
    if (!bif_at_punct(P, '}'))
        return P->r == 0 ? fmt_fail(&P->lx, &P->t, "the file ends inside the probability "
                                                   "block at line %zu (truncated?)", kw.line)
                         : bif_fail_expected(P, "'}'", "to close the probability block");
    return bif_step(P);
}

/* "( X | A, B )" for messages. */
static void block_title(const bif_parser *P, const bif_var *v, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "probability ( %s", v->name);
    for (size_t i = 0; i < v->n_parents && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : " | ",
                              P->vars[v->parents[i]].name);
    if (o < size)
        snprintf(buf + o, size - o, " )");
}

/* K probabilities up to ';' into out (the current token is the first one);
 * *first receives the first one's token. */
static cai_status read_probs(bif_parser *P, const bif_var *v, const char *title,
                             double *out, fmt_token *first)
{
    size_t K = v->card, n = 0;
    double sum = 0.0;
    *first = P->t;
    cai_status st = CAI_OK;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, ';')) {
        if (bif_at_punct(P, ',')) {
            st = bif_step(P);
            continue;
        }
        double x;
        if (bif_is_punct(&P->t))
            return bif_fail_expected(P, "';'", "after the probabilities");
        if (!fmt_parse_double(&P->t, &x))
            return bif_fail_expected(P, "a probability", "(a number)");
        if (n == K)
            return fmt_fail(&P->lx, &P->t,
                            "%s: too many probabilities ('%s' has %zu states)", title,
                            v->name, K);
        if ((st = fmt_check_weight(&P->lx, &P->t, x, "%s: probability %zu", title, n)) !=
            CAI_OK)
            return st;
        out[n++] = x + 0.0;
        sum += x;
        st = bif_step(P);
    }
    if (st != CAI_OK)
        return st;
    if (P->r == 0)
        return bif_fail_expected(P, "';'", "after the probabilities");
    if (n < K)
        return fmt_fail(&P->lx, &P->t, "%s: %zu probabilities for the %zu states of '%s'",
                        title, n, K, v->name);
    if (!(fabs(sum - 1.0) <= FMT_ROW_TOL))
        return fmt_fail(&P->lx, first, "%s: the probabilities sum to %.10g, not 1 (within %g)",
                        title, sum, FMT_ROW_TOL);
    return bif_step(P); /* past ';' */
}

/* The parents of v after '|' up to ')'. */
static cai_status read_parents(bif_parser *P, bif_var *v, size_t child)
{
    cai_status st = CAI_OK;
    size_t cap = 0;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, ')')) {
        if (bif_at_punct(P, ',')) {
            st = bif_step(P);
            continue;
        }
        if (!bif_is_name(P))
            return bif_fail_expected(P, "a parent's name", "in the probability block's ( ... )");
        size_t pa = bif_find_var(P, &P->t);
        if (pa == CAI_NONE)
            return fmt_fail(&P->lx, &P->t, "unknown variable %s (no variable block declares it)",
                            fmt_show(&P->t).s);
        if (pa == child)
            return fmt_fail(&P->lx, &P->t, "'%s' is its own parent", v->name);
        if (P->mark[pa] == P->n_blocks)
            return fmt_fail(&P->lx, &P->t, "parent '%s' of '%s' is listed twice",
                            P->vars[pa].name, v->name);
        P->mark[pa] = P->n_blocks;
        if (v->n_parents == cap) {
            cap = cap ? 2 * cap : 4;
            size_t *np = realloc(v->parents, cap * sizeof *np);
            if (np == NULL)
                return fmt_nomem(&P->lx);
            v->parents = np;
        }
        v->parents[v->n_parents++] = pa;
        st = bif_step(P);
    }
    return st;
}

/* "(a, b)": the row of the parents' states (the current token is '('). */
static cai_status read_row_index(bif_parser *P, const bif_var *v, const char *title,
                                 size_t *out_row)
{
    cai_status st = bif_step(P);
    size_t i = 0, row = 0;
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, ')')) {
        if (bif_at_punct(P, ',')) {
            st = bif_step(P);
            continue;
        }
        if (!bif_is_name(P))
            return bif_fail_expected(P, "a parent state", "in the row's ( ... )");
        if (i == v->n_parents)
            return fmt_fail(&P->lx, &P->t, "%s: more than %zu parent states in a row", title,
                            v->n_parents);
        const bif_var *pa = &P->vars[v->parents[i]];
        const char *s;
        size_t len, state = CAI_NONE;
        bif_name_text(&P->t, &s, &len);
        for (size_t h = 0; h < pa->card && state == CAI_NONE; h++)
            if (strlen(pa->states[h]) == len && memcmp(pa->states[h], s, len) == 0)
                state = h;
        if (state == CAI_NONE) {
            char list[160];
            size_t o = 0;
            list[0] = '\0';
            for (size_t h = 0; h < pa->card && o + 8 < sizeof list; h++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", h ? ", " : "",
                                      pa->states[h]);
            return fmt_fail(&P->lx, &P->t, "%s: unknown state %s of '%s' (states: %s)", title,
                            fmt_show(&P->t).s, pa->name, list);
        }
        row = row * pa->card + state;
        i++;
        st = bif_step(P);
    }
    if (st != CAI_OK)
        return st;
    if (P->r == 0)
        return bif_fail_expected(P, "')'", "to close the row's parent states");
    if (i < v->n_parents)
        return fmt_fail(&P->lx, &P->t, "%s: %zu parent states in a row, expected %zu", title,
                        i, v->n_parents);
    *out_row = row;
    return bif_step(P);
}

/* The body { ... } of v's block into v->table. */
static cai_status read_body(bif_parser *P, bif_var *v, const char *title, const fmt_token *at)
{
    size_t rows = 1, size;
    for (size_t i = 0; i < v->n_parents; i++)
        if (!cai_size_mul(rows, P->vars[v->parents[i]].card, &rows) ||
            rows > CAI_FORMATS_MAX_ENTRIES)
            rows = CAI_FORMATS_MAX_ENTRIES + 1;
    if (rows > CAI_FORMATS_MAX_ENTRIES || !cai_size_mul(rows, v->card, &size) ||
        size > CAI_FORMATS_MAX_ENTRIES)
        return fmt_fail(&P->lx, at, "%s: the table would have more than %zu entries", title,
                        (size_t)CAI_FORMATS_MAX_ENTRIES);
    v->table = malloc(size * sizeof *v->table);
    unsigned char *given = calloc(rows, 1);
    double *dflt = malloc(v->card * sizeof *dflt);
    bool has_default = false;
    cai_status st = CAI_OK;
    if (v->table == NULL || given == NULL || dflt == NULL) {
        st = fmt_nomem(&P->lx);
        goto done;
    }
    while (st == CAI_OK && P->r > 0 && !bif_at_punct(P, '}')) {
        fmt_token kw = P->t, first;
        if (fmt_is(&P->t, "property")) {
            st = bif_skip_property(P);
        } else if (fmt_is(&P->t, "default")) {
            if (has_default) {
                st = fmt_fail(&P->lx, &kw, "%s: a second default", title);
                break;
            }
            if ((st = bif_step(P)) == CAI_OK)
                st = read_probs(P, v, title, dflt, &first);
            has_default = true;
        } else if (fmt_is(&P->t, "table")) {
            if (v->n_parents > 0) {
                st = fmt_fail(&P->lx, &kw,
                              "%s: 'table' with parents is ambiguous in BIF (dialects order "
                              "it differently); give one row '(state, ...) probabilities;' "
                              "per parent assignment", title);
                break;
            }
            if (given[0]) {
                st = fmt_fail(&P->lx, &kw, "%s: the probabilities are given twice", title);
                break;
            }
            if ((st = bif_step(P)) == CAI_OK)
                st = read_probs(P, v, title, v->table, &first);
            given[0] = 1;
        } else if (bif_at_punct(P, '(')) {
            if (v->n_parents == 0) {
                st = fmt_fail(&P->lx, &kw, "%s: '%s' has no parents, so no rows: use "
                                           "'table probabilities;'", title, v->name);
                break;
            }
            size_t row = 0;
            if ((st = read_row_index(P, v, title, &row)) != CAI_OK)
                break;
            if (given[row]) {
                st = fmt_fail(&P->lx, &kw, "%s: this row of parent states is given twice",
                              title);
                break;
            }
            given[row] = 1;
            st = read_probs(P, v, title, v->table + row * v->card, &first);
        } else {
            st = fmt_fail(&P->lx, &P->t,
                          "unexpected %s in %s (expected '(', table, default, property or '}')",
                          fmt_show(&P->t).s, title);
        }
    }
    if (st != CAI_OK)
        goto done;
    if (P->r == 0) {
        st = bif_fail_expected(P, "'}'", "to close the probability block");
        goto done;
    }
    for (size_t r = 0; r < rows; r++) {
        if (given[r])
            continue;
        if (!has_default) {
            /* name the missing row by its parent states */
            char states[200];
            size_t o = 0, rest = r;
            size_t idx[64];
            for (size_t i = v->n_parents; i-- > 0;) {
                size_t c = P->vars[v->parents[i]].card;
                idx[i % 64] = rest % c;
                rest /= c;
            }
            for (size_t i = 0; i < v->n_parents && i < 64 && o + 8 < sizeof states; i++)
                o += (size_t)snprintf(states + o, sizeof states - o, "%s%s", i ? ", " : "",
                                      P->vars[v->parents[i]].states[idx[i]]);
            st = v->n_parents
                     ? fmt_fail(&P->lx, &P->t, "%s: no probabilities for (%s) and no default",
                                title, states)
                     : fmt_fail(&P->lx, &P->t, "%s: no probabilities (expected 'table ...;')",
                                title);
            goto done;
        }
        memcpy(v->table + r * v->card, dflt, v->card * sizeof *dflt);
    }
    st = bif_step(P); /* past '}' */
done:
    free(given);
    free(dflt);
    return st;
}

cai_status bif_parse_probability(bif_parser *P)
{
    fmt_token kw = P->t;
    cai_status st = bif_step(P);
    if (st != CAI_OK || (st = bif_expect(P, '(', "after 'probability'")) != CAI_OK)
        return st;
    if (!bif_is_name(P))
        return bif_fail_expected(P, "a variable name", "after 'probability ('");
    size_t child = bif_find_var(P, &P->t);
    if (child == CAI_NONE)
        return fmt_fail(&P->lx, &P->t, "unknown variable %s (no variable block declares it)",
                        fmt_show(&P->t).s);
    bif_var *v = &P->vars[child];
    if (v->has_block)
        return fmt_fail(&P->lx, &kw, "a second probability block for '%s' (the first is at "
                                     "line %zu)", v->name, v->block.line);
    v->has_block = true;
    v->block = kw;
    P->order[P->n_blocks++] = child;
    fmt_token at = P->t;
    if ((st = bif_step(P)) != CAI_OK)
        return st;
    if (bif_at_punct(P, '|') && ((st = bif_step(P)) != CAI_OK || (st = read_parents(P, v, child)) != CAI_OK))
        return st;
    if ((st = bif_expect(P, ')', "to close the variables of the probability block")) != CAI_OK ||
        (st = bif_expect(P, '{', "to open the probability block")) != CAI_OK)
        return st;
    char title[256];
    block_title(P, v, title, sizeof title);
    return read_body(P, v, title, &at);
}
