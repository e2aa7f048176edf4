/* lib/io/csv.h — CSV tables: a fast reader (csv.c) and the tables of a
 * `kind: mdp` model (csv_mdp.c), `transitions_file` (header
 * state,action,next,prob) and `rewards_file` (state,action,value).
 *
 * Internal to libcai (not installed); mdp.c calls csv_mdp_transitions()
 * and csv_mdp_rewards() for the keys.
 *
 * The format: a header line, then rows of names (looked up in the model's
 * yr_names tables: decimal indices "0".."n-1" for an axis given as a count)
 * and one number. A field may be in double quotes ("" inside for a quote,
 * on one line); spaces and tabs around a field are ignored; lines end in
 * \n or \r\n; blank lines are skipped; a UTF-8 byte order mark may start
 * the file. "*" is refused: CSV tables have no wildcards.
 *
 * Errors in a file are CAI_ERR_SYNTAX (the CSV itself is malformed) or
 * CAI_ERR_MODEL (well-formed, wrong), with err->file the path as given and
 * the 1-based line and column (in characters) of the offending field; a
 * file that cannot be read is CAI_ERR_IO without a position. */
#ifndef CAI_IO_CSV_H
#define CAI_IO_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "cai/error.h"
#include "yaml_read.h"

/* ---- the reader (csv.c) ------------------------------------------------ */

#define CSV_MAX_FIELDS 4 /* the widest table */

/* A table's layout: nf - 1 name fields, then one number. */
typedef struct csv_table {
    const char *const *header; /* the nf column names */
    size_t nf;
    const char *joined; /* the header line, for messages */
    const yr_names *axes[CSV_MAX_FIELDS - 1];
    const char *what[CSV_MAX_FIELDS - 1]; /* "state", "action", ... */
    const char *value;                    /* "probability", "reward" */
    bool prob;                            /* the number must be in [0, 1] */
} csv_table;

/* One file being read, line by line, and where its errors go. The members
 * are the reader's; callers use the functions below. */
typedef struct csv_reader {
    const char *path; /* for errors; borrowed */
    cai_error *err;   /* borrowed, may be NULL */
    char *buf;        /* the file and a NUL; owned */
    const char *end;  /* buf + length: the NUL */
    const char *p;    /* start of the current line */
    const char *next; /* start of the line after it, once split */
    const char *eol;  /* end of the current line's text (before \r\n) */
    size_t line;      /* 1-based number of the current line */
    const char *data; /* the line after the header, */
    size_t data_line; /* and its number */
    char *scratch;    /* a name copied out and NUL-terminated; owned */
    size_t scratch_cap;
    struct {                /* the last name read fast in each field: files */
        const char *s;      /* often repeat a state or action from one row */
        size_t n, index;    /* to the next, and a lookup costs cache misses */
    } last[CSV_MAX_FIELDS]; /* (s in buf; n = 0: none yet) */
} csv_reader;

/* Read the file at path (also err->file) whole into *R, on its first
 * line. CAI_ERR_IO (no position) when it cannot be read; on success R needs
 * csv_close(). */
cai_status csv_open(csv_reader *R, const char *path, cai_error *err);

/* Release R's memory. */
void csv_close(csv_reader *R);

/* The current (first) line must be T's header; moves past it. */
cai_status csv_read_header(csv_reader *R, const csv_table *T);

/* No lines left. */
static inline bool csv_at_end(const csv_reader *R) { return R->p >= R->end; }

/* Lines from the current one to the end: at least the rows left. */
size_t csv_count_lines(const csv_reader *R);

/* The row on the current line, checked against T: the indices of its
 * names into idx[0 .. T->nf - 1), its number (finite; in [0, 1] when
 * T->prob) into *out_v; or *out_blank (and nothing else) for a blank
 * line. Stays on the line; errors point at the offending field. */
cai_status csv_read_row(csv_reader *R, const csv_table *T, size_t *idx,
                        double *out_v, bool *out_blank);

/* Move on to the next line (after csv_read_header or csv_read_row). */
void csv_next_line(csv_reader *R);

/* Back to the first line after the header. */
void csv_rewind(csv_reader *R);

/* CAI_ERR_MODEL at field j of line `line`, a row read cleanly before (to
 * report what only the whole table shows). Moves R to that line. */
cai_status csv_fail_field(csv_reader *R, size_t line, size_t j, const char *fmt,
                          ...) YR_PRINTF(4, 5);

/* malloc(bytes), for a table's large arrays: where the system has huge
 * pages on request (Linux), asks for them, because faulting memory in 4 KiB
 * pages took a third of the load time, more than parsing. Free with free(). */
void *csv_alloc(size_t bytes);

/* CAI_ERR_NOMEM for R's file, no position. */
cai_status csv_nomem(const csv_reader *R);

/* s[0..n) read as strtod reads it, bit for bit, when it is a plain
 * decimal: [sign] digits, at most one point, no exponent, at most 19
 * significant digits (the integer m) and at most 27 after the point (k),
 * and a cheap exact method applies (most such numbers); false otherwise,
 * *out untouched: then ask strtod. */
bool csv_decimal(const char *s, size_t n, double *out);

/* ---- the tables of `kind: mdp` (csv_mdp.c) ----------------------------- */

/* Dynamics as CSR rows s * A + a, as cai_mdp_spec wants them: each row's
 * successors increasing, without zero probabilities. Each array is a fresh
 * allocation the caller free()s. */
typedef struct csv_csr {
    size_t *row_ptr; /* S * A + 1 */
    size_t *next;
    double *prob;
} csv_csr;

/* The dynamics from the table named by f, the `transitions_file` field of
 * the model at L: the file relative to the YAML file's directory (errors
 * in it name that path). Rows may come in any order; a repeated (state,
 * action, next) is an error at its later row (the earliest such in the
 * file); the probabilities of each (state, action) must sum to 1 within
 * 1e-9 (else an error at the first row of the pair whose first row comes
 * first); every pair must have a row (else an error at f's key). A file
 * that cannot be read is an error at f's value. Linear in the file size
 * plus S * A. *out is filled on success, and may be on failure too: the
 * caller frees its arrays either way (NULL when not filled). */
cai_status csv_mdp_transitions(const yr_loader *L, const yr_field *f,
                               const yr_names *states, const yr_names *actions,
                               csv_csr *out);

/* r(s, a) from the table named by f, `rewards_file`, found as above: each
 * row sets reward[s * A + a] (finite, any sign); pairs not listed keep what
 * reward holds. A repeated (state, action) is an error at its later row.
 * reward may be partly written on failure. */
cai_status csv_mdp_rewards(const yr_loader *L, const yr_field *f,
                           const yr_names *states, const yr_names *actions,
                           double *reward);

#endif
