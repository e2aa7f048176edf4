/* lib/io/inference.c — the `inference:` defaults of a `kind: factor_graph`
 * model (see cai/model.h): the algorithm and its options, and the clusters
 * of structured mean field. */
#include "model_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"
#include "cai/logmath.h"

/* The string n if it is one of names[0..n_names-1] (the static copy). */
static const char *one_of(const yaml_node_t *n, const char *const *names, size_t n_names)
{
    for (size_t i = 0; yr_is_string(n) && i < n_names; i++)
        if (strcmp(yr_text(n), names[i]) == 0)
            return names[i];
    return NULL;
}

cai_status model_read_inference(const yr_loader *L, yaml_node_t *n, cai_model_inference *out,
                                yaml_node_t **out_clusters)
{
    static const char *const algorithms[] = {"exact", "map", "loopy", "meanfield"};
    static const char *const schedules[] = {"flooding", "sequential", "residual"};
    const char *where = "'inference'";
    if (n->type != YAML_MAPPING_NODE)
        return yr_fail_got(L, n, "'inference' must be a mapping like {algorithm: loopy}");
    yr_field f[6] = {{"algorithm", NULL, NULL},
                     {"schedule", NULL, NULL},
                     {"damping", NULL, NULL},
                     {"tol", NULL, NULL},
                     {"max_iterations", NULL, NULL},
                     {"clusters", NULL, NULL}};
    cai_status st = yr_read_fields(L, n, where, f, 6);
    if (st != CAI_OK)
        return st;
    cai_model_inference inf = {0};
    if (f[0].value != NULL && (inf.algorithm = one_of(f[0].value, algorithms, 4)) == NULL)
        return yr_fail_got(L, f[0].value, "inference: 'algorithm' must be exact, map, loopy "
                                          "or meanfield");
    if (f[1].value != NULL && (inf.schedule = one_of(f[1].value, schedules, 3)) == NULL)
        return yr_fail_got(L, f[1].value, "inference: 'schedule' must be flooding, "
                                          "sequential or residual");
    if (f[2].value != NULL) {
        if (!yr_parse_number(f[2].value, &inf.damping) || !(inf.damping >= 0.0)
            || !(inf.damping < 1.0))
            return yr_fail_got(L, f[2].value, "inference: 'damping' must be a number in "
                                              "[0, 1)");
        inf.has_damping = true;
    }
    if (f[3].value != NULL) {
        if (!yr_parse_number(f[3].value, &inf.tol) || !(inf.tol > 0.0) || !isfinite(inf.tol))
            return yr_fail_got(L, f[3].value, "inference: 'tol' must be a finite number > 0");
        inf.has_tol = true;
    }
    if (f[4].value != NULL) {
        size_t k;
        if (yr_parse_count(f[4].value, MODEL_MAX_COUNT, &k) != YR_INT_OK || k == 0)
            return yr_fail_got(L, f[4].value, "inference: 'max_iterations' must be an "
                                              "integer >= 1");
        inf.max_iterations = k;
        inf.has_max_iterations = true;
    }
    if (f[5].value != NULL && inf.algorithm != NULL && strcmp(inf.algorithm, "meanfield") != 0)
        return yr_fail_at(L, f[5].key_node, "inference: 'clusters' needs algorithm meanfield "
                                            "(the algorithm is %s)", inf.algorithm);
    *out = inf;
    *out_clusters = f[5].value;
    return CAI_OK;
}

cai_status model_read_clusters(const yr_loader *L, const cai_graph *g, yaml_node_t *n,
                               cai_model_inference *out)
{
    static const char *const shape = "inference: 'clusters' must be a sequence of "
                                     "sequences of variable names like [[x1, x2], [x3]]";
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "%s", shape);
    size_t nv = cai_graph_n_variables(g), nc = yr_seq_len(n), bytes;
    if (!cai_size_mul(nv ? nv : 1, sizeof(size_t), &bytes))
        return yr_overflow(L, "inference: too many variables");
    size_t *blocks = malloc(bytes);
    const yaml_node_t **first = NULL; /* per variable: where it was listed */
    if (blocks == NULL || (first = calloc(nv ? nv : 1, sizeof *first)) == NULL) {
        free(blocks);
        return yr_nomem(L);
    }
    cai_status st = CAI_OK;
    for (size_t v = 0; v < nv; v++)
        blocks[v] = CAI_NONE;
    for (size_t c = 0; c < nc && st == CAI_OK; c++) {
        yaml_node_t *cn = yr_seq_item(L, n, c);
        if (cn == NULL || cn->type != YAML_SEQUENCE_NODE) {
            st = yr_fail_got(L, cn ? cn : n, "inference: cluster %zu must be a sequence of "
                                             "variable names like [x1, x2]", c);
            break;
        }
        size_t len = yr_seq_len(cn);
        if (len == 0) {
            st = yr_fail_at(L, cn, "inference: cluster %zu is empty", c);
            break;
        }
        for (size_t i = 0; i < len && st == CAI_OK; i++) {
            yaml_node_t *x = yr_seq_item(L, cn, i);
            if (x == NULL || !yr_is_string(x) || x->type != YAML_SCALAR_NODE) {
                st = yr_fail_got(L, x ? x : cn, "inference: cluster %zu: expected a "
                                                "variable name", c);
                break;
            }
            size_t v = cai_graph_find_variable(g, yr_text(x));
            if (v == CAI_NONE)
                st = yr_fail_at(L, x, "inference: cluster %zu: unknown variable '%s'", c,
                                yr_show(yr_text(x)).s);
            else if (blocks[v] != CAI_NONE)
                st = yr_fail_at(L, x, "inference: variable '%s' is in cluster %zu and "
                                      "again in cluster %zu (first at line %zu, column %zu)",
                                yr_show(yr_text(x)).s, blocks[v], c,
                                (size_t)first[v]->start_mark.line + 1,
                                (size_t)first[v]->start_mark.column + 1);
            else {
                blocks[v] = c;
                first[v] = x;
            }
        }
    }
    free(first);
    if (st != CAI_OK) {
        free(blocks);
        return st;
    }
    for (size_t v = 0, next = nc; v < nv; v++)
        if (blocks[v] == CAI_NONE)
            blocks[v] = next++;
    out->blocks = blocks;
    return CAI_OK;
}
