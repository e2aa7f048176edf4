/* cai/error.h — status codes and the error record every fallible call fills.
 *
 * Every function that can fail returns a cai_status (CAI_OK == 0) and takes
 * a cai_error * as its last argument, which may be NULL. The record lives in
 * fixed arrays, so filling it never allocates. The library never prints,
 * exits or aborts. */
#ifndef CAI_ERROR_H
#define CAI_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cai_status {
    CAI_OK = 0,          /* success */
    CAI_ERR_NOMEM,       /* an allocation failed */
    CAI_ERR_INVALID,     /* an argument is invalid (NULL, wrong kind, bad index) */
    CAI_ERR_RANGE,       /* a size or index is out of range (zero cardinality, ...) */
    CAI_ERR_OVERFLOW,    /* a size product does not fit in size_t or passes a limit */
    CAI_ERR_NUMERIC,     /* NaN, negative probability, rows not summing to one */
    CAI_ERR_CYCLE,       /* the graph has a cycle and the algorithm needs a forest */
    CAI_ERR_STRUCTURE,   /* another unsupported structure (conflicting expectation factors) */
    CAI_ERR_STATE,       /* a query before execute, or for the wrong algorithm */
    CAI_ERR_IO,          /* a file cannot be opened, read or written */
    CAI_ERR_SYNTAX,      /* a model file is not well-formed YAML */
    CAI_ERR_MODEL        /* a model file is well-formed but wrong */
} cai_status;

#define CAI_ERROR_MESSAGE_MAX 512
#define CAI_ERROR_FILE_MAX 512

typedef struct cai_error {
    cai_status code;
    char message[CAI_ERROR_MESSAGE_MAX]; /* one line, no trailing newline */
    char file[CAI_ERROR_FILE_MAX];       /* model file, "" when not about a file */
    size_t line;                         /* 1-based, 0 = unknown */
    size_t column;                       /* 1-based, 0 = unknown */
} cai_error;

/* Fill *err (when err is not NULL) and return code. file may be NULL.
 * The message is printf-formatted and truncated to fit. */
cai_status cai_error_set(cai_error *err, cai_status code, const char *file,
                         size_t line, size_t column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Reset *err to CAI_OK with empty strings. err may be NULL. */
void cai_error_clear(cai_error *err);

/* Fixed text for a status code ("out of memory", ...). Never NULL. */
const char *cai_status_string(cai_status code);

/* Write "FILE:LINE:COL: error: MESSAGE" (the parts that are known) into buf,
 * always NUL-terminated. Returns buf. */
char *cai_error_format(const cai_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
