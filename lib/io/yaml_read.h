/* lib/io/yaml_read.h — libyaml helpers shared by the model loaders.
 *
 * Internal to libcai (not installed); the errors are in yaml_errors.c, the
 * name tables in yaml_names.c, the rest in yaml_read.c. A yr_loader holds
 * one composed YAML document and says where errors go; the kind loaders
 * (factor_graph.c, ...) walk its node tree with these helpers. Every error
 * setter fills L->err with the file and the 1-based line and column of a
 * node (libyaml marks are 0-based) and returns the status, so each call
 * site is one `return`.
 *
 * Nodes belong to L->doc and stay valid until yr_loader_clear(); so do the
 * strings yr_text() and the yr_read_* helpers hand out. "where" arguments
 * name the thing being read in messages ("variable 'A'", "factor 2"); a
 * NULL where means no prefix. */
#ifndef CAI_IO_YAML_READ_H
#define CAI_IO_YAML_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "cai/error.h"

#if defined(__GNUC__)
#define YR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define YR_PRINTF(f, a)
#endif

/* ---- the loader -------------------------------------------------------- */

/* Start with yr_loader L = {.path = name, .err = err}; yr_loader_parse()
 * fills doc, yr_loader_clear() releases it. Not copyable once parsed (doc
 * points into the struct). */
typedef struct yr_loader {
    const char *path;     /* file name in errors; borrowed, may be NULL */
    cai_error *err;       /* where errors go; borrowed, may be NULL */
    yaml_document_t *doc; /* &storage once parsed, else NULL */
    yaml_document_t storage;
    const char *text; /* the source given to yr_loader_parse; borrowed */
    size_t text_len;
    struct yr_fast_doc *fast; /* doc's memory when yaml_fast.c built it */
    /* optional, set before yr_loader_parse: items of the root mapping's
     * sequences handed out while composing (yaml_fast.h); what it took is
     * missing from doc, and counts only when fast is set (libyaml, which
     * reads the rest, hands out nothing) */
    const struct yr_fast_stream *stream;
} yr_loader;

/* Parse txt (len bytes, NUL not needed) as a stream of exactly one
 * non-empty YAML document into L->doc and set *out_root to its root node.
 * empty_msg is the error for an empty document. Syntax errors become
 * CAI_ERR_SYNTAX at libyaml's problem mark. On failure L holds no document.
 * L keeps txt (for yr_fail_in_scalar), so txt must outlive the walk. */
cai_status yr_loader_parse(yr_loader *L, const char *txt, size_t len,
                           const char *empty_msg, yaml_node_t **out_root);

/* Release L->doc, if any; all nodes and texts die with it. */
void yr_loader_clear(yr_loader *L);

/* Read the whole file at path into a fresh buffer (*out_buf, free() it;
 * not NUL-terminated) of *out_len bytes. Outputs written only on success. */
cai_status yr_read_file(const char *path, char **out_buf, size_t *out_len,
                        cai_error *err);

/* ---- errors ------------------------------------------------------------ */

/* CAI_ERR_MODEL at node n (line and column 0 when n is NULL). */
cai_status yr_fail_at(const yr_loader *L, const yaml_node_t *n, const char *fmt,
                      ...) YR_PRINTF(3, 4);

/* CAI_ERR_MODEL at node n, its message followed by ", got " and what n is
 * (yr_describe): for a node of the wrong type or form. */
cai_status yr_fail_got(const yr_loader *L, const yaml_node_t *n,
                       const char *fmt, ...) YR_PRINTF(3, 4);

/* The 1-based line and column in the source of the character at byte
 * offset off of scalar n's value, when it can be traced back to the text:
 * literal block scalars (|) and scalars on one line written without
 * escapes. Otherwise (folded or multi-line flow scalars, escapes, a
 * property before a block scalar) the position of n itself. */
void yr_scalar_position(const yr_loader *L, const yaml_node_t *n, size_t off,
                        size_t *out_line, size_t *out_column);

/* CAI_ERR_MODEL at yr_scalar_position(L, n, off). */
cai_status yr_fail_in_scalar(const yr_loader *L, const yaml_node_t *n,
                             size_t off, const char *fmt, ...) YR_PRINTF(4, 5);

