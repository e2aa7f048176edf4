/* lib/io/formats.c — dispatch on the file's extension and what the readers
 * of the community formats share (formats_impl.h): the tokenizer, error
 * setters, checked numbers, the directed-cycle check and the model. */
#include "formats_impl.h"
#include "yaml_read.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cai/logmath.h"
#include "model_impl.h"

/* ---- dispatch ---------------------------------------------------------- */

static const struct format_entry {
    const char *ext; /* with the dot */
    const char *name;
    cai_model_format fmt;
} formats[] = {
    {".uai", "uai", CAI_FORMAT_UAI},
    {".fg", "fg", CAI_FORMAT_FG},
    {".bif", "bif", CAI_FORMAT_BIF},
};

#define N_FORMATS (sizeof formats / sizeof formats[0])

cai_model_format cai_model_format_of(const char *path)
{
    if (path == NULL)
        return CAI_FORMAT_YAML;
    size_t len = strlen(path);
    for (size_t i = 0; i < N_FORMATS; i++) {
        size_t n = strlen(formats[i].ext);
        if (len > n && path[len - n - 1] != '/' &&
            strcasecmp(path + len - n, formats[i].ext) == 0)
            return formats[i].fmt;
    }
    return CAI_FORMAT_YAML;
}

const char *cai_model_format_name(cai_model_format fmt)
{
    for (size_t i = 0; i < N_FORMATS; i++)
        if (formats[i].fmt == fmt)
            return formats[i].name;
    return fmt == CAI_FORMAT_YAML ? "yaml" : "unknown";
}

cai_status cai_model_load_as(const char *path, cai_model_format fmt,
                             cai_model **out_model, cai_error *err)
{
    if (path == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_load_as: NULL argument");
    if (fmt != CAI_FORMAT_YAML && fmt != CAI_FORMAT_UAI &&
        fmt != CAI_FORMAT_FG && fmt != CAI_FORMAT_BIF)
        return cai_error_set(err, CAI_ERR_INVALID, path, 0, 0,
                             "cai_model_load_as: unknown format %d", (int)fmt);
    char *text = NULL, *evid = NULL, *evid_path = NULL;
    size_t len = 0, evid_len = 0;
    cai_status st = fmt_read_file(path, false, &text, &len, err);
    if (st != CAI_OK)
        return st;
    switch (fmt) {
    case CAI_FORMAT_UAI: {
        size_t n = strlen(path) + sizeof ".evid";
        if ((evid_path = malloc(n)) == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0, "out of memory");
            break;
        }
        snprintf(evid_path, n, "%s.evid", path);
        st = fmt_read_file(evid_path, true, &evid, &evid_len, err);
        if (st == CAI_OK)
            st = cai_model_parse_uai(text, len, path, evid, evid_len, evid_path,
                                     out_model, err);
        break;
    }
    case CAI_FORMAT_FG:
        st = cai_model_parse_fg(text, len, path, out_model, err);
        break;
    case CAI_FORMAT_BIF:
        st = cai_model_parse_bif(text, len, path, out_model, err);
        break;
    default:
        st = cai_model_load_string(text ? text : "", len, path, out_model, err);
        break;
    }
    free(text);
    free(evid);
    free(evid_path);
    return st;
}

cai_status fmt_read_file(const char *path, bool missing_ok, char **out_buf,
                         size_t *out_len, cai_error *err)
{
    if (missing_ok) {
        FILE *f = fopen(path, "rb");
        if (f == NULL && errno == ENOENT) {
            *out_buf = NULL;
            *out_len = 0;
            return CAI_OK;
        }
        if (f != NULL)
            fclose(f);
    }
    return yr_read_file(path, out_buf, out_len, err);
}

/* ---- the tokenizer ----------------------------------------------------- */

void fmt_lexer_init(fmt_lexer *lx, const char *text, size_t len,
                    const char *name, fmt_syntax syntax, cai_error *err)
{
    *lx = (fmt_lexer){.text = text ? text : "",
                      .len = text ? len : 0,
                      .line = 1,
                      .col = 1,
                      .line_start = true,
                      .syntax = syntax,
                      .name = name,
                      .err = err};
}

