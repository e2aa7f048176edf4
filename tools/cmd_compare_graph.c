/* tools/cmd_compare_graph.c — `cai compare` on factor graphs (YAML, UAI,
 * .fg, BIF) and on the unrolled dynamic Bayes net of a factored_mdp: each
 * inference method planned on the same graph through cai/infer.h.
 *
 * Rows: exact (junction tree, or the tree engine on forests), loopy (loopy
 * BP), meanfield (mean-field VMP, clusters from the model's `inference:`),
 * map (exact max-product). The reference for the KL column is the exact
 * sum-product run, made whenever the junction tree is feasible (within
 * --max-clique-entries); otherwise the KL column is blank and the exact row
 * says why. A factored_mdp's net is rebuilt at each --temperatures value. */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct graph_compare {
    const cai_model *m;
    const cli_options *opt;
    compare_trace *trace;
    const cai_graph *g;
    size_t *offset;  /* n + 1 offsets into the marginals */
    double *exact;   /* the exact marginals, or NULL when infeasible */
    double *approx;  /* scratch: one method's marginals */
    char exact_note[160];
} graph_compare;

static cai_status nomem(cai_error *err)
{
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}

static cai_method method_of(const char *alg)
{
    return strcmp(alg, "loopy") == 0       ? CAI_METHOD_LOOPY
           : strcmp(alg, "meanfield") == 0 ? CAI_METHOD_MEANFIELD
                                           : CAI_METHOD_EXACT;
}

/* Every marginal of a sum-product run into out (at gc->offset). */
static cai_status marginals(const graph_compare *gc, const cai_infer *inf, double *out,
                            cai_error *err)
{
    size_t n = cai_graph_n_variables(gc->g);
    cai_status st = CAI_OK;
    for (size_t v = 0; v < n && st == CAI_OK; v++)
        st = cai_infer_marginal(inf, v, out + gc->offset[v], err);
    return st;
}

/* Mean over unobserved variables of KL(q_v || p_v), p the exact marginals;
 * NaN when there is no reference (or it is undefined: zero total weight). */
static double mean_kl(const graph_compare *gc, const double *q)
{
    size_t n = cai_graph_n_variables(gc->g), count = 0;
    if (gc->exact == NULL)
        return NAN;
    double total = 0;
    for (size_t v = 0; v < n; v++) {
        if (cai_graph_evidence(gc->g, v) != CAI_NONE)
            continue;
        const double *p = gc->exact + gc->offset[v], *qv = q + gc->offset[v];
        double kl = 0;
        for (size_t s = 0; s < gc->offset[v + 1] - gc->offset[v]; s++) {
            if (isnan(p[s]) || isnan(qv[s]))
                return NAN;
            if (qv[s] > 0)
                kl += p[s] > 0 ? qv[s] * log(qv[s] / p[s]) : INFINITY;
        }
        total += kl;
        count++;
    }
    return count && total > 0 ? total / (double)count : 0.0; /* KL >= 0 */
}

/* "not run: " and the method's message without its parenthesised details
 * (a junction tree names every variable of its largest clique there). */
static void refusal(char *note, size_t size, const char *message)
{
    char buf[sizeof ((cai_error *)0)->message];
    snprintf(buf, sizeof buf, "%s", message);
    char *open = strstr(buf, " (");
    char *close = open ? strrchr(open, ')') : NULL;
    if (close != NULL)
        memmove(open, close + 1, strlen(close + 1) + 1);
    snprintf(note, size, "not run: %.150s", buf);
}

/* One row: plan the graph with the algorithm, run it, fill r. A graph the
 * method refuses (too large a clique, expectation factors for loopy, ...)
 * gives a row with a note, not a failure. */
static cai_status run_row(graph_compare *gc, const char *alg, compare_row *r, cai_error *err)
{
    cai_infer_options o = cli_infer_options(gc->m, gc->opt, method_of(alg));
    bool map = strcmp(alg, "map") == 0;
    o.algorithm = map ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
    if (gc->opt->trace != NULL && o.method != CAI_METHOD_EXACT) {
        o.trace = compare_trace_add;
        o.trace_ctx = gc->trace;
        gc->trace->algorithm = alg;
        gc->trace->temperature = r->temperature;
    }
    cai_infer *inf = NULL;
    cai_error e;
    cai_error_clear(&e);
    double t0 = cli_now();
    cai_status st = cai_infer_create(gc->g, &o, &inf, &e);
    if (st == CAI_ERR_NOMEM) {
        *err = e;
        return st;
    }
    if (st != CAI_OK) {
        refusal(r->note, sizeof r->note, e.message);
        return CAI_OK;
    }
    if ((st = cai_infer_run(inf, err)) != CAI_OK)
        goto done;
    r->log_z = cai_infer_log_z(inf);
    r->iterations = cai_infer_iterations(inf);
    r->converged = cai_infer_converged(inf);
    r->bytes = cai_infer_message_bytes(inf);
    if (!map && (st = marginals(gc, inf, gc->approx, err)) == CAI_OK)
        r->kl = mean_kl(gc, gc->approx);
    r->seconds = cli_now() - t0;
done:
    cai_infer_free(inf);
    return st;
}

/* The exact marginals of gc->g into gc->exact, or gc->exact NULL and the
 * reason in gc->exact_note when the junction tree is refused. */
