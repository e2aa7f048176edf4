/* tools/cmd_factored.c — factored_mdp models on the command line: with
 * --flatten the joint state space is an ordinary MDP and every mdp command
 * applies; without it `solve` works on the unrolled dynamic Bayes net, the
 * model's factor graph (junction tree, or --algorithm loopy). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_factored_run(cai_model *m, const cli_options *opt)
{
    cai_model_kind kind = cai_model_get_kind(m);
    if (kind != CAI_MODEL_FACTORED_MDP)
        return cli_usage_error("--flatten needs a factored_mdp model; %s is a %s",
                               opt->model, cai_model_kind_name(kind));
    if (opt->flatten) {
        cai_error err;
        cai_error_clear(&err);
        cai_status st = cai_model_flatten(m, 0, &err);
        if (st != CAI_OK)
            return cli_report(&err, opt->model, cli_input_status(st));
        switch (opt->command) {
        case CLI_SOLVE:
            return cmd_mdp_solve(m, opt);
        case CLI_SAMPLE:
            return cmd_mdp_sample(m, opt);
        case CLI_EVALUATE:
            return cmd_mdp_evaluate(m, opt);
        default:
            return cmd_compare(m, opt);
        }
    }
    if (opt->command == CLI_COMPARE)
        return cmd_compare(m, opt); /* on the unrolled net (cmd_compare_graph.c) */
    if (opt->command != CLI_SOLVE)
        return cli_usage_error("%s on a factored_mdp needs --flatten (the joint state "
                               "space as an mdp); without it solve and compare apply",
                               opt->command_name);
    if (opt->has_temperature || opt->has_horizon)
        return cli_usage_error("option '%s' on a factored_mdp needs --flatten (the "
                               "unrolled graph is built at the model's temperature "
                               "and horizon)",
                               opt->has_temperature ? "--temperature" : "--horizon");
    return cmd_factor_graph_solve(m, opt);
}

int cmd_factored_check(const cai_model *m, const char *path)
{
    const cai_factored_mdp *f = cai_model_factored(m);
    const cai_graph *g = cai_model_graph(m);
    const char *name = cai_model_name(m);
    printf("%s: ok (factored_mdp '%s', %zu variables, %zu actions, %zu reward terms, "
           "horizon %zu, temperature %g; %.0f joint states%s; unrolled graph %zu "
           "variables, %zu factors, %zu potentials)\n",
           path, name, cai_factored_n_variables(f), cai_factored_n_actions(f),
           cai_factored_n_rewards(f), cai_factored_horizon(f), cai_factored_temperature(f),
           cai_factored_n_joint_states(f),
           cai_factored_n_joint_states(f) > 1e6 ? ", too many to flatten" : "",
           cai_graph_n_variables(g), cai_graph_n_factors(g), cai_graph_n_potentials(g));
    return CLI_OK;
}
