/* lib/io/yaml_fast.c — a fast composer for the YAML that model files use.
 *
 * A recursive-descent reader of a subset of YAML that follows libyaml 0.2's
 * scanner, parser and composer (src/scanner.c, parser.c, loader.c) closely
 * enough to give the same document. This file reads whitespace, plain
 * scalars and the structure: block and flow collections and the document;
 * yaml_fast_text.c checks the text and reads quoted and literal scalars,
 * yaml_fast_doc.c keeps the document's memory and the marks
 * (yaml_fast_impl.h). The subset:
 *
 *   - one document, optionally after a `---` line and before a `...` line;
 *   - block mappings whose keys are one-line plain or quoted scalars, block
 *     sequences (also "- - x", "- a: 1", and the indentless "key:\n- x"),
 *     indented with spaces;
 *   - flow sequences and mappings, nested, over one or more lines (each
 *     continuation line indented past the enclosing block collection);
 *   - plain scalars on one line, single- and double-quoted scalars on one
 *     line (every double-quoted escape), literal block scalars `|` without
 *     indicators, empty values;
 *   - comments, blank lines, \n and \r\n line breaks, UTF-8.
 *
 * Everything else is declined, before or while composing: tabs outside
 * comments and quoted scalars, anchors, aliases, tags, directives, `?`
 * keys, `>` and indicated block scalars, multi-line plain or quoted
 * scalars, flow collections as keys, single-pair mappings in flow
 * sequences, a BOM, bare \r, NEL/LS/PS line breaks, control characters or
 * invalid UTF-8 (libyaml's reader errors), keys longer than libyaml's
 * 1024-character simple keys, nesting deeper than MAX_DEPTH, and anything
 * malformed. A decline costs only speed: the caller then runs libyaml.
 *
 * Marks are libyaml's: index counts characters (a \r\n is two), column
 * counts characters since the line start, both from 0. The block
 * structure is decided on columns of tokens that only spaces and "- "
 * precede on their line, so those columns are byte offsets.
 *
 * How libyaml places marks, which this file reproduces:
 *   - a block mapping starts at its first key and a block sequence at its
 *     first '-'; a flow collection runs from its bracket to past the
 *     closing one; a scalar runs over its text (quotes included; a plain
 *     scalar without trailing blanks);
 *   - a block collection ends where the next token starts (the one that is
 *     less indented, or the next key after an indentless sequence); at the
 *     end of the text libyaml first ends the collections indented past the
 *     last line's column there, then, if that column is not 0, moves to a
 *     new line and ends the rest (yf_eof_mark);
 *   - an empty value sits just past its ':' or '-' in block context and at
 *     the next token in a flow mapping;
 *   - a literal scalar ends at the start of the line after its last
 *     consumed line break.
 *
 * With a yr_fast_stream, the items of the root mapping's block sequences
 * that its `want` asks for go to its `take` one by one, as each is
 * composed; those it takes are then dropped (yf_doc_rewind). */
#include "yaml_fast.h"

#include <stdbool.h>
#include <string.h>

#include "yaml_fast_impl.h"

#define MAX_DEPTH 64
/* libyaml drops a simple key more than 1024 characters before its ':';
 * bytes are at least characters, so this bound is safe. */
#define MAX_KEY 1000

/* ---- whitespace -------------------------------------------------------- */

/* libyaml's scan_to_next_token: skip spaces, comments and line breaks.
 * False (declined) at a tab where a token would start. */
static bool skip_ws(yf *f)
{
    const unsigned char *s = f->s;
    size_t p = f->p, n = f->len;
    for (;;) {
        while (p < n && s[p] == ' ')
            p++;
        if (p < n && s[p] == '#') {
            const unsigned char *nl = memchr(s + p, '\n', n - p);
            p = nl ? (size_t)(nl - s) : n;
            if (nl != NULL && s[p - 1] == '\r')
                p--; /* the \r\n break */
        }
        if (p < n && is_break(s[p])) {
            p += s[p] == '\r' ? 2 : 1; /* \r is always followed by \n */
            new_line(f, p);
            continue;
        }
        break;
    }
    f->p = p;
    return !(p < n && s[p] == '\t');
}