static cai_status reference(graph_compare *gc, double *buf, cai_error *err)
{
    cai_infer_options o = cli_infer_options(gc->m, gc->opt, CAI_METHOD_EXACT);
    cai_infer *inf = NULL;
    cai_error e;
    cai_error_clear(&e);
    gc->exact = NULL;
    gc->exact_note[0] = '\0';
    cai_status st = cai_infer_create(gc->g, &o, &inf, &e);
    if (st == CAI_ERR_NOMEM) {
        *err = e;
        return st;
    }
    if (st != CAI_OK) {
        refusal(gc->exact_note, sizeof gc->exact_note, e.message);
        return CAI_OK;
    }
    if ((st = cai_infer_run(inf, err)) == CAI_OK && (st = marginals(gc, inf, buf, err)) == CAI_OK)
        gc->exact = buf;
    cai_infer_free(inf);
    return st;
}

/* Offsets of every variable's marginal, and room for two sets of them. */
static cai_status layout(graph_compare *gc, double **bufs, cai_error *err)
{
    size_t n = cai_graph_n_variables(gc->g), total = 0;
    gc->offset = cli_alloc_array(n + 1, sizeof *gc->offset);
    if (gc->offset == NULL)
        return nomem(err);
    for (size_t v = 0; v < n; v++) {
        gc->offset[v] = total;
        if (!cai_size_add(total, cai_graph_variable_card(gc->g, v), &total))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many states");
    }
    gc->offset[n] = total;
    *bufs = cli_alloc_array(total ? 2 * total : 2, sizeof **bufs);
    return *bufs ? CAI_OK : nomem(err);
}

/* Every algorithm on one graph (the model's, or the factored net at alpha). */
static cai_status compare_on(graph_compare *gc, const char **algs, size_t n_algs, double alpha,
                             compare_row *rows, cai_error *err)
{
    double *bufs = NULL;
    cai_status st = layout(gc, &bufs, err);
    if (st == CAI_OK) {
        gc->approx = bufs + gc->offset[cai_graph_n_variables(gc->g)];
        st = reference(gc, bufs, err);
    }
    for (size_t k = 0; k < n_algs && st == CAI_OK; k++) {
        rows[k] = compare_row_init(algs[k], alpha);
        if (strcmp(algs[k], "exact") == 0 && gc->exact == NULL && gc->exact_note[0]) {
            memcpy(rows[k].note, gc->exact_note, sizeof rows[k].note);
            continue;
        }
        st = run_row(gc, algs[k], &rows[k], err);
    }
    free(bufs);
    free(gc->offset);
    gc->offset = NULL;
    return st;
}

int cmd_compare_graph(const cai_model *m, const cli_options *given)
{
    cai_model_kind kind = cai_model_get_kind(m);
    const cai_factored_mdp *f = cai_model_factored(m);
    if (kind != CAI_MODEL_FACTOR_GRAPH && f == NULL)
        return cli_usage_error("compare needs an mdp, gridworld, factored_mdp or factor graph "
                               "model; %s is a %s", given->model, cai_model_kind_name(kind));
    cli_options o = cli_with_inference_defaults(m, given);
    const cli_options *opt = &o;
    if (f == NULL && opt->temperatures != NULL)
        return cli_usage_error("--temperatures needs a model with a temperature; %s is a "
                               "factor graph", opt->model);
    char abuf[256];
    snprintf(abuf, sizeof abuf, "%s",
             opt->algorithms ? opt->algorithms : "exact,loopy,meanfield,map");
    const char *algs[COMPARE_MAX_ALGORITHMS];
    size_t n_algs = compare_split(abuf, algs, COMPARE_MAX_ALGORITHMS);
    for (size_t k = 0; k < n_algs; k++)
        if (strcmp(algs[k], "exact") != 0 && strcmp(algs[k], "loopy") != 0
            && strcmp(algs[k], "meanfield") != 0 && strcmp(algs[k], "map") != 0)
            return cli_usage_error("--algorithms: unknown algorithm '%s' for a %s (expected "
                                   "exact, loopy, meanfield or map%s)", algs[k],
                                   cai_model_kind_name(kind),
                                   f ? "; variational needs --flatten" : "");
    if (n_algs == 0)
        return cli_usage_error("%s", "compare: empty list of algorithms");
    double temps[COMPARE_MAX_TEMPERATURES] = {NAN};
    size_t n_temps = 1;
    if (f != NULL) {
        int rc = compare_temperatures(opt, cai_factored_temperature(f), false, temps, &n_temps);
        if (rc != CLI_OK)
            return rc;
    }
    compare_row *rows = cli_alloc_array(n_algs * n_temps, sizeof *rows);
    if (rows == NULL)
        return cli_nomem();
    cai_error err;
    cai_error_clear(&err);
    compare_trace trace = {0};
    graph_compare gc = {.m = m, .opt = opt, .trace = &trace};
    cai_status st = CAI_OK;
    double t0 = cli_now();
    for (size_t i = 0; i < n_temps && st == CAI_OK; i++) {
        cai_graph *net = NULL;
        if (f != NULL && (st = cai_factored_graph(f, temps[i], 0, &net, &err)) != CAI_OK)
            break;
        gc.g = f != NULL ? net : cai_model_graph(m);
        st = compare_on(&gc, algs, n_algs, temps[i], rows + i * n_algs, &err);
        cai_graph_free(net);
    }
    int rc = compare_output(m, opt, st, &err, rows, n_algs * n_temps, cli_now() - t0, &trace);
    free(trace.rec);
    free(rows);
    return rc;
}
