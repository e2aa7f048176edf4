/* lib/io/model.c — the public model API and the dispatcher on `kind`.
 *
 * yaml_read.c turns the text into one YAML document; this file finds the
 * model's `kind` and hands the root mapping to that kind's loader
 * (factor_graph.c, ...), which checks it and fills the cai_model. */
#include "model_impl.h"

#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"

/* The kinds, in the order messages list them. To add one: a member of
 * cai_model_kind, a loader in model_impl.h and a row here. */
static const struct kind_entry {
    const char *name; /* the value of `kind:` */
    cai_model_kind kind;
    model_kind_loader *load;
} kinds[] = {
    {"factor_graph", CAI_MODEL_FACTOR_GRAPH, model_load_factor_graph},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

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
        return yr_fail_at(L, root,
                          "a model must be a mapping with a 'kind', got %s",
                          yr_describe(root).s);
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
    free(m->name);
    free(m);
}

cai_status cai_model_load_string(const char *txt, size_t len, const char *name,
                                 cai_model **out_model, cai_error *err)
{
    if (txt == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, name, 0, 0,
                             "cai_model_load_string: NULL argument");
    yr_loader L = {.path = name, .err = err};
    yaml_node_t *root;
    cai_status st = yr_loader_parse(
        &L, txt, len, "empty model: expected a mapping with a 'kind'", &root);
    if (st != CAI_OK)
        return st;
    cai_model *m = calloc(1, sizeof *m);
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
    *out_model = m;
    return CAI_OK;
fail:
    cai_model_free(m);
    yr_loader_clear(&L);
    return st;
}

cai_status cai_model_load(const char *path, cai_model **out_model,
                          cai_error *err)
{
    if (path == NULL || out_model == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_model_load: NULL argument");
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
