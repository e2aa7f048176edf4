/* lib/control/factored.c — factored MDPs (cai/factored.h): a checked copy of
 * the spec and the unrolled dynamic Bayes net, built through the public
 * engine API only (the flat MDP: factored_flat.c). */
#include "factored_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"
#include "cai/potential.h"

#define SUM_TOL 1e-9

cai_status factored_nomem(cai_error *err)
{
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}

void cai_factored_free(cai_factored_mdp *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; f->v && i < f->n; i++) {
        fvar *x = &f->v[i];
        free(x->name);
        for (size_t s = 0; x->states && s < x->card; s++)
            free(x->states[s]);
        free(x->states);
        free(x->initial);
        free(x->parents);
        free(x->table);
    }
    free(f->v);
    for (size_t a = 0; f->actions && a < f->A; a++)
        free(f->actions[a]);
    free(f->actions);
    for (size_t k = 0; f->r && k < f->K; k++) {
        free(f->r[k].scope);
        free(f->r[k].values);
    }
    free(f->r);
    free(f);
}

static char *dup_or_index(const char *const *names, size_t i)
{
    if (names != NULL)
        return strdup(names[i]);
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", i);
    return strdup(buf);
}

static bool all_distinct(char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) /* small lists: states and actions */
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return false;
    return true;
}

/* prod card(vars) into *out; false when it passes CAI_FACTORED_MAX_TABLE. */
static bool scope_size(const cai_factored_mdp *f, const size_t *vars, size_t k, size_t extra,
                       size_t *out)
{
    size_t n = extra;
    for (size_t j = 0; j < k; j++)
        if (!cai_size_mul(n, f->v[vars[j]].card, &n) || n > CAI_FACTORED_MAX_TABLE)
            return false;
    *out = n;
    return true;
}

/* Check a scope of variable indices: in range and distinct. */
static cai_status check_scope(const cai_factored_mdp *f, const size_t *vars, size_t k,
                              const char *what, cai_error *err)
{
    if (k > 0 && vars == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "%s: NULL scope", what);
    for (size_t j = 0; j < k; j++) {
        if (vars[j] >= f->n)
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "%s: variable index %zu out of range", what, vars[j]);
        for (size_t l = 0; l < j; l++)
            if (vars[l] == vars[j])
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "%s: variable '%s' repeated", what,
                                     f->v[vars[j]].name);
    }
    return CAI_OK;
}

/* p[0..n-1] nonnegative, finite, summing to 1 within SUM_TOL. */
static bool is_distribution(const double *p, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0 && p[i] <= 1))
            return false;
        s += p[i];
    }
    return fabs(s - 1.0) <= SUM_TOL;
}

static cai_status copy_variable(cai_factored_mdp *f, const cai_factored_spec *spec,
                                size_t i, cai_error *err)
{
    const cai_factored_variable *in = &spec->variables[i];
    fvar *x = &f->v[i];
    if (in->name == NULL || in->name[0] == '\0' || strchr(in->name, '@') != NULL ||
        strcmp(in->name, "action") == 0)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable %zu: the name must be non-empty, without '@' and "
                             "not 'action'", i);
    if (in->card == 0 || in->card > CAI_FACTORED_MAX_CARD)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "variable '%s': card must be in 1..%d", in->name,
                             CAI_FACTORED_MAX_CARD);
    for (size_t j = 0; j < i; j++)
        if (strcmp(f->v[j].name, in->name) == 0)
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "duplicate variable '%s'", in->name);
    x->card = in->card;
    if ((x->name = strdup(in->name)) == NULL ||
        (x->states = calloc(x->card, sizeof *x->states)) == NULL ||
        (x->initial = malloc(x->card * sizeof *x->initial)) == NULL)
        return factored_nomem(err);
    for (size_t s = 0; s < x->card; s++) {
        if (in->state_names && (in->state_names[s] == NULL || in->state_names[s][0] == '\0'))
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "variable '%s': state %zu has an empty name", x->name, s);
        if ((x->states[s] = dup_or_index(in->state_names, s)) == NULL)
            return factored_nomem(err);
    }
    if (!all_distinct(x->states, x->card))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable '%s': state names must be distinct", x->name);
    if (in->initial == NULL || !is_distribution(in->initial, x->card))
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "variable '%s': the initial distribution must be %zu "
                             "probabilities summing to 1 within 1e-9", x->name, x->card);
    memcpy(x->initial, in->initial, x->card * sizeof *x->initial);
    return CAI_OK;
}

