/* lib/io/formats_write.c — writing a graph as UAI or libDAI .fg.
 *
 * Both formats hold dense tables of linear weights, one per factor, so the
 * writers share one plan: the graph's factors plus the added ones (an
 * indicator per observed variable; for .fg a factor of ones per variable of
 * no factor), every size and every weight checked before the first byte is
 * written. Then each writer walks the tables in its own order: UAI
 * row-major with the last scope variable fastest (cai's layout), .fg with
 * the first fastest (libDAI's). Weights are printed with %.17g, which reads
 * back to the same double. */
#include "formats_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "cai/potential.h"

/* ---- the plan ---------------------------------------------------------- */

bool fmt_odometer(size_t *idx, const size_t *cards, size_t k, bool first)
{
    for (size_t n = 0; n < k; n++) {
        size_t i = first ? n : k - 1 - n;
        if (++idx[i] < cards[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

void fmt_wplan_cards(const fmt_wplan *w, size_t j, size_t *cards)
{
    const fmt_wfactor *f = &w->f[j];
    for (size_t i = 0; i < f->k; i++)
        cards[i] = cai_graph_variable_card(w->g, f->scope[i]);
}

double fmt_wplan_weight(const fmt_wplan *w, size_t j, const size_t *idx)
{
    const fmt_wfactor *f = &w->f[j];
    if (f->p == NULL)
        return f->state == CAI_NONE || idx[0] == f->state ? 1.0 : 0.0;
    double v = cai_potential_log_value(f->p, idx);
    if (f->support)
        return v > -INFINITY ? 1.0 : 0.0;
    return exp(v);
}

void fmt_wplan_free(fmt_wplan *w)
{
    free(w->f);
    free(w->added);
    memset(w, 0, sizeof *w);
}

/* Every weight of factor j is a finite double, positive where its log is
 * finite. */
static cai_status check_weights(const fmt_wplan *w, size_t j, size_t *idx, size_t *cards,
                                const char *format, cai_error *err)
{
    const fmt_wfactor *f = &w->f[j];
    if (f->p == NULL || f->support)
        return CAI_OK;
    fmt_wplan_cards(w, j, cards);
    memset(idx, 0, f->k * sizeof *idx);
    size_t e = 0;
    do {
        double v = cai_potential_log_value(f->p, idx), x = exp(v);
        if (isinf(x) || (x == 0.0 && v > -INFINITY))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "factor %zu entry %zu: the weight exp(%.17g) %s a double; "
                                 "%s files store linear weights (rescale the model, e.g. "
                                 "a higher temperature)",
                                 j, e, v, isinf(x) ? "overflows" : "underflows to 0 in",
                                 format);
        e++;
    } while (fmt_odometer(idx, cards, f->k, false));
    return CAI_OK;
}

cai_status fmt_wplan_create(const cai_graph *g, bool evidence, bool free_vars,
                            const char *format, fmt_wplan *out, cai_error *err)
{
    fmt_wplan w = {.g = g, .max_k = 1};
    size_t n = cai_graph_n_variables(g), nf = cai_graph_n_factors(g);
    size_t n_added = 0;
    bool *used = calloc(n ? n : 1, sizeof *used);
    size_t *idx = NULL, *cards = NULL;
    cai_status st = CAI_OK;
    if (used == NULL)
        goto nomem;
    for (size_t j = 0; j < nf; j++) {
        size_t k;
        const size_t *scope = cai_graph_factor_scope(g, j, &k);
        for (size_t i = 0; i < k; i++)
            used[scope[i]] = true;
    }
    for (size_t v = 0; v < n; v++)
        n_added += (evidence && cai_graph_evidence(g, v) != CAI_NONE) +
                   (free_vars && !used[v]);
    w.nf = nf + n_added;
    w.f = calloc(w.nf ? w.nf : 1, sizeof *w.f);
    w.added = malloc((n_added ? n_added : 1) * sizeof *w.added);
    if (w.f == NULL || w.added == NULL)
        goto nomem;
    for (size_t j = 0; j < nf; j++) {
        fmt_wfactor *f = &w.f[j];
        f->scope = cai_graph_factor_scope(g, j, &f->k);
        f->p = cai_graph_factor_potential(g, j);
        f->support = cai_graph_factor_mode(g, j) == CAI_MODE_SUPPORT;
        f->state = CAI_NONE;
        w.max_k = f->k > w.max_k ? f->k : w.max_k;
    }
    size_t a = 0;
    for (size_t v = 0; v < n; v++) {
        size_t ev = evidence ? cai_graph_evidence(g, v) : CAI_NONE;
        bool ones = free_vars && !used[v];
        for (int h = 0; h < 2; h++) {
            if (h == 0 ? !ones : ev == CAI_NONE)
                continue;
            w.added[a] = v;
            w.f[nf + a] = (fmt_wfactor){.k = 1, .scope = &w.added[a], .p = NULL,
                                        .state = h == 0 ? CAI_NONE : ev};
            a++;
        }
    }
    cards = malloc(w.max_k * sizeof *cards);
    idx = malloc(w.max_k * sizeof *idx);
    if (cards == NULL || idx == NULL)
        goto nomem;
    for (size_t j = 0; j < w.nf; j++) {
        fmt_wplan_cards(&w, j, cards);
        if (!fmt_table_size(cards, w.f[j].k, &w.f[j].size)) {
            st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                               "factor %zu: its table would have more than %zu entries; "
                               "%s files hold dense tables",
                               j, (size_t)CAI_FORMATS_MAX_ENTRIES, format);
            goto fail;
        }
        if (!cai_size_add(w.total, w.f[j].size, &w.total) ||
            w.total > CAI_FORMATS_MAX_ENTRIES) {
            st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                               "the %s file would hold more than %zu table entries (the "
                               "formats have no tying: each of the %zu factors is written "
                               "whole)",
                               format, (size_t)CAI_FORMATS_MAX_ENTRIES, w.nf);
            goto fail;
        }
    }
    for (size_t j = 0; j < nf; j++)
        if ((st = check_weights(&w, j, idx, cards, format, err)) != CAI_OK)
            goto fail;
    free(used);
    free(cards);
    free(idx);
    *out = w;
    return CAI_OK;
nomem:
    st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
fail:
    free(used);
    free(cards);
    free(idx);
    fmt_wplan_free(&w);
    return st;
}

/* ---- writers ----------------------------------------------------------- */

static cai_status stream_status(FILE *f, cai_error *err)
{
    if (ferror(f))
        return cai_error_set(err, CAI_ERR_IO, NULL, 0, 0, "write failed: %s",
                             strerror(errno));
    return CAI_OK;
}

cai_status cai_model_write_uai(const cai_graph *g, FILE *out, FILE *evid, cai_error *err)
{
    if (g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_write_uai: NULL argument");
    fmt_wplan w;
    cai_status st = fmt_wplan_create(g, evid == NULL, false, "UAI", &w, err);
    if (st != CAI_OK || out == NULL) {
        if (st == CAI_OK)
            fmt_wplan_free(&w);
        return st;
    }
    size_t n = cai_graph_n_variables(g);
    size_t *idx = malloc(w.max_k * sizeof *idx), *cards = malloc(w.max_k * sizeof *cards);
    if (idx == NULL || cards == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    fprintf(out, "MARKOV\n%zu\n", n);
    for (size_t v = 0; v < n; v++)
        fprintf(out, "%s%zu", v ? " " : "", cai_graph_variable_card(g, v));
    fprintf(out, "\n%zu\n", w.nf);
    for (size_t j = 0; j < w.nf; j++) {
        fprintf(out, "%zu", w.f[j].k);
        for (size_t i = 0; i < w.f[j].k; i++)
            fprintf(out, " %zu", w.f[j].scope[i]);
        fputc('\n', out);
    }
    for (size_t j = 0; j < w.nf && !ferror(out); j++) {
        const fmt_wfactor *f = &w.f[j];
        fmt_wplan_cards(&w, j, cards);
        memset(idx, 0, f->k * sizeof *idx);
        size_t K = cards[f->k - 1], e = 0;
        fprintf(out, "\n%zu\n", f->size);
        do { /* one line per row: the last variable's states */
            fprintf(out, "%s%.17g", e % K ? " " : "", fmt_wplan_weight(&w, j, idx));
            if (++e % K == 0)
                fputc('\n', out);
        } while (fmt_odometer(idx, cards, f->k, false));
    }
    st = stream_status(out, err);
    if (st == CAI_OK && evid != NULL) {
        size_t m = 0;
        for (size_t v = 0; v < n; v++)
            m += cai_graph_evidence(g, v) != CAI_NONE;
        fprintf(evid, "%zu", m);
        for (size_t v = 0; v < n; v++)
            if (cai_graph_evidence(g, v) != CAI_NONE)
                fprintf(evid, " %zu %zu", v, cai_graph_evidence(g, v));
        fputc('\n', evid);
        st = stream_status(evid, err);
    }
done:
    free(idx);
    free(cards);
    fmt_wplan_free(&w);
    return st;
}

/* The .fg labels: the variables' names when every one is a decimal
 * integer written the canonical way (a graph read from .fg or UAI), so
 * that labels survive a round trip; else the indices. */
static size_t *fg_labels(const cai_graph *g)
{
    size_t n = cai_graph_n_variables(g);
    size_t *label = malloc((n ? n : 1) * sizeof *label);
    if (label == NULL)
        return NULL;
    bool names = true;
    for (size_t v = 0; v < n && names; v++) {
        const char *s = cai_graph_variable_name(g, v);
        fmt_token t = {s, strlen(s), 0, 0};
        names = fmt_parse_size(&t, (size_t)-1, &label[v]) && (s[0] != '0' || s[1] == '\0');
    }
    for (size_t v = 0; v < n && !names; v++)
        label[v] = v;
    return label;
}

cai_status cai_model_write_fg(const cai_graph *g, FILE *out, cai_error *err)
{
    if (g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_write_fg: NULL argument");
    fmt_wplan w;
    cai_status st = fmt_wplan_create(g, true, true, ".fg", &w, err);
    if (st != CAI_OK || out == NULL) {
        if (st == CAI_OK)
            fmt_wplan_free(&w);
        return st;
    }
    size_t *idx = malloc(w.max_k * sizeof *idx), *cards = malloc(w.max_k * sizeof *cards);
    size_t *label = fg_labels(g);
    if (idx == NULL || cards == NULL || label == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    fprintf(out, "%zu\n", w.nf);
    for (size_t j = 0; j < w.nf && !ferror(out); j++) {
        const fmt_wfactor *f = &w.f[j];
        fmt_wplan_cards(&w, j, cards);
        fprintf(out, "\n%zu\n", f->k);
        for (size_t i = 0; i < f->k; i++)
            fprintf(out, "%s%zu", i ? " " : "", label[f->scope[i]]);
        fputc('\n', out);
        for (size_t i = 0; i < f->k; i++)
            fprintf(out, "%s%zu", i ? " " : "", cards[i]);
        /* the nonzeros, counted first: libDAI lists only those */
        size_t nnz = 0;
        memset(idx, 0, f->k * sizeof *idx);
        do
            nnz += fmt_wplan_weight(&w, j, idx) != 0.0;
        while (fmt_odometer(idx, cards, f->k, true));
        fprintf(out, "\n%zu\n", nnz);
        memset(idx, 0, f->k * sizeof *idx);
        size_t li = 0;
        do { /* li counts with the first variable fastest */
            double x = fmt_wplan_weight(&w, j, idx);
            if (x != 0.0)
                fprintf(out, "%zu %.17g\n", li, x);
            li++;
        } while (fmt_odometer(idx, cards, f->k, true));
    }
    st = stream_status(out, err);
done:
    free(idx);
    free(cards);
    free(label);
    fmt_wplan_free(&w);
    return st;
}
