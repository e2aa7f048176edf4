/* lib/io/formats_impl.h — what the readers and writers of the community
 * formats (uai.c, fg.c, bif.c, formats_write.c) share: a tokenizer that
 * knows the line and column of every token, error setters in the style of
 * yaml_read.h (each fills err with the file, line and column and returns
 * the status, so each call site is one `return`), checked number parsing,
 * a directed-cycle check and the finishing of a cai_model.
 *
 * Internal to libcai (not installed). */
#ifndef CAI_IO_FORMATS_IMPL_H
#define CAI_IO_FORMATS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "cai/formats.h"
#include "cai/graph.h"
#include "cai/model.h"

#if defined(__GNUC__)
#define FMT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FMT_PRINTF(f, a)
#endif

/* How a format writes comments and splits tokens. */
typedef enum fmt_syntax {
    FMT_SYNTAX_UAI, /* whitespace-separated; a line starting with 'c' is a comment */
    FMT_SYNTAX_FG,  /* whitespace-separated; '#' to the end of the line */
    FMT_SYNTAX_BIF  /* words, "strings", punctuation { } ( ) [ ] , ; | ;
                       comments // and slash-star */
} fmt_syntax;

/* A token: its text (not NUL-terminated) and the 1-based position of its
 * first byte. At the end of the text len is 0 and the position is the end. */
typedef struct fmt_token {
    const char *s;
    size_t len;
    size_t line, col;
} fmt_token;

/* The tokenizer over one text; copy it to look ahead. */
typedef struct fmt_lexer {
    const char *text;
    size_t len, pos;
    size_t line, col;  /* of text[pos] */
    bool line_start;   /* only blanks since the last newline (UAI comments) */
    fmt_syntax syntax;
    const char *name;  /* file name in errors; borrowed */
    cai_error *err;    /* borrowed, may be NULL */
} fmt_lexer;

void fmt_lexer_init(fmt_lexer *lx, const char *text, size_t len,
                    const char *name, fmt_syntax syntax, cai_error *err);

/* The next token into *t: 1, or 0 at the end (t then holds the end's
 * position), or -1 after an error (an unterminated BIF comment or string;
 * err is set). */
int fmt_next(fmt_lexer *lx, fmt_token *t);

/* CAI_ERR_MODEL at t's position. */
cai_status fmt_fail(const fmt_lexer *lx, const fmt_token *t, const char *fmt,
                    ...) FMT_PRINTF(3, 4);

/* CAI_ERR_MODEL at the end of the text: "file ends ...". */
cai_status fmt_fail_end(const fmt_lexer *lx, const char *fmt, ...)
    FMT_PRINTF(2, 3);

/* CAI_ERR_NOMEM / CAI_ERR_OVERFLOW with the file name. */
cai_status fmt_nomem(const fmt_lexer *lx);

/* A token's text for a message: quoted, at most ~40 bytes, non-printing
 * bytes escaped. */
typedef struct fmt_shown {
    char s[64];
} fmt_shown;
fmt_shown fmt_show(const fmt_token *t);

/* Whether t is exactly word. */
bool fmt_is(const fmt_token *t, const char *word);

/* ---- reading numbers (UAI and .fg) ---- */

/* The next token as an integer in 0..max. WHAT (printf-formatted, only
 * when there is an error) names it: "expected WHAT (an integer >= 0), got
 * 'x'", "the file ends before WHAT". *out_t (may be NULL) receives the
 * token. */
cai_status fmt_read_count(fmt_lexer *lx, size_t max, size_t *out, fmt_token *out_t,
                          const char *what, ...) FMT_PRINTF(5, 6);

/* The next token as a finite number >= 0 ("WHAT is negative", "is NaN",
 * "is infinite", "is not a number"). */
cai_status fmt_read_weight(fmt_lexer *lx, double *out, fmt_token *out_t, const char *what,
                           ...) FMT_PRINTF(4, 5);

/* t parsed as a whole: an unsigned decimal integer (false when it is not,
 * or exceeds max), or a number (strtod syntax; NaN and inf come back as
 * such). */
bool fmt_parse_size(const fmt_token *t, size_t max, size_t *out);
bool fmt_parse_double(const fmt_token *t, double *out);

/* The check of a weight's value v (read from t), as fmt_read_weight does
 * it. */