static void advance(fmt_lexer *lx)
{
    char c = lx->text[lx->pos++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
        lx->line_start = true;
    } else {
        lx->col++;
        if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v')
            lx->line_start = false;
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static bool is_bif_punct(char c)
{
    return c == '{' || c == '}' || c == '(' || c == ')' || c == '[' ||
           c == ']' || c == ',' || c == ';' || c == '|' || c == '"';
}

static bool at(const fmt_lexer *lx, size_t off, char c)
{
    return lx->pos + off < lx->len && lx->text[lx->pos + off] == c;
}

static void skip_line(fmt_lexer *lx)
{
    while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
        advance(lx);
}

/* Skip blanks and comments; -1 on an unterminated comment. */
static int skip_blank(fmt_lexer *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];
        if (is_space(c)) {
            advance(lx);
        } else if (lx->syntax == FMT_SYNTAX_UAI && c == 'c' && lx->line_start) {
            skip_line(lx);
        } else if (lx->syntax == FMT_SYNTAX_FG && c == '#') {
            skip_line(lx);
        } else if (lx->syntax == FMT_SYNTAX_BIF && c == '/' && at(lx, 1, '/')) {
            skip_line(lx);
        } else if (lx->syntax == FMT_SYNTAX_BIF && c == '/' && at(lx, 1, '*')) {
            fmt_token start = {lx->text + lx->pos, 2, lx->line, lx->col};
            advance(lx);
            advance(lx);
            while (lx->pos < lx->len && !(at(lx, 0, '*') && at(lx, 1, '/')))
                advance(lx);
            if (lx->pos >= lx->len) {
                fmt_fail(lx, &start, "unterminated comment (no closing */)");
                return -1;
            }
            advance(lx);
            advance(lx);
        } else {
            return 0;
        }
    }
    return 0;
}

int fmt_next(fmt_lexer *lx, fmt_token *t)
{
    if (skip_blank(lx) < 0)
        return -1;
    *t = (fmt_token){lx->text + lx->pos, 0, lx->line, lx->col};
    if (lx->pos >= lx->len)
        return 0;
    size_t start = lx->pos;
    char c = lx->text[lx->pos];
    if (lx->syntax == FMT_SYNTAX_BIF && c == '"') {
        advance(lx);
        while (lx->pos < lx->len && lx->text[lx->pos] != '"' &&
               lx->text[lx->pos] != '\n')
            advance(lx);
        if (lx->pos >= lx->len || lx->text[lx->pos] != '"') {
            t->len = lx->pos - start;
            fmt_fail(lx, t, "unterminated string (no closing \" on its line)");
            return -1;
        }
        advance(lx);
    } else if (lx->syntax == FMT_SYNTAX_BIF && is_bif_punct(c)) {
        advance(lx);
    } else {
        while (lx->pos < lx->len) {
            c = lx->text[lx->pos];
            if (is_space(c))
                break;
            if (lx->syntax == FMT_SYNTAX_FG && c == '#')
                break;
            if (lx->syntax == FMT_SYNTAX_BIF &&
                (is_bif_punct(c) ||
                 (c == '/' && (at(lx, 1, '/') || at(lx, 1, '*')))))
                break;
            advance(lx);
        }
    }
    t->len = lx->pos - start;
    return 1;
}

bool fmt_is(const fmt_token *t, const char *word)
{
    size_t n = strlen(word);
    return t->len == n && memcmp(t->s, word, n) == 0;
}

