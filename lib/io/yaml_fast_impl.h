/* lib/io/yaml_fast_impl.h — what the files of the fast composer share.
 *
 * Internal to libcai (not installed). yaml_fast.c reads whitespace, plain
 * scalars and the structure (block and flow collections, the document),
 * yaml_fast_text.c checks the text and reads quoted and literal scalars,
 * and yaml_fast_doc.c keeps the composed document's memory and libyaml's
 * marks. The hot paths of the last are inline below. All of them work on one
 * yf, the state of a composition. A function that fails sets f->fail, with
 * decline() when libyaml should read the text instead or nomem() when
 * memory ran out (which wins), and returns 0 or false. */
#ifndef CAI_IO_YAML_FAST_IMPL_H
#define CAI_IO_YAML_FAST_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <yaml.h>

#include "yaml_fast.h"

enum { YF_OK, YF_DECLINE, YF_NOMEM };

typedef struct yf {
    const unsigned char *s; /* the text; no NUL inside (yf_valid_text) */
    size_t len;
    size_t p;    /* the next byte */
    size_t ls;   /* the start of p's line */
    size_t line; /* p's line, counted from 0 */
    bool ascii;  /* the text is all ASCII: a byte is a character */
    int depth;   /* collections open around p */
    int fail;    /* YF_* */
    /* yaml_fast_text.c: values that are not a span of the text */
    char *buf;
    size_t n, cap;
    /* yaml_fast_doc.c: the document and where its memory comes from */
    yaml_document_t *doc;
    yr_fast_doc *own;
    yaml_char_t *tag[3];  /* YF_TAG_*: the default tags, shared */
    unsigned char *arena; /* the newest arena block's data (8-aligned) */
    size_t arena_used, arena_size;
    size_t max_nodes; /* as many as libyaml's node stack holds */
    int *kids;        /* children of the open collections */
    size_t kids_n, kids_cap;
    /* yaml_fast.c: items handed out (yr_fast_stream), and the tag `want`
     * gave the root mapping's value being composed */
    const yr_fast_stream *stream;
    int stream_tag;
    /* yaml_fast_doc.c: the mark of byte cur in non-ASCII text */
    size_t cur, cont; /* cont: UTF-8 continuation bytes before cur */
    size_t cur_line, cur_ls, cur_lcont; /* cur's line, its start, cont there */
} yf;

/* ---- failures ---------------------------------------------------------- */

static inline int decline(yf *f)
{
    if (f->fail == YF_OK)
        f->fail = YF_DECLINE;
    return 0;
}

static inline int nomem(yf *f)
{
    f->fail = YF_NOMEM;
    return 0;
}

/* ---- characters -------------------------------------------------------- */

/* The byte at i, 0 past the end. */
static inline unsigned char ch(const yf *f, size_t i)
{
    return i < f->len ? f->s[i] : 0;
}

static inline bool is_break(unsigned char c)
{
    return c == '\n' || c == '\r';
}