static cai_status copy_transition(cai_factored_mdp *f, const cai_factored_spec *spec,
                                  size_t i, cai_error *err)
{
    const cai_factored_transition *in = &spec->transitions[i];
    fvar *x = &f->v[i];
    char what[160];
    snprintf(what, sizeof what, "transition of '%s'", x->name);
    cai_status st = check_scope(f, in->parents, in->n_parents, what, err);
    if (st != CAI_OK)
        return st;
    size_t entries;
    if (!scope_size(f, in->parents, in->n_parents, f->A, &x->rows) ||
        !cai_size_mul(x->rows, x->card, &entries) || entries > CAI_FACTORED_MAX_TABLE)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "%s: the table has more than %d entries", what,
                             CAI_FACTORED_MAX_TABLE);
    if (in->table == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "%s: NULL table", what);
    x->n_parents = in->n_parents;
    if ((x->parents = malloc((in->n_parents ? in->n_parents : 1) * sizeof *x->parents)) ==
            NULL ||
        (x->table = malloc(entries * sizeof *x->table)) == NULL)
        return factored_nomem(err);
    if (in->n_parents)
        memcpy(x->parents, in->parents, in->n_parents * sizeof *x->parents);
    for (size_t r = 0; r < x->rows; r++)
        if (!is_distribution(in->table + r * x->card, x->card))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "%s: row %zu must hold probabilities in [0, 1] summing "
                                 "to 1 within 1e-9", what, r);
    memcpy(x->table, in->table, entries * sizeof *x->table);
    return CAI_OK;
}

static cai_status copy_reward(cai_factored_mdp *f, const cai_factored_spec *spec, size_t k,
                              cai_error *err)
{
    const cai_factored_reward *in = &spec->rewards[k];
    fterm *r = &f->r[k];
    char what[64];
    snprintf(what, sizeof what, "reward %zu", k);
    cai_status st = check_scope(f, in->scope, in->n_scope, what, err);
    if (st != CAI_OK)
        return st;
    if (!scope_size(f, in->scope, in->n_scope, in->action ? f->A : 1, &r->size))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "%s: the table has more than %d entries", what,
                             CAI_FACTORED_MAX_TABLE);
    if (in->values == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "%s: NULL values", what);
    r->n_scope = in->n_scope;
    r->action = in->action;
    if ((r->scope = malloc((in->n_scope ? in->n_scope : 1) * sizeof *r->scope)) == NULL ||
        (r->values = malloc(r->size * sizeof *r->values)) == NULL)
        return factored_nomem(err);
    if (in->n_scope)
        memcpy(r->scope, in->scope, in->n_scope * sizeof *r->scope);
    for (size_t j = 0; j < r->size; j++)
        if (!isfinite(in->values[j]))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "%s: value %zu is not finite", what, j);
    memcpy(r->values, in->values, r->size * sizeof *r->values);
    return CAI_OK;
}

cai_status cai_factored_create(const cai_factored_spec *spec, cai_factored_mdp **out,
                               cai_error *err)
{
    if (spec == NULL || out == NULL || spec->variables == NULL ||
        spec->transitions == NULL || (spec->n_rewards > 0 && spec->rewards == NULL))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_factored_create: NULL argument");
    if (spec->n_variables == 0 || spec->n_variables > CAI_FACTORED_MAX_VARIABLES)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "a factored MDP needs 1..%d variables",
                             CAI_FACTORED_MAX_VARIABLES);
    if (spec->n_actions == 0 || spec->n_actions > CAI_FACTORED_MAX_CARD)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "a factored MDP needs 1..%d actions", CAI_FACTORED_MAX_CARD);
    if (spec->horizon == 0 ||
        (double)(spec->horizon + 1) * (double)(spec->n_variables + 1) >
            CAI_FACTORED_MAX_GRAPH)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "horizon %zu: must be >= 1 and (T + 1) * (n + 1) at most %d",
                             spec->horizon, CAI_FACTORED_MAX_GRAPH);
    if (!(spec->temperature > 0) || !isfinite(spec->temperature))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "a factored MDP needs a finite temperature > 0");
    cai_factored_mdp *f = calloc(1, sizeof *f);
    cai_status st;
    if (f == NULL)
        return factored_nomem(err);
    f->n = spec->n_variables;
    f->A = spec->n_actions;
    f->K = spec->n_rewards;
    f->T = spec->horizon;
    f->alpha = spec->temperature;
    if ((f->v = calloc(f->n, sizeof *f->v)) == NULL ||
        (f->actions = calloc(f->A, sizeof *f->actions)) == NULL ||
        (f->r = calloc(f->K ? f->K : 1, sizeof *f->r)) == NULL) {
        st = factored_nomem(err);
        goto fail;
    }
    for (size_t a = 0; a < f->A; a++) {
        if (spec->action_names &&
            (spec->action_names[a] == NULL || spec->action_names[a][0] == '\0')) {
            st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                               "action %zu has an empty name", a);
            goto fail;
        }
        if ((f->actions[a] = dup_or_index(spec->action_names, a)) == NULL) {
            st = factored_nomem(err);
            goto fail;
        }
    }
    if (!all_distinct(f->actions, f->A)) {
        st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                           "action names must be distinct");
        goto fail;
    }
    for (size_t i = 0; i < f->n; i++)
        if ((st = copy_variable(f, spec, i, err)) != CAI_OK)
            goto fail;
    for (size_t i = 0; i < f->n; i++)
        if ((st = copy_transition(f, spec, i, err)) != CAI_OK)
            goto fail;
    for (size_t k = 0; k < f->K; k++)
        if ((st = copy_reward(f, spec, k, err)) != CAI_OK)
            goto fail;
    *out = f;
    return CAI_OK;
