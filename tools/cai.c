/* tools/cai.c — the cai command line, a thin layer over the public API.
 *
 *   cai solve MODEL [--algorithm exact|map] [--json] [-o FILE]
 *   cai check MODEL...
 *   cai --help | --version
 *
 * Errors are one line on stderr, "FILE:LINE:COL: error: message" (the known
 * parts) or "cai: error: ..." for usage; exit status 0 ok, 1 failure (writing
 * output), 2 bad input: usage, an unreadable or invalid model. */
#include "cai/cai.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: cai <command> [options]\n"
    "\n"
    "commands:\n"
    "  solve MODEL [--algorithm exact|map] [--json] [-o FILE]\n"
    "        exact inference on a tree-shaped factor graph: log Z and every\n"
    "        variable's marginal (sum-product), the MAP assignment and its\n"
    "        log score (max-product). Both are printed; --algorithm says\n"
    "        which one was asked for (default exact).\n"
    "  check MODEL...\n"
    "        load and plan each MODEL and report \"MODEL: ok (...)\" or the\n"
    "        first problem.\n"
    "\n"
    "options:\n"
    "  --algorithm A      exact (sum-product) or map (max-product)\n"
    "  --json             print one JSON object: kind, name, algorithm, log_z,\n"
    "                     marginals, map, map_log_score, seconds\n"
    "  -o, --output FILE  write to FILE (through a temporary file and rename,\n"
    "                     so FILE is never half written)\n"
    "  -h, --help         show this help\n"
    "  --version          print the version\n"
    "\n"
    "Errors are printed as FILE:LINE:COL: error: MESSAGE.\n"
    "Exit status: 0 success, 1 failure writing output, 2 bad input (usage,\n"
    "an unreadable or invalid model).\n";

static int usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cai: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'cai --help')\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static int exit_code(cai_status st)
{
    switch (st) {
    case CAI_OK:
        return EXIT_OK;
    case CAI_ERR_SYNTAX:
    case CAI_ERR_MODEL:
    case CAI_ERR_CYCLE:
    case CAI_ERR_STRUCTURE:
        return EXIT_USAGE;
    default:
        return EXIT_FAIL;
    }
}

/* Print e as one line; errors that are not about a position in a file
 * (a cycle found by the planner) are attributed to the model file. */
static int report(const cai_error *e, const char *path)
{
    cai_error copy = *e;
    if (copy.file[0] == '\0' && path != NULL)
        snprintf(copy.file, sizeof copy.file, "%s", path);
    char line[CAI_ERROR_MESSAGE_MAX + CAI_ERROR_FILE_MAX + 64];
    fprintf(stderr, "%s\n", cai_error_format(&copy, line, sizeof line));
    return exit_code(e->code);
}

