/* tools/policy_json.c — the JSON policy file: the object `cai solve --json`
 * writes. A small recursive-descent reader that keeps only the "policy"
 * numbers (straight into the array cai_mdp_evaluate takes), checks "states"
 * and "actions" against the model and skips every other member. */
#include "policy_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* JSON nesting skipped in other members */

static void skip_ws(pf_reader *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
        r->p++;
}

static const char *describe(const pf_reader *r)
{
    return r->p >= r->end ? "the end of the file" : "this character";
}

static void put_utf8(char **o, unsigned long c)
{
    if (c < 0x80) {
        *(*o)++ = (char)c;
    } else if (c < 0x800) {
        *(*o)++ = (char)(0xC0 | (c >> 6));
        *(*o)++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *(*o)++ = (char)(0xE0 | (c >> 12));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *(*o)++ = (char)(0x80 | (c & 0x3F));
    } else {
        *(*o)++ = (char)(0xF0 | (c >> 18));
        *(*o)++ = (char)(0x80 | ((c >> 12) & 0x3F));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 0x3F));
        *(*o)++ = (char)(0x80 | (c & 0x3F));
    }
}

static bool hex4(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v * 16 + (unsigned long)d;
    }
    *out = v;
    return true;
}

/* A string at r->p, decoded into *out (free()), or only checked when out
 * is NULL. */
static cai_status read_string(pf_reader *r, char **out)
{
    const char *start = r->p;
    if (*r->p != '"')
        return pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected a string, found %s", describe(r));
    char *buf = malloc((size_t)(r->end - r->p) + 1), *o = buf;
    if (buf == NULL)
        return cai_error_set(r->err, CAI_ERR_NOMEM, r->path, 0, 0, "out of memory");
    for (r->p++;; r->p++) {
        unsigned char c = (unsigned char)*r->p;
        if (r->p >= r->end) {
            free(buf);
            return pf_fail_at(r, start, CAI_ERR_SYNTAX, "unterminated string");
        }
        if (c == '"')
            break;
        if (c < 0x20) {
            free(buf);
            return pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "control character in a string");
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        const char *esc = r->p++;
        unsigned long u, lo;
        switch (*r->p) {
        case '"': case '\\': case '/': *o++ = *r->p; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (r->end - r->p < 5 || !hex4(r->p + 1, &u) || u == 0)
                goto bad;
            r->p += 4;
            if (u >= 0xD800 && u < 0xDC00 && r->end - r->p >= 7 && r->p[1] == '\\' &&
                r->p[2] == 'u' && hex4(r->p + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                r->p += 6;
            } else if (u >= 0xD800 && u < 0xE000) {
                goto bad;
            }
            put_utf8(&o, u);
            break;
        default:
        bad:
            free(buf);
            return pf_fail_at(r, esc, CAI_ERR_SYNTAX, "invalid escape in a string");
        }
    }
    r->p++;
    *o = '\0';
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return CAI_OK;
}

/* A number in JSON's grammar at r->p. */
static cai_status read_number(pf_reader *r, double *out)
{
    const char *s = r->p, *q = s;
    if (*q == '-')
        q++;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (*q >= '0' && *q <= '9')
            q++;
    } else {
        return pf_fail_at(r, s, CAI_ERR_SYNTAX, "expected a number, found %s", describe(r));
    }
    if (*q == '.') {
        if (*++q < '0' || *q > '9')
            return pf_fail_at(r, q, CAI_ERR_SYNTAX, "expected a digit after '.'");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (*q < '0' || *q > '9')
            return pf_fail_at(r, q, CAI_ERR_SYNTAX, "expected a digit in the exponent");
        while (*q >= '0' && *q <= '9')
            q++;
    }
    *out = strtod(s, NULL);
    r->p = q;
    return CAI_OK;
}

static cai_status skip_value(pf_reader *r, int depth)
{
    const char *at = r->p;
    if (depth > MAX_DEPTH)
        return pf_fail_at(r, at, CAI_ERR_SYNTAX, "JSON nested too deeply");
    static const char *const literals[] = {"true", "false", "null"};
    double x;
    cai_status st;
    switch (*r->p) {
    case '"':
        return read_string(r, NULL);
    case '{':
    case '[': {
        char close = *r->p == '{' ? '}' : ']';
        r->p++;
        skip_ws(r);
        if (*r->p == close) {
            r->p++;
            return CAI_OK;
        }
        for (;;) {
            if (close == '}') {
                if ((st = read_string(r, NULL)) != CAI_OK)
                    return st;
                skip_ws(r);
                if (*r->p != ':')
                    return pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected ':'");
                r->p++;
                skip_ws(r);
            }
            if ((st = skip_value(r, depth + 1)) != CAI_OK)
                return st;
            skip_ws(r);
            if (*r->p == close) {
                r->p++;
                return CAI_OK;
            }
            if (*r->p != ',')
                return pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected ',' or '%c'", close);
            r->p++;
            skip_ws(r);
        }
    }
    default:
        for (size_t i = 0; i < 3; i++) {
            size_t len = strlen(literals[i]);
            if (strncmp(r->p, literals[i], len) == 0) {
                r->p += len;
                return CAI_OK;
            }
        }
        return read_number(r, &x);
    }
}

