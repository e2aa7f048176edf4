/* lib/io/json.c — the streaming JSON writer. */
#include "cai/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"

typedef struct frame {
    bool object;  /* object (true) or array */
    size_t count; /* members / elements written so far */
} frame;

struct cai_json {
    FILE *out;
    unsigned indent;
    frame *stack;
    size_t depth, cap;
    bool after_key; /* a key was written; its value comes next */
    bool done;      /* the top-level value is complete */
    cai_error error; /* the first failure, sticky */
};

static cai_status fail(cai_json *j, cai_status code, const char *what)
{
    if (j->error.code == CAI_OK)
        cai_error_set(&j->error, code, NULL, 0, 0, "json: %s", what);
    return j->error.code;
}

static cai_status put(cai_json *j, const char *s, size_t n)
{
    if (n > 0 && fwrite(s, 1, n, j->out) != n) {
        char msg[128];
        snprintf(msg, sizeof msg, "write failed: %s", strerror(errno));
        return fail(j, CAI_ERR_IO, msg);
    }
    return CAI_OK;
}

static cai_status puts_(cai_json *j, const char *s)
{
    return put(j, s, strlen(s));
}

static cai_status newline(cai_json *j, size_t level)
{
    if (j->indent == 0)
        return CAI_OK;
    static const char spaces[] = "                                ";
    cai_status st = put(j, "\n", 1);
    size_t n = level * j->indent;
    while (st == CAI_OK && n > 0) {
        size_t w = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        st = put(j, spaces, w);
        n -= w;
    }
    return st;
}

static cai_status put_escaped(cai_json *j, const char *s)
{
    cai_status st = put(j, "\"", 1);
    const char *run = s; /* bytes not needing an escape are written in runs */
    for (const char *p = s; st == CAI_OK && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        const char *esc = NULL;
        char buf[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(buf, sizeof buf, "\\u%04x", (unsigned)c);
                esc = buf;
            }
        }
        if (esc != NULL) {
            st = put(j, run, (size_t)(p - run));
            if (st == CAI_OK)
                st = puts_(j, esc);
            run = p + 1;
        }
    }
    if (st == CAI_OK)
        st = puts_(j, run);
    if (st == CAI_OK)
        st = put(j, "\"", 1);
    return st;
}

/* Everything a value needs before it: the state check and the separator. */
static cai_status begin_value(cai_json *j)
{
    if (j->error.code != CAI_OK)
        return j->error.code;
    if (j->depth == 0) {
        if (j->done)
            return fail(j, CAI_ERR_INVALID, "a second top-level value");
        return CAI_OK;
    }
    frame *top = &j->stack[j->depth - 1];
    if (top->object) {
        if (!j->after_key)
            return fail(j, CAI_ERR_INVALID, "a value in an object without a key");
        j->after_key = false;
        return CAI_OK;
    }
    cai_status st = CAI_OK;
    if (top->count > 0)
        st = puts_(j, j->indent ? ", " : ",");
    top->count++;
    return st;
}

/* A scalar is complete: at depth 0 that ends the document. */
static cai_status end_value(cai_json *j, cai_status st)
{
    if (st == CAI_OK && j->depth == 0)
        j->done = true;
    return st;
}

static cai_status begin(cai_json *j, bool object)
{
    cai_status st = begin_value(j);
    if (st != CAI_OK)
        return st;
    if (j->depth == j->cap) {
        size_t ncap, bytes;
        if (!cai_size_mul(j->cap ? j->cap : 8, 2, &ncap) ||
            !cai_size_mul(ncap, sizeof(frame), &bytes))
            return fail(j, CAI_ERR_OVERFLOW, "nesting too deep");
        frame *ns = realloc(j->stack, bytes);
        if (ns == NULL)
            return fail(j, CAI_ERR_NOMEM, "out of memory");
        j->stack = ns;
        j->cap = ncap;
    }
    j->stack[j->depth].object = object;
    j->stack[j->depth].count = 0;
    j->depth++;
    return put(j, object ? "{" : "[", 1);
}

