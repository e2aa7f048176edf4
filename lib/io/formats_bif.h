/* lib/io/formats_bif.h — what the two files of the BIF reader share: bif.c
 * (the file, its network and variable blocks, the checks and the graph)
 * and formats_bif_cpt.c (the probability blocks).
 *
 * Internal to libcai (not installed). */
#ifndef CAI_IO_FORMATS_BIF_H
#define CAI_IO_FORMATS_BIF_H

#include "formats_impl.h"

/* One declared variable and, after the second pass, its table. Owned by
 * the parser. */
typedef struct bif_var {
    char *name;
    fmt_token where;   /* its name in the variable block */
    size_t card;       /* 0 until its type is read */
    char **states;     /* card names */
    bool has_block;
    fmt_token block;   /* its probability block's keyword */
    size_t *parents;   /* n_parents variable indices, in the listed order */
    size_t n_parents;
    double *table;     /* rows x card, row-major over the parents, child fastest */
} bif_var;

/* The state of both passes over one text. */
typedef struct bif_parser {
    fmt_lexer lx;
    fmt_token t;       /* the current token */
    int r;             /* 1 token, 0 end */
    bool second;       /* the second pass: probability blocks */
    bif_var *vars;
    size_t n, cap;
    size_t *slot;      /* name hash: index + 1 into vars, 0 empty */
    size_t n_slots;
    char *network;     /* the network's name, NULL when none */
    fmt_token network_at;
    bool has_network;
    size_t *order;     /* the variables in the order of their blocks */
    size_t n_blocks;
    size_t *mark;      /* per variable: the last block (1-based) listing it as a parent */
} bif_parser;

/* ---- names and tokens (bif.c) ---- */

/* A name token's text: a word, or a "string" without its quotes. */
void bif_name_text(const fmt_token *t, const char **s, size_t *len);

/* The variable a name token names, or CAI_NONE. */
size_t bif_find_var(const bif_parser *P, const fmt_token *t);

/* Step to the next token (an error only from the lexer). */
cai_status bif_step(bif_parser *P);

/* Punctuation { } ( ) [ ] , ; |; a name is any other token. */
bool bif_is_punct(const fmt_token *t);
bool bif_is_name(const bif_parser *P);
bool bif_at_punct(const bif_parser *P, char c);

/* "expected WHAT CONTEXT, got X" or "the file ends before WHAT CONTEXT". */
cai_status bif_fail_expected(const bif_parser *P, const char *what, const char *context);

/* The current token must be punctuation c; step past it. */
cai_status bif_expect(bif_parser *P, char c, const char *context);

/* `property ... ;`: skip it (the current token is `property`). */
cai_status bif_skip_property(bif_parser *P);

/* ---- probability blocks (formats_bif_cpt.c) ---- */

/* First pass: skip `probability ( ... ) { ... }` without looking inside. */
cai_status bif_skip_probability(bif_parser *P);

/* Second pass: read the block into its variable's parents and table (the
 * current token is `probability`). */
cai_status bif_parse_probability(bif_parser *P);

#endif
