/* lib/io/yaml_fast_doc.c — the fast composer's document and marks.
 *
 * A large model is millions of nodes. libyaml's document API allocates a
 * tag and a value per scalar and a child stack per collection, which costs
 * about as much as reading the text; here the node array is one
 * allocation, every node shares one copy of its default tag, and values
 * and child lists are bump-allocated from a few large blocks, each list
 * exactly as long as the collection. The nodes themselves are what
 * yaml_parser_load builds. */
#include "yaml_fast_impl.h"

#include "../engine/bigmem.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- marks ------------------------------------------------------------- */

/* A cursor counts characters and lines up to p; it only moves forward, so
 * over a composition it walks the text once (an earlier p restarts it). */
yaml_mark_t yf_mark_counted(yf *f, size_t p)
{
    if (p < f->cur)
        f->cur = f->cont = f->cur_line = f->cur_ls = f->cur_lcont = 0;
    const unsigned char *s = f->s;
    size_t cont = f->cont;
    for (size_t i = f->cur; i < p; i++) {
        if (s[i] == '\n') {
            f->cur_line++;
            f->cur_ls = i + 1;
            f->cur_lcont = cont;
        }
        cont += (s[i] & 0xC0) == 0x80;
    }
    f->cur = p;
    f->cont = cont;
    return (yaml_mark_t){p - cont, f->cur_line,
                         p - f->cur_ls - (cont - f->cur_lcont)};
}

/* libyaml ends the collections indented past the column at the end of the
 * text there, then moves to a new line (when that column is not 0) and
 * ends the rest and the stream. */
yaml_mark_t yf_eof_mark(yf *f, long indent)
{
    yaml_mark_t m = mark_at(f, f->len);
    if (m.column != 0 && indent <= (long)m.column) {
        m.line++;
        m.column = 0;
    }
    return m;
}

/* ---- memory ------------------------------------------------------------ */

/* An arena block of values and child lists. */
typedef struct block {
    struct block *next;
    size_t used, size;
    unsigned char data[]; /* 8-aligned */
} block;

#define TAG_SIZE 32
_Static_assert(sizeof YAML_DEFAULT_SCALAR_TAG <= TAG_SIZE &&
                   sizeof YAML_DEFAULT_SEQUENCE_TAG <= TAG_SIZE &&
                   sizeof YAML_DEFAULT_MAPPING_TAG <= TAG_SIZE,
               "default tags fit");

struct yr_fast_doc {
    yaml_node_t *nodes;           /* the document's node array */
    block *blocks;                /* newest first */
    yaml_char_t tag[3][TAG_SIZE]; /* YF_TAG_*: what nodes' tags point to */
};

void *yf_arena_block(yf *f, size_t n)
{
    block *b = f->own->blocks;
    /* 64 KiB, doubling to 4 MiB: small texts stay small */
    size_t size = b ? b->size * 2 : (size_t)1 << 16;
    if (size > ((size_t)4 << 20))
        size = (size_t)4 << 20;
    if (size < n)
        size = n;
    if (size > SIZE_MAX - sizeof(block))
        return NULL;
    block *nb = malloc(sizeof(block) + size);
    if (nb == NULL)
        return NULL;
    nb->next = b;
    nb->size = size;
    f->own->blocks = nb;
    f->arena = nb->data;
    f->arena_size = size;
    f->arena_used = n;
    return nb->data;
}

/* The most nodes libyaml's composer holds: its stacks start at 16 entries
 * and double while smaller than INT_MAX / 2 bytes (yaml_stack_extend);
 * past that it reports running out of memory. */
static size_t libyaml_max_nodes(void)
{
    size_t cap = 16;
    while (cap * sizeof(yaml_node_t) < INT_MAX / 2)
        cap *= 2;
    return cap;
}

bool yf_doc_start(yf *f)
{
    static const char *const tags[3] = {YAML_DEFAULT_SCALAR_TAG,
                                        YAML_DEFAULT_SEQUENCE_TAG,
                                        YAML_DEFAULT_MAPPING_TAG};
    memset(f->doc, 0, sizeof *f->doc);
    f->own = calloc(1, sizeof *f->own);
    if (f->own == NULL)
        return false;
    for (size_t i = 0; i < 3; i++) {
        memcpy(f->own->tag[i], tags[i], strlen(tags[i]) + 1);
        f->tag[i] = f->own->tag[i];
    }
    f->max_nodes = libyaml_max_nodes();
    return true;
}

