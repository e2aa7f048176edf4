/* tools/cli_output.c — what every command of the cai command line shares
 * to report and write (cli.h): one-line errors, the clock, output files
 * written whole or not at all (a temporary file renamed into place), and
 * the JSON pieces common to every solution. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cai: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'cai --help')\n", stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_report(const cai_error *e, const char *path, int rc)
{
    cai_error copy = *e;
    if (copy.file[0] == '\0' && path != NULL)
        snprintf(copy.file, sizeof copy.file, "%s", path);
    char line[CAI_ERROR_MESSAGE_MAX + CAI_ERROR_FILE_MAX + 64];
    fprintf(stderr, "%s\n", cai_error_format(&copy, line, sizeof line));
    return rc;
}

int cli_input_status(cai_status st)
{
    if (st == CAI_OK)
        return CLI_OK;
    return st == CAI_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- atomic output files ----------------------------------------------- */

/* A temporary file next to path (same directory, so rename is atomic). */
static FILE *open_temp(const char *path, char **out_tmp, cai_error *err)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dir_len;
    size_t size = strlen(path) + 16;
    char *tmp = malloc(size);
    if (tmp == NULL) {
        cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0, "out of memory");
        return NULL;
    }
    snprintf(tmp, size, "%.*s.%s.XXXXXX", (int)dir_len, path, base);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cai_error_set(err, CAI_ERR_IO, path, 0, 0,
                      "cannot create a temporary file: %s", strerror(errno));
        free(tmp);
        return NULL;
    }
    mode_t mask = umask(0); /* give the result the usual 0666 & ~umask */
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot open: %s",
                      strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    *out_tmp = tmp;
    return f;
}

int cli_output_open(cli_output *o, const char *path)
{
    cai_error err;
    cai_error_clear(&err);
    o->path = path;
    o->tmp = NULL;
    o->f = stdout;
    if (path == NULL)
        return CLI_OK;
    if ((o->f = open_temp(path, &o->tmp, &err)) == NULL)
        return cli_report(&err, NULL, CLI_FAIL);
    return CLI_OK;
}

int cli_output_open_after(cli_output *o, const char *path, cai_status st,
                          const cai_error *err, const char *input)
{
    if (st != CAI_OK)
        return cli_report(err, input, cli_input_status(st));
    return cli_output_open(o, path);
}

void cli_json_begin_solution(cai_json *j, const cai_model *m, const char *algorithm)
{
    cai_json_begin_object(j);
    cai_json_key(j, "kind");
    cai_json_string(j, cai_model_kind_name(cai_model_get_kind(m)));
    cai_json_key(j, "name");
    cai_json_string(j, cai_model_name(m));
    cai_json_key(j, "algorithm");
    cai_json_string(j, algorithm);
}

void cli_json_rows(cai_json *j, const double *buf, size_t rows, size_t cols)
{
    cai_json_begin_array(j);
    for (size_t r = 0; r < rows; r++) {
        if (cols == 0) {
            cai_json_number(j, buf[r] + 0.0);
            continue;
        }
        cai_json_begin_array(j);
        for (size_t c = 0; c < cols; c++)
            cai_json_number(j, buf[r * cols + c] + 0.0);
        cai_json_end_array(j);
    }
    cai_json_end_array(j);
}

void cli_json_seconds(cai_json *j, double load, double solve)
{
    cai_json_key(j, "seconds_load");
    cai_json_number(j, load);
    cai_json_key(j, "seconds_solve");
    cai_json_number(j, solve);
    cai_json_key(j, "seconds");
    cai_json_number(j, load + solve);
}

int cli_output_close(cli_output *o, cai_status st, cai_error *err)
{
    const char *name = o->path ? o->path : "<stdout>";
    if (st == CAI_OK && (fflush(o->f) != 0 || ferror(o->f)))
        st = cai_error_set(err, CAI_ERR_IO, name, 0, 0, "cannot write: %s",
                           strerror(errno));
    if (st != CAI_OK)
        snprintf(err->file, sizeof err->file, "%s", name);
    if (o->path != NULL) {
        bool ok = st == CAI_OK;
        if (fclose(o->f) != 0 && ok) {
            st = cai_error_set(err, CAI_ERR_IO, o->path, 0, 0, "cannot write: %s",
                               strerror(errno));
            ok = false;
        }
        if (ok && rename(o->tmp, o->path) != 0) {
            st = cai_error_set(err, CAI_ERR_IO, o->path, 0, 0, "cannot write: %s",
                               strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        o->f = NULL;
    }
    return st == CAI_OK ? CLI_OK : cli_report(err, NULL, CLI_FAIL);
}
