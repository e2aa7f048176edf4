/* lib/io/uai.c — reading the UAI format (MARKOV and BAYES) and its .evid
 * evidence (the writer is in formats_write.c). The conventions are at the
 * top of cai/formats.h.
 *
 * Reading goes in the file's order: the preamble (type, cardinalities,
 * scopes) is checked whole before the graph exists, then each function
 * table becomes one dense potential and one factor. Every size is checked
 * before anything is allocated for it. */
#include "formats_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "cai/potential.h"

/* The preamble: cardinalities and scopes. */
typedef struct uai_pre {
    bool bayes;
    size_t n;          /* variables */
    size_t *card;      /* n */
    size_t nf;         /* functions */
    size_t *off;       /* nf + 1 offsets into var */
    size_t *var;       /* the scopes, concatenated */
    size_t *size;      /* nf table sizes */
    fmt_token *where;  /* nf: each function's scope-size token */
    size_t *child_of;  /* BAYES: n, the function whose child each variable is */
    size_t *seen;      /* n: the last function whose scope holds each variable */
} uai_pre;

static void pre_free(uai_pre *p)
{
    free(p->card);
    free(p->off);
    free(p->var);
    free(p->size);
    free(p->where);
    free(p->child_of);
    free(p->seen);
}

/* Room for one more scope entry in p->var (cap entries so far). */
static cai_status grow_vars(const fmt_lexer *lx, uai_pre *p, size_t used, size_t *cap)
{
    if (used < *cap)
        return CAI_OK;
    size_t ncap, bytes;
    if (!cai_size_mul(*cap ? *cap : 64, 2, &ncap) ||
        !cai_size_mul(ncap, sizeof(size_t), &bytes))
        return fmt_nomem(lx);
    size_t *nv = realloc(p->var, bytes);
    if (nv == NULL)
        return fmt_nomem(lx);
    p->var = nv;
    *cap = ncap;
    return CAI_OK;
}

static cai_status read_type(fmt_lexer *lx, uai_pre *p)
{
    fmt_token t;
    int r = fmt_next(lx, &t);
    if (r == 0)
        return fmt_fail(lx, &t, "empty UAI file: expected MARKOV or BAYES");
    if (fmt_is(&t, "MARKOV") || fmt_is(&t, "BAYES")) {
        p->bayes = fmt_is(&t, "BAYES");
        return CAI_OK;
    }
    return fmt_fail(lx, &t, "expected the network type MARKOV or BAYES, got %s",
                    fmt_show(&t).s);
}

static cai_status read_cards(fmt_lexer *lx, uai_pre *p)
{
    cai_status st = fmt_read_count(lx, CAI_FORMATS_MAX_ENTRIES, &p->n, NULL,
                                   "the number of variables");
    if (st != CAI_OK || (st = fmt_check_fits(lx, p->n, "cardinalities")) != CAI_OK)
        return st;
    if ((p->card = malloc((p->n ? p->n : 1) * sizeof *p->card)) == NULL)
        return fmt_nomem(lx);
    for (size_t v = 0; v < p->n; v++) {
        fmt_token t;
        if ((st = fmt_read_count(lx, CAI_MAX_CARD, &p->card[v], &t,
                                 "the cardinality of variable %zu", v)) != CAI_OK)
            return st;
        if (p->card[v] == 0)
            return fmt_fail(lx, &t, "variable %zu: cardinality must be >= 1, got 0", v);
    }
    return CAI_OK;
}

/* One function's scope into p->var[*used ..]. */
static cai_status read_scope(fmt_lexer *lx, uai_pre *p, size_t f, size_t *used,
                             size_t *cap)
{
    size_t k;
    cai_status st = fmt_read_count(lx, CAI_FORMATS_MAX_ENTRIES, &k, &p->where[f],
                                   "the scope size of function %zu", f);
    if (st != CAI_OK)
        return st;
    if (k == 0)
        return fmt_fail(lx, &p->where[f],
                        "function %zu: empty scope (a constant factor) is not supported", f);
    if (k > p->n)
        return fmt_fail(lx, &p->where[f],
                        "function %zu: scope of %zu variables, but the network has %zu",
                        f, k, p->n);
    size_t size = 1;
    bool too_big = false;
    for (size_t i = 0; i < k; i++) {
        fmt_token t;
        size_t v;
        if ((st = fmt_read_count(lx, (size_t)-1, &v, &t,
                                 "variable %zu of the scope of function %zu", i, f)) != CAI_OK)
            return st;
        if (v >= p->n)
            return fmt_fail(lx, &t, "function %zu: variable %zu is out of range 0..%zu",
                            f, v, p->n - 1);
        if (p->seen[v] == f)
            return fmt_fail(lx, &t, "function %zu: variable %zu appears twice in the scope", f,
                            v);
        p->seen[v] = f;
        if ((st = grow_vars(lx, p, *used, cap)) != CAI_OK)
            return st;
        p->var[(*used)++] = v;
        if (!too_big && (!cai_size_mul(size, p->card[v], &size) ||
                         size > CAI_FORMATS_MAX_ENTRIES))
            too_big = true;
    }
    if (too_big)
        return fmt_fail(lx, &p->where[f],
                        "function %zu: its table would have more than %zu entries",
                        f, (size_t)CAI_FORMATS_MAX_ENTRIES);
    p->size[f] = size;
    p->off[f + 1] = *used;
    if (p->bayes) {
        size_t child = p->var[*used - 1];
        if (p->child_of[child] != CAI_NONE)
            return fmt_fail(lx, &p->where[f],
                            "function %zu: variable %zu is already the child of function "
                            "%zu (BAYES: one table per variable, the child last in its scope)",
                            f, child, p->child_of[child]);
        p->child_of[child] = f;
    }
    return CAI_OK;
}