/* Skip spaces on the current line; false at a tab. */
static bool skip_spaces(yf *f)
{
    while (f->p < f->len && f->s[f->p] == ' ')
        f->p++;
    return ch(f, f->p) != '\t';
}

/* "---" or "..." at p. */
static bool three_dots_or_dashes(const yf *f, size_t p)
{
    return p + 3 <= f->len &&
           (memcmp(f->s + p, "---", 3) == 0 || memcmp(f->s + p, "...", 3) == 0);
}

/* "---" or "..." at the start of the current line (a document marker when a
 * blank, a break or the end follows; the composer declines the other
 * case). */
static bool dashdot3(const yf *f, size_t p)
{
    return p == f->ls && three_dots_or_dashes(f, p);
}

static bool doc_marker(const yf *f, size_t p)
{
    return dashdot3(f, p) && is_blankz(f, p + 3);
}

/* ---- plain scalars ---------------------------------------------------- */

/* A plain scalar may start at p (libyaml's fetch_next_token). Callers have
 * taken "- " entries; ':' and '?' starts are declined. */
static bool plain_start(const yf *f, size_t p)
{
    switch (ch(f, p)) {
    case 0:
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '?':
    case ':':
    case ',':
    case '[':
    case ']':
    case '{':
    case '}':
    case '#':
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case '\'':
    case '"':
    case '%':
    case '@':
    case '`':
        return false;
    case '-':
        return !is_blankz(f, p + 1);
    default:
        return true;
    }
}

/* Bytes that stop the words of plain scalars: STOP_BLOCK in both
 * contexts, STOP_FLOW in flow context only. */
enum { STOP_BLOCK = 1, STOP_FLOW = 2 };

static const unsigned char stop_class[256] = {
    ['\t'] = STOP_BLOCK, ['\n'] = STOP_BLOCK, ['\r'] = STOP_BLOCK,
    [' '] = STOP_BLOCK,  [':'] = STOP_BLOCK,  [','] = STOP_FLOW,
    ['['] = STOP_FLOW,   [']'] = STOP_FLOW,   ['{'] = STOP_FLOW,
    ['}'] = STOP_FLOW,
};

/* Scan a plain scalar from f->p to the end of its line's part: in block
 * context it ends at ": ", " #" or the line's end, in flow context also at
 * ",[]{}"; a ':' inside a flow scalar is declined (libyaml versions
 * differ there). Returns the end of its text (trailing spaces excluded),
 * leaving f->p past those spaces; 0 when declined. */
static size_t scan_plain(yf *f, bool flow)
{
    const unsigned char *s = f->s;
    size_t q = f->p, n = f->len, end;
    unsigned char stop = flow ? STOP_BLOCK | STOP_FLOW : STOP_BLOCK;
    for (;;) {
        for (; q < n; q++) {
            if (!(stop_class[s[q]] & stop))
                continue;
            if (s[q] != ':' || is_blankz(f, q + 1))
                break;
            if (flow)
                return decline(f);
        }
        end = q;
        while (q < n && s[q] == ' ')
            q++;
        unsigned char c = ch(f, q);
        if (is_eol(c) || c == '\t' || (c == ':' && is_blankz(f, q + 1)))
            break;
        if (flow && (c == ',' || c == '[' || c == ']' || c == '{' || c == '}'))
            break;
        /* another word on the same line */
    }
    f->p = q;
    if (ch(f, q) == '\t')
        return decline(f);
    return end;
}

/* A plain scalar ended at the line break at q. libyaml ends it there too
 * when the next non-blank line starts with a comment, the end of the text,
 * a document marker, or (block context) a column <= indent, the
 * indentation of the enclosing block collection, or (flow context) ',',
 * ']' or '}'; otherwise the scalar goes on over lines: declined. */
