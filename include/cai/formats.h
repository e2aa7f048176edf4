/* cai/formats.h — the file formats of the graphical-model community.
 *
 * Readers build the same object cai_model_load returns for a YAML
 * `kind: factor_graph` (cai_model_get_kind() == CAI_MODEL_FACTOR_GRAPH), so
 * every algorithm and every command works on them; cai_model_load picks
 * the reader by the file's extension (cai_model_format_of), while
 * cai_model_load_string always reads YAML (use the parse functions below
 * for these formats in memory). Every error
 * names the file, the 1-based line and column of the offending token and
 * what is wrong, in err: CAI_ERR_MODEL for content (a truncated file is
 * reported at its end), CAI_ERR_IO when a file cannot be read. Nothing is
 * returned on failure. Numbers are decimal (C strtod syntax); nan and inf
 * are refused. Sizes are checked before anything is allocated for them: a
 * table has at most CAI_FORMATS_MAX_ENTRIES entries, and a count of items
 * that cannot fit in the rest of the file is reported as a truncation.
 *
 * UAI (MARKOV or BAYES; the UAI inference competitions' format)
 *
 *     MARKOV                  type: MARKOV or BAYES
 *     3                       number of variables
 *     2 2 3                   their cardinalities
 *     2                       number of functions
 *     2 0 1                   per function: scope size, variable indices
 *     2 1 2
 *     4  4.0 2.4 1.0 0.0      per function, in the same order: the number
 *     6  2.25 3.25 3.75       of entries, then the entries (nonnegative),
 *        0.0 0.0 10.0         row-major with the LAST scope variable fastest
 *
 * Tokens are separated by any whitespace; a line whose first non-blank
 * character is 'c' is a comment. Variables are named "0", "1", ... (their
 * 0-based index in decimal) and have no state names. BAYES: the last
 * variable of each scope is the child, every variable is the child of
 * exactly one function, the parent relation has no directed cycle, and
 * every row (an assignment of the parents) sums to 1 within 1e-6. A
 * function with an empty scope is refused.
 *
 * Evidence: FILE.uai.evid next to FILE.uai, when it exists (an empty file
 * is no evidence). Its integers: "N v1 x1 ... vN xN" (UAI 2014 and later:
 * N observed variables, then variable-value pairs), or "1 N v1 x1 ..."
 * (the older form: a sample count, which must be 1, then one sample). The
 * rule: with first integer n, when exactly 2n integers follow they are the
 * pairs; otherwise, when n == 1 and the second integer m is followed by
 * exactly 2m integers, those are the pairs; otherwise an error (several
 * samples, a wrong count, a truncated file), counted against the older
 * form when the first integer is 1 alone on its line, else against the
 * newer. Variables are indices and values state indices; a variable
 * observed twice is an error.
 *
 * libDAI .fg
 *
 *     2                       number of factors
 *
 *     1                       per factor: number of variables
 *     0                       their labels (nonnegative integers)
 *     2                       their cardinalities
 *     2                       number of nonzero entries
 *     0 0.3                   lines "index value"; entries not listed are 0
 *     1 0.7
 *     ...
 *
 * Tokens are separated by any whitespace; '#' starts a comment up to the
 * end of its line. The index of an entry counts with the FIRST variable of
 * the factor fastest (libDAI's convention); the factor's scope keeps the
 * file's order of variables and its table is converted to cai's layout
 * (last fastest). A label must have the same cardinality in every factor;
 * an index may be listed once. Variables are the labels that occur, added
 * in increasing order of label and named by the label in decimal ("7").
 *
 * BIF (the Bayesian-network interchange format of bnlearn's repository)
 *
 *     network asia { }
 *     variable tub { type discrete [ 2 ] { yes, no }; }
 *     probability ( tub | asia ) { (yes) 0.05, 0.95; (no) 0.01, 0.99; }
 *     probability ( asia ) { table 0.01, 0.99; }
 *
 * Comments are // to the end of the line and slash-star ... star-slash.
 * `property ... ;` lines are skipped anywhere in a block; commas between
 * states and between numbers are optional. Names are words (anything but
 * whitespace and { } ( ) [ ] , ; | ") or "quoted strings". Variables are
 * added in the order of their declarations (name = BIF name, states = BIF
 * state names); factors are the probability blocks in file order, each over
 * (parents in the listed order, child), row-major with the child fastest.
 * A block has either `table` (only without parents: with parents its order
 * is ambiguous between BIF dialects) or rows `(p1, p2, ...) probabilities;`
 * for each parent assignment, plus an optional `default probabilities;` for
 * the rows not listed. Every row sums to 1 within 1e-6, every variable has
 * exactly one probability block, and the parent relation has no directed
 * cycle. The model's name is the network's name.
 *
 * Writers put any graph into UAI (always MARKOV) or .fg, every factor as a
 * dense table of linear weights exp(log value) written with %.17g, so a
 * file read back gives the same marginals and log Z to about 1e-15. Tied
 * potentials are written once per factor (the formats have no tying), CSR
 * conditionals expanded, a support-mode factor as its 0/1 indicator; the
 * formats have no expectation mode, so such a factor is written as an
 * ordinary one. Evidence becomes a 0/1 indicator factor on each observed
 * variable after the graph's factors (UAI: or the .evid text, when an evid
 * stream is given), and a .fg file gives each variable of no factor a
 * factor of ones (.fg only knows variables through factors). Variable
 * names: UAI refers to variables by index; .fg labels them by their names
 * when every name is a decimal integer without leading zeros (a graph read
 * from .fg or UAI keeps its labels), else by index. State names are not
 * kept. Refused, before anything is written (CAI_ERR_OVERFLOW): a table
 * or all tables together above CAI_FORMATS_MAX_ENTRIES entries; refused
 * (CAI_ERR_NUMERIC): a log value whose exp overflows or underflows to 0. */