/* BAYES: every variable has its table and the parents form no cycle. */
static cai_status check_bayes(const fmt_lexer *lx, const uai_pre *p,
                              const fmt_token *nf_tok)
{
    for (size_t v = 0; v < p->n; v++)
        if (p->child_of[v] == CAI_NONE)
            return fmt_fail(lx, nf_tok,
                            "BAYES: variable %zu is the child of no function (every "
                            "variable needs its conditional probability table)", v);
    size_t *ptr = malloc((p->n + 1) * sizeof *ptr);
    size_t *pa = malloc((p->off[p->nf] ? p->off[p->nf] : 1) * sizeof *pa);
    size_t *cycle = malloc((p->n ? p->n : 1) * sizeof *cycle);
    cai_status st = CAI_OK;
    if (ptr == NULL || pa == NULL || cycle == NULL) {
        st = fmt_nomem(lx);
        goto done;
    }
    size_t o = 0;
    for (size_t v = 0; v < p->n; v++) {
        size_t f = p->child_of[v];
        ptr[v] = o;
        for (size_t h = p->off[f]; h + 1 < p->off[f + 1]; h++)
            pa[o++] = p->var[h];
    }
    ptr[p->n] = o;
    size_t len;
    bool found;
    if (fmt_find_cycle(p->n, ptr, pa, cycle, &len, &found) != CAI_OK) {
        st = fmt_nomem(lx);
        goto done;
    }
    if (found) {
        char path[256];
        size_t w = 0;
        for (size_t i = 0; i <= len && w + 24 < sizeof path; i++)
            w += (size_t)snprintf(path + w, sizeof path - w, "%s%zu", i ? " -> " : "",
                                  cycle[i % len]);
        st = fmt_fail(lx, &p->where[p->child_of[cycle[0]]],
                      "BAYES: the parents form a directed cycle %s", path);
    }
done:
    free(ptr);
    free(pa);
    free(cycle);
    return st;
}

static cai_status read_preamble(fmt_lexer *lx, uai_pre *p)
{
    cai_status st = read_type(lx, p);
    if (st != CAI_OK || (st = read_cards(lx, p)) != CAI_OK)
        return st;
    fmt_token nf_tok;
    if ((st = fmt_read_count(lx, CAI_FORMATS_MAX_ENTRIES, &p->nf, &nf_tok,
                             "the number of functions")) != CAI_OK ||
        (st = fmt_check_fits(lx, p->nf, "function scopes")) != CAI_OK)
        return st;
    size_t nf1 = p->nf + 1;
    p->off = malloc(nf1 * sizeof *p->off);
    p->size = malloc(nf1 * sizeof *p->size);
    p->where = malloc(nf1 * sizeof *p->where);
    p->child_of = malloc((p->n ? p->n : 1) * sizeof *p->child_of);
    p->seen = malloc((p->n ? p->n : 1) * sizeof *p->seen);
    if (p->off == NULL || p->size == NULL || p->where == NULL || p->child_of == NULL ||
        p->seen == NULL)
        return fmt_nomem(lx);
    for (size_t v = 0; v < p->n; v++)
        p->child_of[v] = p->seen[v] = CAI_NONE;
    p->off[0] = 0;
    size_t used = 0, cap = 0;
    for (size_t f = 0; f < p->nf; f++)
        if ((st = read_scope(lx, p, f, &used, &cap)) != CAI_OK)
            return st;
    return p->bayes ? check_bayes(lx, p, &nf_tok) : CAI_OK;
}

/* ---- function tables --------------------------------------------------- */