/* A model that cannot be read is bad input like a malformed one: status 2. */
static int report_input(const cai_error *e, const char *path)
{
    int rc = report(e, path);
    return e->code == CAI_ERR_IO ? EXIT_USAGE : rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- solving ----------------------------------------------------------- */

typedef struct results {
    double log_z;
    size_t *offset; /* n + 1 offsets into marg */
    double *marg;   /* every variable's marginal, concatenated */
    size_t *map;
    double map_score;
    double seconds;
} results;

static void results_free(results *r)
{
    free(r->offset);
    free(r->marg);
    free(r->map);
}

/* Plan and execute algorithm alg on g; the caller frees plan and ws. */
static cai_status run(const cai_graph *g, cai_algorithm alg, cai_plan **plan,
                      cai_workspace **ws, cai_error *err)
{
    cai_plan_options opt = cai_plan_options_default();
    opt.algorithm = alg;
    cai_status st = cai_plan_create(g, &opt, plan, err);
    if (st == CAI_OK)
        st = cai_workspace_create(*plan, ws, err);
    if (st == CAI_OK)
        st = cai_plan_execute(*plan, *ws, err);
    return st;
}

static cai_status solve(const cai_graph *g, results *r, cai_error *err)
{
    size_t n = cai_graph_n_variables(g), total = 0, bytes;
    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    cai_status st = CAI_OK;
    double t0 = now();

    if (!cai_size_add(n, 1, &bytes) || !cai_size_mul(bytes, sizeof(size_t), &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many variables");
    r->offset = malloc(bytes);
    r->map = malloc(bytes);
    if (r->offset == NULL || r->map == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t v = 0; v < n; v++) {
        r->offset[v] = total;
        if (!cai_size_add(total, cai_graph_variable_card(g, v), &total))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                                 "too many states");
    }
    r->offset[n] = total;
    if (!cai_size_mul(total ? total : 1, sizeof(double), &bytes))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many states");
    r->marg = malloc(bytes);
    if (r->marg == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");

    if ((st = run(g, CAI_SUM_PRODUCT, &plan, &ws, err)) != CAI_OK)
        goto fail;
    r->log_z = cai_query_log_z(ws);
    for (size_t v = 0; v < n && st == CAI_OK; v++)
        st = cai_query_marginal(ws, v, r->marg + r->offset[v], err);
    if (st != CAI_OK)
        goto fail;
    cai_workspace_free(ws);
    cai_plan_free(plan);
    ws = NULL;
    plan = NULL;

    if ((st = run(g, CAI_MAX_PRODUCT, &plan, &ws, err)) != CAI_OK)
        goto fail;
    if ((st = cai_query_map(ws, r->map, &r->map_score, err)) != CAI_OK)
        goto fail;
    r->seconds = now() - t0;
fail:
    cai_workspace_free(ws);
    cai_plan_free(plan);
    return st;
}

/* ---- output ------------------------------------------------------------ */

static void write_json(FILE *out, const cai_model *m, const char *algorithm,
                       const results *r, cai_error *err, cai_status *st)
{
    const cai_graph *g = cai_model_graph(m);
    size_t n = cai_graph_n_variables(g);
    cai_json *j = NULL;
    if ((*st = cai_json_create(out, 2, &j, err)) != CAI_OK)
        return;
    cai_json_begin_object(j);
    cai_json_key(j, "kind");
    cai_json_string(j, cai_model_kind_name(cai_model_get_kind(m)));
    cai_json_key(j, "name");
    cai_json_string(j, cai_model_name(m));
    cai_json_key(j, "algorithm");
    cai_json_string(j, algorithm);
    cai_json_key(j, "log_z");
    cai_json_number(j, r->log_z);
    cai_json_key(j, "marginals");
    cai_json_begin_object(j);
    for (size_t v = 0; v < n; v++) {
        cai_json_key(j, cai_graph_variable_name(g, v));
        cai_json_begin_array(j);
        for (size_t i = r->offset[v]; i < r->offset[v + 1]; i++)
            cai_json_number(j, r->marg[i]);
        cai_json_end_array(j);
    }
    cai_json_end_object(j);
    cai_json_key(j, "map");
    cai_json_begin_object(j);
    for (size_t v = 0; v < n; v++) {
        cai_json_key(j, cai_graph_variable_name(g, v));
        cai_json_size(j, r->map[v]);
    }
    cai_json_end_object(j);
    cai_json_key(j, "map_log_score");
    cai_json_number(j, r->map_score);
    cai_json_key(j, "seconds");
    cai_json_number(j, r->seconds);
    cai_json_end_object(j);
    *st = cai_json_finish(j, err);
    cai_json_free(j);
}

/* State s of v as text: its name, or its index. */
static const char *state_label(const cai_graph *g, size_t v, size_t s,
                               char *buf, size_t size)
{
    const char *name = cai_graph_state_name(g, v, s);
    if (name != NULL)
        return name;
    snprintf(buf, size, "%zu", s);
    return buf;
}

static int text_width(const char *s)
{
    return (int)strlen(s);
}

static void write_marginals(FILE *out, const cai_graph *g, const results *r)
{
    size_t n = cai_graph_n_variables(g);
    int wv = text_width("variable"), ws = text_width("state");
    char buf[32];
    for (size_t v = 0; v < n; v++) {
        int w = text_width(cai_graph_variable_name(g, v));
        wv = w > wv ? w : wv;
        for (size_t s = 0; s < cai_graph_variable_card(g, v); s++) {
            w = text_width(state_label(g, v, s, buf, sizeof buf));
            ws = w > ws ? w : ws;
        }
    }
    fprintf(out, "marginals:\n");
    if (isinf(r->log_z) && r->log_z < 0)
        fprintf(out, "  undefined: every assignment has zero weight\n");
    fprintf(out, "  %-*s  %-*s  %s\n", wv, "variable", ws, "state",
            "probability");
    for (size_t v = 0; v < n; v++) {
        size_t ev = cai_graph_evidence(g, v);
        for (size_t s = 0; s < cai_graph_variable_card(g, v); s++) {
            fprintf(out, "  %-*s  %-*s  %.6g%s\n", wv,
                    s == 0 ? cai_graph_variable_name(g, v) : "", ws,
                    state_label(g, v, s, buf, sizeof buf),
                    r->marg[r->offset[v] + s],
                    s == ev ? "   (observed)" : "");
        }
    }
}

static void write_map(FILE *out, const cai_graph *g, const results *r)
{
    size_t n = cai_graph_n_variables(g);
    int wv = 0;
    char buf[32];
    for (size_t v = 0; v < n; v++) {
        int w = text_width(cai_graph_variable_name(g, v));
        wv = w > wv ? w : wv;
    }
    fprintf(out, "MAP assignment (log score %.10g):\n", r->map_score);
    if (isinf(r->map_score) && r->map_score < 0)
        fprintf(out, "  (every assignment has zero weight)\n");
    for (size_t v = 0; v < n; v++)
        fprintf(out, "  %-*s = %s\n", wv, cai_graph_variable_name(g, v),
                state_label(g, v, r->map[v], buf, sizeof buf));
}

static void write_text(FILE *out, const cai_model *m, const char *algorithm,
                       const results *r)
{
    const cai_graph *g = cai_model_graph(m);
    const char *name = cai_model_name(m);
    fprintf(out, "model: %s (%s, %zu variables, %zu factors)\n",
            name[0] ? name : "(unnamed)",
            cai_model_kind_name(cai_model_get_kind(m)),
            cai_graph_n_variables(g), cai_graph_n_factors(g));
    fprintf(out, "algorithm: %s\n\n", algorithm);
    if (strcmp(algorithm, "map") == 0) {
        write_map(out, g, r);
        fprintf(out, "\nlog Z = %.10g\n\n", r->log_z);
        write_marginals(out, g, r);
    } else {
        fprintf(out, "log Z = %.10g\n\n", r->log_z);
        write_marginals(out, g, r);
        fputc('\n', out);
        write_map(out, g, r);
    }
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

/* Close the temporary file and move it onto path, or remove it. */
static cai_status commit_temp(FILE *f, char *tmp, const char *path, bool ok,
                              cai_error *err)
{
    cai_status st = CAI_OK;
    bool write_failed = ferror(f) != 0;
    if (fclose(f) != 0 || write_failed) {
        if (ok)
            st = cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot write: %s",
                               strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        st = cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot write: %s",
                           strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    return st;
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_solve(int argc, char **argv)
{
    const char *model_path = NULL, *output = NULL, *algorithm = "exact";
    bool json = false, options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (model_path != NULL)
                return usage_error("unexpected argument '%s'", a);
            model_path = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--algorithm") == 0 || strcmp(a, "-a") == 0) {
            if (i + 1 == argc)
                return usage_error("option '%s' needs a value", a);
            algorithm = argv[++i];
        } else if (strncmp(a, "--algorithm=", 12) == 0) {
            algorithm = a + 12;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (i + 1 == argc)
                return usage_error("option '%s' needs a value", a);
            output = argv[++i];
        } else if (strncmp(a, "--output=", 9) == 0) {
            output = a + 9;
        } else if (strncmp(a, "-o", 2) == 0) {
            output = a + 2;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (strcmp(algorithm, "exact") != 0 && strcmp(algorithm, "map") != 0)
        return usage_error("unknown algorithm '%s' (expected exact or map)",
                           algorithm);
    if (model_path == NULL)
        return usage_error("%s", "solve needs a MODEL file");
    if (output != NULL && output[0] == '\0')
        return usage_error("%s", "empty output file name");

    cai_error err;
    cai_error_clear(&err);
    cai_model *m = NULL;
    results r;
    memset(&r, 0, sizeof r);
    int rc = EXIT_OK;
    cai_status st = cai_model_load(model_path, &m, &err);
    if (st == CAI_OK)
        st = solve(cai_model_graph(m), &r, &err);
    if (st != CAI_OK) {
        rc = report_input(&err, model_path);
        goto done;
    }

    FILE *out = stdout;
    char *tmp = NULL;
    if (output != NULL && (out = open_temp(output, &tmp, &err)) == NULL) {
        rc = report(&err, NULL);
        goto done;
    }
    if (json) {
        write_json(out, m, algorithm, &r, &err, &st);
    } else {
        write_text(out, m, algorithm, &r);
        if (fflush(out) != 0 || ferror(out))
            st = cai_error_set(&err, CAI_ERR_IO, output, 0, 0,
                               "cannot write: %s", strerror(errno));
    }
    if (st != CAI_OK && output == NULL)
        snprintf(err.file, sizeof err.file, "%s", "<stdout>");
    if (output != NULL) {
        if (st != CAI_OK)
            snprintf(err.file, sizeof err.file, "%s", output);
        cai_status cst = commit_temp(out, tmp, output, st == CAI_OK, &err);
        if (st == CAI_OK)
            st = cst;
    }
    if (st != CAI_OK)
        rc = report(&err, NULL);
done:
    results_free(&r);
    cai_model_free(m);
    return rc;
}

static int check_one(const char *path)
{
    cai_error err;
    cai_error_clear(&err);
    cai_model *m = NULL;
    cai_plan *plan = NULL;
    cai_status st = cai_model_load(path, &m, &err);
    if (st == CAI_OK)
        st = cai_plan_create(cai_model_graph(m), NULL, &plan, &err);
    int rc;
    if (st == CAI_OK) {
        const cai_graph *g = cai_model_graph(m);
        printf("%s: ok (%s, %zu variables, %zu factors)\n", path,
               cai_model_kind_name(cai_model_get_kind(m)),
               cai_graph_n_variables(g), cai_graph_n_factors(g));
        rc = EXIT_OK;
    } else {
        rc = report_input(&err, path);
    }
    cai_plan_free(plan);
    cai_model_free(m);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    int n = 0, rc = EXIT_OK;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                options_done = true;
                continue;
            }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                fputs(usage_text, stdout);
                return EXIT_OK;
            }
            return usage_error("unknown option '%s'", a);
        }
    }
    options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        int r = check_one(a);
        rc = r > rc ? r : rc;
        n++;
    }
    if (n == 0)
        return usage_error("%s", "check needs a MODEL file");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cai: error: cannot write output: %s\n",
                strerror(errno));
        return EXIT_FAIL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        rc = EXIT_OK;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("cai %s\n", cai_version());
        rc = EXIT_OK;
    } else if (strcmp(cmd, "solve") == 0) {
        return cmd_solve(argc - 2, argv + 2);
    } else if (strcmp(cmd, "check") == 0) {
        return cmd_check(argc - 2, argv + 2);
    } else if (cmd[0] == '-') {
        return usage_error("unknown option '%s'", cmd);
    } else {
        return usage_error("unknown command '%s'", cmd);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cai: error: cannot write output: %s\n",
                strerror(errno));
        return EXIT_FAIL;
    }
    return rc;
}
