/* lib/io/yaml_errors.c — the errors of the model loaders (yaml_read.h):
 * messages at a node's position, or at a character inside a scalar (its
 * line and column in the file, counted in characters), and values shown
 * in messages, shortened. */
#include "yaml_read.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cai/error.h"

/* ---- errors ------------------------------------------------------------ */

/* Set an error of code at node n (no position when n is NULL); with got,
 * the message ends in ", got " and what got is. */
static cai_status vset(const yr_loader *L, cai_status code,
                       const yaml_node_t *n, const yaml_node_t *got,
                       const char *fmt, va_list ap)
{
    char msg[CAI_ERROR_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t line = n ? n->start_mark.line + 1 : 0;
    size_t column = n ? n->start_mark.column + 1 : 0;
    if (got != NULL)
        return cai_error_set(L->err, code, L->path, line, column, "%s, got %s",
                             msg, yr_describe(got).s);
    return cai_error_set(L->err, code, L->path, line, column, "%s", msg);
}

cai_status yr_fail_at(const yr_loader *L, const yaml_node_t *n, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vset(L, CAI_ERR_MODEL, n, NULL, fmt, ap);
    va_end(ap);
    return st;
}

cai_status yr_fail_got(const yr_loader *L, const yaml_node_t *n,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vset(L, CAI_ERR_MODEL, n, n, fmt, ap);
    va_end(ap);
    return st;
}

/* Byte offset in L->text of the start of 0-based line `line` (breaks are
 * \n, \r\n and \r, as libyaml counts them), or false past the end. */
static bool line_start(const yr_loader *L, size_t line, size_t *out)
{
    const char *t = L->text;
    size_t i = 0, len = L->text_len;
    for (size_t l = 0; l < line; l++) {
        while (i < len && t[i] != '\n' && t[i] != '\r')
            i++;
        if (i == len)
            return false;
        i += (t[i] == '\r' && i + 1 < len && t[i + 1] == '\n') ? 2 : 1;
    }
    *out = i;
    return true;
}

/* Characters (UTF-8 code points, as libyaml counts columns) in s[0..n). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The 0-based source line and column of byte off of scalar n's value, or
 * false when it cannot be traced (see yr_scalar_position). Each guess is
 * checked against the source bytes (the value line must end its source
 * line after nothing but spaces, or the one-line scalar must be there
 * verbatim), so text libyaml reads differently (escapes, folding, NEL or
 * U+2028 line breaks) falls back to the node's own position. */
static bool scalar_mark(const yr_loader *L, const yaml_node_t *n, size_t off,
                        size_t *out_line, size_t *out_column)
{
    if (L->text == NULL || n->type != YAML_SCALAR_NODE)
        return false;
    const char *v = yr_text(n), *t = L->text;
    size_t vlen = n->data.scalar.length;
    if (off >= vlen)
        return false;
    size_t ls = off, le = off, row = 0; /* the value line holding off */
    while (ls > 0 && v[ls - 1] != '\n')
        ls--;
    while (le < vlen && v[le] != '\n')
        le++;
    for (size_t i = 0; i < ls; i++)
        row += v[i] == '\n';
    size_t line, s0;
    if (n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE) {
        /* one source line per value line, from the line after the header;
         * a source line is indentation followed by the value line */
        line = n->start_mark.line + 1 + row;
        size_t begin;
        if (!line_start(L, line, &begin))
            return false;
        size_t s1 = begin;
        while (s1 < L->text_len && t[s1] != '\n' && t[s1] != '\r')
            s1++;
        if (s1 - begin < le - ls)
            return false;
        s0 = s1 - (le - ls);
        for (size_t i = begin; i < s0; i++)
            if (t[i] != ' ')
                return false;
    } else {
        /* a scalar on one line, after its opening quote if any */
        if (n->end_mark.line != n->start_mark.line || row != 0)
            return false;
        line = n->start_mark.line;
        size_t q = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
        if (!line_start(L, line, &s0))
            return false;
        for (size_t c = 0; c < n->start_mark.column + q; c++) {
            if (s0 >= L->text_len || t[s0] == '\n' || t[s0] == '\r')
                return false;
            do
                s0++;
            while (s0 < L->text_len && ((unsigned char)t[s0] & 0xC0) == 0x80);
        }
        ls = 0;
        le = vlen;
        if (L->text_len - s0 < vlen)
            return false;
    }
    if (memcmp(t + s0, v + ls, le - ls) != 0)
        return false;
    size_t sol;
    if (!line_start(L, line, &sol))
        return false;
    *out_line = line;
    *out_column = utf8_chars(t + sol, s0 - sol) + utf8_chars(v + ls, off - ls);
    return true;
}

void yr_scalar_position(const yr_loader *L, const yaml_node_t *n, size_t off,
                        size_t *out_line, size_t *out_column)
{
    size_t line, column;
    if (!scalar_mark(L, n, off, &line, &column)) {
        line = n->start_mark.line;
        column = n->start_mark.column;
    }
    *out_line = line + 1;
    *out_column = column + 1;
}

cai_status yr_fail_in_scalar(const yr_loader *L, const yaml_node_t *n,
                             size_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[CAI_ERROR_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t line, column;
    yr_scalar_position(L, n, off, &line, &column);
    return cai_error_set(L->err, CAI_ERR_MODEL, L->path, line, column, "%s",
                         msg);
}

cai_status yr_nomem(const yr_loader *L)
{
    return cai_error_set(L->err, CAI_ERR_NOMEM, L->path, 0, 0, "out of memory");
}

cai_status yr_overflow(const yr_loader *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vset(L, CAI_ERR_OVERFLOW, NULL, NULL, fmt, ap);
    va_end(ap);
    return st;
}

cai_status yr_engine_fail(const yr_loader *L, const yaml_node_t *n,
                          cai_status code, const cai_error *sub,
                          const char *where)
{
    if (code == CAI_ERR_NOMEM)
        return yr_nomem(L);
    return yr_fail_at(L, n, "%s: %s", where, sub->message);
}

yr_shown yr_show(const char *s)
{
    yr_shown r;
    size_t i = 0, o = 0;
    const size_t max = 60;
    for (; s[i] != '\0' && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        r.s[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i] != '\0') {
        /* output and input advance together: do not cut a multi-byte
         * character in two */
        while (o > 0 && ((unsigned char)s[o] & 0xC0) == 0x80)
            o--;
        memcpy(r.s + o, "...", 3);
        o += 3;
    }
    r.s[o] = '\0';
    return r;
}

yr_described yr_describe(const yaml_node_t *n)
{
    yr_described r;
    if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(r.s, sizeof r.s, "a sequence");
    } else if (n->type == YAML_MAPPING_NODE) {
        snprintf(r.s, sizeof r.s, "a mapping");
    } else if (n->type != YAML_SCALAR_NODE) {
        snprintf(r.s, sizeof r.s, "nothing");
    } else if (yr_is_null(n)) {
        snprintf(r.s, sizeof r.s, "null");
    } else {
        yr_shown t = yr_show(yr_text(n));
        if (yr_is_plain(n))
            snprintf(r.s, sizeof r.s, "'%s'", t.s);
        else
            snprintf(r.s, sizeof r.s, "the quoted string \"%s\"", t.s);
    }
    return r;
}

yr_prefix yr_prefix_of(const char *where)
{
    yr_prefix p;
    snprintf(p.s, sizeof p.s, "%s%s", where ? where : "", where ? ": " : "");
    return p;
}