fail:
    cai_factored_free(f);
    return st;
}

size_t cai_factored_n_variables(const cai_factored_mdp *f) { return f->n; }
size_t cai_factored_n_actions(const cai_factored_mdp *f) { return f->A; }
size_t cai_factored_n_rewards(const cai_factored_mdp *f) { return f->K; }
size_t cai_factored_horizon(const cai_factored_mdp *f) { return f->T; }
double cai_factored_temperature(const cai_factored_mdp *f) { return f->alpha; }

double cai_factored_n_joint_states(const cai_factored_mdp *f)
{
    double s = 1;
    for (size_t i = 0; i < f->n; i++)
        s *= (double)f->v[i].card;
    return s;
}

/* ---- the unrolled dynamic Bayes net ------------------------------------ */

/* x_i's conditional as a CSR potential over (parents..., action, x_i'). */
static cai_status transition_potential(const cai_factored_mdp *f, const fvar *x,
                                       cai_potential **out, cai_error *err)
{
    size_t k = x->n_parents, nnz = x->rows * x->card;
    size_t *cards = malloc((k + 1) * sizeof *cards), *rp = malloc((x->rows + 1) * sizeof *rp);
    size_t *col = malloc(nnz * sizeof *col);
    double *pr = malloc(nnz * sizeof *pr);
    cai_status st;
    if (cards == NULL || rp == NULL || col == NULL || pr == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    for (size_t j = 0; j < k; j++)
        cards[j] = f->v[x->parents[j]].card;
    cards[k] = f->A;
    size_t n = 0;
    rp[0] = 0;
    for (size_t r = 0; r < x->rows; r++) {
        for (size_t c = 0; c < x->card; c++)
            if (x->table[r * x->card + c] > 0) {
                col[n] = c;
                pr[n++] = x->table[r * x->card + c];
            }
        rp[r + 1] = n;
    }
    st = cai_potential_csr_create(k + 1, cards, x->card, rp, col, pr, out, err);
done:
    free(cards);
    free(rp);
    free(col);
    free(pr);
    return st;
}

/* r_k / alpha as a log-table over (scope..., [action]). */
static cai_status reward_potential(const cai_factored_mdp *f, const fterm *r, double alpha,
                                   cai_potential **out, cai_error *err)
{
    size_t k = r->n_scope + (r->action ? 1 : 0);
    size_t *cards = malloc((k ? k : 1) * sizeof *cards);
    double *lv = malloc(r->size * sizeof *lv);
    cai_status st;
    if (cards == NULL || lv == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    for (size_t j = 0; j < r->n_scope; j++)
        cards[j] = f->v[r->scope[j]].card;
    if (r->action)
        cards[r->n_scope] = f->A;
    for (size_t j = 0; j < r->size; j++)
        lv[j] = r->values[j] / alpha;
    if (k == 0) { /* a constant term: a factor on the action, same weight for all */
        st = CAI_OK;
        *out = NULL;
        goto done;
    }
    st = cai_potential_table_create(k, cards, lv, out, err);
done:
    free(cards);
    free(lv);
    return st;
}

cai_status cai_factored_graph(const cai_factored_mdp *f, double temperature, size_t horizon,
                              cai_graph **out_g, cai_error *err)
{
    if (f == NULL || out_g == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_factored_graph: NULL argument");
    double alpha = isnan(temperature) ? f->alpha : temperature;
    size_t T = horizon ? horizon : f->T, n = f->n, A = f->A;
    if (!(alpha > 0) || !isfinite(alpha))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the unrolled graph needs a finite temperature > 0 (its "
                             "optimality factors are exp(r/alpha))");
    if ((double)(T + 1) * (double)(n + 1) > CAI_FACTORED_MAX_GRAPH)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "horizon %zu: (T + 1) * (n + 1) graph variables exceed %d", T,
                             CAI_FACTORED_MAX_GRAPH);
    cai_graph *g = NULL;
    cai_potential **init = calloc(n, sizeof *init), **trans = calloc(n, sizeof *trans);
    cai_potential **rew = calloc(f->K ? f->K : 1, sizeof *rew), *prior = NULL;
    size_t *scope = malloc((n + 2) * sizeof *scope);
    double *lp = malloc(A * sizeof *lp);
    char name[64];
    cai_status st;
    if (init == NULL || trans == NULL || rew == NULL || scope == NULL || lp == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    /* one potential per model part, tied over t */
    for (size_t i = 0; i < n; i++) {
        if ((st = cai_potential_table_create_linear(1, &f->v[i].card, f->v[i].initial,
                                                    &init[i], err)) != CAI_OK ||
            (st = transition_potential(f, &f->v[i], &trans[i], err)) != CAI_OK)
            goto done;
    }
    double lsum_const = 0; /* reward terms over no variable: r_k/alpha each step */
    for (size_t k = 0; k < f->K; k++) {
        if ((st = reward_potential(f, &f->r[k], alpha, &rew[k], err)) != CAI_OK)
            goto done;
        if (rew[k] == NULL)
            lsum_const += f->r[k].values[0] / alpha;
    }
    for (size_t a = 0; a < A; a++)
        lp[a] = -log((double)A) + lsum_const;
    if ((st = cai_potential_table_create(1, &A, lp, &prior, err)) != CAI_OK)
        goto done;
    if ((st = cai_graph_create(&g, err)) != CAI_OK)
        goto done;
    for (size_t t = 0; t <= T; t++) {
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(f->v[i].name) + 24;
            char *vn = malloc(len);
            if (vn == NULL) {
                st = factored_nomem(err);
                goto done;
            }
            snprintf(vn, len, "%s@%zu", f->v[i].name, t);
            st = cai_graph_add_variable(g, vn, f->v[i].card,
                                        (const char *const *)f->v[i].states, NULL, err);
            free(vn);
            if (st != CAI_OK)
                goto done;
        }
        if (t < T) {
            snprintf(name, sizeof name, "action@%zu", t);
            if ((st = cai_graph_add_variable(g, name, A, (const char *const *)f->actions,
                                             NULL, err)) != CAI_OK)
                goto done;
        }
    }
#define XV(i, t) ((t) * (n + 1) + (i))
    for (size_t i = 0; i < n; i++) {
        scope[0] = XV(i, 0);
        if ((st = cai_graph_add_factor(g, init[i], scope, 1, CAI_MODE_NORMAL, NULL, err)) !=
            CAI_OK)
            goto done;
    }
    for (size_t t = 0; t < T; t++) {
        for (size_t i = 0; i < n; i++) {
            const fvar *x = &f->v[i];
            for (size_t j = 0; j < x->n_parents; j++)
                scope[j] = XV(x->parents[j], t);
            scope[x->n_parents] = XV(n, t);
            scope[x->n_parents + 1] = XV(i, t + 1);
            if ((st = cai_graph_add_factor(g, trans[i], scope, x->n_parents + 2,
                                           CAI_MODE_NORMAL, NULL, err)) != CAI_OK)
                goto done;
        }
        for (size_t k = 0; k < f->K; k++) {
            const fterm *r = &f->r[k];
            if (rew[k] == NULL)
                continue;
            for (size_t j = 0; j < r->n_scope; j++)
                scope[j] = XV(r->scope[j], t);
            if (r->action)
                scope[r->n_scope] = XV(n, t);
            if ((st = cai_graph_add_factor(g, rew[k], scope, r->n_scope + (r->action ? 1 : 0),
                                           CAI_MODE_NORMAL, NULL, err)) != CAI_OK)
                goto done;
        }
        scope[0] = XV(n, t);
        if ((st = cai_graph_add_factor(g, prior, scope, 1, CAI_MODE_NORMAL, NULL, err)) !=
            CAI_OK)
            goto done;
    }
#undef XV
    *out_g = g;
    g = NULL;
done:
    cai_graph_free(g);
    for (size_t i = 0; init && i < n; i++)
        cai_potential_unref(init[i]);
    for (size_t i = 0; trans && i < n; i++)
        cai_potential_unref(trans[i]);
    for (size_t k = 0; rew && k < f->K; k++)
        cai_potential_unref(rew[k]);
    cai_potential_unref(prior);
    free(init);
    free(trans);
    free(rew);
    free(scope);
    free(lp);
    return st;
}