/* CAI_ERR_NOMEM, "out of memory", no position. */
cai_status yr_nomem(const yr_loader *L);

/* CAI_ERR_OVERFLOW (a size does not fit), no position. */
cai_status yr_overflow(const yr_loader *L, const char *fmt, ...)
    YR_PRINTF(2, 3);

/* An engine call failed with code and sub on input already checked: keep
 * out-of-memory as it is, report anything else as "where: sub's message" at
 * node n. */
cai_status yr_engine_fail(const yr_loader *L, const yaml_node_t *n,
                          cai_status code, const cai_error *sub,
                          const char *where);

/* A user string made safe for a one-line message: control characters become
 * '?', long strings are cut at a UTF-8 boundary and end in "...". */
typedef struct yr_shown {
    char s[96];
} yr_shown;
yr_shown yr_show(const char *s);

/* "WHERE: ", or "" when where is NULL: the start of a message about the
 * thing where names. */
typedef struct yr_prefix {
    char s[160];
} yr_prefix;
yr_prefix yr_prefix_of(const char *where);

/* What a node is, for "got ..." in messages: "a sequence", "null", "'x'",
 * "the quoted string \"x\"", ... */
typedef struct yr_described {
    char s[sizeof(yr_shown) + 32];
} yr_described;
yr_described yr_describe(const yaml_node_t *n);

/* ---- nodes ------------------------------------------------------------- */

/* The node at index in L->doc, NULL when there is none. */
yaml_node_t *yr_node_at(const yr_loader *L, yaml_node_item_t index);

/* A scalar's text (NUL-terminated; may hold NULs when not yr_is_string). */
const char *yr_text(const yaml_node_t *n);

/* An unquoted scalar: the only kind that can be a number, bool or null. */
bool yr_is_plain(const yaml_node_t *n);

/* A plain empty, ~, null, Null or NULL. */
bool yr_is_null(const yaml_node_t *n);

/* A scalar usable as a name: not null, no NUL byte inside (may be ""). */
bool yr_is_string(const yaml_node_t *n);

/* A plain scalar read as a number into *out: decimal as strtod reads it (no
 * hex, no trailing characters; 1e999 is inf) or [+-][.]inf / [.]nan in any
 * case. *out is untouched when it is not a number. */
bool yr_parse_number(const yaml_node_t *n, double *out);

typedef enum yr_int_result {
    YR_INT_OK,     /* *out written */
    YR_INT_BAD,    /* not a nonnegative integer */
    YR_INT_TOO_BIG /* an integer above max */
} yr_int_result;

/* A nonnegative integer <= max (max < 2^53, so exact) into *out. */
yr_int_result yr_parse_count(const yaml_node_t *n, double max, size_t *out);

/* ---- sequences --------------------------------------------------------- */

/* Number of items of sequence node n. */
size_t yr_seq_len(const yaml_node_t *n);

/* Item i < yr_seq_len(n) of sequence n, NULL when malformed. */
yaml_node_t *yr_seq_item(const yr_loader *L, const yaml_node_t *n, size_t i);

/* ---- mappings ---------------------------------------------------------- */

/* One expected key of a mapping; yr_read_fields fills key_node and value. */
typedef struct yr_field {
    const char *key;
    yaml_node_t *key_node; /* NULL when the key is absent */
    yaml_node_t *value;
} yr_field;

/* Match the keys of mapping map against f[0..nf-1]: every key must be a
 * string, known and not repeated ("unknown key 'x' in WHERE (expected a, b
 * or c)"). Absent keys get NULL key_node and value. */
cai_status yr_read_fields(const yr_loader *L, yaml_node_t *map,
                          const char *where, yr_field *f, size_t nf);

/* "missing key 'KEY' in WHERE" at map when f is absent, else CAI_OK. */
cai_status yr_require(const yr_loader *L, const yaml_node_t *map,
                      const char *where, const yr_field *f);

/* The keys of f as "a, b or c" into buf (always NUL-terminated). */
void yr_list_keys(const yr_field *f, size_t nf, char *buf, size_t size);

