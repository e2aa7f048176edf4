/* lib/engine/error.c — the error record and the version string. */
#include "cai/error.h"
#include "cai/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

cai_status cai_error_set(cai_error *err, cai_status code, const char *file,
                         size_t line, size_t column, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* keep it one line whatever the caller interpolated */
    for (char *c = err->message; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return code;
}

void cai_error_clear(cai_error *err)
{
    if (err == NULL)
        return;
    err->code = CAI_OK;
    err->message[0] = '\0';
    err->file[0] = '\0';
    err->line = 0;
    err->column = 0;
}

const char *cai_status_string(cai_status code)
{
    switch (code) {
    case CAI_OK: return "success";
    case CAI_ERR_NOMEM: return "out of memory";
    case CAI_ERR_INVALID: return "invalid argument";
    case CAI_ERR_RANGE: return "value out of range";
    case CAI_ERR_OVERFLOW: return "size overflow";
    case CAI_ERR_NUMERIC: return "invalid number";
    case CAI_ERR_CYCLE: return "graph has a cycle";
    case CAI_ERR_STRUCTURE: return "unsupported graph structure";
    case CAI_ERR_STATE: return "invalid state for this call";
    case CAI_ERR_IO: return "input/output error";
    case CAI_ERR_SYNTAX: return "syntax error";
    case CAI_ERR_MODEL: return "invalid model";
    }
    return "unknown status";
}

char *cai_error_format(const cai_error *err, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return buf;
    if (err == NULL) {
        buf[0] = '\0';
        return buf;
    }
    const char *msg = err->message[0] ? err->message : cai_status_string(err->code);
    if (err->file[0] && err->line && err->column)
        snprintf(buf, size, "%s:%zu:%zu: error: %s", err->file, err->line, err->column, msg);
    else if (err->file[0] && err->line)
        snprintf(buf, size, "%s:%zu: error: %s", err->file, err->line, msg);
    else if (err->file[0])
        snprintf(buf, size, "%s: error: %s", err->file, msg);
    else
        snprintf(buf, size, "error: %s", msg);
    return buf;
}

const char *cai_version(void)
{
    return CAI_VERSION;
}