cai_status fmt_check_weight(const fmt_lexer *lx, const fmt_token *t, double v,
                            const char *what, ...) FMT_PRINTF(4, 5);

/* Refuse, before allocating, a count of items that cannot fit in the rest
 * of the text (each needs a byte and a separator): "the file ends before
 * the N WHAT (truncated?)", at the end. */
cai_status fmt_check_fits(const fmt_lexer *lx, size_t count, const char *what);

/* After the last item: the end, or "unexpected 'x' after WHAT". */
cai_status fmt_expect_end(fmt_lexer *lx, const char *what);

/* ---- shared checks and finishing ---- */

/* The number of entries of a table over cards[0..k-1] into *out, or false
 * when it passes CAI_FORMATS_MAX_ENTRIES (or overflows). */
bool fmt_table_size(const size_t *cards, size_t k, size_t *out);

/* A directed cycle among n nodes whose parents are pa[pa_ptr[v] ..
 * pa_ptr[v+1]-1]: true with the cycle's nodes into cycle[0..*len-1] (each
 * the parent of the next, the last the parent of the first; cycle needs n
 * entries), false when there is none. Iterative, any n. */
cai_status fmt_find_cycle(size_t n, const size_t *pa_ptr, const size_t *pa,
                          size_t *cycle, size_t *out_len, bool *out_found);

/* Rows of a conditional table (rows x K, row-major) whose sum is not 1
 * within FMT_ROW_TOL: the first such row, or CAI_NONE. */
#define FMT_ROW_TOL 1e-6
size_t fmt_bad_row(const double *v, size_t rows, size_t K, double *out_sum);

/* A new factor_graph model holding g (taken over, also on failure) and a
 * copy of name ("" for NULL). */
cai_status fmt_model_create(cai_graph *g, const char *name,
                            cai_model **out_model, cai_error *err);

/* Engine errors while building (which the checks should make impossible,
 * apart from out of memory) as CAI_ERR_MODEL at t, "WHERE: message";
 * CAI_ERR_NOMEM stays itself. */
cai_status fmt_engine_fail(const fmt_lexer *lx, const fmt_token *t,
                           cai_status st, const cai_error *sub,
                           const char *where);

/* The whole file at path (free() it; not NUL-terminated). missing_ok: a
 * file that does not exist gives CAI_OK with *out_buf NULL. */
cai_status fmt_read_file(const char *path, bool missing_ok, char **out_buf,
                         size_t *out_len, cai_error *err);

/* ---- writing (formats_write.c) ---- */

/* One factor of a file being written: a factor of the graph, or one added
 * for evidence (the indicator of state) or for a variable of no factor
 * (ones, state CAI_NONE). */
typedef struct fmt_wfactor {
    size_t k;
    const size_t *scope;    /* k variables; owned by the graph or the plan */
    const cai_potential *p; /* NULL for an added factor */
    bool support;           /* write the 0/1 indicator of p's support */
    size_t state;           /* added: the indicated state, or CAI_NONE */
    size_t size;            /* entries */
} fmt_wfactor;

/* Every factor of a file, checked: sizes within CAI_FORMATS_MAX_ENTRIES
 * (each and in total) and every weight a finite double, positive where its
 * log is finite. */
typedef struct fmt_wplan {
    const cai_graph *g;
    fmt_wfactor *f;
    size_t nf;
    size_t *added;  /* the scope variables of the added factors */
    size_t max_k;
    size_t total;   /* entries over all factors */
} fmt_wplan;

/* evidence: add an indicator factor per observed variable; free_vars: add
 * a factor of ones on each variable of no factor. format names the file
 * kind in errors ("UAI", ".fg"). */
cai_status fmt_wplan_create(const cai_graph *g, bool evidence, bool free_vars,
                            const char *format, fmt_wplan *out, cai_error *err);
void fmt_wplan_free(fmt_wplan *w);

/* The cardinalities of factor j's scope into cards[0..k-1]. */
void fmt_wplan_cards(const fmt_wplan *w, size_t j, size_t *cards);

/* Factor j's linear weight at idx (one state per scope position). */
double fmt_wplan_weight(const fmt_wplan *w, size_t j, const size_t *idx);

/* Step idx to the next assignment, the last position fastest or (first)
 * the first fastest; false after the last one. */
bool fmt_odometer(size_t *idx, const size_t *cards, size_t k, bool first);

#endif