static cai_status read_table(fmt_lexer *lx, const uai_pre *p, size_t f, cai_graph *g)
{
    char what[96];
    fmt_token ct;
    size_t count;
    cai_status st = fmt_read_count(lx, (size_t)-1, &count, &ct,
                                   "the number of entries of function %zu", f);
    if (st != CAI_OK)
        return st;
    size_t k = p->off[f + 1] - p->off[f];
    const size_t *scope = p->var + p->off[f];
    if (count != p->size[f]) {
        char shape[160];
        size_t w = 0;
        shape[0] = '\0';
        for (size_t i = 0; i < k && w + 24 < sizeof shape; i++)
            w += (size_t)snprintf(shape + w, sizeof shape - w, "%s%zu", i ? " x " : "",
                                  p->card[scope[i]]);
        return fmt_fail(lx, &ct, "function %zu: %zu entries, expected %zu (cardinalities %s)",
                        f, count, p->size[f], shape);
    }
    snprintf(what, sizeof what, "entries of function %zu", f);
    if ((st = fmt_check_fits(lx, count, what)) != CAI_OK)
        return st;
    size_t K = p->card[scope[k - 1]];
    double *vals = malloc(count * sizeof *vals);
    size_t *cards = malloc(k * sizeof *cards);
    cai_potential *pot = NULL;
    if (vals == NULL || cards == NULL) {
        st = fmt_nomem(lx);
        goto done;
    }
    fmt_token row_start = ct;
    double sum = 0.0;
    for (size_t e = 0; e < count; e++) {
        fmt_token t;
        if ((st = fmt_read_weight(lx, &vals[e], &t, "function %zu entry %zu", f, e)) != CAI_OK)
            goto done;
        if (e % K == 0) {
            row_start = t;
            sum = 0.0;
        }
        sum += vals[e];
        if (p->bayes && e % K == K - 1 && !(fabs(sum - 1.0) <= FMT_ROW_TOL)) {
            st = fmt_fail(lx, &row_start,
                          "function %zu: row %zu (entries %zu..%zu) sums to %.10g, not 1 "
                          "(BAYES: each row is p(child | parents), within %g)",
                          f, e / K, e + 1 - K, e, sum, FMT_ROW_TOL);
            goto done;
        }
    }
    for (size_t i = 0; i < k; i++)
        cards[i] = p->card[scope[i]];
    cai_error sub;
    cai_error_clear(&sub);
    snprintf(what, sizeof what, "function %zu", f);
    st = cai_potential_table_create_linear(k, cards, vals, &pot, &sub);
    if (st == CAI_OK)
        st = cai_graph_add_factor(g, pot, scope, k, CAI_MODE_NORMAL, NULL, &sub);
    if (st != CAI_OK)
        st = fmt_engine_fail(lx, &ct, st, &sub, what);
done:
    cai_potential_unref(pot);
    free(vals);
    free(cards);
    return st;
}

/* ---- evidence ---------------------------------------------------------- */

/* Count the tokens of the evidence text (-1: a lexer error, set). */
static cai_status count_tokens(fmt_lexer lx, size_t *out)
{
    size_t n = 0;
    fmt_token t;
    int r;
    while ((r = fmt_next(&lx, &t)) > 0)
        n++;
    if (r < 0)
        return lx.err ? lx.err->code : CAI_ERR_MODEL;
    *out = n;
    return CAI_OK;
}

static cai_status read_pairs(fmt_lexer *lx, size_t pairs, cai_graph *g)
{
    size_t n = cai_graph_n_variables(g);
    for (size_t i = 0; i < pairs; i++) {
        fmt_token vt, xt;
        size_t v, x;
        cai_status st = fmt_read_count(lx, (size_t)-1, &v, &vt,
                                       "the variable of evidence pair %zu", i);
        if (st != CAI_OK)
            return st;
        if (v >= n)
            return n ? fmt_fail(lx, &vt, "evidence: variable %zu is out of range 0..%zu",
                                v, n - 1)
                     : fmt_fail(lx, &vt, "evidence: variable %zu, but the network has "
                                         "no variables", v);
        if ((st = fmt_read_count(lx, (size_t)-1, &x, &xt, "the value of evidence pair %zu",
                                 i)) != CAI_OK)
            return st;
        size_t card = cai_graph_variable_card(g, v);
        if (x >= card)
            return fmt_fail(lx, &xt, "evidence: value %zu of variable %zu is out of range "
                                     "0..%zu", x, v, card - 1);
        if (cai_graph_evidence(g, v) != CAI_NONE)
            return fmt_fail(lx, &vt, "evidence: variable %zu is observed twice", v);
        cai_error sub;
        cai_error_clear(&sub);
        if ((st = cai_graph_set_evidence(g, v, x, &sub)) != CAI_OK)
            return fmt_engine_fail(lx, &vt, st, &sub, "evidence");
    }
    return CAI_OK;
}

/* Whether the rest of lx is exactly n samples of the older form, each
 * "M v1 x1 ... vM xM". */