/* A blank, a break or the end: what must follow '-' or ':' indicators. */
static inline bool is_blankz(const yf *f, size_t i)
{
    unsigned char c = ch(f, i);
    return c == 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Nothing more on the line: the end, a break or a comment. */
static inline bool is_eol(unsigned char c)
{
    return c == 0 || c == '\n' || c == '\r' || c == '#';
}

/* ---- marks (yaml_fast_doc.c) ------------------------------------------- */

/* A line break ends before p: p starts line f->line + 1. */
static inline void new_line(yf *f, size_t p)
{
    f->ls = p;
    f->line++;
}

/* libyaml's mark of byte p in non-ASCII text. */
yaml_mark_t yf_mark_counted(yf *f, size_t p);

/* libyaml's mark of byte p, which is not before the start f->ls of the
 * current line. Marks are asked for in text order. */
static inline yaml_mark_t mark_at(yf *f, size_t p)
{
    if (f->ascii)
        return (yaml_mark_t){p, f->line, p - f->ls};
    return yf_mark_counted(f, p);
}

/* Where libyaml ends a block collection of indentation indent that is
 * still open at the end of the text (indent -1: the stream end). */
yaml_mark_t yf_eof_mark(yf *f, long indent);

/* ---- the document (yaml_fast_doc.c) ------------------------------------ */

/* Start f->doc (zeroed) in fresh memory; false when out of memory. */
bool yf_doc_start(yf *f);

/* After the composition (ok or not): free the scratch memory; on failure
 * also the document, which is zeroed. The document's memory, or NULL. */
yr_fast_doc *yf_doc_finish(yf *f, bool ok);

enum { YF_TAG_SCALAR, YF_TAG_SEQUENCE, YF_TAG_MAPPING };

/* The slow paths of yf_arena and yf_add_node: a new arena block holding n
 * bytes (or NULL), room for another node (or false, with f->fail set). */
void *yf_arena_block(yf *f, size_t n);
bool yf_grow_nodes(yf *f);

/* How far the document's nodes and arena reach, before an item is
 * composed; yf_doc_rewind forgets what was added since (the item, taken by
 * the caller). An arena block started since stays, emptied, as the
 * current one. */
typedef struct yf_point {
    size_t nodes;
    unsigned char *arena;
    size_t used;
} yf_point;

static inline yf_point yf_doc_point(const yf *f)
{
    return (yf_point){(size_t)(f->doc->nodes.top - f->doc->nodes.start),
                      f->arena, f->arena_used};
}

static inline void yf_doc_rewind(yf *f, const yf_point *at)
{
    f->doc->nodes.top = f->doc->nodes.start + at->nodes;
    f->arena_used = f->arena == at->arena ? at->used : 0;
}

/* n bytes aligned to align (a power of two <= 8) of the document's memory,
 * or NULL. */
static inline void *yf_arena(yf *f, size_t n, size_t align)
{
    size_t at = (f->arena_used + align - 1) & ~(align - 1);
    if (at <= f->arena_size && f->arena_size - at >= n) {
        f->arena_used = at + n;
        return f->arena + at;
    }
    return yf_arena_block(f, n);
}

/* Append a node of type with tag YF_TAG_* and both marks at start; its
 * id, or 0. Every field is set without zeroing the node first: the node
 * array is most of the memory of a large document. */
static inline int yf_add_node(yf *f, yaml_node_type_t type, int tag,
                              yaml_mark_t start)
{
    yaml_document_t *d = f->doc;
    if (d->nodes.top == d->nodes.end && !yf_grow_nodes(f))
        return 0;
    yaml_node_t *x = d->nodes.top++;
    x->type = type;
    x->tag = f->tag[tag];
    x->start_mark = x->end_mark = start;
    if (type == YAML_SCALAR_NODE) {
        x->data.scalar.value = NULL;
        x->data.scalar.length = 0;
        x->data.scalar.style = YAML_ANY_SCALAR_STYLE;
    } else {
        x->data.sequence.items.start = NULL; /* a mapping's pairs too */
        x->data.sequence.items.end = NULL;
        x->data.sequence.items.top = NULL;
        x->data.sequence.style = YAML_ANY_SEQUENCE_STYLE;
    }
    return (int)(d->nodes.top - d->nodes.start);
}

/* Add a scalar with value v[0..n) (copied), style and marks; its id, or 0
 * when that failed. */
static inline int yf_add_scalar(yf *f, const char *v, size_t n,
                                yaml_scalar_style_t style, yaml_mark_t start,
                                yaml_mark_t end)
{
    if (n > INT_MAX)
        return decline(f);
    yaml_char_t *copy = yf_arena(f, n + 1, 1);
    if (copy == NULL)
        return nomem(f);
    if (n > 0)
        memcpy(copy, v, n);
    copy[n] = '\0';
    int id = yf_add_node(f, YAML_SCALAR_NODE, YF_TAG_SCALAR, start);
    if (id == 0)
        return 0;
    yaml_node_t *x = f->doc->nodes.top - 1;
    x->data.scalar.value = copy;
    x->data.scalar.length = n;
    x->data.scalar.style = style;
    x->end_mark = end;
    return id;
}

/* An empty plain scalar at m: a value or entry with nothing in it. */
static inline int yf_add_empty(yf *f, yaml_mark_t m)
{
    return yf_add_scalar(f, "", 0, YAML_PLAIN_SCALAR_STYLE, m, m);
}

/* A collection being read: its children wait on f->kids from base. */
typedef struct yf_open {
    int id; /* 0 when it could not be added */
    size_t base;
} yf_open;

/* Add a sequence or mapping (type), in flow or block style, starting at
 * start. */
yf_open yf_open_collection(yf *f, yaml_node_type_t type, bool flow,
                           yaml_mark_t start);

/* Children of the innermost open collection, in order. */
bool yf_append_item(yf *f, int item);
bool yf_append_pair(yf *f, int key, int value);

/* End the innermost open collection c at end; its id, or 0. */
int yf_close_collection(yf *f, yf_open c, yaml_mark_t end);

/* ---- text (yaml_fast_text.c) ------------------------------------------- */

/* s[0..n) is text libyaml's reader accepts, without what the fast
 * composer leaves to libyaml (BOM, bare \r, NEL, LS, PS); *out_ascii tells
 * whether it is all ASCII. */
bool yf_valid_text(const unsigned char *s, size_t n, bool *out_ascii);

/* A quoted scalar on one line at f->p: its value (the text itself, or
 * f->buf when escapes change it), f->p past the closing quote. */
bool yf_scan_quoted(yf *f, const char **out_v, size_t *out_n);

/* The literal block scalar `|` at f->p in a block collection of
 * indentation indent, added; f->p at the start of the line after it. */
int yf_literal(yf *f, long indent);

#endif
