/* lib/engine/infer.c — one front over the exact (tree engine / junction
 * tree), loopy BP and mean-field methods (see cai/infer.h). Each call goes
 * to the method's own object; this file only dispatches and translates the
 * trace. */
#include "cai/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cai_infer {
    cai_method method;
    cai_algorithm algorithm;
    void (*trace)(void *ctx, size_t iteration, double residual, double log_z);
    void *trace_ctx;
    cai_jtree *jt;
    cai_loopy *lp;
    cai_meanfield *mf;
};

static const char *const method_names[] = {"exact", "loopy", "meanfield"};
#define N_METHODS (sizeof method_names / sizeof method_names[0])

cai_infer_options cai_infer_options_default(void)
{
    return (cai_infer_options){.method = CAI_METHOD_EXACT,
                               .algorithm = CAI_SUM_PRODUCT,
                               .exact = cai_jtree_options_default(),
                               .loopy = cai_loopy_options_default(),
                               .meanfield = cai_meanfield_options_default(),
                               .trace = NULL,
                               .trace_ctx = NULL};
}

const char *cai_method_name(cai_method method)
{
    return (size_t)method < N_METHODS ? method_names[method] : NULL;
}

cai_status cai_method_parse(const char *name, cai_method *out, cai_error *err)
{
    if (name == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    for (size_t k = 0; k < N_METHODS; k++)
        if (strcmp(name, method_names[k]) == 0) {
            *out = (cai_method)k;
            return CAI_OK;
        }
    return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                         "unknown inference method '%s' (expected exact, loopy or meanfield)",
                         name);
}

/* The iterative methods' traces, forwarded in the common form. */
static void loopy_trace(void *ctx, size_t it, double residual, double log_z)
{
    const cai_infer *inf = ctx;
    inf->trace(inf->trace_ctx, it, residual, log_z);
}

static void meanfield_trace(void *ctx, size_t it, double elbo)
{
    const cai_infer *inf = ctx;
    inf->trace(inf->trace_ctx, it, NAN, elbo);
}

cai_status cai_infer_create(const cai_graph *g, const cai_infer_options *opt, cai_infer **out,
                            cai_error *err)
{
    if (g == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_infer_options o = opt ? *opt : cai_infer_options_default();
    if (cai_method_name(o.method) == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown inference method %d",
                             (int)o.method);
    if (o.algorithm != CAI_SUM_PRODUCT && o.algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown algorithm %d",
                             (int)o.algorithm);
    if (o.method == CAI_METHOD_MEANFIELD && o.algorithm != CAI_SUM_PRODUCT)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "mean field has no max-product: plan it with sum-product and "
                             "take the argmax of each q_i (cai_infer_map)");
    cai_infer *inf = calloc(1, sizeof *inf);
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    inf->method = o.method;
    inf->algorithm = o.algorithm;
    inf->trace = o.trace;
    inf->trace_ctx = o.trace_ctx;
    cai_status st;
    switch (o.method) {
    case CAI_METHOD_LOOPY:
        o.loopy.algorithm = o.algorithm;
        if (o.trace != NULL) {
            o.loopy.trace = loopy_trace;
            o.loopy.trace_ctx = inf;
        }
        st = cai_loopy_create(g, &o.loopy, &inf->lp, err);
        break;
    case CAI_METHOD_MEANFIELD:
        if (o.trace != NULL) {
            o.meanfield.trace = meanfield_trace;
            o.meanfield.trace_ctx = inf;
        }
        st = cai_meanfield_create(g, &o.meanfield, &inf->mf, err);
        break;
    default:
        o.exact.algorithm = o.algorithm;
        st = cai_jtree_create(g, &o.exact, &inf->jt, err);
        break;
    }
    if (st != CAI_OK) {
        free(inf);
        return st;
    }
    *out = inf;
    return CAI_OK;
}

void cai_infer_free(cai_infer *inf)
{
    if (inf == NULL)
        return;
    cai_jtree_free(inf->jt);
    cai_loopy_free(inf->lp);
    cai_meanfield_free(inf->mf);
    free(inf);
}

cai_method cai_infer_method(const cai_infer *inf)
{
    return inf ? inf->method : CAI_METHOD_EXACT;
}

