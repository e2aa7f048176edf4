/* lib/io/model_impl.h — what the kind loaders see inside a cai_model.
 *
 * Internal to libcai (not installed). model.c owns the public API and the
 * dispatcher on `kind`; each kind has its own file (factor_graph.c, ...)
 * with one loader declared below and one row in model.c's kinds[] table. */
#ifndef CAI_IO_MODEL_IMPL_H
#define CAI_IO_MODEL_IMPL_H

#include <yaml.h>

#include "cai/model.h"
#include "yaml_read.h"

/* Allocated zeroed by model.c, freed by cai_model_free(); a kind loader
 * fills its own members and may leave partial ones behind on failure
 * (cai_model_free() releases them). */
struct cai_model {
    cai_model_kind kind; /* set by the dispatcher before the loader runs */
    char *name;          /* "" when the model has no name; owned */
    cai_graph *graph;    /* factor_graph models; owned */
};

/* A kind loader: check root (a mapping holding `kind`, not yet otherwise
 * checked) against the kind's schema and fill m. Errors go to L->err. */
typedef cai_status model_kind_loader(const yr_loader *L, yaml_node_t *root,
                                     cai_model *m);

/* kind: factor_graph (lib/io/factor_graph.c) */
cai_status model_load_factor_graph(const yr_loader *L, yaml_node_t *root,
                                   cai_model *m);

#endif