static cai_status end(cai_json *j, bool object)
{
    if (j->error.code != CAI_OK)
        return j->error.code;
    if (j->depth == 0 || j->stack[j->depth - 1].object != object)
        return fail(j, CAI_ERR_INVALID,
                    object ? "end_object without an open object"
                           : "end_array without an open array");
    if (j->after_key)
        return fail(j, CAI_ERR_INVALID, "a key without a value");
    size_t count = j->stack[j->depth - 1].count;
    j->depth--;
    cai_status st = CAI_OK;
    if (object && count > 0)
        st = newline(j, j->depth);
    if (st == CAI_OK)
        st = put(j, object ? "}" : "]", 1);
    return end_value(j, st);
}

cai_status cai_json_create(FILE *out, unsigned indent, cai_json **out_json,
                           cai_error *err)
{
    if (out == NULL || out_json == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_json_create: NULL argument");
    cai_json *j = calloc(1, sizeof *j);
    if (j == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    j->out = out;
    j->indent = indent;
    cai_error_clear(&j->error);
    *out_json = j;
    return CAI_OK;
}

void cai_json_free(cai_json *j)
{
    if (j == NULL)
        return;
    free(j->stack);
    free(j);
}

cai_status cai_json_begin_object(cai_json *j) { return begin(j, true); }
cai_status cai_json_end_object(cai_json *j) { return end(j, true); }
cai_status cai_json_begin_array(cai_json *j) { return begin(j, false); }
cai_status cai_json_end_array(cai_json *j) { return end(j, false); }

cai_status cai_json_key(cai_json *j, const char *key)
{
    if (j->error.code != CAI_OK)
        return j->error.code;
    if (key == NULL)
        return fail(j, CAI_ERR_INVALID, "NULL key");
    if (j->depth == 0 || !j->stack[j->depth - 1].object)
        return fail(j, CAI_ERR_INVALID, "a key outside an object");
    if (j->after_key)
        return fail(j, CAI_ERR_INVALID, "two keys in a row");
    frame *top = &j->stack[j->depth - 1];
    cai_status st = CAI_OK;
    if (top->count > 0)
        st = put(j, ",", 1);
    if (st == CAI_OK)
        st = newline(j, j->depth);
    if (st == CAI_OK)
        st = put_escaped(j, key);
    if (st == CAI_OK)
        st = puts_(j, j->indent ? ": " : ":");
    top->count++;
    j->after_key = true;
    return st;
}

cai_status cai_json_string(cai_json *j, const char *s)
{
    if (s == NULL)
        return cai_json_null(j);
    cai_status st = begin_value(j);
    if (st == CAI_OK)
        st = put_escaped(j, s);
    return end_value(j, st);
}

cai_status cai_json_number(cai_json *j, double x)
{
    if (!isfinite(x))
        return cai_json_null(j);
    cai_status st = begin_value(j);
    if (st != CAI_OK)
        return st;
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", x);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == ',') /* a locale with a decimal comma */
            *p = '.';
    return end_value(j, puts_(j, buf));
}

cai_status cai_json_size(cai_json *j, size_t n)
{
    cai_status st = begin_value(j);
    if (st != CAI_OK)
        return st;
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    return end_value(j, puts_(j, buf));
}

cai_status cai_json_bool(cai_json *j, bool b)
{
    cai_status st = begin_value(j);
    if (st == CAI_OK)
        st = puts_(j, b ? "true" : "false");
    return end_value(j, st);
}

cai_status cai_json_null(cai_json *j)
{
    cai_status st = begin_value(j);
    if (st == CAI_OK)
        st = puts_(j, "null");
    return end_value(j, st);
}

cai_status cai_json_finish(cai_json *j, cai_error *err)
{
    if (j == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_json_finish: NULL writer");
    if (j->error.code == CAI_OK && (j->depth > 0 || !j->done))
        fail(j, CAI_ERR_INVALID,
             j->depth > 0 ? "unclosed object or array" : "no value written");
    if (j->error.code == CAI_OK)
        put(j, "\n", 1);
    if (j->error.code == CAI_OK && (fflush(j->out) != 0 || ferror(j->out))) {
        char msg[128];
        snprintf(msg, sizeof msg, "write failed: %s", strerror(errno));
        fail(j, CAI_ERR_IO, msg);
    }
    if (j->error.code != CAI_OK)
        return cai_error_set(err, j->error.code, NULL, 0, 0, "%s",
                             j->error.message);
    return CAI_OK;
}
