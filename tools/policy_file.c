/* tools/policy_file.c — the policy `cai evaluate` reads: the JSON object
 * `cai solve --json` writes (policy_json.c) or a CSV table (here). Errors
 * point at the offending line and column, 1-based, as the YAML loader's do. */
#include "policy_file.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

cai_status pf_fail(const pf_reader *r, size_t line, size_t col, cai_status code,
                   const char *fmt, ...)
{
    char msg[CAI_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cai_error_set(r->err, code, r->path, line, col, "%s", msg);
}

cai_status pf_fail_at(const pf_reader *r, const char *at, cai_status code,
                      const char *fmt, ...)
{
    size_t line = 1;
    const char *start = r->text;
    for (const char *q = r->text; q < at; q++)
        if (*q == '\n') {
            line++;
            start = q + 1;
        }
    char msg[CAI_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cai_error_set(r->err, code, r->path, line, (size_t)(at - start) + 1, "%s", msg);
}

const char *pf_shown(const char *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s);
    if (strlen(s) >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* ---- CSV --------------------------------------------------------------- */

/* Split line (modified in place) at commas into at most max trimmed fields;
 * col[i] is the 1-based column of field i. Returns the number of fields. */
static size_t split(char *line, char **field, size_t *col, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *comma = strchr(p, ',');
        if (n < max) {
            field[n] = p;
            col[n] = (size_t)(p - line) + 1;
        }
        n++;
        char *e = comma ? comma : p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (comma == NULL) {
            *e = '\0';
            return n;
        }
        *e = '\0';
        p = comma + 1;
    }
}

static cai_status read_csv(pf_reader *r, const cai_mdp *m, double **out, bool *stationary)
{
    size_t S = cai_mdp_n_states(m), A = cai_mdp_n_actions(m), T = cai_mdp_horizon(m);
    size_t line_no = 0, n_fields = 0, n_t = 1, n = 0;
    double *pi = NULL;
    size_t *first = NULL; /* the first line of each (t, state), 0 = none */
    char *buf = malloc((size_t)(r->end - r->text) + 1);
    cai_status st = CAI_OK;
    char b1[64], b2[64];
    if (buf == NULL)
        goto nomem;
    for (const char *p = r->text; p < r->end && st == CAI_OK;) {
        const char *nl = memchr(p, '\n', (size_t)(r->end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(r->end - p);
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
            buf[len - 1] = '\0';
        p += len + (nl != NULL);
        line_no++;
        if (buf[strspn(buf, " \t")] == '\0')
            continue;
        char *f[4];
        size_t col[4], k = split(buf, f, col, 4);
        if (n_fields == 0) { /* the header */
            if (k == 3 && !strcmp(f[0], "state") && !strcmp(f[1], "action") &&
                !strcmp(f[2], "prob")) {
                n_fields = 3;
            } else if (k == 4 && !strcmp(f[0], "t") && !strcmp(f[1], "state") &&
                       !strcmp(f[2], "action") && !strcmp(f[3], "prob")) {
                if (T == 0) {
                    st = pf_fail(r, line_no, 1, CAI_ERR_MODEL, "a discounted model "
                                  "takes a stationary policy: header state,action,prob");
                    break;
                }
                n_fields = 4;
                n_t = T;
            } else {
                st = pf_fail(r, line_no, 1, CAI_ERR_SYNTAX, "expected the header "
                              "'state,action,prob' or 't,state,action,prob'");
                break;
            }
            if (!cai_size_mul(n_t, S, &n) || !cai_size_mul(n, A, &n) ||
                (pi = calloc(n ? n : 1, sizeof *pi)) == NULL ||
                (first = calloc(n_t * S + 1, sizeof *first)) == NULL)
                goto nomem;
            for (size_t i = 0; i < n; i++)
                pi[i] = NAN;
            continue;
        }
        if (k != n_fields) {
            st = pf_fail(r, line_no, 1, CAI_ERR_SYNTAX, "expected %zu fields, found %zu",
                          n_fields, k);
            break;
        }
        size_t t = 0, i = n_fields - 3, s, a;
        char *end;
        if (n_fields == 4) {
            errno = 0;
            unsigned long long v = strtoull(f[0], &end, 10);
            if (f[0][0] < '0' || f[0][0] > '9' || *end != '\0' || errno != 0 || v >= T) {
                st = pf_fail(r, line_no, col[0], CAI_ERR_MODEL, "t must be an integer "
                              "in 0..%zu (the horizon is %zu), found '%s'", T - 1, T,
                              pf_shown(f[0], b1, sizeof b1));
                break;
            }
            t = (size_t)v;
        }
        if ((s = cai_mdp_find_state(m, f[i])) == CAI_NONE) {
            st = pf_fail(r, line_no, col[i], CAI_ERR_MODEL, "unknown state '%s'",
                          pf_shown(f[i], b1, sizeof b1));
            break;
        }
        if ((a = cai_mdp_find_action(m, f[i + 1])) == CAI_NONE) {
            st = pf_fail(r, line_no, col[i + 1], CAI_ERR_MODEL, "unknown action '%s'",
                          pf_shown(f[i + 1], b1, sizeof b1));
            break;
        }
        errno = 0;
        double x = strtod(f[i + 2], &end);
        if (end == f[i + 2] || *end != '\0' || !(x >= 0.0 && x <= 1.0 + PF_ROW_TOL)) {
            st = pf_fail(r, line_no, col[i + 2], CAI_ERR_MODEL, "expected a probability "
                          "in [0, 1], found '%s'", pf_shown(f[i + 2], b1, sizeof b1));
            break;
        }
        double *cell = &pi[(t * S + s) * A + a];
        if (!isnan(*cell)) {
            st = pf_fail(r, line_no, 1, CAI_ERR_MODEL, "state '%s' action '%s' (t = %zu) "
                          "is given twice", pf_shown(f[i], b1, sizeof b1),
                          pf_shown(f[i + 1], b2, sizeof b2), t);
            break;
        }
        *cell = x;
        if (first[t * S + s] == 0)
            first[t * S + s] = line_no;
    }
    if (st == CAI_OK && n_fields == 0)
        st = pf_fail(r, line_no ? line_no : 1, 1, CAI_ERR_SYNTAX, "empty policy file: "
                      "expected the header 'state,action,prob' or 't,state,action,prob'");
    /* a state without rows takes the action prior; missing entries are 0 */
    for (size_t ts = 0; st == CAI_OK && ts < n_t * S; ts++) {
        double *row = pi + ts * A, sum = 0.0;
        for (size_t a = 0; a < A; a++) {
            if (first[ts] == 0)
                row[a] = cai_mdp_action_prior_at(m, ts % S, a);
            else if (isnan(row[a]))
                row[a] = 0.0;
            sum += row[a];
        }
        if (first[ts] != 0 && fabs(sum - 1.0) > PF_ROW_TOL)
            st = pf_fail(r, first[ts], 1, CAI_ERR_MODEL, "the probabilities of state "
                          "'%s' (t = %zu) sum to %.10g, not 1",
                          pf_shown(cai_mdp_state_name(m, ts % S), b1, sizeof b1), ts / S, sum);
    }
    free(buf);
    free(first);
    if (st != CAI_OK) {
        free(pi);
        return st;
    }
    *out = pi;
    *stationary = n_fields == 3;
    return CAI_OK;
nomem:
    free(buf);
    free(first);
    free(pi);
    return cai_error_set(r->err, CAI_ERR_NOMEM, r->path, 0, 0, "out of memory");
}

/* ---- the file ---------------------------------------------------------- */

cai_status cli_policy_read(const char *path, const cai_mdp *m, double **out_policy,
                           bool *out_stationary, cai_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot open: %s",
                             strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text != NULL) {
        len += fread(text + len, 1, cap - 1 - len, f);
        if (len < cap - 1)
            break;
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(text, cap * 2) : NULL;
        if (bigger == NULL)
            free(text);
        text = bigger;
        cap *= 2;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (text == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0, "out of memory");
    if (bad) {
        free(text);
        return cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot read");
    }
    text[len] = '\0';
    pf_reader r = {path, text, text + len, text, err};
    cai_status st;
    const char *nul = memchr(text, '\0', len);
    while (*r.p == ' ' || *r.p == '\t' || *r.p == '\n' || *r.p == '\r')
        r.p++;
    if (nul != NULL)
        st = pf_fail_at(&r, nul, CAI_ERR_SYNTAX, "NUL byte in a policy file");
    else if (*r.p == '{')
        st = pf_read_json(&r, m, out_policy, out_stationary);
    else
        st = read_csv(&r, m, out_policy, out_stationary);
    free(text);
    return st;
}
