/* lib/io/yaml_fast.h — a fast composer for the YAML that model files use.
 *
 * Internal to libcai (not installed). libyaml's scanner reads about 16 MB/s,
 * and a document built through its API costs two allocations per scalar.
 * Model files are mostly block mappings, block sequences and one-line flow
 * collections of plain scalars, which this composer reads several times
 * faster into a document whose nodes, values and child lists live in a few
 * large blocks. The document is exactly the one yaml_parser_load would
 * build; everything else (including every malformed text) is declined, so
 * libyaml still reads those and reports their errors. */
#ifndef CAI_IO_YAML_FAST_H
#define CAI_IO_YAML_FAST_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

/* The memory a composed document lives in. */
typedef struct yr_fast_doc yr_fast_doc;

/* Compose txt[0..len) (NUL not needed), a stream of one document, into *doc
 * as yaml_parser_load would: the same nodes in the same order, with the
 * same types, tags, styles, values, children and marks, and the same
 * document marks and flags. Returns 1 when it did: the root exists, the
 * stream holds nothing else, and *doc points into *out_own, which the
 * caller frees with yr_fast_free (never yaml_document_delete). Returns 0
 * when the text is outside the subset yaml_fast.c describes or is not
 * well-formed YAML, -1 when out of memory; then *doc is zeroed and
 * *out_own untouched. */
int yr_fast_compose(const char *txt, size_t len, yaml_document_t *doc,
                    yr_fast_doc **out_own);

/* Items of the root mapping's block sequences handed to the caller as
 * they are composed, for a model whose large sections are read item by
 * item: an item the caller takes is dropped from the document at once, so
 * the nodes of a million entries never pile up. The document is then
 * yaml_parser_load's without the items taken. */
typedef struct yr_fast_stream {
    /* The value after key node `key` of the root block mapping is next;
     * pairs[0 .. 2 n_pairs) are the (key, value) node ids of the root's
     * pairs before it. A tag > 0 asks for the items of the value, when it
     * is a block sequence; 0 leaves it alone. */
    int (*want)(void *ctx, const yaml_document_t *doc, int key,
                const int *pairs, size_t n_pairs);
    /* Node `item` (its subtree the last nodes of doc) is the next item of
     * sequence node `seq` asked for with tag. True takes it; false leaves
     * it, and every later item of the sequence, in the document. */
    bool (*take)(void *ctx, const yaml_document_t *doc, int tag, int seq,
                 int item);
    void *ctx;
} yr_fast_stream;

/* yr_fast_compose, handing out items as stream (NULL: none) asks. When it
 * returns 0 or -1, items may have been taken all the same: the caller must
 * forget them (the text then goes to libyaml, whole). */
int yr_fast_compose_stream(const char *txt, size_t len,
                           const yr_fast_stream *stream, yaml_document_t *doc,
                           yr_fast_doc **out_own);

/* Free a composed document's memory; its yaml_document_t is then invalid.
 * Accepts NULL. */
void yr_fast_free(yr_fast_doc *own);

#endif