static bool plain_ends(const yf *f, size_t q, bool flow, long indent)
{
    const unsigned char *s = f->s;
    size_t n = f->len;
    for (;;) {
        q += s[q] == '\r' ? 2 : 1;
        size_t ls = q;
        while (q < n && s[q] == ' ')
            q++;
        if (q >= n)
            return true;
        unsigned char c = s[q];
        if (is_break(c))
            continue;
        if (c == '#')
            return true;
        if (c == '\t')
            return false;
        if (flow)
            return c == ',' || c == ']' || c == '}';
        if (q == ls && three_dots_or_dashes(f, q))
            return is_blankz(f, q + 3); /* a document marker */
        return (long)(q - ls) <= indent;
    }
}

/* ---- flow collections -------------------------------------------------- */

static int flow_node(yf *f, long indent);

/* skip_ws inside a flow collection that a block collection of indentation
 * indent holds: a continuation line must be indented past it and not
 * start with a document marker. */
static bool flow_ws(yf *f, long indent)
{
    size_t ls = f->ls;
    if (!skip_ws(f))
        return false;
    if (f->ls == ls || f->p >= f->len)
        return true;
    return (long)(f->p - f->ls) > indent && !dashdot3(f, f->p);
}

/* A scalar in flow context at f->p. */
static int flow_scalar(yf *f)
{
    size_t a = f->p;
    unsigned char c = ch(f, a);
    yaml_mark_t start = mark_at(f, a);
    if (c == '"' || c == '\'') {
        const char *v;
        size_t n;
        if (!yf_scan_quoted(f, &v, &n))
            return 0;
        return yf_add_scalar(f, v, n,
                             c == '"' ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                      : YAML_SINGLE_QUOTED_SCALAR_STYLE,
                             start, mark_at(f, f->p));
    }
    if (!plain_start(f, a))
        return decline(f);
    size_t end = scan_plain(f, true);
    if (end == 0)
        return 0;
    if (is_break(ch(f, f->p)) && !plain_ends(f, f->p, true, 0))
        return decline(f);
    return yf_add_scalar(f, (const char *)f->s + a, end - a,
                         YAML_PLAIN_SCALAR_STYLE, start, mark_at(f, end));
}

static int flow_sequence(yf *f, long indent)
{
    yf_open seq =
        yf_open_collection(f, YAML_SEQUENCE_NODE, true, mark_at(f, f->p));
    if (seq.id == 0)
        return 0;
    f->p++;
    if (!flow_ws(f, indent))
        return decline(f);
    while (ch(f, f->p) != ']') {
        int item = flow_node(f, indent);
        if (item == 0 || !yf_append_item(f, item))
            return 0;
        if (!flow_ws(f, indent))
            return decline(f);
        unsigned char c = ch(f, f->p);
        if (c == ',') {
            f->p++;
            if (!flow_ws(f, indent))
                return decline(f);
        } else if (c != ']') {
            return decline(f); /* also "[a: 1]", a mapping of one pair */
        }
    }
    f->p++;
    return yf_close_collection(f, seq, mark_at(f, f->p));
}

static int flow_mapping(yf *f, long indent)
{
    yf_open map =
        yf_open_collection(f, YAML_MAPPING_NODE, true, mark_at(f, f->p));
    if (map.id == 0)
        return 0;
    f->p++;
    if (!flow_ws(f, indent))
        return decline(f);
    while (ch(f, f->p) != '}') {
        /* a scalar key, then ':' on its line */
        size_t a = f->p;
        unsigned char c = ch(f, a);
        if (c != '"' && c != '\'' && !plain_start(f, a))
            return decline(f);
        int key = flow_scalar(f);
        if (key == 0 || !skip_spaces(f))
            return decline(f);
        if (ch(f, f->p) != ':' || f->p - a > MAX_KEY)
            return decline(f);
        f->p++;
        if (!flow_ws(f, indent))
            return decline(f);
        int value;
        c = ch(f, f->p);
        if (c == ',' || c == '}')
            value = yf_add_empty(f, mark_at(f, f->p));
        else
            value = flow_node(f, indent);
        if (value == 0 || !yf_append_pair(f, key, value))
            return 0;
        if (!flow_ws(f, indent))
            return decline(f);
        c = ch(f, f->p);
        if (c == ',') {
            f->p++;
            if (!flow_ws(f, indent))
                return decline(f);
        } else if (c != '}') {
            return decline(f);
        }
    }
    f->p++;
    return yf_close_collection(f, map, mark_at(f, f->p));
}

