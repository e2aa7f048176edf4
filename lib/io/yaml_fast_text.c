/* lib/io/yaml_fast_text.c — the fast composer's text check and its
 * quoted and literal scalars.
 *
 * The check is libyaml's reader's (yaml_parser_update_buffer); the scalars
 * follow libyaml 0.2's scan_flow_scalar and scan_block_scalar for the part
 * of YAML the composer reads, and decline at anything past it. Plain
 * scalars, most of a large model, are read in yaml_fast.c. */
#include "yaml_fast_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text ---------------------------------------------------------- */

/* The text as libyaml's reader accepts it, without what the composer does
 * not handle: UTF-8 of printable characters (tab, \n, \r\n, U+0020-007E,
 * U+00A0-D7FF, U+E000-FFFD, U+10000-10FFFF), no BOM (U+FEFF), no bare \r
 * and no NEL, LS or PS (more line breaks to libyaml). */
bool yf_valid_text(const unsigned char *s, size_t n, bool *out_ascii)
{
    size_t i = 0;
    *out_ascii = true;
    while (i < n) {
        if (n - i >= 8) { /* eight bytes of U+0020-007E at once */
            uint64_t w;
            memcpy(&w, s + i, 8);
            uint64_t low = (w - 0x2020202020202020u) & ~w; /* a byte < 0x20 */
            uint64_t high = (w + 0x0101010101010101u) | w; /* or >= 0x7F */
            if (((low | high) & 0x8080808080808080u) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7F) {
            i++;
            continue;
        }
        if (c == '\n' || c == '\t') {
            i++;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return false;
            i += 2;
            continue;
        }
        size_t w;
        unsigned long v, min;
        *out_ascii = false;
        if ((c & 0xE0) == 0xC0) {
            w = 2;
            v = c & 0x1Fu;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            w = 3;
            v = c & 0x0Fu;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            w = 4;
            v = c & 0x07u;
            min = 0x10000;
        } else {
            return false; /* ASCII controls, DEL, stray continuation bytes */
        }
        if (n - i < w)
            return false;
        for (size_t k = 1; k < w; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            v = (v << 6) | (s[i + k] & 0x3Fu);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) ||
            v < 0xA0 || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF ||
            v == 0x2028 || v == 0x2029)
            return false;
        i += w;
    }
    return true;
}

/* ---- the value buffer -------------------------------------------------- */

static bool buf_put(yf *f, const void *src, size_t n)
{
    if (n == 0)
        return true;
    if (f->cap - f->n < n) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap - f->n < n) {
            if (cap > SIZE_MAX / 2)
                return nomem(f);
            cap *= 2;
        }
        char *b = realloc(f->buf, cap);
        if (b == NULL)
            return nomem(f);
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->n, src, n);
    f->n += n;
    return true;
}

static bool buf_byte(yf *f, unsigned char c)
{
    return buf_put(f, &c, 1);
}

/* ---- scalars ----------------------------------------------------------- */