/* After an element of an array read up to its ']': step over the ',' before
 * the next element, or stay on the ']'; anything else is a syntax error. */
static cai_status array_next(pf_reader *r)
{
    skip_ws(r);
    if (*r->p == ',') {
        r->p++;
        skip_ws(r);
    } else if (*r->p != ']') {
        return pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected ',' or ']'");
    }
    return CAI_OK;
}

/* "states" or "actions": the model's names, in order. */
static cai_status check_names(pf_reader *r, const cai_mdp *m, bool states)
{
    const char *what = states ? "state" : "action";
    size_t n = states ? cai_mdp_n_states(m) : cai_mdp_n_actions(m), i = 0;
    const char *open = r->p;
    char b1[64], b2[64];
    if (*r->p != '[')
        return pf_fail_at(r, r->p, CAI_ERR_MODEL, "'%ss' must be an array of names", what);
    r->p++;
    skip_ws(r);
    while (*r->p != ']') {
        const char *at = r->p;
        char *name;
        cai_status st = read_string(r, &name);
        if (st != CAI_OK)
            return st;
        const char *want = i < n ? (states ? cai_mdp_state_name(m, i)
                                           : cai_mdp_action_name(m, i))
                                 : NULL;
        if (want == NULL || strcmp(name, want) != 0) {
            if (want == NULL)
                st = pf_fail_at(r, at, CAI_ERR_MODEL, "the model has only %zu %ss", n, what);
            else
                st = pf_fail_at(r, at, CAI_ERR_MODEL, "%s %zu is '%s' here but '%s' in the "
                             "model", what, i, pf_shown(name, b1, sizeof b1),
                             pf_shown(want, b2, sizeof b2));
            free(name);
            return st;
        }
        free(name);
        i++;
        if ((st = array_next(r)) != CAI_OK)
            return st;
    }
    r->p++;
    if (i < n)
        return pf_fail_at(r, open, CAI_ERR_MODEL, "'%ss' has %zu names, the model %zu", what, i, n);
    return CAI_OK;
}

typedef struct shape {
    size_t depth;          /* 3: [T][S][A], 2: [S][A] */
    size_t dims[3];
    const char *what[3];   /* "time steps", "states", "actions" */
    const cai_mdp *m;
    double *out;
    size_t k;              /* values read */
} shape;

/* One level of the nested policy arrays, straight into sh->out. */
static cai_status read_level(pf_reader *r, shape *sh, size_t level)
{
    const char *open = r->p;
    size_t n = 0, A = sh->dims[sh->depth - 1];
    bool row = level + 1 == sh->depth;
    if (*r->p != '[')
        return pf_fail_at(r, r->p, CAI_ERR_MODEL, "expected an array of %zu %s",
                       sh->dims[level], sh->what[level]);
    r->p++;
    skip_ws(r);
    while (*r->p != ']') {
        if (n == sh->dims[level])
            return pf_fail_at(r, r->p, CAI_ERR_MODEL, "too many %s: the model has %zu",
                           sh->what[level], sh->dims[level]);
        cai_status st;
        if (!row) {
            st = read_level(r, sh, level + 1);
        } else if (*r->p == 'n' && strncmp(r->p, "null", 4) == 0) {
            st = pf_fail_at(r, r->p, CAI_ERR_MODEL, "expected a probability, found null");
        } else {
            const char *at = r->p;
            double x = 0.0;
            st = read_number(r, &x);
            if (st == CAI_OK && !(x >= 0.0 && x <= 1.0 + PF_ROW_TOL))
                st = pf_fail_at(r, at, CAI_ERR_MODEL, "probability %.10g is not in [0, 1]", x);
            sh->out[sh->k++] = x;
        }
        if (st != CAI_OK)
            return st;
        n++;
        if ((st = array_next(r)) != CAI_OK)
            return st;
    }
    r->p++;
    if (n < sh->dims[level])
        return pf_fail_at(r, open, CAI_ERR_MODEL, "expected %zu %s, found %zu",
                       sh->dims[level], sh->what[level], n);
    if (row) {
        double sum = 0.0;
        for (size_t a = 0; a < A; a++)
            sum += sh->out[sh->k - A + a];
        if (fabs(sum - 1.0) > PF_ROW_TOL) {
            size_t rowi = sh->k / A - 1, S = cai_mdp_n_states(sh->m);
            char b[64], t[32] = "";
            if (sh->depth == 3)
                snprintf(t, sizeof t, " at t = %zu", rowi / S);
            return pf_fail_at(r, open, CAI_ERR_MODEL, "the probabilities of state '%s'%s "
                           "sum to %.10g, not 1", pf_shown(cai_mdp_state_name(sh->m, rowi % S),
                                                      b, sizeof b), t, sum);
        }
    }
    return CAI_OK;
}

