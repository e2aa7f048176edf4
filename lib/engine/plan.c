/* lib/engine/plan.c — analyse a graph once: absorb, check for a forest,
 * root, order, lay out messages. Also the workspace. */
#include "graph_impl.h"
#include "plan_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Largest dense table the plan builds when an absorbed factor touches a
 * cluster's column variable. */
#define MATERIALIZE_MAX ((size_t)1 << 26)

enum role { ROLE_LOCAL, ROLE_PRIOR, ROLE_HOST, ROLE_ABSORBED };

cai_plan_options cai_plan_options_default(void)
{
    return (cai_plan_options){.algorithm = CAI_SUM_PRODUCT, .root = CAI_NONE,
                              .max_expectation = false, .upward_only = false};
}

/* calloc n elements of size elem with an overflow check. */
static void *alloc_array(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    return calloc(1, bytes);
}

void cai_plan_free(cai_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t v = 0; v < plan->n_vars; v++) {
        free(plan->vars[v].unary);
        free(plan->vars[v].unary_sr);
    }
    for (size_t c = 0; c < plan->n_clusters; c++) {
        for (size_t a = 0; a < plan->clusters[c].n_abs; a++)
            free(plan->clusters[c].abs[a].pos);
        free(plan->clusters[c].abs);
        free(plan->clusters[c].vars);
    }
    if (plan->homes)
        for (size_t f = 0; f < plan->n_factors; f++)
            free(plan->homes[f].pos);
    for (size_t i = 0; i < plan->n_owned; i++)
        cai_potential_unref(plan->owned[i]);
    for (size_t i = 0; i < plan->n_bufs; i++)
        free(plan->bufs[i]);
    free(plan->bufs);
    free(plan->owned);
    free(plan->homes);
    free(plan->trees);
    free(plan->clusters);
    free(plan->vars);
    free(plan);
}

/* ---- analysis state, freed at the end of cai_plan_create ---- */

typedef struct analysis {
    const cai_graph *g;
    bool expect_on;      /* expectation modes count (sum-product or max_expectation) */
    enum role *role;     /* per factor */
    size_t *host;        /* per factor: final host factor (ROLE_ABSORBED) */
    size_t *adj_off;     /* per var: offsets into adj (multi-variable factors) */
    size_t *adj;
    size_t *mark;        /* per var */
    size_t *hosts;       /* host factor of each cluster, in factor order */
    size_t n_hosts;
    size_t *cl_of;       /* per factor: its cluster (hosts) */
    size_t *cadj_off;    /* per var: offsets into cadj (clusters containing it) */
    size_t *cadj;
    size_t *prior;       /* per var: prior factor or CAI_NONE */
    long *viol;          /* per var */
    size_t *queue;       /* BFS order of variables */
    size_t *par_cl;      /* per var: cluster it was reached through */
    size_t *seen;        /* per var: stamp */
    size_t *cseen;       /* per cluster: stamp */
    size_t *order;       /* clusters top-down */
    size_t *up_var;      /* per cluster: up variable */
} analysis;

static void analysis_free(analysis *a)
{
    free(a->role); free(a->host); free(a->adj_off); free(a->adj); free(a->mark);
    free(a->hosts); free(a->cl_of); free(a->cadj_off); free(a->cadj); free(a->prior);
    free(a->viol); free(a->queue); free(a->par_cl); free(a->seen); free(a->cseen);
    free(a->order); free(a->up_var);
}

static bool is_expect(const analysis *a, size_t f)
{
    return a->expect_on && a->g->factors[f].mode == CAI_MODE_EXPECTATION;
}

/* SR_SUPPORT when factor f counts only through its support. */
static semiring factor_sr(const factor *f)
{
    return f->mode == CAI_MODE_SUPPORT ? SR_SUPPORT : SR_SUM;
}

/* log value of factor f at the joint state idx of its scope positions. */
static double factor_log_value(const factor *f, const size_t *idx)
{
    return potential_log_value_sr(f->p, potential_row_of(f->p, idx), idx[f->k - 1],
                                  factor_sr(f));
}

/* Position of variable v in factor f's scope, or CAI_NONE. */
static size_t scope_pos(const factor *f, size_t v)
{
    for (size_t i = 0; i < f->k; i++)
        if (f->scope[i] == v)
            return i;
    return CAI_NONE;
}

/* The absorption order: larger arity, then expectation factors, then lower index. */
static bool comes_before(const analysis *a, size_t h, size_t f)
{
    const factor *H = &a->g->factors[h], *F = &a->g->factors[f];
    if (H->k != F->k)
        return H->k > F->k;
    bool eh = is_expect(a, h), ef = is_expect(a, f);
    return eh != ef ? eh : h < f;
}

/* Does factor h come before f in the absorption order (larger arity, then
 * expectation factors, then lower index), with f's variables a subset of h's?
 * Then f belongs inside h. */