/* Append the UTF-8 encoding of code point v (no surrogates, <= 0x10FFFF). */
static bool put_utf8(yf *f, unsigned long v)
{
    unsigned char b[4];
    size_t n;
    if (v <= 0x7F) {
        b[0] = (unsigned char)v;
        n = 1;
    } else if (v <= 0x7FF) {
        b[0] = (unsigned char)(0xC0 | (v >> 6));
        b[1] = (unsigned char)(0x80 | (v & 0x3F));
        n = 2;
    } else if (v <= 0xFFFF) {
        b[0] = (unsigned char)(0xE0 | (v >> 12));
        b[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (v & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (v >> 18));
        b[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (v & 0x3F));
        n = 4;
    }
    return buf_put(f, b, n);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The byte a one-character escape \e stands for, or -1. */
static int simple_escape(unsigned char e)
{
    switch (e) {
    case '0':
        return 0x00;
    case 'a':
        return 0x07;
    case 'b':
        return 0x08;
    case 't':
    case '\t':
        return 0x09;
    case 'n':
        return 0x0A;
    case 'v':
        return 0x0B;
    case 'f':
        return 0x0C;
    case 'r':
        return 0x0D;
    case 'e':
        return 0x1B;
    case ' ':
    case '"':
    case '/':
    case '\\':
        return e;
    default:
        return -1;
    }
}

/* A double-quoted escape at q (the backslash) into the buffer; returns the
 * bytes it takes, 0 when declined (unknown, bad or an escaped line break). */
static size_t put_escape(yf *f, size_t q)
{
    unsigned char e = ch(f, q + 1);
    int b = simple_escape(e);
    if (b >= 0)
        return buf_byte(f, (unsigned char)b) ? 2 : 0;
    size_t digits = 0;
    switch (e) {
    case 'N': /* U+0085 */
        return buf_put(f, "\xC2\x85", 2) ? 2 : 0;
    case '_': /* U+00A0 */
        return buf_put(f, "\xC2\xA0", 2) ? 2 : 0;
    case 'L': /* U+2028 */
        return buf_put(f, "\xE2\x80\xA8", 3) ? 2 : 0;
    case 'P': /* U+2029 */
        return buf_put(f, "\xE2\x80\xA9", 3) ? 2 : 0;
    case 'x':
        digits = 2;
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        return decline(f);
    }
    unsigned long v = 0;
    for (size_t k = 0; k < digits; k++) {
        int h = hex_value(ch(f, q + 2 + k));
        if (h < 0)
            return decline(f);
        v = (v << 4) | (unsigned long)h;
    }
    if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return decline(f);
    return put_utf8(f, v) ? 2 + digits : 0;
}

/* A quoted scalar on one line from f->p (at the quote): its value in
 * *out_v (the text itself, or the buffer when escapes change it) and
 * *out_n; f->p past the closing quote. False when declined. */
bool yf_scan_quoted(yf *f, const char **out_v, size_t *out_n)
{
    const unsigned char *s = f->s;
    unsigned char quote = s[f->p];
    size_t start = f->p + 1, q = start, n = f->len;
    for (;; q++) { /* the common case: nothing to unescape */
        if (q >= n || is_break(s[q]))
            return decline(f);
        if (s[q] == quote) {
            if (quote == '\'' && ch(f, q + 1) == '\'')
                break;
            *out_v = (const char *)s + start;
            *out_n = q - start;
            f->p = q + 1;
            return true;
        }
        if (s[q] == '\\' && quote == '"')
            break;
    }
    f->n = 0;
    if (!buf_put(f, s + start, q - start))
        return false;
    for (;;) {
        unsigned char c = ch(f, q);
        if (c == 0 || is_break(c))
            return decline(f); /* unterminated, or over lines */
        if (c == quote) {
            if (quote == '"' || ch(f, q + 1) != '\'')
                break;
            if (!buf_byte(f, '\''))
                return false;
            q += 2;
        } else if (c == '\\' && quote == '"') {
            size_t k = put_escape(f, q);
            if (k == 0)
                return false;
            q += k;
        } else {
            if (!buf_byte(f, c))
                return false;
            q++;
        }
    }
    *out_v = f->buf;
    *out_n = f->n;
    f->p = q + 1;
    return true;
}

/* A yf_literal block scalar `|` at f->p (no indicators), in a block
 * collection of indentation indent (-1 at the top). Reads the value as
 * libyaml's scan_block_scalar with clip chomping; declines leading blank
 * lines, an empty scalar and tabs. Leaves f->p at the start of the line
 * that ends it (or at the end of the text). */
int yf_literal(yf *f, long indent)
{
    const unsigned char *s = f->s;
    size_t n = f->len;
    yaml_mark_t start = mark_at(f, f->p);
    f->p++;
    while (ch(f, f->p) == ' ')
        f->p++;
    unsigned char c = ch(f, f->p);
    if (c == '#') {
        while (f->p < n && !is_break(s[f->p]))
            f->p++;
        c = ch(f, f->p);
    }
    if (!is_break(c))
        return decline(f); /* indicators, text after '|', or the end */
    size_t p = f->p + (c == '\r' ? 2 : 1), line = p;
    new_line(f, p);
    size_t k = 0;
    while (p + k < n && s[p + k] == ' ')
        k++;
    c = ch(f, p + k);
    if (c == 0 || is_break(c) || c == '\t')
        return decline(f);
    long want = indent + 1 > 1 ? indent + 1 : 1;
    if ((long)k < want)
        return decline(f); /* libyaml reads an empty scalar */
    size_t ind = k, breaks = 0, end = p;
    bool first = true, had_break;
    f->n = 0;
    for (;;) {
        /* a content line at line: ind spaces, then text to the break */
        size_t a = line + ind, e = a;
        while (e < n && !is_break(s[e])) {
            if (s[e] == '\t')
                return decline(f);
            e++;
        }
        if (!first && !buf_byte(f, '\n'))
            return 0;
        for (; breaks > 0; breaks--)
            if (!buf_byte(f, '\n'))
                return 0;
        first = false;
        if (!buf_put(f, s + a, e - a))
            return 0;
        if (e >= n) {
            had_break = false;
            p = end = n;
            break;
        }
        had_break = true;
        p = e + (s[e] == '\r' ? 2 : 1);
        new_line(f, p);
        end = p;
        /* blank lines, then a content line or the end of the scalar */
        bool more = false;
        for (;;) {
            k = 0;
            while (k < ind && p + k < n && s[p + k] == ' ')
                k++;
            c = ch(f, p + k);
            if (c == '\t')
                return decline(f);
            if (is_break(c)) {
                breaks++;
                p += k + (c == '\r' ? 2 : 1);
                new_line(f, p);
                end = p;
                continue;
            }
            more = c != 0 && k == ind;
            break;
        }
        line = p;
        if (!more)
            break;
    }
    if (had_break && !buf_byte(f, '\n'))
        return 0;
    f->p = p;
    return yf_add_scalar(f, f->buf, f->n, YAML_LITERAL_SCALAR_STYLE, start,
                         mark_at(f, end));
}