static cai_status read_policy(pf_reader *r, const cai_mdp *m, double **out, bool *stationary)
{
    size_t S = cai_mdp_n_states(m), A = cai_mdp_n_actions(m), T = cai_mdp_horizon(m);
    shape sh = {.m = m};
    for (const char *q = r->p; *q == '[' || *q == ' ' || *q == '\t' || *q == '\n' ||
                               *q == '\r'; q++)
        sh.depth += *q == '[';
    if (sh.depth < 2 || sh.depth > 3)
        return pf_fail_at(r, r->p, CAI_ERR_MODEL, "'policy' must be an array [T][S][A] or "
                       "[S][A] of probabilities");
    if (sh.depth == 3 && T == 0)
        return pf_fail_at(r, r->p, CAI_ERR_MODEL, "a discounted model takes a stationary "
                       "policy [S][A], not [T][S][A]");
    size_t i = 0, n = S * A;
    if (sh.depth == 3) {
        sh.dims[i] = T;
        sh.what[i++] = "time steps (the model's horizon)";
    }
    sh.dims[i] = S;
    sh.what[i++] = "states";
    sh.dims[i] = A;
    sh.what[i] = "actions";
    if ((sh.depth == 3 && !cai_size_mul(n, T, &n)) ||
        !cai_size_mul(n ? n : 1, sizeof(double), &n) || (sh.out = malloc(n)) == NULL)
        return cai_error_set(r->err, CAI_ERR_NOMEM, r->path, 0, 0, "out of memory");
    cai_status st = read_level(r, &sh, 0);
    if (st != CAI_OK) {
        free(sh.out);
        return st;
    }
    *out = sh.out;
    *stationary = sh.depth == 2;
    return CAI_OK;
}

cai_status pf_read_json(pf_reader *r, const cai_mdp *m, double **out, bool *stationary)
{
    const char *open = r->p;
    double *policy = NULL;
    cai_status st = CAI_OK;
    r->p++;
    skip_ws(r);
    while (st == CAI_OK && *r->p != '}') {
        char *key = NULL;
        if ((st = read_string(r, &key)) != CAI_OK)
            break;
        skip_ws(r);
        if (*r->p != ':') {
            free(key);
            st = pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected ':'");
            break;
        }
        r->p++;
        skip_ws(r);
        if (strcmp(key, "policy") == 0 && policy != NULL)
            st = pf_fail_at(r, r->p, CAI_ERR_MODEL, "'policy' given twice");
        else if (strcmp(key, "policy") == 0)
            st = read_policy(r, m, &policy, stationary);
        else if (strcmp(key, "states") == 0 || strcmp(key, "actions") == 0)
            st = check_names(r, m, key[0] == 's');
        else
            st = skip_value(r, 1);
        free(key);
        if (st != CAI_OK)
            break;
        skip_ws(r);
        if (*r->p == ',') {
            r->p++;
            skip_ws(r);
            if (*r->p == '}')
                st = pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected a key after ','");
        } else if (*r->p != '}') {
            st = pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "expected ',' or '}', found %s",
                         describe(r));
        }
    }
    if (st == CAI_OK) {
        r->p++;
        skip_ws(r);
        if (r->p < r->end)
            st = pf_fail_at(r, r->p, CAI_ERR_SYNTAX, "unexpected text after the JSON object");
        else if (policy == NULL)
            st = pf_fail_at(r, open, CAI_ERR_MODEL, "no 'policy' member (expected the "
                         "output of 'cai solve --json')");
    }
    if (st != CAI_OK) {
        free(policy);
        return st;
    }
    *out = policy;
    return CAI_OK;
}