static bool inside(analysis *a, size_t f, size_t h)
{
    const factor *F = &a->g->factors[f], *H = &a->g->factors[h];
    if (h == f || !comes_before(a, h, f))
        return false;
    size_t hits = 0;
    for (size_t i = 0; i < H->k; i++)
        hits += a->mark[H->scope[i]] == f + 1;
    return hits == F->k;
}

static cai_status classify(analysis *a, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars, nf = g->n_factors;
    /* variable -> multi-variable factor adjacency */
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                a->adj_off[g->factors[f].scope[i] + 1]++;
    for (size_t v = 0; v < nv; v++)
        a->adj_off[v + 1] += a->adj_off[v];
    size_t *fill = a->seen; /* borrowed as a cursor */
    memcpy(fill, a->adj_off, nv * sizeof *fill);
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2)
            for (size_t i = 0; i < g->factors[f].k; i++)
                a->adj[fill[g->factors[f].scope[i]]++] = f;
    for (size_t v = 0; v < nv; v++)
        a->prior[v] = CAI_NONE;

    for (size_t f = 0; f < nf; f++) {
        const factor *F = &g->factors[f];
        a->host[f] = CAI_NONE;
        if (F->k == 1) {
            size_t v = F->scope[0];
            if (!is_expect(a, f)) {
                a->role[f] = ROLE_LOCAL;
                continue;
            }
            if (a->prior[v] != CAI_NONE)
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "variable '%s' has two expectation-mode priors (factors %zu and %zu)",
                                     g->vars[v].name, a->prior[v], f);
            a->prior[v] = f;
            a->role[f] = ROLE_PRIOR;
            continue;
        }
        /* the scope variable with the fewest factors bounds the search */
        size_t best_v = F->scope[0];
        for (size_t i = 0; i < F->k; i++) {
            size_t v = F->scope[i];
            a->mark[v] = f + 1;
            if (a->adj_off[v + 1] - a->adj_off[v] < a->adj_off[best_v + 1] - a->adj_off[best_v])
                best_v = v;
        }
        size_t best = CAI_NONE;
        for (size_t j = a->adj_off[best_v]; j < a->adj_off[best_v + 1]; j++) {
            size_t h = a->adj[j];
            if (!inside(a, f, h))
                continue;
            if (is_expect(a, f))
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "expectation-mode factor %zu lies inside factor %zu: an "
                                     "expectation conditional must be a cluster of its own",
                                     f, h);
            if (best == CAI_NONE || comes_before(a, h, best))
                best = h;
        }
        a->role[f] = best == CAI_NONE ? ROLE_HOST : ROLE_ABSORBED;
        a->host[f] = best;
    }
    /* follow chains f -> h -> H to the final host (keys strictly decrease) */
    for (size_t f = 0; f < nf; f++) {
        size_t h = a->host[f];
        while (h != CAI_NONE && a->role[h] == ROLE_ABSORBED)
            h = a->host[h];
        a->host[f] = h;
    }
    return CAI_OK;
}

static size_t uf_find(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

/* Hosts become clusters; check the variable-cluster graph is a forest. */
static cai_status check_forest(analysis *a, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars, nf = g->n_factors;
    a->n_hosts = 0;
    for (size_t f = 0; f < nf; f++) {
        a->cl_of[f] = CAI_NONE;
        if (a->role[f] == ROLE_HOST) {
            a->cl_of[f] = a->n_hosts;
            a->hosts[a->n_hosts++] = f;
        }
    }
    size_t *parent = alloc_array(nv + a->n_hosts, sizeof(size_t));
    if (parent == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < nv + a->n_hosts; i++)
        parent[i] = i;
    cai_status st = CAI_OK;
    for (size_t c = 0; c < a->n_hosts && st == CAI_OK; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++) {
            size_t x = uf_find(parent, F->scope[i]), y = uf_find(parent, nv + c);
            if (x == y) {
                st = cai_error_set(err, CAI_ERR_CYCLE, NULL, 0, 0,
                                   "the graph has a cycle through variable '%s' (factor %zu); "
                                   "exact message passing needs a forest",
                                   g->vars[F->scope[i]].name, a->hosts[c]);
                break;
            }
            parent[x] = y;
        }
    }
    free(parent);
    if (st != CAI_OK)
        return st;
    /* variable -> cluster adjacency, in cluster order */
    for (size_t c = 0; c < a->n_hosts; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++)
            a->cadj_off[F->scope[i] + 1]++;
    }
    for (size_t v = 0; v < nv; v++)
        a->cadj_off[v + 1] += a->cadj_off[v];
    size_t *fill = a->seen;
    memcpy(fill, a->cadj_off, nv * sizeof *fill);
    for (size_t c = 0; c < a->n_hosts; c++) {
        const factor *F = &g->factors[a->hosts[c]];
        for (size_t i = 0; i < F->k; i++)
            a->cadj[fill[F->scope[i]]++] = c;
    }
    return CAI_OK;
}

