/* lib/io/model.c — the public model API and the dispatcher on `kind`.
 *
 * yaml_read.c turns the text into one YAML document; this file finds the
 * model's `kind` and hands the root mapping to that kind's loader
 * (factor_graph.c, ...), which checks it and fills the cai_model. */
#include "model_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cai/formats.h"
#include "cai/graph.h"
#include "cai/mdp.h"
#include "mdp_impl.h"
#include "yaml_fast.h"

/* The kinds, in the order messages list them. To add one: a member of
 * cai_model_kind, a loader in model_impl.h and a row here. */
static const struct kind_entry {
    const char *name; /* the value of `kind:` */
    cai_model_kind kind;
    model_kind_loader *load;
} kinds[] = {
    {"factor_graph", CAI_MODEL_FACTOR_GRAPH, model_load_factor_graph},
    {"mdp", CAI_MODEL_MDP, model_load_mdp},
    {"gridworld", CAI_MODEL_GRIDWORLD, model_load_gridworld},
    {"factored_mdp", CAI_MODEL_FACTORED_MDP, model_load_factored},
    {"lqr", CAI_MODEL_LQR, model_load_lqr},
    {"lgssm", CAI_MODEL_LGSSM, model_load_lgssm},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

/* ---- key readers shared by the kinds ----------------------------------- */

cai_status model_read_name(const yr_loader *L, const yr_field *name,
                           cai_model *m)
{
    if (name->value == NULL)
        return CAI_OK;
    const char *s;
    cai_status st = yr_read_string(L, name->value, NULL, "name", false, &s);
    if (st != CAI_OK)
        return st;
    if ((m->name = strdup(s)) == NULL)
        return yr_nomem(L);
    return CAI_OK;
}

cai_status model_read_root(const yr_loader *L, yaml_node_t *root, yr_field *f,
                           size_t nf, size_t name, cai_model *m)
{
    cai_status st = yr_read_fields(L, root, "the model", f, nf);
    if (st != CAI_OK)
        return st;
    return model_read_name(L, &f[name], m);
}

cai_status model_read_number(const yr_loader *L, const yr_field *f,
                             const char *where, double dflt, double *out)
{
    double v = dflt;
    if (f->value != NULL && (!yr_parse_number(f->value, &v) || !isfinite(v)))
        return yr_fail_got(L, f->value, "%s'%s' must be a finite number",
                           yr_prefix_of(where).s, f->key);
    *out = v;
    return CAI_OK;
}

cai_status model_read_time(const yr_loader *L, const yaml_node_t *root,
                           const yr_field *horizon, const yr_field *discount,
                           size_t *out_horizon, double *out_discount)
{
    if (horizon->value != NULL && discount->value != NULL) {
        const yr_field *later = horizon->key_node->start_mark.index >
                                        discount->key_node->start_mark.index
                                    ? horizon
                                    : discount;
        const yr_field *earlier = later == horizon ? discount : horizon;
        return yr_fail_at(L, later->key_node,
                          "give either 'horizon' or 'discount', not both "
                          "('%s' is at line %zu)",
                          earlier->key,
                          (size_t)earlier->key_node->start_mark.line + 1);
    }
    if (horizon->value == NULL && discount->value == NULL)
        return yr_fail_at(L, root,
                          "missing key 'horizon' or 'discount' in the model "
                          "(give exactly one)");
    if (horizon->value != NULL) {
        size_t T;
        yr_int_result r = yr_parse_count(horizon->value, MODEL_MAX_COUNT, &T);
        if (r == YR_INT_TOO_BIG)
            return yr_fail_at(
                L, horizon->value, "horizon %s exceeds the maximum %.0f",
                yr_show(yr_text(horizon->value)).s, MODEL_MAX_COUNT);
        if (r != YR_INT_OK || T == 0)
            return yr_fail_got(L, horizon->value,
                               "'horizon' must be an integer >= 1");
        *out_horizon = T;
        *out_discount = 0.0;
        return CAI_OK;
    }
    double g;
    if (!yr_parse_number(discount->value, &g) || !(g > 0.0 && g < 1.0))
        return yr_fail_got(L, discount->value,
                           "'discount' must be a number in (0, 1)");
    *out_horizon = 0;
    *out_discount = g;
    return CAI_OK;
}

cai_status model_read_temperature(const yr_loader *L, const yr_field *f,
                                  double *out)
{
    double t = 1.0;
    if (f->value != NULL &&
        (!yr_parse_number(f->value, &t) || !isfinite(t) || t < 0.0))
        return yr_fail_got(L, f->value,
                           "'temperature' must be a finite number >= 0");
    *out = t + 0.0; /* -0 reads as 0 */
    return CAI_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

/* "a, b or c" */
static void list_kinds(char *buf, size_t size)
{
    yr_field f[N_KINDS];
    for (size_t i = 0; i < N_KINDS; i++)
        f[i] = (yr_field){kinds[i].name, NULL, NULL};
    yr_list_keys(f, N_KINDS, buf, size);
}

/* Dispatch on `kind`; fills m. */
static cai_status load_document(const yr_loader *L, yaml_node_t *root,
                                cai_model *m)
{
    if (root->type != YAML_MAPPING_NODE)
        return yr_fail_got(L, root, "a model must be a mapping with a 'kind'");
    char expected[128];
    list_kinds(expected, sizeof expected);
    yaml_node_t *kind = yr_lookup(L, root, "kind");
    if (kind == NULL)
        return yr_fail_at(L, root,
                          "missing key 'kind' in the model (expected kind: %s)",
                          expected);
    const char *name;
    cai_status st = yr_read_string(L, kind, NULL, "kind", false, &name);
    if (st != CAI_OK)
        return st;
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(name, kinds[i].name) == 0) {
            m->kind = kinds[i].kind;
            return kinds[i].load(L, root, m);
        }
    return yr_fail_at(L, kind, "unknown kind '%s' (expected %s)",
                      yr_show(name).s, expected);
}

void cai_model_free(cai_model *m)
{
    if (m == NULL)
        return;
    cai_graph_free(m->graph);
    cai_mdp_free(m->mdp);
    cai_factored_free(m->factored);
    cai_lqr_free(m->lqr);
    cai_lgssm_free(m->lgssm);
    free(m->inference.blocks);
    free(m->name);
    free(m);
}

cai_status model_load_text(const char *txt, size_t len, const char *name,
                           bool stream, cai_model **out_model, cai_error *err)
{
    if (txt == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_load_string: NULL argument");
    /* an mdp's transitions and rewards are read while composing
     * (mdp_stream.c): the only sections large enough to matter */
    mdp_stream ms;
    yr_fast_stream fs;
    mdp_stream_init(&ms, name, &fs);
    yr_loader L = {.path = name, .err = err, .stream = stream ? &fs : NULL};
    yaml_node_t *root;
    cai_model *m = NULL;
    cai_status st = yr_loader_parse(
        &L, txt, len, "empty model: expected a mapping with a 'kind'", &root);
    if (st != CAI_OK)
        goto fail;
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        st = yr_nomem(&L);
        goto fail;
    }
    if ((st = load_document(&L, root, m)) != CAI_OK)
        goto fail;
    if (m->name == NULL && (m->name = strdup("")) == NULL) {
        st = yr_nomem(&L);
        goto fail;
    }
    yr_loader_clear(&L);
    mdp_stream_clear(&ms);
    *out_model = m;
    return CAI_OK;
fail:
    cai_model_free(m);
    yr_loader_clear(&L);
    mdp_stream_clear(&ms);
    return st;
}

cai_status cai_model_load_string(const char *txt, size_t len, const char *name,
                                 cai_model **out_model, cai_error *err)
{
    return model_load_text(txt, len, name, true, out_model, err);
}

cai_status cai_model_load(const char *path, cai_model **out_model,
                          cai_error *err)
{
    if (path == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_load: NULL argument");
    cai_model_format fmt = cai_model_format_of(path);
    if (fmt != CAI_FORMAT_YAML) /* .uai, .fg, .bif: lib/io/formats.c */
        return cai_model_load_as(path, fmt, out_model, err);
    char *buf;
    size_t len;
    cai_status st = yr_read_file(path, &buf, &len, err);
    if (st != CAI_OK)
        return st;
    st = cai_model_load_string(buf, len, path, out_model, err);
    free(buf);
    return st;
}

cai_model_kind cai_model_get_kind(const cai_model *m)
{
    return m->kind;
}

const char *cai_model_kind_name(cai_model_kind kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return "unknown";
}

const char *cai_model_name(const cai_model *m)
{
    return m->name ? m->name : "";
}

const cai_graph *cai_model_graph(const cai_model *m)
{
    return m->graph;
}

const cai_mdp *cai_model_mdp(const cai_model *m)
{
    return m->mdp;
}

const cai_lqr *cai_model_lqr(const cai_model *m)
{
    return m->lqr;
}

const cai_lgssm *cai_model_lgssm(const cai_model *m)
{
    return m->lgssm;
}

const cai_factored_mdp *cai_model_factored(const cai_model *m)
{
    return m->factored;
}

cai_status cai_model_flatten(cai_model *m, double max_states, cai_error *err)
{
    if (m == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_flatten: NULL argument");
    if (m->factored == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "only a factored_mdp model can be flattened; this is a %s",
                             cai_model_kind_name(m->kind));
    if (m->mdp != NULL)
        return CAI_OK;
    return cai_factored_flatten(m->factored, max_states, &m->mdp, err);
}

cai_model_inference cai_model_inference_defaults(const cai_model *m)
{
    return m->inference;
}