yr_fast_doc *yf_doc_finish(yf *f, bool ok)
{
    free(f->buf);
    free(f->kids);
    f->buf = NULL;
    f->kids = NULL;
    if (ok)
        return f->own;
    yr_fast_free(f->own);
    f->own = NULL;
    memset(f->doc, 0, sizeof *f->doc);
    return NULL;
}

void yr_fast_free(yr_fast_doc *own)
{
    if (own == NULL)
        return;
    for (block *b = own->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    big_free(own->nodes);
    free(own);
}

/* ---- nodes ------------------------------------------------------------- */

bool yf_grow_nodes(yf *f)
{
    yaml_document_t *d = f->doc;
    size_t n = (size_t)(d->nodes.top - d->nodes.start);
    if (n >= f->max_nodes)
        return decline(f);                    /* libyaml's own memory error */
    size_t cap = n ? 2 * n : f->len / 8 + 16; /* most texts: no regrowth */
    if (cap > f->max_nodes)
        cap = f->max_nodes;
    /* a large node array on huge pages, a page fault per 2 MiB instead of
     * per 4 KiB (on a VM where faults are dear, those were half of loading
     * a 34 MB model), moved without a copy when it grows */
    yaml_node_t *v = big_realloc(d->nodes.start, cap, sizeof *v);
    if (v == NULL)
        return nomem(f);
    f->own->nodes = d->nodes.start = v;
    d->nodes.top = v + n;
    d->nodes.end = v + cap;
    return true;
}

static yaml_node_t *node(const yf *f, int id)
{
    return f->doc->nodes.start + (id - 1);
}

/* ---- collections ------------------------------------------------------- */

yf_open yf_open_collection(yf *f, yaml_node_type_t type, bool flow,
                           yaml_mark_t start)
{
    yf_open c = {0, f->kids_n};
    if (type == YAML_SEQUENCE_NODE) {
        c.id = yf_add_node(f, type, YF_TAG_SEQUENCE, start);
        if (c.id != 0)
            node(f, c.id)->data.sequence.style =
                flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE;
    } else {
        c.id = yf_add_node(f, type, YF_TAG_MAPPING, start);
        if (c.id != 0)
            node(f, c.id)->data.mapping.style =
                flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE;
    }
    return c;
}

static bool push_kid(yf *f, int id)
{
    if (f->kids_n == f->kids_cap) {
        size_t cap = f->kids_cap ? 2 * f->kids_cap : 256;
        if (cap > SIZE_MAX / sizeof(int))
            return nomem(f);
        int *v = realloc(f->kids, cap * sizeof *v);
        if (v == NULL)
            return nomem(f);
        f->kids = v;
        f->kids_cap = cap;
    }
    f->kids[f->kids_n++] = id;
    return true;
}

bool yf_append_item(yf *f, int item)
{
    return push_kid(f, item);
}

bool yf_append_pair(yf *f, int key, int value)
{
    return push_kid(f, key) && push_kid(f, value);
}

int yf_close_collection(yf *f, yf_open c, yaml_mark_t end)
{
    size_t k = f->kids_n - c.base;
    const int *kid = k ? f->kids + c.base : NULL;
    f->kids_n = c.base;
    yaml_node_t *x = node(f, c.id);
    if (x->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *v =
            yf_arena(f, k ? k * sizeof *v : 1, _Alignof(yaml_node_item_t));
        if (v == NULL)
            return nomem(f);
        for (size_t i = 0; i < k; i++)
            v[i] = kid[i];
        x->data.sequence.items.start = v;
        x->data.sequence.items.top = x->data.sequence.items.end = v + k;
    } else {
        yaml_node_pair_t *v =
            yf_arena(f, k ? k / 2 * sizeof *v : 1, _Alignof(yaml_node_pair_t));
        if (v == NULL)
            return nomem(f);
        for (size_t i = 0; i < k / 2; i++)
            v[i] = (yaml_node_pair_t){kid[2 * i], kid[2 * i + 1]};
        x->data.mapping.pairs.start = v;
        x->data.mapping.pairs.top = x->data.mapping.pairs.end = v + k / 2;
    }
    x->end_mark = end;
    return c.id;
}