/* Breadth-first from root: a->queue[*q0 ..) gets the variables, a->par_cl
 * the cluster each came through, a->up_var each cluster's up variable, and
 * (when order != NULL) the clusters in top-down order. Returns the number of
 * variables visited. */
static size_t bfs(analysis *a, size_t root, size_t stamp, size_t q0,
                  size_t *order, size_t *n_order)
{
    const cai_graph *g = a->g;
    size_t head = q0, tail = q0;
    a->queue[tail++] = root;
    a->seen[root] = stamp;
    a->par_cl[root] = CAI_NONE;
    while (head < tail) {
        size_t v = a->queue[head++];
        for (size_t j = a->cadj_off[v]; j < a->cadj_off[v + 1]; j++) {
            size_t c = a->cadj[j];
            if (a->cseen[c] == stamp)
                continue;
            a->cseen[c] = stamp;
            a->up_var[c] = v;
            if (order)
                order[(*n_order)++] = c;
            const factor *F = &g->factors[a->hosts[c]];
            for (size_t i = 0; i < F->k; i++) {
                size_t w = F->scope[i];
                if (a->seen[w] == stamp)
                    continue;
                a->seen[w] = stamp;
                a->par_cl[w] = c;
                a->queue[tail++] = w;
            }
        }
    }
    return tail - q0;
}

/* Child variable of cluster c when it is an expectation conditional. */
static size_t expect_child(const analysis *a, size_t c)
{
    size_t f = a->hosts[c];
    if (!is_expect(a, f))
        return CAI_NONE;
    const factor *F = &a->g->factors[f];
    return F->scope[F->k - 1];
}

/* Pick each tree's root and order the clusters top-down. */
static cai_status root_trees(analysis *a, cai_plan *plan, size_t want_root,
                             cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nv = g->n_vars;
    size_t stamp = 1, n_order = 0, q0 = 0;
    for (size_t v = 0; v < nv; v++)
        a->seen[v] = 0;
    for (size_t c = 0; c < a->n_hosts; c++)
        a->cseen[c] = 0;
    plan->n_trees = 0;
    for (size_t r0 = 0; r0 < nv; r0++) {
        if (a->seen[r0] != 0)
            continue;
        /* first pass from the lowest variable: count violations there, then
         * carry them across each cluster (only that cluster's side flips) */
        size_t n_first = n_order;
        size_t n = bfs(a, r0, stamp++, q0, a->order, &n_first);
        long v0 = 0;
        for (size_t i = 0; i < n; i++) {
            size_t v = a->queue[q0 + i];
            if (a->prior[v] != CAI_NONE && v != r0)
                v0++;
        }
        for (size_t i = n_order; i < n_first; i++) {
            size_t c = a->order[i];
            if (expect_child(a, c) == a->up_var[c])
                v0++;
        }
        a->viol[r0] = v0;
        size_t root = CAI_NONE;
        bool want_here = false;
        for (size_t i = 0; i < n; i++) {
            size_t w = a->queue[q0 + i];
            if (w != r0) {
                size_t c = a->par_cl[w], u = a->up_var[c], ch = expect_child(a, c);
                a->viol[w] = a->viol[u] - (ch == u) + (ch == w)
                             + (a->prior[u] != CAI_NONE) - (a->prior[w] != CAI_NONE);
            }
            if (w == want_root)
                want_here = true;
        }
        if (want_here) {
            if (a->viol[want_root] != 0)
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "variable '%s' cannot be the root: it is not on the "
                                     "parents' side of every expectation-mode factor",
                                     g->vars[want_root].name);
            root = want_root;
        } else {
            for (size_t i = 0; i < n; i++) {
                size_t w = a->queue[q0 + i];
                if (a->viol[w] == 0 && (root == CAI_NONE || w < root))
                    root = w;
            }
        }
        if (root == CAI_NONE)
            return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                 "the expectation-mode factors around variable '%s' conflict: "
                                 "no root lies on the parents' side of all of them",
                                 g->vars[r0].name);
        /* second pass from the chosen root fixes the order */
        bfs(a, root, stamp++, q0, a->order, &n_order);
        plan_tree *t = &plan->trees[plan->n_trees];
        t->root = root;
        t->prior = a->prior[root] != CAI_NONE ? g->factors[a->prior[root]].p : NULL;
        for (size_t i = 0; i < n; i++) {
            size_t w = a->queue[q0 + i];
            plan->vars[w].tree = plan->n_trees;
            plan->vars[w].up_cluster = a->par_cl[w]; /* a host index for now */
        }
        plan->n_trees++;
        q0 += n;
    }
    return CAI_OK;
}

