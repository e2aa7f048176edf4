/* lib/io/model_impl.h — what the kind loaders see inside a cai_model.
 *
 * Internal to libcai (not installed). model.c owns the public API and the
 * dispatcher on `kind`; each kind has its own file (factor_graph.c, ...)
 * with one loader declared below and one row in model.c's kinds[] table. */
#ifndef CAI_IO_MODEL_IMPL_H
#define CAI_IO_MODEL_IMPL_H

#include <stdbool.h>

#include <yaml.h>

#include "cai/factored.h"
#include "cai/model.h"
#include "yaml_read.h"

/* Allocated zeroed by model.c, freed by cai_model_free(); a kind loader
 * fills its own members and may leave partial ones behind on failure
 * (cai_model_free() releases them). */
struct cai_model {
    cai_model_kind kind; /* set by the dispatcher before the loader runs */
    char *name;          /* "" when the model has no name; owned */
    cai_graph *graph;    /* factor_graph models; owned */
    cai_mdp *mdp;        /* mdp and gridworld models, flattened factored_mdp; owned */
    cai_factored_mdp *factored; /* factored_mdp models; owned */
    cai_lqr *lqr;        /* lqr models; owned */
    cai_lgssm *lgssm;    /* lgssm models; owned */
    cai_model_inference inference; /* factor_graph: `inference:` defaults */
};

/* A kind loader: check root (a mapping holding `kind`, not yet otherwise
 * checked) against the kind's schema and fill m. Errors go to L->err. */
typedef cai_status model_kind_loader(const yr_loader *L, yaml_node_t *root,
                                     cai_model *m);

/* kind: factor_graph (lib/io/factor_graph.c) */
cai_status model_load_factor_graph(const yr_loader *L, yaml_node_t *root,
                                   cai_model *m);

/* kind: mdp (lib/io/mdp.c) */
cai_status model_load_mdp(const yr_loader *L, yaml_node_t *root, cai_model *m);

/* kind: gridworld (lib/io/gridworld.c) */
cai_status model_load_gridworld(const yr_loader *L, yaml_node_t *root,
                                cai_model *m);

/* kind: factored_mdp (lib/io/factored.c); the graph is the unrolled DBN */
cai_status model_load_factored(const yr_loader *L, yaml_node_t *root, cai_model *m);

/* kind: lqr (lib/io/lqr.c) */
cai_status model_load_lqr(const yr_loader *L, yaml_node_t *root, cai_model *m);

/* kind: lgssm (lib/io/lgssm.c) */
cai_status model_load_lgssm(const yr_loader *L, yaml_node_t *root, cai_model *m);

/* cai_model_load_string, and with stream false without reading an mdp's
 * sections while composing (mdp_stream.c): for tests, which compare the
 * two. */
cai_status model_load_text(const char *txt, size_t len, const char *name,
                           bool stream, cai_model **out_model, cai_error *err);

/* ---- key readers shared by the kinds (lib/io/model.c) ---- */

/* The largest count the loader accepts for states, actions and horizons:
 * far beyond any model that fits in memory, small enough that sizes never
 * overflow and typos like 1e30 are caught. */
#define MODEL_MAX_COUNT 100000000.0

/* A distribution's probabilities must sum to 1 within this (every kind, the
 * CSV tables too; messages say "within 1e-9"). */
#define MODEL_SUM_TOL 1e-9

/* The optional `name` (a string) into m->name. */
cai_status model_read_name(const yr_loader *L, const yr_field *name,
                           cai_model *m);

/* The root mapping's keys matched against f[0..nf-1] by yr_read_fields
 * (errors say "in the model"), then model_read_name() of f[name]. */
cai_status model_read_root(const yr_loader *L, yaml_node_t *root, yr_field *f,
                           size_t nf, size_t name, cai_model *m);

/* The time keys of a control model: exactly one of `horizon` (an integer
 * in 1..MODEL_MAX_COUNT) and `discount` (in (0, 1)); the other output is
 * 0. Both given: error at the later key; neither: at root. */
cai_status model_read_time(const yr_loader *L, const yaml_node_t *root,
                           const yr_field *horizon, const yr_field *discount,
                           size_t *out_horizon, double *out_discount);

/* f->value as a finite number (any sign) into *out, dflt when f is absent:
 * "WHERE: 'KEY' must be a finite number, got ...". */
cai_status model_read_number(const yr_loader *L, const yr_field *f,
                             const char *where, double dflt, double *out);

/* `temperature`: a finite number >= 0, 1 when absent. */
cai_status model_read_temperature(const yr_loader *L, const yr_field *f,
                                  double *out);

/* ---- `inference:` of a factor graph (lib/io/inference.c) ---- */

/* The scalar options of `inference:` into *out; *out_clusters gets the
 * value node of `clusters` (NULL when absent), read by model_read_clusters
 * once the variables are known. */
cai_status model_read_inference(const yr_loader *L, yaml_node_t *n, cai_model_inference *out,
                                yaml_node_t **out_clusters);

/* `clusters: [[x1, x2], [x3]]` into out->blocks (n_variables entries):
 * cluster i is block i, then every variable not listed gets the next block
 * in index order. Clusters are non-empty and disjoint. */
cai_status model_read_clusters(const yr_loader *L, const cai_graph *g, yaml_node_t *n,
                               cai_model_inference *out);

/* ---- matrices and vectors of the linear-Gaussian kinds (lib/io/matrix.c) ---- */

/* f->value (present) as a matrix, a non-empty sequence of rows of numbers,
 * into a fresh array *out (row-major; free() it). rows == 0: any number of
 * rows up to max_rows, else exactly rows; cols == 0: the first row's length
 * (up to max_cols), else exactly cols. shape ends the size errors ("'B' has
 * 3 rows, expected 2 (SHAPE)"). *out_rows and *out_cols (may be NULL) get
 * the size. */
cai_status model_read_matrix(const yr_loader *L, const yr_field *f, size_t rows, size_t cols,
                             size_t max_rows, size_t max_cols, const char *shape,
                             double **out, size_t *out_rows, size_t *out_cols);

/* An n x n matrix into a fresh *out with the properties check asks for
 * (cai_gauss_matrix_check flags, 0 = none; its message at the node), or
 * *out = NULL when f is absent. */
cai_status model_read_square(const yr_loader *L, const yr_field *f, size_t n, unsigned check,
                             const char *shape, double **out);

/* A sequence of n numbers into a fresh *out, or *out = NULL when f is
 * absent; what_n says where n comes from ("the rows of A"). */
cai_status model_read_vector(const yr_loader *L, const yr_field *f, size_t n,
                             const char *what_n, double **out);

#endif
