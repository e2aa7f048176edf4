/* cai/json.h — a small streaming JSON writer.
 *
 * Values are written to a FILE * as they are given; the writer keeps only
 * the nesting stack, puts the commas and (optionally) the indentation in
 * itself, and checks that calls form one well-formed JSON value.
 *
 *     cai_json *j;
 *     cai_json_create(stdout, 2, &j, err);
 *     cai_json_begin_object(j);
 *     cai_json_key(j, "log_z");  cai_json_number(j, -0.6);
 *     cai_json_key(j, "p");      cai_json_begin_array(j);
 *     cai_json_number(j, 0.25);  cai_json_number(j, 0.75);
 *     cai_json_end_array(j);
 *     cai_json_end_object(j);
 *     status = cai_json_finish(j, err);   (then cai_json_free(j))
 *
 * Errors are sticky, like ferror(): the first failure (misuse such as a
 * value without a key inside an object — CAI_ERR_INVALID —, or a failed
 * write — CAI_ERR_IO) is recorded, every later call does nothing and returns
 * the same status, and cai_json_finish() reports it with its message. So the
 * individual calls may be left unchecked. */
#ifndef CAI_JSON_H
#define CAI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cai/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_json cai_json;

/* A writer to out, which it borrows (out must stay open until
 * cai_json_finish; the writer never closes it). indent = 0 writes compact
 * JSON; indent > 0 puts each object member on its own line, indented by
 * indent spaces per level, and writes arrays on one line ("[1, 2, 3]").
 * Free with cai_json_free(). */
cai_status cai_json_create(FILE *out, unsigned indent, cai_json **out_json,
                           cai_error *err);

/* Accepts NULL. Does not close or flush the stream. */
void cai_json_free(cai_json *j);

/* Open / close an object or an array. */
cai_status cai_json_begin_object(cai_json *j);
cai_status cai_json_end_object(cai_json *j);
cai_status cai_json_begin_array(cai_json *j);
cai_status cai_json_end_array(cai_json *j);

/* The key of the next member; only directly inside an object, and every
 * value inside an object needs one. key is escaped like a string. */
cai_status cai_json_key(cai_json *j, const char *key);

/* A string (NUL-terminated, UTF-8 passed through; '"', '\\' and control
 * characters are escaped). NULL writes null. */
cai_status cai_json_string(cai_json *j, const char *s);

/* A number printed with %.17g (round-trips exactly); NaN and infinities,
 * which JSON cannot represent, are written as null. */
cai_status cai_json_number(cai_json *j, double x);

/* An unsigned integer, exactly. */
cai_status cai_json_size(cai_json *j, size_t n);

cai_status cai_json_bool(cai_json *j, bool b);
cai_status cai_json_null(cai_json *j);

/* Check that exactly one complete value was written, end it with a newline
 * and flush the stream. Returns CAI_OK or the first error of the writer
 * (its message in err). */
cai_status cai_json_finish(cai_json *j, cai_error *err);

#ifdef __cplusplus
}
#endif
#endif