/* The value of the first string key equal to key in mapping map, or NULL.
 * For peeking (at `kind`) before yr_read_fields checks the whole mapping. */
yaml_node_t *yr_lookup(const yr_loader *L, const yaml_node_t *map,
                       const char *key);

/* ---- names ------------------------------------------------------------- */

/* The position of the first of names[0..n-1] (in order) that repeats an
 * earlier one, or CAI_NONE; *out_first is that earlier one. Only fails
 * (CAI_ERR_NOMEM or CAI_ERR_OVERFLOW, err not filled) for scratch memory. */
cai_status yr_find_duplicate(const char *const *names, size_t n,
                             size_t *out_dup, size_t *out_first);

/* A name -> index lookup in expected O(1) (a hash table), for models with
 * millions of names. With names == NULL it stands for the decimal names
 * "0", "1", ..., "n-1" (canonical spelling only: "03" and "3.0" are not
 * names) and holds no memory. */
typedef struct yr_names {
    size_t n;
    const char *const *names; /* borrowed; NULL: decimal names */
    size_t *slots;            /* mask + 1 slots holding index + 1, 0 empty */
    size_t mask;
} yr_names;

/* Index names[0..n-1] (borrowed: they must outlive t) into *t. *out_dup is
 * the position of the first name that repeats an earlier one (*out_first),
 * or CAI_NONE. Only fails (CAI_ERR_NOMEM or CAI_ERR_OVERFLOW, err not
 * filled) for memory; *t needs yr_names_clear() either way. */
cai_status yr_names_init(yr_names *t, const char *const *names, size_t n,
                         size_t *out_dup, size_t *out_first);

/* The index of name, or CAI_NONE. */
size_t yr_names_find(const yr_names *t, const char *name);

/* The name of index i < t->n into buf (decimal names are formatted there);
 * returns the name. */
const char *yr_names_get(const yr_names *t, size_t i, char *buf, size_t size);

/* "a, b, c, ..." (the first few names) or "0..n-1", for "unknown name"
 * messages. Always NUL-terminated. */
void yr_names_hint(const yr_names *t, char *buf, size_t size);

/* Release the table; accepts a zeroed or cleared *t. */
void yr_names_clear(yr_names *t);

/* ---- values ------------------------------------------------------------ */

/* n must be a string (non-empty too when nonempty): "WHERE: 'KEY' must be a
 * [non-empty ]string, got ...". *out is the text, owned by L->doc. */
cai_status yr_read_string(const yr_loader *L, const yaml_node_t *n,
                          const char *where, const char *key, bool nonempty,
                          const char **out);

/* n must be plain true/True/TRUE/false/False/FALSE (YAML 1.2 core; "yes" is
 * a string): "WHERE: 'KEY' must be true or false, got ...". */
cai_status yr_read_bool(const yr_loader *L, const yaml_node_t *n,
                        const char *where, const char *key, bool *out);

/* n must be a sequence of exactly count finite numbers, read into
 * out[0..count-1] (caller-owned; partly written on failure). Errors point
 * at n or the bad entry, numbered from 0: "WHERE: KEY entry 2 must be a
 * finite number, got ...". */
cai_status yr_read_doubles(const yr_loader *L, const yaml_node_t *n,
                           const char *where, const char *key, size_t count,
                           double *out);

/* One entry of a name -> number mapping; nodes for the caller's errors
 * ("unknown state 'X'" at key). */
typedef struct yr_named_number {
    const char *name;        /* the key's text, owned by L->doc */
    const yaml_node_t *key;  /* its node */
    const yaml_node_t *node; /* the value's node */
    double value;            /* finite */
} yr_named_number;

/* n must be a mapping like {A: 0.5, B: 0.5}: keys non-empty, distinct
 * strings, values finite numbers; errors point at the bad key or value. On
 * success *out_items is a fresh array of *out_n entries in document order
 * (free() it; the names stay owned by L->doc). */
cai_status yr_read_number_map(const yr_loader *L, const yaml_node_t *n,
                              const char *where, const char *key,
                              yr_named_number **out_items, size_t *out_n);

#endif
