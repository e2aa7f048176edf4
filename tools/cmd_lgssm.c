/* tools/cmd_lgssm.c — `cai solve` and `cai check` on lgssm models: the
 * log-likelihood and the smoothed (and, when the library offers them,
 * filtered) state distributions, every number read from the library's
 * result (cai/lgssm.h). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text table's rows: all of them up to this many, else the first
 * TEXT_HEAD (as the mdp tables). */
#define TEXT_ALL 50
#define TEXT_HEAD 20

typedef cai_status lgssm_query(const cai_lgssm_result *r, size_t t, double *out_mean,
                               double *out_cov, cai_error *err);

/* key_mean [T][n] and key_cov [T][n][n] from query. */
static cai_status json_pair(cai_json *j, const cai_lgssm_result *r, lgssm_query *query,
                            const char *key_mean, const char *key_cov, double *buf,
                            cai_error *err)
{
    size_t n = cai_lgssm_result_n(r), T = cai_lgssm_result_steps(r);
    cai_status st = CAI_OK;
    for (int cov = 0; cov < 2 && st == CAI_OK; cov++) {
        cai_json_key(j, cov ? key_cov : key_mean);
        cai_json_begin_array(j);
        for (size_t t = 0; t < T && st == CAI_OK; t++) {
            if ((st = query(r, t, cov ? NULL : buf, cov ? buf : NULL, err)) != CAI_OK)
                break;
            cli_json_rows(j, buf, n, cov ? n : 0);
        }
        cai_json_end_array(j);
    }
    return st;
}

static cai_status write_json(FILE *out, const cai_model *m, const cli_options *opt,
                             const cai_lgssm_result *r, double seconds, cai_error *err)
{
    const cai_lgssm *lg = cai_model_lgssm(m);
    size_t n = cai_lgssm_n(lg), T = cai_lgssm_steps(lg);
    bool filtered = cai_lgssm_result_has_filtered(r);
    cai_json *j = NULL;
    cai_status st = cai_json_create(out, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cli_json_begin_solution(j, m, opt->algorithm);
    cai_json_key(j, "n");
    cai_json_size(j, n);
    cai_json_key(j, "p");
    cai_json_size(j, cai_lgssm_p(lg));
    cai_json_key(j, "T");
    cai_json_size(j, T);
    cai_json_key(j, "log_likelihood");
    cai_json_number(j, cai_lgssm_result_log_likelihood(r));
    cai_json_key(j, "filtered");
    cai_json_bool(j, filtered);
    if ((double)T * (double)n * (double)n > CLI_ARRAYS_MAX && !opt->full) {
        cai_json_key(j, "note");
        cai_json_string(j, "smoothed_mean, smoothed_cov, filtered_mean and filtered_cov "
                           "are left out: T*n*n is above 1e6; ask with --full");
    } else {
        double *buf = cli_alloc_array(n * n, sizeof *buf);
        st = buf ? json_pair(j, r, cai_lgssm_result_smoothed, "smoothed_mean",
                             "smoothed_cov", buf, err)
                 : cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        if (st == CAI_OK && filtered) {
            st = json_pair(j, r, cai_lgssm_result_filtered, "filtered_mean", "filtered_cov",
                           buf, err);
        } else if (st == CAI_OK) { /* not offered: say so where the arrays would be */
            cai_json_key(j, "filtered_mean");
            cai_json_null(j);
            cai_json_key(j, "filtered_cov");
            cai_json_null(j);
        }
        free(buf);
    }
    cli_json_seconds(j, opt->seconds_load, seconds);
    cai_json_end_object(j);
    if (st == CAI_OK)
        st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

static cai_status write_text(FILE *f, const cai_model *m, const cai_lgssm_result *r,
                             cai_error *err)
{
    const cai_lgssm *lg = cai_model_lgssm(m);
    size_t n = cai_lgssm_n(lg), T = cai_lgssm_steps(lg);
    const char *name = cai_model_name(m);
    fprintf(f, "model: %s (lgssm, n = %zu, p = %zu, T = %zu)\n", name[0] ? name : "(unnamed)",
            n, cai_lgssm_p(lg), T);
    fprintf(f, "log-likelihood %.10g\n", cai_lgssm_result_log_likelihood(r));
    if (n > 6) {
        fprintf(f, "smoothed means: n = %zu is too wide for a table (see --json)\n", n);
        return CAI_OK;
    }
    fprintf(f, "\nsmoothed means E[x_t | y_0..y_%zu]:\n%8s", T - 1, "t");
    for (size_t i = 0; i < n; i++) {
        char head[16];
        snprintf(head, sizeof head, "x[%zu]", i);
        fprintf(f, " %12s", head);
    }
    fputc('\n', f);
    double *mean = cli_alloc_array(n, sizeof *mean);
    if (mean == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    size_t rows = T <= TEXT_ALL ? T : TEXT_HEAD;
    cai_status st = CAI_OK;
    for (size_t t = 0; t < rows && st == CAI_OK; t++) {
        if ((st = cai_lgssm_result_smoothed(r, t, mean, NULL, err)) != CAI_OK)
            break;
        fprintf(f, "%8zu", t);
        for (size_t i = 0; i < n; i++)
            fprintf(f, " %12.6g", mean[i]);
        fputc('\n', f);
    }
    if (st == CAI_OK && rows < T)
        fprintf(f, "... %zu more steps (see --json)\n", T - rows);
    free(mean);
    return st;
}

int cmd_lgssm_solve(const cai_model *m, const cli_options *opt)
{
    const char *bad = opt->query != NULL              ? "--query"
                      : opt->has_temperature          ? "--temperature"
                      : opt->has_horizon              ? "--horizon"
                      : opt->has_tol                  ? "--tol"
                      : opt->has_max_iterations       ? "--max-iterations"
                      : opt->has_sweep                ? "--sweep"
                      : opt->schedule                 ? "--schedule"
                      : opt->has_damping              ? "--damping"
                      : opt->has_max_clique_entries   ? "--max-clique-entries"
                      : opt->flatten                  ? "--flatten"
                                                      : NULL;
    if (bad != NULL)
        return cli_usage_error("option '%s' does not apply to an lgssm model", bad);
    if (strcmp(opt->algorithm, "exact") != 0)
        return cli_usage_error("--algorithm %s: an lgssm model is smoothed exactly (exact)",
                               opt->algorithm);
    cai_error err;
    cai_error_clear(&err);
    cai_lgssm_result *r = NULL;
    double t0 = cli_now();
    cai_status st = cai_lgssm_smooth(cai_model_lgssm(m), &r, &err);
    double seconds = cli_now() - t0;
    cli_output out;
    int rc = cli_output_open_after(&out, opt->output, st, &err, opt->model);
    if (rc == CLI_OK) {
        st = opt->json ? write_json(out.f, m, opt, r, seconds, &err)
                       : write_text(out.f, m, r, &err);
        rc = cli_output_close(&out, st, &err);
    }
    cai_lgssm_result_free(r);
    return rc;
}

int cmd_lgssm_check(const cai_model *m, const char *path)
{
    const cai_lgssm *lg = cai_model_lgssm(m);
    printf("%s: ok (lgssm, n = %zu, p = %zu, T = %zu)\n", path, cai_lgssm_n(lg),
           cai_lgssm_p(lg), cai_lgssm_steps(lg));
    return CLI_OK;
}
