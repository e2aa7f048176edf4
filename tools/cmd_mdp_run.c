/* tools/cmd_mdp_run.c — sample and evaluate on mdp and gridworld models:
 * trajectories drawn from a solved policy, and a policy file's soft and
 * plain returns, as text or JSON. */
#include "cli.h"

#include <stdlib.h>

/* Default --max-steps for sampling a discounted model. */
#define DEFAULT_MAX_STEPS 1000

/* ---- sample ------------------------------------------------------------ */

int cmd_mdp_sample(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    cai_solution *sol = NULL;
    size_t *traj = NULL, *steps = NULL;
    double seconds = 0.0;
    int rc = cmd_mdp_run_solve(mdp, opt, false, &sol, &seconds);
    if (rc != CLI_OK)
        goto done;
    size_t T = cai_solution_horizon(sol);
    size_t max_steps = T ? T : opt->has_max_steps ? opt->max_steps : DEFAULT_MAX_STEPS;
    size_t width, total;
    if (!cai_size_mul(max_steps, 2, &width) || !cai_size_add(width, 1, &width) ||
        !cai_size_mul(width, opt->count, &total) ||
        (traj = cli_alloc_array(total, sizeof(size_t))) == NULL ||
        (steps = cli_alloc_array(opt->count, sizeof(size_t))) == NULL) {
        rc = cli_nomem();
        goto done;
    }
    cai_error err;
    cai_error_clear(&err);
    double t0 = cli_now();
    cai_status st = cai_solution_sample(sol, opt->seed, opt->count, max_steps, traj, steps,
                                        &err);
    seconds += cli_now() - t0;
    cli_output out;
    rc = cli_output_open_after(&out, opt->output, st, &err, opt->model);
    if (rc != CLI_OK)
        goto done;
    cai_json *j = NULL;
    if (opt->json && (st = cai_json_create(out.f, 2, &j, &err)) == CAI_OK) {
        cai_json_begin_object(j);
        cai_json_key(j, "trajectories");
        cai_json_begin_array(j);
    }
    for (size_t k = 0; k < opt->count && st == CAI_OK; k++) {
        const size_t *x = traj + k * width;
        size_t n = 2 * (steps[k] < max_steps ? steps[k] : max_steps) + 1;
        if (j != NULL)
            cai_json_begin_array(j);
        for (size_t i = 0; i < n; i++) {
            const char *name = i % 2 ? cai_mdp_action_name(mdp, x[i])
                                     : cai_mdp_state_name(mdp, x[i]);
            if (j != NULL)
                cai_json_string(j, name);
            else
                fprintf(out.f, "%s%s", i ? " " : "", name);
        }
        if (j != NULL)
            cai_json_end_array(j);
        else
            fputc('\n', out.f);
    }
    if (j != NULL) {
        cai_json_end_array(j);
        cli_json_seconds(j, opt->seconds_load, seconds);
        cai_json_end_object(j);
        st = cai_json_finish(j, &err);
        cai_json_free(j);
    }
    rc = cli_output_close(&out, st, &err);
done:
    free(traj);
    free(steps);
    cai_solution_free(sol);
    return rc;
}

/* ---- evaluate ---------------------------------------------------------- */

int cmd_mdp_evaluate(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    cai_error err;
    cai_error_clear(&err);
    double *policy = NULL;
    bool stationary;
    cai_evaluation ev;
    double t0 = cli_now();
    cai_status st = cli_policy_read(opt->policy, mdp, &policy, &stationary, &err);
    double t1 = cli_now();
    if (st != CAI_OK) {
        int rc = cli_report(&err, opt->policy, cli_input_status(st));
        free(policy);
        return rc;
    }
    st = cai_mdp_evaluate(mdp, policy, stationary, &ev, &err);
    double t2 = cli_now();
    free(policy);
    cli_output out;
    int rc = cli_output_open_after(&out, opt->output, st, &err, opt->policy);
    if (rc != CLI_OK)
        return rc;
    if (opt->json) {
        cai_json *j = NULL;
        if ((st = cai_json_create(out.f, 2, &j, &err)) == CAI_OK) {
            cai_json_begin_object(j);
            cai_json_key(j, "soft_return");
            cai_json_number(j, ev.soft_return);
            cai_json_key(j, "plain_return");
            cai_json_number(j, ev.plain_return);
            /* loading: the model and the policy file */
            cli_json_seconds(j, opt->seconds_load + (t1 - t0), t2 - t1);
            cai_json_end_object(j);
            st = cai_json_finish(j, &err);
            cai_json_free(j);
        }
    } else {
        fprintf(out.f, "soft_return: %.17g\nplain_return: %.17g\n", ev.soft_return,
                ev.plain_return);
    }
    return cli_output_close(&out, st, &err);
}