/* Dense table over cluster c's scope: host plus every absorbed factor. */
static cai_status materialize(const analysis *a, size_t c,
                              const size_t *members, size_t n_members,
                              cai_potential **out_p, cai_error *err)
{
    const factor *H = &a->g->factors[a->hosts[c]];
    size_t total = H->p->n_rows * H->p->n_cols;
    if (total > MATERIALIZE_MAX)
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                             "factor %zu: absorbing factors into it needs a table of %zu "
                             "entries (limit %zu)", a->hosts[c], total, MATERIALIZE_MAX);
    double *t = alloc_array(total, sizeof(double));
    size_t *idx = alloc_array(H->k, sizeof(size_t));
    size_t *sub = alloc_array(H->k, sizeof(size_t));
    cai_status st = CAI_OK;
    if (t == NULL || idx == NULL || sub == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t e = 0; e < total; e++) {
        double v = factor_log_value(H, idx);
        for (size_t m = 0; m < n_members; m++) {
            const factor *F = &a->g->factors[members[m]];
            for (size_t i = 0; i < F->k; i++)
                sub[i] = idx[scope_pos(H, F->scope[i])];
            v += factor_log_value(F, sub);
        }
        t[e] = v;
        for (size_t i = H->k; i-- > 0;) { /* odometer, last fastest */
            if (++idx[i] < H->p->cards[i])
                break;
            idx[i] = 0;
        }
    }
    st = cai_potential_table_create(H->k, H->p->cards, t, out_p, err);
done:
    free(t);
    free(idx);
    free(sub);
    return st;
}

/* The plan keeps one reference per use; owned has room for two per factor. */
static void hold(cai_plan *plan, cai_potential *p)
{
    plan->owned[plan->n_owned++] = p;
}

static bool touches_child(const cai_graph *g, const factor *H, size_t f)
{
    const factor *F = &g->factors[f];
    for (size_t j = 0; j < F->k; j++)
        if (F->scope[j] == H->scope[H->k - 1])
            return true;
    return false;
}

/* Do hosts h1 and h2 get the same expected child terms from their absorbed
 * factors (same potentials at the same positions)? */
static bool same_child_terms(const cai_graph *g, size_t h1, const size_t *mem1, size_t n1,
                             size_t h2, const size_t *mem2, size_t n2)
{
    const factor *H1 = &g->factors[h1], *H2 = &g->factors[h2];
    if (H1->p != H2->p || n1 != n2)
        return false;
    for (size_t m = 0; m < n1; m++) {
        const factor *F1 = &g->factors[mem1[m]], *F2 = &g->factors[mem2[m]];
        if (F1->p != F2->p)
            return false;
        for (size_t j = 0; j < F1->k; j++)
            if (scope_pos(H1, F1->scope[j]) != scope_pos(H2, F2->scope[j]))
                return false;
    }
    return true;
}

typedef struct child_terms {
    const cai_graph *g;
    const factor *H;
    const size_t *mem;
    size_t nm;
    size_t *idx;  /* H->k states of the current entry */
    size_t row;   /* the row idx[0..k-2] holds, CAI_NONE at first */
} child_terms;

/* sum of log F over the absorbed factors touching the child, at (r, c) */
static double child_term(void *vctx, size_t r, size_t c)
{
    child_terms *t = vctx;
    const factor *H = t->H;
    if (t->row != r) {
        size_t rest = r;
        for (size_t i = H->k - 1; i-- > 0;) {
            t->idx[i] = rest % H->p->cards[i];
            rest /= H->p->cards[i];
        }
        t->row = r;
    }
    t->idx[H->k - 1] = c;
    double s = 0.0;
    for (size_t m = 0; m < t->nm; m++) {
        const factor *F = &t->g->factors[t->mem[m]];
        if (!touches_child(t->g, H, t->mem[m]))
            continue;
        size_t row = 0;
        for (size_t j = 0; j + 1 < F->k; j++)
            row = row * F->p->cards[j] + t->idx[scope_pos(H, F->scope[j])];
        s += potential_log_value_sr(F->p, row, t->idx[scope_pos(H, F->scope[F->k - 1])],
                                    factor_sr(F));
    }
    return s;
}

