/* tools/cmd_factor_graph.c — `cai solve` and `cai check` on factor_graph
 * models: log Z and every marginal (sum-product), the MAP assignment and its
 * log score (max-product); exactly on forests, or by loopy belief
 * propagation (--algorithm loopy: the Bethe estimate of log Z, and the
 * diagnostics of both runs). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- solving ----------------------------------------------------------- */

typedef struct results {
    double log_z;
    size_t *offset; /* n + 1 offsets into marg */
    double *marg;   /* every variable's marginal, concatenated */
    size_t *map;
    double map_score;
    double seconds;
    bool loopy;
    bool meanfield;    /* log_z is the ELBO, map the argmax of each q_i */
    struct run_info {  /* the sum-product [0] and max-product [1] runs */
        size_t iterations, factor, var;
        bool converged;
        double residual;
    } run[2];
} results;

static void results_free(results *r)
{
    free(r->offset);
    free(r->marg);
    free(r->map);
}

/* Allocate r's offsets, marginals and MAP for g. */
static cai_status results_alloc(const cai_graph *g, results *r, cai_error *err)
{
    size_t n = cai_graph_n_variables(g), total = 0, bytes;
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
    return CAI_OK;
}

cai_infer_options cli_infer_options(const cai_model *m, const cli_options *opt,
                                    cai_method method)
{
    cai_infer_options o = cai_infer_options_default();
    o.method = method;
    if (opt->has_max_clique_entries)
        o.exact.max_clique_entries = opt->max_clique_entries;
    if (opt->schedule != NULL)
        o.loopy.schedule = strcmp(opt->schedule, "flooding") == 0   ? CAI_SCHEDULE_FLOODING
                           : strcmp(opt->schedule, "residual") == 0 ? CAI_SCHEDULE_RESIDUAL
                                                                    : CAI_SCHEDULE_SEQUENTIAL;
    if (opt->has_damping)
        o.loopy.damping = opt->damping;
    if (opt->has_tol) {
        o.loopy.tol = opt->tol;
        o.meanfield.tol = opt->tol;
    }
    if (opt->has_max_iterations) {
        o.loopy.max_iterations = opt->max_iterations;
        o.meanfield.max_iterations = opt->max_iterations;
    }
    o.meanfield.blocks = cai_model_inference_defaults(m).blocks;
    return o;
}

/* Solve g with method: a sum-product run (log Z or its estimate or bound,
 * every marginal), then the MAP assignment (a max-product run; mean field:
 * the argmax of each q_i). */
static cai_status solve(const cai_model *m, cai_method method, const cli_options *opt,
                        results *r, cai_error *err)
{
    const cai_graph *g = cai_model_graph(m);
    size_t n = cai_graph_n_variables(g);
    double t0 = cli_now();
    cai_status st = results_alloc(g, r, err);
    if (st != CAI_OK)
        return st;
    r->loopy = method == CAI_METHOD_LOOPY;
    r->meanfield = method == CAI_METHOD_MEANFIELD;
    cai_infer_options o = cli_infer_options(m, opt, method);
    for (int k = 0; k < (r->meanfield ? 1 : 2) && st == CAI_OK; k++) {
        o.algorithm = k == 0 ? CAI_SUM_PRODUCT : CAI_MAX_PRODUCT;
        cai_infer *inf = NULL;
        if ((st = cai_infer_create(g, &o, &inf, err)) == CAI_OK
            && (st = cai_infer_run(inf, err)) == CAI_OK) {
            struct run_info *ri = &r->run[k];
            ri->iterations = cai_infer_iterations(inf);
            ri->converged = cai_infer_converged(inf);
            ri->residual = cai_infer_max_residual(inf, &ri->factor, &ri->var);
            if (k == 0) {
                r->log_z = cai_infer_log_z(inf);
                for (size_t v = 0; v < n && st == CAI_OK; v++)
                    st = cai_infer_marginal(inf, v, r->marg + r->offset[v], err);
            }
            if (st == CAI_OK && (k == 1 || r->meanfield))
                st = cai_infer_map(inf, r->map, &r->map_score, err);
        }
        cai_infer_free(inf);
    }
    r->seconds = cli_now() - t0;
    return st;
}

/* ---- output ------------------------------------------------------------ */