/* A node in flow context, in a flow collection held by a block collection
 * of indentation indent. */
static int flow_node(yf *f, long indent)
{
    unsigned char c = ch(f, f->p);
    if (c != '[' && c != '{')
        return flow_scalar(f);
    if (++f->depth > MAX_DEPTH)
        return decline(f);
    int id = c == '[' ? flow_sequence(f, indent) : flow_mapping(f, indent);
    f->depth--;
    return id;
}

/* ---- block collections ------------------------------------------------- */

/* A scalar token in block context, scanned but not yet added. */
typedef struct scalar_tok {
    const char *v;
    size_t n;
    yaml_scalar_style_t style;
    yaml_mark_t start, end;
} scalar_tok;

/* A "- " entry indicator at p. */
static bool is_entry(const yf *f, size_t p)
{
    return ch(f, p) == '-' && is_blankz(f, p + 1);
}

/* Scan the plain or quoted scalar at f->p in block context, in a block
 * collection of indentation indent, leaving f->p after the spaces that
 * follow it. A plain scalar that goes on over lines is declined. */
static bool block_scalar(yf *f, long indent, scalar_tok *t)
{
    size_t a = f->p;
    unsigned char c = ch(f, a);
    t->start = mark_at(f, a);
    if (c == '"' || c == '\'') {
        if (!yf_scan_quoted(f, &t->v, &t->n))
            return false;
        t->style = c == '"' ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                            : YAML_SINGLE_QUOTED_SCALAR_STYLE;
        t->end = mark_at(f, f->p);
        return skip_spaces(f) || decline(f);
    }
    if (!plain_start(f, a) || dashdot3(f, a))
        return decline(f);
    size_t end = scan_plain(f, false);
    if (end == 0)
        return false;
    if (is_break(ch(f, f->p)) && !plain_ends(f, f->p, false, indent))
        return decline(f);
    t->v = (const char *)f->s + a;
    t->n = end - a;
    t->style = YAML_PLAIN_SCALAR_STYLE;
    t->end = mark_at(f, end);
    return true;
}

/* At f->p, after a scalar that starts at a and its spaces: ": " follows,
 * close enough for libyaml to take the scalar as a simple key. */
static bool at_key_colon(const yf *f, size_t a)
{
    return ch(f, f->p) == ':' && is_blankz(f, f->p + 1) && f->p - a <= MAX_KEY;
}

enum { NEXT_MORE, NEXT_END, NEXT_FAILED };

/* After an entry of the block collection of indentation indent, move to
 * the next token. NEXT_END when it ends the collection (the end of the
 * text, a document marker, a column < indent), with *out_end where;
 * NEXT_MORE at column indent; NEXT_FAILED (declined) past it. */
static int next_entry(yf *f, long indent, yaml_mark_t *out_end)
{
    if (!skip_ws(f))
        return decline(f), NEXT_FAILED;
    size_t t = f->p;
    if (t >= f->len) {
        *out_end = yf_eof_mark(f, indent);
        return NEXT_END;
    }
    long col = (long)(t - f->ls);
    if (col < indent || doc_marker(f, t)) {
        *out_end = mark_at(f, t);
        return NEXT_END;
    }
    if (col > indent)
        return decline(f), NEXT_FAILED;
    return NEXT_MORE;
}

