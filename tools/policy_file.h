/* tools/policy_file.h — what the two readers of policy files share (the
 * JSON one in policy_json.c, the CSV one in policy_file.c): the text being
 * read and errors that point at a character of it. */
#ifndef CAI_TOOLS_POLICY_FILE_H
#define CAI_TOOLS_POLICY_FILE_H

#include "cli.h"

#define PF_ROW_TOL 1e-9 /* as cai_mdp_evaluate checks the rows */

typedef struct pf_reader {
    const char *path;
    const char *text; /* the whole file, NUL-terminated */
    const char *end;
    const char *p;    /* the next character */
    cai_error *err;
} pf_reader;

/* Set r->err to "path:line:col: error: ..." and return code. */
cai_status pf_fail(const pf_reader *r, size_t line, size_t col, cai_status code,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* The same at character at of r->text (line and column counted only now). */
cai_status pf_fail_at(const pf_reader *r, const char *at, cai_status code,
                      const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* s for a message, cut to fit buf. */
const char *pf_shown(const char *s, char *buf, size_t size);

/* The JSON object at r->p (a '{'), as cli_policy_read describes. */
cai_status pf_read_json(pf_reader *r, const cai_mdp *m, double **out, bool *stationary);

#endif
