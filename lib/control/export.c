/* lib/control/export.c — the graph of an MDP for other tools: the one
 * sum-product solves build (compile.c), handed over on its own. */
#include "mdp_impl.h"

#include <math.h>

cai_status cai_mdp_export_graph(const cai_mdp *m, double temperature, size_t horizon,
                                cai_graph **out_g, cai_error *err)
{
    if (m == NULL || out_g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_mdp_export_graph: NULL argument");
    double alpha = isnan(temperature) ? m->alpha : temperature;
    if (horizon > 100000000)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "horizon %zu exceeds the maximum 100000000", horizon);
    if (m->gamma > 0)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "the model is discounted: its solves iterate one slice to a "
                             "fixed point, which no finite factor graph holds; export needs "
                             "a finite-horizon model");
    if (!(alpha > 0) || !isfinite(alpha))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "export needs a finite temperature > 0 (at 0 the graph is the "
                             "max-product limit, in reward units, not a product of weights)");
    compiled c;
    cai_status st = control_compile(m, CAI_CONTROL_EXACT, alpha, horizon ? horizon : m->T,
                                    false, true, &c, err);
    if (st != CAI_OK)
        return st;
    *out_g = c.g;
    c.g = NULL;
    control_compiled_free(&c);
    return CAI_OK;
}