typedef enum indicator {
    AFTER_COLON,           /* a mapping value */
    AFTER_DASH,            /* an entry of a block sequence */
    AFTER_INDENTLESS_DASH, /* an entry of "key:\n- x" */
} indicator;

static int block_node(yf *f, long indent, bool key_ok);
static int block_sequence(yf *f, long col, bool indentless);

/* The node after the indicator just before f->p, in the block collection of
 * indentation indent: on the same line, on a later line, or empty (an
 * empty plain scalar just past the indicator). */
static int block_value(yf *f, long indent, indicator ind)
{
    yaml_mark_t after = mark_at(f, f->p);
    if (!skip_spaces(f))
        return decline(f);
    if (!is_eol(ch(f, f->p)))
        return block_node(f, indent, ind != AFTER_COLON);
    if (!skip_ws(f))
        return decline(f);
    size_t t = f->p;
    if (t >= f->len || doc_marker(f, t))
        return yf_add_empty(f, after);
    long col = (long)(t - f->ls);
    if (col > indent)
        return block_node(f, indent, true);
    if (col == indent && ind == AFTER_COLON && is_entry(f, t))
        return block_sequence(f, indent, true);
    if (col == indent && ind == AFTER_DASH && !is_entry(f, t))
        return decline(f);
    return yf_add_empty(f, after);
}

/* A block mapping at column col whose first key k is scanned, f->p at its
 * ':'. */
static int block_mapping(yf *f, long col, const scalar_tok *k)
{
    if (++f->depth > MAX_DEPTH)
        return decline(f);
    yf_open map = yf_open_collection(f, YAML_MAPPING_NODE, false, k->start);
    if (map.id == 0)
        return 0;
    int key = yf_add_scalar(f, k->v, k->n, k->style, k->start, k->end);
    yaml_mark_t end;
    for (;;) {
        if (key == 0)
            return 0;
        f->p++; /* the ':' */
        if (f->stream != NULL && f->depth == 1)
            f->stream_tag = f->stream->want(f->stream->ctx, f->doc, key,
                                            f->kids + map.base,
                                            (f->kids_n - map.base) / 2);
        int value = block_value(f, col, AFTER_COLON);
        f->stream_tag = 0;
        if (value == 0 || !yf_append_pair(f, key, value))
            return 0;
        int next = next_entry(f, col, &end);
        if (next == NEXT_END)
            break;
        if (next == NEXT_FAILED)
            return 0;
        size_t a = f->p;
        scalar_tok t;
        if (!block_scalar(f, col, &t))
            return 0;
        if (!at_key_colon(f, a))
            return decline(f);
        key = yf_add_scalar(f, t.v, t.n, t.style, t.start, t.end);
    }
    f->depth--;
    return yf_close_collection(f, map, end);
}

/* A block sequence whose first '-' is at f->p, column col; indentless: the
 * value of a mapping at the same column, which ends at its next key. */
static int block_sequence(yf *f, long col, bool indentless)
{
    /* a value of the root mapping whose items the caller asked for */
    int tag = f->depth == 1 ? f->stream_tag : 0;
    f->stream_tag = 0;
    if (++f->depth > MAX_DEPTH)
        return decline(f);
    yf_open seq =
        yf_open_collection(f, YAML_SEQUENCE_NODE, false, mark_at(f, f->p));
    if (seq.id == 0)
        return 0;
    yaml_mark_t end;
    for (;;) {
        f->p++; /* the '-' */
        yf_point before = yf_doc_point(f);
        int item = block_value(f, col,
                               indentless ? AFTER_INDENTLESS_DASH : AFTER_DASH);
        if (item == 0)
            return 0;
        if (tag != 0 &&
            f->stream->take(f->stream->ctx, f->doc, tag, seq.id, item)) {
            yf_doc_rewind(f, &before); /* taken: its nodes are gone */
        } else {
            tag = 0; /* this item and the rest stay */
            if (!yf_append_item(f, item))
                return 0;
        }
        int next = next_entry(f, col, &end);
        if (next == NEXT_END)
            break;
        if (next == NEXT_FAILED)
            return 0;
        if (!is_entry(f, f->p)) {
            if (!indentless)
                return decline(f);
            end = mark_at(f, f->p); /* the mapping's next key */
            break;
        }
    }
    f->depth--;
    return yf_close_collection(f, seq, end);
}