static bool is_samples(fmt_lexer lx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t m;
        fmt_token t;
        if (fmt_read_count(&lx, (size_t)-1, &m, NULL, "a count") != CAI_OK)
            return false;
        for (size_t j = 0; j < m; j++)
            for (int h = 0; h < 2; h++)
                if (fmt_next(&lx, &t) <= 0)
                    return false;
    }
    fmt_token t;
    return fmt_next(&lx, &t) == 0;
}

/* The pairs announced do not match what follows: the first missing or
 * extra token is the error. */
static cai_status count_mismatch(const fmt_lexer *lx, size_t pairs)
{
    fmt_lexer scan = *lx;
    fmt_token t;
    size_t have = 0;
    while (have / 2 < pairs && fmt_next(&scan, &t) > 0)
        have++;
    if (have / 2 < pairs)
        return fmt_fail_end(lx, "evidence: the file ends before the %zu variable-value "
                                "pairs announced (truncated?)", pairs);
    fmt_next(&scan, &t);
    return fmt_fail(lx, &t, "evidence: unexpected %s after the %zu variable-value pairs "
                            "announced (trailing garbage)", fmt_show(&t).s, pairs);
}

/* The rule in cai/formats.h: "N pairs..." or "1 N pairs...". */
static cai_status read_evidence(const char *text, size_t len, const char *name,
                                cai_graph *g, cai_error *err)
{
    fmt_lexer lx;
    fmt_lexer_init(&lx, text, len, name, FMT_SYNTAX_UAI, err);
    size_t T = 0;
    cai_status st = count_tokens(lx, &T);
    if (st != CAI_OK || T == 0)
        return st; /* an empty file: no evidence */
    size_t n0, m;
    fmt_token t0;
    if ((st = fmt_read_count(&lx, (size_t)-1, &n0, &t0, "the number of observed variables")) !=
        CAI_OK)
        return st;
    if (n0 <= (T - 1) / 2 && T - 1 == 2 * n0)
        return read_pairs(&lx, n0, g); /* UAI 2014: N, then N pairs */
    if (n0 == 1 && T >= 2) { /* the older form: 1 sample, M, M pairs */
        fmt_lexer old = lx;
        fmt_token t1;
        if ((st = fmt_read_count(&old, (size_t)-1, &m, &t1,
                                 "the number of observed variables")) != CAI_OK)
            return st;
        if (m <= (T - 2) / 2 && T - 2 == 2 * m)
            return read_pairs(&old, m, g);
        if (t1.line > t0.line) /* laid out as the older form: the count alone */
            return count_mismatch(&old, m);
    }
    if (n0 > 1 && is_samples(lx, n0)) /* the older form with several samples */
        return fmt_fail(&lx, &t0, "evidence: %zu samples; only one is supported (the "
                                  "older form starts with a sample count of 1)", n0);
    return count_mismatch(&lx, n0);
}

/* ---- the reader -------------------------------------------------------- */

cai_status cai_model_parse_uai(const char *text, size_t len, const char *name,
                               const char *evid, size_t evid_len,
                               const char *evid_name, cai_model **out_model,
                               cai_error *err)
{
    if ((text == NULL && len > 0) || (evid == NULL && evid_len > 0) || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_parse_uai: NULL argument");
    fmt_lexer lx;
    fmt_lexer_init(&lx, text, len, name, FMT_SYNTAX_UAI, err);
    uai_pre p = {0};
    cai_graph *g = NULL;
    cai_status st = read_preamble(&lx, &p);
    if (st != CAI_OK)
        goto fail;
    cai_error sub;
    cai_error_clear(&sub);
    if ((st = cai_graph_create(&g, &sub)) != CAI_OK) {
        st = fmt_nomem(&lx);
        goto fail;
    }
    for (size_t v = 0; v < p.n; v++) {
        char vn[32];
        snprintf(vn, sizeof vn, "%zu", v);
        if ((st = cai_graph_add_variable(g, vn, p.card[v], NULL, NULL, &sub)) != CAI_OK) {
            st = fmt_nomem(&lx);
            goto fail;
        }
    }
    for (size_t f = 0; f < p.nf; f++)
        if ((st = read_table(&lx, &p, f, g)) != CAI_OK)
            goto fail;
    if ((st = fmt_expect_end(&lx, p.nf ? "the last function table" : "the preamble")) != CAI_OK)
        goto fail;
    if (evid != NULL &&
        (st = read_evidence(evid, evid_len, evid_name ? evid_name : "<evidence>", g, err)) !=
            CAI_OK)
        goto fail;
    pre_free(&p);
    return fmt_model_create(g, "", out_model, err);
fail:
    pre_free(&p);
    cai_graph_free(g);
    return st;
}