/* New erow for expectation host h: E_{p(c|r)}[sum of log F] per row. */
static cai_status expected_child_terms(const cai_graph *g, cai_plan *plan, size_t h,
                                       const size_t *mem, size_t nm, cai_error *err)
{
    const factor *H = &g->factors[h];
    double *erow = alloc_array(H->p->n_rows, sizeof(double));
    size_t *idx = alloc_array(H->k, sizeof(size_t));
    if (erow == NULL || idx == NULL) {
        free(erow);
        free(idx);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    child_terms t = {.g = g, .H = H, .mem = mem, .nm = nm, .idx = idx, .row = CAI_NONE};
    H->p->ops->expect_rows(H->p, child_term, &t, erow);
    free(idx);
    plan->bufs[plan->n_bufs++] = erow;
    return CAI_OK;
}

/* Fill plan->clusters in top-down order, with absorbed factors and homes. */
static cai_status build_clusters(analysis *a, cai_plan *plan, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nf = g->n_factors;
    size_t *pos_in_order = alloc_array(a->n_hosts, sizeof(size_t));
    size_t *n_members = alloc_array(a->n_hosts, sizeof(size_t));
    size_t *mem_off = alloc_array(a->n_hosts + 1, sizeof(size_t));
    size_t *members = alloc_array(nf, sizeof(size_t));
    cai_status st = CAI_OK;
    if (!pos_in_order || !n_members || !mem_off || !members) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < a->n_hosts; i++)
        pos_in_order[a->order[i]] = i;
    for (size_t f = 0; f < nf; f++)
        if (a->role[f] == ROLE_ABSORBED)
            n_members[a->cl_of[a->host[f]]]++;
    for (size_t c = 0; c < a->n_hosts; c++)
        mem_off[c + 1] = mem_off[c] + n_members[c];
    for (size_t c = 0; c < a->n_hosts; c++)
        n_members[c] = 0;
    for (size_t f = 0; f < nf; f++)
        if (a->role[f] == ROLE_ABSORBED) {
            size_t c = a->cl_of[a->host[f]];
            members[mem_off[c] + n_members[c]++] = f;
        }

    size_t m_off = 0, prev_c = CAI_NONE;
    const double *prev_erow = NULL; /* clusters alike in a row share one */
    for (size_t i = 0; i < a->n_hosts; i++) {
        size_t c = a->order[i], f = a->hosts[c];
        const factor *H = &g->factors[f];
        cluster *cl = &plan->clusters[i];
        cl->k = H->k;
        cl->expect = is_expect(a, f);
        cl->vars = alloc_array(H->k, sizeof(size_t));
        if (cl->vars == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        memcpy(cl->vars, H->scope, H->k * sizeof(size_t));
        cl->up = scope_pos(H, a->up_var[c]);
        cl->m_off = m_off;
        m_off += g->vars[a->up_var[c]].card;
        const size_t *mem = members + mem_off[c];
        size_t nm = n_members[c];
        /* Absorbed factors that touch the column variable: an expectation host
         * takes their expectation per row; a normal host becomes a dense table. */
        bool touches = false;
        for (size_t m = 0; m < nm; m++)
            touches |= touches_child(g, H, mem[m]);
        if (touches && !cl->expect) {
            cai_potential *mp = NULL;
            if ((st = materialize(a, c, mem, nm, &mp, err)) != CAI_OK)
                goto done;
            hold(plan, mp);
            cl->p = mp;
        } else {
            cl->p = H->p;
            cl->support = factor_sr(H);
            hold(plan, cai_potential_ref(H->p));
            cl->abs = alloc_array(nm, sizeof(absorbed));
            if (cl->abs == NULL) {
                st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
                goto done;
            }
            for (size_t m = 0; m < nm; m++) {
                const factor *F = &g->factors[mem[m]];
                if (touches_child(g, H, mem[m]))
                    continue;
                absorbed *ab = &cl->abs[cl->n_abs++];
                ab->p = F->p;
                ab->sr = factor_sr(F);
                hold(plan, cai_potential_ref(F->p));
                ab->k = F->k;
                ab->pos = alloc_array(F->k, sizeof(size_t));
                if (ab->pos == NULL) {
                    st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
                    goto done;
                }
                for (size_t j = 0; j < F->k; j++)
                    ab->pos[j] = scope_pos(H, F->scope[j]);
            }
            if (touches) {
                if (prev_erow && same_child_terms(g, a->hosts[prev_c], members + mem_off[prev_c],
                                                  n_members[prev_c], f, mem, nm)) {
                    cl->erow = prev_erow;
                } else {
                    if ((st = expected_child_terms(g, plan, f, mem, nm, err)) != CAI_OK)
                        goto done;
                    cl->erow = plan->bufs[plan->n_bufs - 1];
                }
                prev_erow = cl->erow;
                prev_c = c;
            }
        }
        plan->max_rows = cl->p->n_rows > plan->max_rows ? cl->p->n_rows : plan->max_rows;
        plan->max_cols = cl->p->n_cols > plan->max_cols ? cl->p->n_cols : plan->max_cols;
        plan->max_k = cl->k > plan->max_k ? cl->k : plan->max_k;
        size_t pc = 0;
        for (size_t j = 0; j + 1 < cl->k; j++)
            pc += g->vars[cl->vars[j]].card;
        plan->max_parent_cards = pc > plan->max_parent_cards ? pc : plan->max_parent_cards;
    }
    plan->msg_total = m_off;
    /* up clusters were host indices; make them positions in the order */
    for (size_t v = 0; v < plan->n_vars; v++)
        if (plan->vars[v].up_cluster != CAI_NONE)
            plan->vars[v].up_cluster = pos_in_order[plan->vars[v].up_cluster];
    /* where each original factor lives, for factor beliefs */
    for (size_t f = 0; f < nf; f++) {
        const factor *F = &g->factors[f];
        factor_home *h = &plan->homes[f];
        h->k = F->k;
        h->cluster = CAI_NONE;
        h->var = F->scope[0];
        if (a->role[f] == ROLE_LOCAL || a->role[f] == ROLE_PRIOR)
            continue;
        size_t hf = a->role[f] == ROLE_HOST ? f : a->host[f];
        h->cluster = pos_in_order[a->cl_of[hf]];
        h->pos = alloc_array(F->k, sizeof(size_t));
        if (h->pos == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        for (size_t j = 0; j < F->k; j++)
            h->pos[j] = scope_pos(&g->factors[hf], F->scope[j]);
    }
done:
    free(pos_in_order);
    free(n_members);
    free(mem_off);
    free(members);
    return st;
}

/* Do clusters c and d add the same constant row terms? */
static bool same_row_terms(const cluster *c, const cluster *d)
{
    if (c->p != d->p || c->n_abs != d->n_abs || c->erow != d->erow)
        return false;
    for (size_t i = 0; i < c->n_abs; i++) {
        const absorbed *x = &c->abs[i], *y = &d->abs[i];
        if (x->p != y->p || x->sr != y->sr || x->k != y->k)
            return false;
        for (size_t j = 0; j < x->k; j++)
            if (x->pos[j] != y->pos[j])
                return false;
    }
    return true;
}

/* Each cluster's constant log row terms (absorbed factors, erow) as one
 * array, and its exponential for the scaled kernels: computed once per run of
 * alike clusters, so the hot loop reads one array instead of evaluating
 * every absorbed potential per row. */
static cai_status build_row_terms(cai_plan *plan, cai_error *err)
{
    const cluster *prev = NULL;
    for (size_t i = 0; i < plan->n_clusters; i++) {
        cluster *c = &plan->clusters[i];
        if (c->n_abs == 0 && c->erow == NULL)
            continue;
        if (prev && same_row_terms(prev, c)) {
            c->xrow = prev->xrow;
            c->wrow = prev->wrow;
            c->xmax = prev->xmax;
            continue;
        }
        size_t R = c->p->n_rows, kp = c->k - 1;
        double *x = alloc_array(R, sizeof(double)), *w = alloc_array(R, sizeof(double));
        size_t *idx = alloc_array(c->k, sizeof(size_t));
        if (x == NULL || w == NULL || idx == NULL) {
            free(x);
            free(w);
            free(idx);
            return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        }
        double mx = -INFINITY;
        for (size_t r = 0; r < R; r++) {
            double s = c->erow ? c->erow[r] : 0.0;
            for (size_t a = 0; a < c->n_abs; a++) {
                const absorbed *ab = &c->abs[a];
                size_t row = 0;
                for (size_t j = 0; j + 1 < ab->k; j++)
                    row = row * ab->p->cards[j] + idx[ab->pos[j]];
                s += potential_log_value_sr(ab->p, row, idx[ab->pos[ab->k - 1]], ab->sr);
            }
            x[r] = s;
            mx = fmax(mx, s);
            for (size_t j = kp; j-- > 0;) { /* odometer over the parents */
                if (++idx[j] < c->p->cards[j])
                    break;
                idx[j] = 0;
            }
        }
        if (mx == -INFINITY || isnan(mx))
            mx = 0.0;
        for (size_t r = 0; r < R; r++)
            w[r] = exp(x[r] - mx);
        free(idx);
        plan->bufs[plan->n_bufs++] = x;
        plan->bufs[plan->n_bufs++] = w;
        c->xrow = x;
        c->wrow = w;
        c->xmax = mx;
        prev = c;
    }
    return CAI_OK;
}

cai_status cai_plan_create(const cai_graph *g, const cai_plan_options *opt,
                           cai_plan **out_plan, cai_error *err)
{
    if (g == NULL || out_plan == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_plan_options o = opt ? *opt : cai_plan_options_default();
    if (o.algorithm != CAI_SUM_PRODUCT && o.algorithm != CAI_MAX_PRODUCT)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown algorithm %d",
                             (int)o.algorithm);
    if (o.root != CAI_NONE && o.root >= g->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "root %zu is not a variable",
                             o.root);
    size_t nv = g->n_vars, nf = g->n_factors;
    size_t adj_n = 0;
    for (size_t f = 0; f < nf; f++)
        if (g->factors[f].k >= 2 && !cai_size_add(adj_n, g->factors[f].k, &adj_n))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "graph too large");

    analysis a = {.g = g,
                  .expect_on = o.algorithm == CAI_SUM_PRODUCT || o.max_expectation};
    cai_plan *plan = calloc(1, sizeof *plan);
    cai_status st = CAI_OK;
    if (plan == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    plan->alg = o.algorithm;
    plan->max_expect = o.algorithm == CAI_MAX_PRODUCT && o.max_expectation;
    plan->upward_only = o.upward_only;
    plan->n_vars = nv;
    plan->n_factors = nf;
    plan->vars = alloc_array(nv, sizeof(plan_var));
    plan->trees = alloc_array(nv, sizeof(plan_tree));
    plan->homes = alloc_array(nf, sizeof(factor_home));
    plan->owned = alloc_array(2 * nf + 1, sizeof(cai_potential *));
    a.role = alloc_array(nf, sizeof(enum role));
    a.host = alloc_array(nf, sizeof(size_t));
    a.adj_off = alloc_array(nv + 1, sizeof(size_t));
    a.adj = alloc_array(adj_n, sizeof(size_t));
    a.mark = alloc_array(nv, sizeof(size_t));
    a.hosts = alloc_array(nf, sizeof(size_t));
    a.cl_of = alloc_array(nf, sizeof(size_t));
    a.cadj_off = alloc_array(nv + 1, sizeof(size_t));
    a.cadj = alloc_array(adj_n, sizeof(size_t));
    a.prior = alloc_array(nv, sizeof(size_t));
    a.viol = alloc_array(nv, sizeof(long));
    a.queue = alloc_array(nv, sizeof(size_t));
    a.par_cl = alloc_array(nv, sizeof(size_t));
    a.seen = alloc_array(nv, sizeof(size_t));
    a.cseen = alloc_array(nf, sizeof(size_t));
    a.order = alloc_array(nf, sizeof(size_t));
    a.up_var = alloc_array(nf, sizeof(size_t));
    if (!plan->vars || !plan->trees || !plan->homes || !plan->owned || !a.role || !a.host
        || !a.adj_off || !a.adj || !a.mark || !a.hosts || !a.cl_of || !a.cadj_off || !a.cadj
        || !a.prior || !a.viol || !a.queue || !a.par_cl || !a.seen || !a.cseen || !a.order
        || !a.up_var) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = classify(&a, err)) != CAI_OK || (st = check_forest(&a, err)) != CAI_OK)
        goto fail;
    plan->n_clusters = a.n_hosts;
    plan->clusters = alloc_array(a.n_hosts, sizeof(cluster));
    plan->bufs = alloc_array(3 * a.n_hosts, sizeof(double *));
    if (plan->clusters == NULL || plan->bufs == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = root_trees(&a, plan, o.root, err)) != CAI_OK
        || (st = build_clusters(&a, plan, err)) != CAI_OK
        || (st = build_row_terms(plan, err)) != CAI_OK)
        goto fail;
    /* variables: message offsets and local terms */
    size_t off = 0;
    for (size_t v = 0; v < nv; v++) {
        plan_var *pv = &plan->vars[v];
        pv->card = g->vars[v].card;
        pv->evidence = g->vars[v].evidence;
        pv->off = off;
        if (pv->card > plan->max_card)
            plan->max_card = pv->card;
        if (!cai_size_add(off, pv->card, &off)) {
            st = cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "graph too large");
            goto fail;
        }
    }
    plan->var_total = off;
    for (size_t f = 0; f < nf; f++)
        if (a.role[f] == ROLE_LOCAL)
            plan->vars[g->factors[f].scope[0]].n_unary++;
    for (size_t v = 0; v < nv; v++) {
        if (plan->vars[v].n_unary == 0)
            continue;
        plan->vars[v].unary = alloc_array(plan->vars[v].n_unary, sizeof(cai_potential *));
        plan->vars[v].unary_sr = alloc_array(plan->vars[v].n_unary, sizeof(semiring));
        if (plan->vars[v].unary == NULL || plan->vars[v].unary_sr == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto fail;
        }
        plan->vars[v].n_unary = 0;
    }
    for (size_t f = 0; f < nf; f++) {
        if (a.role[f] != ROLE_LOCAL && a.role[f] != ROLE_PRIOR)
            continue;
        cai_potential *p = g->factors[f].p;
        hold(plan, cai_potential_ref(p));
        if (a.role[f] == ROLE_LOCAL) {
            plan_var *pv = &plan->vars[g->factors[f].scope[0]];
            pv->unary_sr[pv->n_unary] = factor_sr(&g->factors[f]);
            pv->unary[pv->n_unary++] = p;
        }
    }
    analysis_free(&a);
    *out_plan = plan;
    return CAI_OK;