fmt_shown fmt_show(const fmt_token *t)
{
    fmt_shown r;
    size_t o = 0, max = 40;
    r.s[o++] = '\'';
    for (size_t i = 0; i < t->len && o + 6 < sizeof r.s; i++) {
        if (i == max) {
            memcpy(r.s + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)t->s[i];
        if (isprint(c)) {
            r.s[o++] = (char)c;
        } else {
            snprintf(r.s + o, sizeof r.s - o, "\\x%02x", c);
            o += 4;
        }
    }
    r.s[o++] = '\'';
    r.s[o] = '\0';
    return r;
}

/* ---- errors ------------------------------------------------------------ */

static cai_status vfail(const fmt_lexer *lx, size_t line, size_t col,
                        const char *fmt, va_list ap)
{
    char msg[CAI_ERROR_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return cai_error_set(lx->err, CAI_ERR_MODEL, lx->name, line, col, "%s", msg);
}

cai_status fmt_fail(const fmt_lexer *lx, const fmt_token *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vfail(lx, t->line, t->col, fmt, ap);
    va_end(ap);
    return st;
}

cai_status fmt_fail_end(const fmt_lexer *lx, const char *fmt, ...)
{
    fmt_lexer end = *lx;
    while (end.pos < end.len)
        advance(&end);
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vfail(lx, end.line, end.col, fmt, ap);
    va_end(ap);
    return st;
}

cai_status fmt_nomem(const fmt_lexer *lx)
{
    return cai_error_set(lx->err, CAI_ERR_NOMEM, lx->name, 0, 0, "out of memory");
}

cai_status fmt_engine_fail(const fmt_lexer *lx, const fmt_token *t,
                           cai_status st, const cai_error *sub,
                           const char *where)
{
    if (st == CAI_ERR_NOMEM)
        return fmt_nomem(lx);
    return fmt_fail(lx, t, "%s: %s", where,
                    sub->message[0] ? sub->message : cai_status_string(st));
}

/* ---- numbers ----------------------------------------------------------- */

bool fmt_parse_size(const fmt_token *t, size_t max, size_t *out)
{
    if (t->len == 0)
        return false;
    size_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        char c = t->s[i];
        if (c < '0' || c > '9')
            return false;
        size_t d = (size_t)(c - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool fmt_parse_double(const fmt_token *t, double *out)
{
    char buf[128];
    if (t->len == 0 || t->len >= sizeof buf)
        return false;
    memcpy(buf, t->s, t->len);
    buf[t->len] = '\0';
    char *end;
    double v = strtod(buf, &end); /* underflow to a subnormal is fine */
    if (end != buf + t->len)
        return false;
    *out = v;
    return true;
}

/* Whether t is digits only (so a too-large count is told from a non-count). */
static bool all_digits(const fmt_token *t)
{
    for (size_t i = 0; i < t->len; i++)
        if (t->s[i] < '0' || t->s[i] > '9')
            return false;
    return t->len > 0;
}

/* WHAT formatted from fmt and ap. */
typedef struct what_text {
    char s[160];
} what_text;

static what_text vwhat(const char *fmt, va_list ap)
{
    what_text w;
    vsnprintf(w.s, sizeof w.s, fmt, ap);
    return w;
}

cai_status fmt_read_count(fmt_lexer *lx, size_t max, size_t *out, fmt_token *out_t,
                          const char *what, ...)
{
    fmt_token t;
    int r = fmt_next(lx, &t);
    if (r < 0)
        return lx->err ? lx->err->code : CAI_ERR_MODEL;
    if (out_t != NULL)
        *out_t = t;
    if (r > 0 && fmt_parse_size(&t, max, out))
        return CAI_OK;
    va_list ap;
    va_start(ap, what);
    what_text w = vwhat(what, ap);
    va_end(ap);
    if (r == 0)
        return fmt_fail(lx, &t, "the file ends before %s (truncated?)", w.s);
    if (all_digits(&t))
        return fmt_fail(lx, &t, "%s %.*s exceeds the maximum %zu", w.s,
                        (int)(t.len > 40 ? 40 : t.len), t.s, max);
    return fmt_fail(lx, &t, "expected %s (an integer >= 0), got %s", w.s, fmt_show(&t).s);
}

static cai_status vcheck_weight(const fmt_lexer *lx, const fmt_token *t, double v,
                                const char *what, va_list ap)
{
    if (!isnan(v) && !isinf(v) && v >= 0.0)
        return CAI_OK;
    what_text w = vwhat(what, ap);
    if (isnan(v))
        return fmt_fail(lx, t, "%s is NaN", w.s);
    if (isinf(v))
        return fmt_fail(lx, t, "%s is infinite (%s)", w.s, fmt_show(t).s);
    return fmt_fail(lx, t, "%s is negative (%s)", w.s, fmt_show(t).s);
}

cai_status fmt_check_weight(const fmt_lexer *lx, const fmt_token *t, double v,
                            const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    cai_status st = vcheck_weight(lx, t, v, what, ap);
    va_end(ap);
    return st;
}

cai_status fmt_read_weight(fmt_lexer *lx, double *out, fmt_token *out_t, const char *what,
                           ...)
{
    fmt_token t;
    int r = fmt_next(lx, &t);
    if (r < 0)
        return lx->err ? lx->err->code : CAI_ERR_MODEL;
    if (out_t != NULL)
        *out_t = t;
    double v = 0.0;
    va_list ap;
    va_start(ap, what);
    cai_status st;
    if (r == 0) {
        st = fmt_fail(lx, &t, "the file ends before %s (truncated?)", vwhat(what, ap).s);
    } else if (!fmt_parse_double(&t, &v)) {
        st = fmt_fail(lx, &t, "%s is not a number, got %s", vwhat(what, ap).s,
                      fmt_show(&t).s);
    } else {
        st = vcheck_weight(lx, &t, v, what, ap);
    }
    va_end(ap);
    if (st == CAI_OK)
        *out = v + 0.0; /* -0 reads as 0 */
    return st;
}

cai_status fmt_check_fits(const fmt_lexer *lx, size_t count, const char *what)
{
    size_t left = lx->len - lx->pos;
    if (count <= left / 2 + 1)
        return CAI_OK;
    return fmt_fail_end(lx, "the file ends before the %zu %s (truncated?)", count,
                        what);
}

cai_status fmt_expect_end(fmt_lexer *lx, const char *what)
{
    fmt_token t;
    int r = fmt_next(lx, &t);
    if (r < 0)
        return lx->err ? lx->err->code : CAI_ERR_MODEL;
    if (r > 0)
        return fmt_fail(lx, &t, "unexpected %s after %s (trailing garbage)",
                        fmt_show(&t).s, what);
    return CAI_OK;
}

/* ---- shared checks ----------------------------------------------------- */

bool fmt_table_size(const size_t *cards, size_t k, size_t *out)
{
    size_t n = 1;
    for (size_t i = 0; i < k; i++)
        if (!cai_size_mul(n, cards[i], &n) || n > CAI_FORMATS_MAX_ENTRIES)
            return false;
    *out = n;
    return true;
}

size_t fmt_bad_row(const double *v, size_t rows, size_t K, double *out_sum)
{
    for (size_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (size_t c = 0; c < K; c++)
            s += v[r * K + c];
        if (!(fabs(s - 1.0) <= FMT_ROW_TOL)) {
            *out_sum = s;
            return r;
        }
    }
    return CAI_NONE;
}

cai_status fmt_find_cycle(size_t n, const size_t *pa_ptr, const size_t *pa,
                          size_t *cycle, size_t *out_len, bool *out_found)
{
    /* depth-first over parent edges with an explicit stack: color 0 new,
     * 1 on the stack, 2 done; next[v] is v's next parent to visit */
    unsigned char *color = calloc(n ? n : 1, 1);
    size_t *next = calloc(n ? n : 1, sizeof *next);
    size_t *stack = malloc((n ? n : 1) * sizeof *stack);
    if (color == NULL || next == NULL || stack == NULL) {
        free(color);
        free(next);
        free(stack);
        return CAI_ERR_NOMEM;
    }
    bool found = false;
    for (size_t root = 0; root < n && !found; root++) {
        if (color[root])
            continue;
        size_t top = 0;
        stack[top++] = root;
        color[root] = 1;
        while (top > 0 && !found) {
            size_t v = stack[top - 1];
            if (pa_ptr[v] + next[v] == pa_ptr[v + 1]) {
                color[v] = 2;
                top--;
                continue;
            }
            size_t u = pa[pa_ptr[v] + next[v]++];
            if (color[u] == 0) {
                color[u] = 1;
                stack[top++] = u;
            } else if (color[u] == 1) {
                /* the stack from u up to v: each the child of the one
                 * before; reversed, each is the parent of the next */
                size_t i = top;
                while (stack[i - 1] != u)
                    i--;
                size_t len = 0;
                for (size_t j = top; j-- > i - 1;)
                    cycle[len++] = stack[j];
                *out_len = len;
                found = true;
            }
        }
    }
    free(color);
    free(next);
    free(stack);
    *out_found = found;
    return CAI_OK;
}

/* ---- the model --------------------------------------------------------- */

cai_status fmt_model_create(cai_graph *g, const char *name,
                            cai_model **out_model, cai_error *err)
{
    cai_model *m = calloc(1, sizeof *m);
    if (m == NULL || (m->name = strdup(name ? name : "")) == NULL) {
        free(m);
        cai_graph_free(g);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    m->kind = CAI_MODEL_FACTOR_GRAPH;
    m->graph = g;
    *out_model = m;
    return CAI_OK;
}