static void write_json(FILE *out, const cai_model *m, const char *algorithm,
                       const results *r, double seconds_load, cai_error *err,
                       cai_status *st)
{
    const cai_graph *g = cai_model_graph(m);
    size_t n = cai_graph_n_variables(g);
    cai_json *j = NULL;
    if ((*st = cai_json_create(out, 2, &j, err)) != CAI_OK)
        return;
    cli_json_begin_solution(j, m, algorithm);
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
    if (r->meanfield) {
        cai_json_key(j, "meanfield");
        cai_json_begin_object(j);
        cai_json_key(j, "iterations");
        cai_json_size(j, r->run[0].iterations);
        cai_json_key(j, "converged");
        cai_json_bool(j, r->run[0].converged);
        cai_json_end_object(j);
    }
    if (r->loopy) {
        static const char *const keys[2] = {"loopy", "loopy_map"};
        for (int k = 0; k < 2; k++) {
            cai_json_key(j, keys[k]);
            cai_json_begin_object(j);
            cai_json_key(j, "iterations");
            cai_json_size(j, r->run[k].iterations);
            cai_json_key(j, "converged");
            cai_json_bool(j, r->run[k].converged);
            cai_json_key(j, "max_residual");
            cai_json_number(j, r->run[k].residual);
            cai_json_end_object(j);
        }
    }
    cli_json_seconds(j, seconds_load, r->seconds);
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

/* How each loopy run ended; when one did not converge, where the largest
 * residual is and what to try. */
static void write_loopy(FILE *out, const cai_graph *g, const results *r)
{
    static const char *const what[2] = {"sum-product", "max-product"};
    for (int k = 0; k < 2; k++) {
        const struct run_info *lr = &r->run[k];
        fprintf(out, "loopy BP (%s): %zu iterations, %s, max residual %.3g\n", what[k],
                lr->iterations, lr->converged ? "converged" : "NOT converged",
                lr->residual);
        if (!lr->converged && lr->var != CAI_NONE && lr->factor != CAI_NONE)
            fprintf(out, "  the largest residual is the message of factor %zu to "
                         "variable '%s'; try --damping 0.5, --schedule residual or "
                         "more --max-iterations\n",
                    lr->factor, cai_graph_variable_name(g, lr->var));
    }
    fputc('\n', out);
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
    if (r->loopy)
        write_loopy(out, g, r);
    if (r->meanfield) {
        fprintf(out, "mean field: %zu sweeps, %s\n\nELBO = %.10g (a lower bound on log Z)\n\n",
                r->run[0].iterations, r->run[0].converged ? "converged" : "NOT converged", r->log_z);
        write_marginals(out, g, r);
        fprintf(out, "\nthe most probable state of each q_i:\n");
        for (size_t v = 0; v < cai_graph_n_variables(g); v++) {
            char buf[32];
            fprintf(out, "  %s = %s\n", cai_graph_variable_name(g, v),
                    state_label(g, v, r->map[v], buf, sizeof buf));
        }
        return;
    }
    if (strcmp(algorithm, "map") == 0) {
        write_map(out, g, r);
        fprintf(out, "\nlog Z = %.10g\n\n", r->log_z);
        write_marginals(out, g, r);
    } else {
        fprintf(out, "log Z%s = %.10g\n\n", r->loopy ? " (Bethe estimate)" : "",
                r->log_z);
        write_marginals(out, g, r);
        fputc('\n', out);
        write_map(out, g, r);
    }
}

/* ---- commands ---------------------------------------------------------- */

/* The mdp options make no sense on a factor graph: usage errors. --full is
 * accepted: a factor graph's JSON always has every marginal. */
static int check_options(const cli_options *opt)
{
    bool loopy = strcmp(opt->algorithm, "loopy") == 0;
    bool iterative = loopy || strcmp(opt->algorithm, "meanfield") == 0;
    const char *bad = opt->has_temperature      ? "--temperature"
                      : opt->has_horizon        ? "--horizon"
                      : opt->has_sweep          ? "--sweep"
                      : opt->query != NULL      ? "--query"
                                                : NULL;
    if (bad != NULL)
        return cli_usage_error("option '%s' needs an mdp or gridworld model; %s "
                               "is a factor_graph", bad, opt->model);
    const char *loopy_only = opt->schedule != NULL ? "--schedule"
                             : opt->has_damping    ? "--damping"
                                                   : NULL;
    const char *iterative_only = opt->has_tol              ? "--tol"
                                 : opt->has_max_iterations ? "--max-iterations"
                                                           : NULL;
    if (iterative && opt->has_max_clique_entries)
        return cli_usage_error("option '--max-clique-entries' is for exact and map "
                               "(junction tree), not --algorithm %s", opt->algorithm);
    if (!loopy && loopy_only != NULL)
        return cli_usage_error("option '%s' needs --algorithm loopy on a factor_graph",
                               loopy_only);
    if (!iterative && iterative_only != NULL)
        return cli_usage_error("option '%s' needs --algorithm loopy or meanfield on a "
                               "factor_graph (%s is solved exactly)", iterative_only,
                               opt->model);
    if (strcmp(opt->algorithm, "variational") == 0)
        return cli_usage_error("--algorithm variational needs an mdp or gridworld "
                               "model; %s is a factor_graph (use exact, map, loopy or "
                               "meanfield)",
                               opt->model);
    return CLI_OK;
}

/* The options, with the model's `inference:` defaults where the command
 * line gives none. */
cli_options cli_with_inference_defaults(const cai_model *m, const cli_options *given)
{
    cli_options o = *given;
    cai_model_inference d = cai_model_inference_defaults(m);
    if (!o.has_algorithm && d.algorithm != NULL)
        o.algorithm = d.algorithm;
    if (o.schedule == NULL && d.schedule != NULL && strcmp(o.algorithm, "loopy") == 0)
        o.schedule = d.schedule;
    if (!o.has_damping && d.has_damping && strcmp(o.algorithm, "loopy") == 0) {
        o.damping = d.damping;
        o.has_damping = true;
    }
    bool iterative = strcmp(o.algorithm, "loopy") == 0 || strcmp(o.algorithm, "meanfield") == 0;
    if (!o.has_tol && d.has_tol && iterative) {
        o.tol = d.tol;
        o.has_tol = true;
    }
    if (!o.has_max_iterations && d.has_max_iterations && iterative) {
        o.max_iterations = d.max_iterations;
        o.has_max_iterations = true;
    }
    return o;
}

int cmd_factor_graph_solve(const cai_model *m, const cli_options *given)
{
    cli_options o = cli_with_inference_defaults(m, given);
    const cli_options *opt = &o;
    int rc = check_options(opt);
    if (rc != CLI_OK)
        return rc;
    cai_error err;
    cai_error_clear(&err);
    results r;
    memset(&r, 0, sizeof r);
    cai_method method = strcmp(opt->algorithm, "loopy") == 0       ? CAI_METHOD_LOOPY
                        : strcmp(opt->algorithm, "meanfield") == 0 ? CAI_METHOD_MEANFIELD
                                                                   : CAI_METHOD_EXACT;
    cai_status st = solve(m, method, opt, &r, &err);
    cli_output out;
    rc = cli_output_open_after(&out, opt->output, st, &err, opt->model);
    if (rc != CLI_OK)
        goto done;
    if (opt->json)
        write_json(out.f, m, opt->algorithm, &r, opt->seconds_load, &err, &st);
    else
        write_text(out.f, m, opt->algorithm, &r);
    rc = cli_output_close(&out, st, &err);
done:
    results_free(&r);
    return rc;
}

int cmd_factor_graph_check(const cai_model *m, const char *path)
{
    cai_error err;
    cai_error_clear(&err);
    cai_jtree *jt = NULL;
    cai_status st = cai_jtree_create(cai_model_graph(m), NULL, &jt, &err);
    int rc;
    if (st == CAI_OK) {
        const cai_graph *g = cai_model_graph(m);
        printf("%s: ok (%s, %zu variables, %zu factors", path,
               cai_model_kind_name(cai_model_get_kind(m)),
               cai_graph_n_variables(g), cai_graph_n_factors(g));
        if (cai_jtree_is_compiled(jt))
            printf("; loopy: junction tree of %zu cliques, treewidth %zu, largest clique "
                   "%zu states", cai_jtree_n_cliques(jt), cai_jtree_treewidth(jt),
                   cai_jtree_max_clique_entries(jt));
        printf(")\n");
        rc = CLI_OK;
    } else {
        rc = cli_report(&err, path, cli_input_status(st));
    }
    cai_jtree_free(jt);
    return rc;
}