fail:
    analysis_free(&a);
    cai_plan_free(plan);
    return st;
}

cai_algorithm cai_plan_algorithm(const cai_plan *plan) { return plan->alg; }
size_t cai_plan_n_clusters(const cai_plan *plan) { return plan->n_clusters; }
size_t cai_plan_n_trees(const cai_plan *plan) { return plan->n_trees; }

size_t cai_plan_root_of(const cai_plan *plan, size_t var)
{
    return var < plan->n_vars ? plan->trees[plan->vars[var].tree].root : CAI_NONE;
}

/* ---- workspace ---- */

size_t cai_plan_workspace_bytes(const cai_plan *plan)
{
    size_t down = plan->upward_only ? 0 : plan->var_total + plan->msg_total;
    size_t d = plan->var_total + down + 2 * plan->max_rows + 3 * plan->max_cols
               + 2 * plan->max_parent_cards + 2 * plan->max_card;
    return d * sizeof(double) + (2 * plan->n_vars + plan->max_k) * sizeof(size_t);
}

void cai_workspace_free(cai_workspace *ws)
{
    if (ws == NULL)
        return;
    if (ws->soft)
        for (size_t v = 0; v < ws->plan->n_vars; v++)
            free(ws->soft[v]);
    free(ws->soft);
    free(ws->evidence); free(ws->U); free(ws->q); free(ws->M); free(ws->assign);
    free(ws->row_a); free(ws->row_b); free(ws->col_a); free(ws->col_b);
    free(ws->acc); free(ws->idx); free(ws->vbuf); free(ws->mbuf);
    free(ws);
}