/* The block node that starts at f->p, in a block collection of indentation
 * indent (-1 at the top). key_ok: a simple key or a "- " entry may start
 * here (the first token on its line, or one after "- "), not after ": ". */
static int block_node(yf *f, long indent, bool key_ok)
{
    size_t a = f->p;
    long col = (long)(a - f->ls);
    unsigned char c = ch(f, a);
    if (is_entry(f, a))
        return key_ok ? block_sequence(f, col, false) : decline(f);
    if (c == '|')
        return yf_literal(f, indent);
    if (c == '[' || c == '{') {
        int id = flow_node(f, indent);
        if (id == 0)
            return 0;
        if (!skip_spaces(f) || !is_eol(ch(f, f->p)))
            return decline(f); /* also a flow collection as a key */
        return id;
    }
    scalar_tok t;
    if (!block_scalar(f, indent, &t))
        return 0;
    if (at_key_colon(f, a))
        return key_ok ? block_mapping(f, col, &t) : decline(f);
    if (!is_eol(ch(f, f->p)))
        return decline(f);
    return yf_add_scalar(f, t.v, t.n, t.style, t.start, t.end);
}

/* ---- the document ------------------------------------------------------ */

/* The root after an optional "---" line, then the end or a "..." line. */
static bool compose(yf *f)
{
    yaml_document_t *doc = f->doc;
    if (!skip_ws(f) || f->p >= f->len)
        return decline(f); /* no document: libyaml says what is there */
    doc->start_implicit = 1;
    doc->end_implicit = 1;
    doc->start_mark = mark_at(f, f->p);
    if (dashdot3(f, f->p)) {
        if (!doc_marker(f, f->p) || f->s[f->p] != '-')
            return decline(f);
        doc->start_implicit = 0;
        f->p += 3;
        if (!skip_spaces(f) || !is_eol(ch(f, f->p)) || ch(f, f->p) == 0)
            return decline(f);
        if (!skip_ws(f) || f->p >= f->len || dashdot3(f, f->p))
            return decline(f);
    }
    if (block_node(f, -1, true) == 0)
        return false;
    if (!skip_ws(f))
        return decline(f);
    if (f->p >= f->len) {
        doc->end_mark = yf_eof_mark(f, -1);
        return true;
    }
    if (!doc_marker(f, f->p) || f->s[f->p] != '.')
        return decline(f);
    f->p += 3;
    doc->end_mark = mark_at(f, f->p);
    doc->end_implicit = 0;
    return (skip_ws(f) && f->p >= f->len) || decline(f);
}

int yr_fast_compose(const char *txt, size_t len, yaml_document_t *doc,
                    yr_fast_doc **out_own)
{
    return yr_fast_compose_stream(txt, len, NULL, doc, out_own);
}

int yr_fast_compose_stream(const char *txt, size_t len,
                           const yr_fast_stream *stream, yaml_document_t *doc,
                           yr_fast_doc **out_own)
{
    const unsigned char *s = (const unsigned char *)txt;
    bool ascii;
    memset(doc, 0, sizeof *doc);
    if (!yf_valid_text(s, len, &ascii))
        return 0;
    yf f = {.s = s, .len = len, .ascii = ascii, .doc = doc, .stream = stream};
    if (!yf_doc_start(&f))
        return -1;
    bool ok = compose(&f);
    yr_fast_doc *own = yf_doc_finish(&f, ok);
    if (!ok)
        return f.fail == YF_NOMEM ? -1 : 0;
    *out_own = own;
    return 1;
}
