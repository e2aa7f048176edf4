/* tools/cmd_export.c — `cai export`: a model's factor graph as a UAI or
 * libDAI .fg file, so other inference tools can read it.
 *
 * A factor_graph model (YAML, UAI, .fg, BIF) is written as it is; an mdp
 * or gridworld model as the graph its exact finite-horizon solve builds
 * (cai_mdp_export_graph: s0 a0 s1 ... sT, log Z = the log-evidence). The
 * writer's refusals (tables above 10^8 entries, weights a double cannot
 * hold) are checked before the output is opened, so a refused export
 * leaves no file behind and exits 2 like any bad input. */
#include "cmd_export.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct export_options {
    const char *model;
    const char *output;       /* NULL: stdout */
    cai_model_format format;  /* CAI_FORMAT_UAI or CAI_FORMAT_FG */
    bool has_format;
    double temperature;       /* NAN: the model's */
    size_t horizon;           /* 0: the model's */
} export_options;

/* The option a's value: "--name=value", or the next argument. */
static const char *option_value(int argc, char **argv, int *i, const char *name,
                                size_t name_len)
{
    const char *a = argv[*i];
    if (a[name_len] == '=')
        return a + name_len + 1;
    if (*i + 1 == argc) {
        cli_usage_error("option '%s' needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

/* Whether a is option name, alone or as "name=value". */
static bool is_option(const char *a, const char *name, size_t *out_len)
{
    size_t n = strlen(name);
    *out_len = n;
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static int parse(int argc, char **argv, export_options *o, bool *help)
{
    bool done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        size_t n;
        if (done || a[0] != '-' || a[1] == '\0') {
            if (o->model != NULL)
                return cli_usage_error("unexpected argument '%s'", a);
            o->model = a;
        } else if (strcmp(a, "--") == 0) {
            done = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            return CLI_OK;
        } else if (is_option(a, "--format", &n)) {
            if ((v = option_value(argc, argv, &i, "--format", n)) == NULL)
                return CLI_USAGE;
            if (strcmp(v, "uai") != 0 && strcmp(v, "fg") != 0)
                return cli_usage_error("--format: expected uai or fg, got '%s'", v);
            o->format = strcmp(v, "uai") == 0 ? CAI_FORMAT_UAI : CAI_FORMAT_FG;
            o->has_format = true;
        } else if (is_option(a, "--out", &n) || is_option(a, "--output", &n)) {
            if ((v = option_value(argc, argv, &i, a, n)) == NULL)
                return CLI_USAGE;
            if (v[0] == '\0')
                return cli_usage_error("%s", "empty output file name");
            o->output = v;
        } else if (strncmp(a, "-o", 2) == 0) {
            v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (v == NULL)
                return cli_usage_error("option '%s' needs a value", "-o");
            if (v[0] == '\0')
                return cli_usage_error("%s", "empty output file name");
            o->output = v;
        } else if (is_option(a, "--temperature", &n)) {
            if ((v = option_value(argc, argv, &i, "--temperature", n)) == NULL)
                return CLI_USAGE;
            char *end;
            errno = 0;
            double t = strtod(v, &end);
            if (end == v || *end != '\0' || errno == ERANGE || !isfinite(t) || !(t > 0))
                return cli_usage_error("--temperature: expected a finite number > 0, got '%s' "
                                       "(export needs alpha > 0)", v);
            o->temperature = t;
        } else if (is_option(a, "--horizon", &n)) {
            if ((v = option_value(argc, argv, &i, "--horizon", n)) == NULL)
                return CLI_USAGE;
            char *end;
            errno = 0;
            unsigned long long h = strtoull(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || h == 0 ||
                h > 100000000ull)
                return cli_usage_error("--horizon: expected an integer in 1..100000000, "
                                       "got '%s'", v);
            o->horizon = (size_t)h;
        } else {
            return cli_usage_error("unknown option '%s' for export", a);
        }
    }
    if (o->model == NULL)
        return cli_usage_error("%s", "export needs a MODEL file");
    if (!o->has_format)
        return cli_usage_error("%s", "export needs --format uai or --format fg");
    return CLI_OK;
}

static cai_status write_graph(const cai_graph *g, cai_model_format fmt, FILE *out,
                              cai_error *err)
{
    return fmt == CAI_FORMAT_UAI ? cai_model_write_uai(g, out, NULL, err)
                                 : cai_model_write_fg(g, out, err);
}

int cmd_export(int argc, char **argv)
{
    export_options o = {.temperature = NAN};
    bool help = false;
    int rc = parse(argc, argv, &o, &help);
    if (help) {
        fputs(cli_usage_text, stdout);
        return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
    }
    if (rc != CLI_OK)
        return rc;
    cai_error err;
    cai_error_clear(&err);
    cai_model *m = NULL;
    cai_graph *owned = NULL;
    const cai_graph *g;
    cai_status st = cai_model_load(o.model, &m, &err);
    if (st != CAI_OK)
        return cli_report(&err, o.model, cli_input_status(st));
    const cai_mdp *mdp = cai_model_mdp(m);
    if (mdp == NULL) {
        if (!isnan(o.temperature) || o.horizon != 0) {
            rc = cli_usage_error("option '%s' needs an mdp or gridworld model; %s is a %s",
                                 isnan(o.temperature) ? "--horizon" : "--temperature",
                                 o.model, cai_model_kind_name(cai_model_get_kind(m)));
            goto done;
        }
        g = cai_model_graph(m);
        if (g == NULL) { /* lqr, lgssm: Gaussian models have no discrete graph */
            rc = cli_usage_error("export needs a discrete model; %s is an %s model", o.model,
                                 cai_model_kind_name(cai_model_get_kind(m)));
            goto done;
        }
    } else {
        st = cai_mdp_export_graph(mdp, o.temperature, o.horizon, &owned, &err);
        if (st != CAI_OK) {
            rc = cli_report(&err, o.model, cli_input_status(st));
            goto done;
        }
        g = owned;
    }
    /* refusals first, so that they open no output */
    if ((st = write_graph(g, o.format, NULL, &err)) != CAI_OK) {
        rc = cli_report(&err, o.model, cli_input_status(st));
        goto done;
    }
    cli_output out;
    if ((rc = cli_output_open(&out, o.output)) != CLI_OK)
        goto done;
    st = write_graph(g, o.format, out.f, &err);
    rc = cli_output_close(&out, st, &err);
done:
    cai_graph_free(owned);
    cai_model_free(m);
    return rc;
}