#ifndef CAI_FORMATS_H
#define CAI_FORMATS_H

#include <stddef.h>
#include <stdio.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest table, and the largest total of a written file's tables. */
#define CAI_FORMATS_MAX_ENTRIES ((size_t)100000000)

typedef enum cai_model_format {
    CAI_FORMAT_YAML = 0, /* cai's YAML models (cai/model.h) */
    CAI_FORMAT_UAI = 1,  /* .uai */
    CAI_FORMAT_FG = 2,   /* .fg (libDAI) */
    CAI_FORMAT_BIF = 3   /* .bif */
} cai_model_format;

/* The format cai_model_load reads path as: by its extension .uai, .fg or
 * .bif (in any case), CAI_FORMAT_YAML for anything else. */
cai_model_format cai_model_format_of(const char *path);

/* "yaml", "uai", "fg", "bif". */
const char *cai_model_format_name(cai_model_format fmt);

/* Load path as format fmt whatever its extension (UAI: with path + ".evid"
 * when that file exists). *out_model is written only on success; free it
 * with cai_model_free(). */
cai_status cai_model_load_as(const char *path, cai_model_format fmt,
                             cai_model **out_model, cai_error *err);

/* Readers from memory; name is the file name in errors. For UAI, evid is
 * the evidence text (evid_len bytes, evid_name in its errors) or NULL for
 * none. The texts need not be NUL-terminated. */
cai_status cai_model_parse_uai(const char *text, size_t len, const char *name,
                               const char *evid, size_t evid_len,
                               const char *evid_name, cai_model **out_model,
                               cai_error *err);
cai_status cai_model_parse_fg(const char *text, size_t len, const char *name,
                              cai_model **out_model, cai_error *err);
cai_status cai_model_parse_bif(const char *text, size_t len, const char *name,
                               cai_model **out_model, cai_error *err);

/* Write g as a UAI MARKOV network to out. With evid NULL, evidence is
 * written as indicator factors; otherwise the evidence goes to evid in the
 * .evid form "N v1 x1 ..." ("0" when there is none) and no indicator
 * factors are added. Nothing is written when g is refused; a stream error
 * is CAI_ERR_IO. With out NULL nothing is written at all: the call only
 * says whether g would be refused. */
cai_status cai_model_write_uai(const cai_graph *g, FILE *out, FILE *evid,
                               cai_error *err);

/* Write g as a libDAI .fg factor graph to out (labels as above, only
 * nonzero entries listed, index with the first variable fastest).
 * Refusals and out NULL as for cai_model_write_uai. */
cai_status cai_model_write_fg(const cai_graph *g, FILE *out, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