cai_algorithm cai_infer_algorithm(const cai_infer *inf)
{
    return inf ? inf->algorithm : CAI_SUM_PRODUCT;
}

cai_status cai_infer_set_evidence(cai_infer *inf, size_t var, size_t state, cai_error *err)
{
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    return inf->lp   ? cai_loopy_set_evidence(inf->lp, var, state, err)
           : inf->mf ? cai_meanfield_set_evidence(inf->mf, var, state, err)
                     : cai_jtree_set_evidence(inf->jt, var, state, err);
}

cai_status cai_infer_run(cai_infer *inf, cai_error *err)
{
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    return inf->lp   ? cai_loopy_run(inf->lp, err)
           : inf->mf ? cai_meanfield_run(inf->mf, err)
                     : cai_jtree_run(inf->jt, err);
}

size_t cai_infer_iterations(const cai_infer *inf)
{
    if (inf == NULL)
        return 0;
    return inf->lp   ? cai_loopy_iterations(inf->lp)
           : inf->mf ? cai_meanfield_iterations(inf->mf)
                     : (isnan(cai_jtree_log_z(inf->jt)) ? 0 : 1);
}

bool cai_infer_converged(const cai_infer *inf)
{
    if (inf == NULL)
        return false;
    return inf->lp   ? cai_loopy_converged(inf->lp)
           : inf->mf ? cai_meanfield_converged(inf->mf)
                     : !isnan(cai_jtree_log_z(inf->jt));
}

double cai_infer_log_z(const cai_infer *inf)
{
    if (inf == NULL)
        return NAN;
    return inf->lp   ? cai_loopy_log_z(inf->lp)
           : inf->mf ? cai_meanfield_elbo(inf->mf)
                     : cai_jtree_log_z(inf->jt);
}

cai_status cai_infer_marginal(const cai_infer *inf, size_t var, double *out, cai_error *err)
{
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (inf->algorithm != CAI_SUM_PRODUCT)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "marginals need a sum-product plan");
    return inf->lp   ? cai_loopy_marginal(inf->lp, var, out, err)
           : inf->mf ? cai_meanfield_marginal(inf->mf, var, out, err)
                     : cai_jtree_marginal(inf->jt, var, out, err);
}

cai_status cai_infer_factor_belief(const cai_infer *inf, size_t f, double *out,
                                   cai_error *err)
{
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (inf->algorithm != CAI_SUM_PRODUCT || inf->mf != NULL)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "factor beliefs need a sum-product plan of the exact or loopy "
                             "method");
    return inf->lp ? cai_loopy_factor_belief(inf->lp, f, out, err)
                   : cai_jtree_factor_belief(inf->jt, f, out, err);
}

cai_status cai_infer_map(const cai_infer *inf, size_t *out, double *out_log_score,
                         cai_error *err)
{
    if (inf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (inf->mf) {
        if (out_log_score)
            *out_log_score = NAN;
        return out ? cai_meanfield_map(inf->mf, out, err) : CAI_OK;
    }
    if (inf->algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the MAP assignment needs a max-product plan");
    return inf->jt ? cai_jtree_map(inf->jt, out, out_log_score, err)
                   : cai_loopy_map(inf->lp, out, out_log_score, err);
}

double cai_infer_max_residual(const cai_infer *inf, size_t *out_factor, size_t *out_var)
{
    if (inf != NULL && inf->lp != NULL)
        return cai_loopy_max_residual(inf->lp, out_factor, out_var);
    if (out_factor)
        *out_factor = CAI_NONE;
    if (out_var)
        *out_var = CAI_NONE;
    return NAN;
}

size_t cai_infer_message_bytes(const cai_infer *inf)
{
    if (inf == NULL)
        return 0;
    return inf->lp   ? cai_loopy_message_bytes(inf->lp)
           : inf->mf ? cai_meanfield_message_bytes(inf->mf)
                     : cai_jtree_message_bytes(inf->jt);
}

const cai_jtree *cai_infer_jtree(const cai_infer *inf)
{
    return inf ? inf->jt : NULL;
}

const cai_loopy *cai_infer_loopy(const cai_infer *inf)
{
    return inf ? inf->lp : NULL;
}

const cai_meanfield *cai_infer_meanfield(const cai_infer *inf)
{
    return inf ? inf->mf : NULL;
}