cai_status cai_workspace_create(const cai_plan *plan, cai_workspace **out_ws, cai_error *err)
{
    if (plan == NULL || out_ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_workspace *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    ws->plan = plan;
    ws->evidence = alloc_array(plan->n_vars, sizeof(size_t));
    ws->soft = alloc_array(plan->n_vars, sizeof(double *));
    ws->assign = alloc_array(plan->n_vars, sizeof(size_t));
    ws->U = alloc_array(plan->var_total, sizeof(double));
    bool down = !plan->upward_only;
    ws->q = down ? alloc_array(plan->var_total, sizeof(double)) : NULL;
    ws->M = down ? alloc_array(plan->msg_total, sizeof(double)) : NULL;
    ws->mbuf = alloc_array(plan->max_card, sizeof(double));
    ws->row_a = alloc_array(plan->max_rows, sizeof(double));
    ws->row_b = alloc_array(plan->max_rows, sizeof(double));
    size_t twice;
    ws->col_a = cai_size_mul(plan->max_cols, 2, &twice) ? alloc_array(twice, sizeof(double)) : NULL;
    ws->col_b = alloc_array(plan->max_cols, sizeof(double));
    ws->acc = alloc_array(plan->max_parent_cards, sizeof(cai_lse));
    ws->idx = alloc_array(plan->max_k, sizeof(size_t));
    ws->vbuf = alloc_array(plan->max_card, sizeof(double));
    if (!ws->soft || !ws->vbuf || !ws->mbuf || !ws->evidence || !ws->assign || !ws->U
        || (down && (!ws->q || !ws->M)) || !ws->row_a || !ws->row_b
        || !ws->col_a || !ws->col_b || !ws->acc || !ws->idx) {
        cai_workspace_free(ws);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0,
                             "out of memory for a workspace of %zu bytes",
                             cai_plan_workspace_bytes(plan));
    }
    for (size_t v = 0; v < plan->n_vars; v++)
        ws->evidence[v] = plan->vars[v].evidence;
    *out_ws = ws;
    return CAI_OK;
}

cai_status cai_workspace_set_evidence(cai_workspace *ws, size_t var, size_t state,
                                      cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= ws->plan->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    if (state != CAI_NONE && state >= ws->plan->vars[var].card)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "evidence %zu for variable %zu is out of range (%zu states)",
                             state, var, ws->plan->vars[var].card);
    ws->evidence[var] = state;
    ws->executed = false;
    return CAI_OK;
}

cai_status cai_workspace_set_soft_evidence(cai_workspace *ws, size_t var,
                                           const double *log_values, cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= ws->plan->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu", var);
    size_t card = ws->plan->vars[var].card;
    if (log_values == NULL) {
        free(ws->soft[var]);
        ws->soft[var] = NULL;
        ws->executed = false;
        return CAI_OK;
    }
    for (size_t x = 0; x < card; x++)
        if (isnan(log_values[x]) || log_values[x] == INFINITY)
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "soft evidence for variable %zu: entry %zu is %g", var, x,
                                 log_values[x]);
    if (ws->soft[var] == NULL && (ws->soft[var] = alloc_array(card, sizeof(double))) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(ws->soft[var], log_values, card * sizeof(double));
    ws->executed = false;
    return CAI_OK;
}
