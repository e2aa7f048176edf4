/* lib/control/mdp.c — an MDP: checked once, stored once. */
#include "mdp_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_TOL 1e-9

static void names_clear(name_table *t)
{
    free(t->names);
    free(t->index);
    free(t->block);
}

void cai_mdp_free(cai_mdp *m)
{
    if (m == NULL)
        return;
    names_clear(&m->states);
    names_clear(&m->actions);
    free(m->rho);
    cai_potential_unref(m->dyn);
    free(m->reward);
    free(m->terminal);
    free(m->prior);
    free(m->grid);
    cai_buffer_cache_free(m->msg_cache);
    free(m);
}

/* qsort has no context argument: sort (name, index) pairs instead. */
typedef struct named {
    const char *name;
    size_t index;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* Offset of the decimal name of i in its block: all shorter numbers
 * (d digits each, plus a NUL), then those of i's length below i. */
static size_t digits_offset(size_t i)
{
    size_t off = 0, lo = 0, hi = 10, d = 1; /* numbers lo..hi-1 have d digits */
    while (i >= hi) {
        off += (hi - lo) * (d + 1);
        lo = hi;
        if (hi > SIZE_MAX / 10)
            break;
        hi *= 10;
        d++;
    }
    return off + (i - lo) * (d + 1);
}

const char *name_get(const name_table *t, size_t i)
{
    return t->names ? t->names[i] : t->block + digits_offset(i);
}

/* The decimal names "0".."n-1" as one block. */
static cai_status decimal_names(size_t n, name_table *t, cai_error *err)
{
    size_t bytes = digits_offset(n);
    if ((t->block = malloc(bytes ? bytes : 1)) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    char *p = t->block;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%zu", i) + 1;
    t->n = n;
    return CAI_OK;
}

/* Copy n names (NULL: the decimal names), check they are distinct and sort
 * an index by name. */
static cai_status copy_names(const char *const *names, size_t n, const char *what,
                             name_table *t, cai_error *err)
{
    if (names == NULL)
        return decimal_names(n, t, err);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL || names[i][0] == '\0')
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "%s %zu has no name", what, i);
        bytes += strlen(names[i]) + 1;
    }
    name_table nt = {.n = n, .names = malloc((n ? n : 1) * sizeof(char *)),
                     .index = malloc((n ? n : 1) * sizeof(size_t)),
                     .block = malloc(bytes ? bytes : 1)};
    named *sorted = malloc((n ? n : 1) * sizeof *sorted);
    cai_status st = CAI_OK;
    if (nt.names == NULL || nt.index == NULL || nt.block == NULL || sorted == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    char *p = nt.block;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        memcpy(p, names[i], len);
        nt.names[i] = p;
        sorted[i] = (named){.name = p, .index = i};
        p += len;
    }
    qsort(sorted, n, sizeof *sorted, cmp_named);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(sorted[i - 1].name, sorted[i].name) == 0) {
            st = cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "%s name '%s' appears twice",
                               what, sorted[i].name);
            goto done;
        }
        nt.index[i] = sorted[i].index;
    }
done:
    free(sorted);
    if (st != CAI_OK)
        names_clear(&nt);
    else
        *t = nt;
    return st;
}

/* A distribution: finite, nonnegative, summing to one. */
static cai_status check_dist(const double *p, size_t n, const char *what, cai_error *err)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0 && p[i] <= 1))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "%s: probability %g at %zu is not in [0, 1]", what, p[i], i);
        s += p[i];
    }
    if (!(fabs(s - 1) <= SUM_TOL))
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "%s: probabilities sum to %.17g, not 1", what, s);
    return CAI_OK;
}

static cai_status check_finite(const double *v, size_t n, const char *what, cai_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "%s %zu is %g, not finite",
                                 what, i, v[i]);
    return CAI_OK;
}

static void *copy_array(const void *src, size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    void *d = malloc(bytes);
    if (d && src)
        memcpy(d, src, n * elem);
    return d;
}

static cai_status check_spec(const cai_mdp_spec *sp, size_t *out_SA, cai_error *err)
{
    size_t S = sp->n_states, A = sp->n_actions, SA;
    if (S == 0 || A == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "an MDP needs at least one state and one action");
    if (S >= UINT32_MAX || !cai_size_mul(S, A, &SA) || SA >= SIZE_MAX / 16)
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                             "%zu states x %zu actions is too large", S, A);
    if (sp->initial == NULL || sp->row_ptr == NULL || sp->reward == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "an MDP needs an initial distribution, dynamics and rewards");
    bool finite = sp->horizon > 0, disc = sp->discount != 0;
    if (finite == disc)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "give exactly one of a horizon and a discount");
    if (disc && !(sp->discount > 0 && sp->discount < 1))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "discount %g is not in (0, 1)", sp->discount);
    if (disc && sp->terminal)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "terminal rewards need a finite horizon");
    if (!(sp->temperature >= 0 && isfinite(sp->temperature)))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "temperature %g is not a finite number >= 0", sp->temperature);
    cai_status st;
    if ((st = check_dist(sp->initial, S, "initial", err)) != CAI_OK
        || (st = check_finite(sp->reward, SA, "reward", err)) != CAI_OK
        || (sp->terminal && (st = check_finite(sp->terminal, S, "terminal reward", err)) != CAI_OK))
        return st;
    if (sp->row_ptr[0] != 0)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "row_ptr[0] must be 0");
    for (size_t r = 0; r < SA; r++) {
        size_t s = r / A, a = r % A;
        if (sp->row_ptr[r + 1] < sp->row_ptr[r])
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "row_ptr decreases at row %zu", r);
        if (sp->row_ptr[r + 1] == sp->row_ptr[r])
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "state %zu, action %zu has no transitions", s, a);
        double sum = 0;
        for (size_t j = sp->row_ptr[r]; j < sp->row_ptr[r + 1]; j++) {
            if (sp->next[j] >= S || (j > sp->row_ptr[r] && sp->next[j] <= sp->next[j - 1]))
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "state %zu, action %zu: successors must be increasing "
                                     "state indices < %zu", s, a, S);
            if (!(sp->prob[j] >= 0 && sp->prob[j] <= 1))
                return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                     "state %zu, action %zu: probability %g is not in [0, 1]",
                                     s, a, sp->prob[j]);
            sum += sp->prob[j];
        }
        if (!(fabs(sum - 1) <= SUM_TOL))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "state %zu, action %zu: transition probabilities sum to "
                                 "%.17g, not 1", s, a, sum);
        if (sp->action_prior) {
            char what[64];
            snprintf(what, sizeof what, "action prior of state %zu", s);
            if (a == 0 && (st = check_dist(sp->action_prior + s * A, A, what, err)) != CAI_OK)
                return st;
        }
    }
    *out_SA = SA;
    return CAI_OK;
}

cai_status cai_mdp_create(const cai_mdp_spec *sp, cai_mdp **out_mdp, cai_error *err)
{
    if (sp == NULL || out_mdp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    size_t SA = 0;
    cai_status st = check_spec(sp, &SA, err);
    if (st != CAI_OK)
        return st;
    size_t S = sp->n_states, A = sp->n_actions;
    cai_mdp *m = calloc(1, sizeof *m);
    if (m == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    m->S = S;
    m->A = A;
    m->T = sp->horizon;
    m->gamma = sp->discount;
    m->alpha = sp->temperature;
    if ((st = cai_buffer_cache_create(&m->msg_cache, err)) != CAI_OK
        || (st = copy_names(sp->state_names, S, "state", &m->states, err)) != CAI_OK
        || (st = copy_names(sp->action_names, A, "action", &m->actions, err)) != CAI_OK)
        goto fail;
    size_t pcards[2] = {S, A};
    if ((st = cai_potential_csr_create(2, pcards, S, sp->row_ptr, sp->next, sp->prob, &m->dyn,
                                       err)) != CAI_OK)
        goto fail;
    cai_potential_csr_arrays(m->dyn, &m->row_ptr, &m->next, &m->prob);
    m->rho = copy_array(sp->initial, S, sizeof(double));
    m->reward = copy_array(sp->reward, SA, sizeof(double));
    m->terminal = copy_array(sp->terminal, S, sizeof(double));
    bool uniform = true; /* a uniform prior is not stored */
    for (size_t i = 0; sp->action_prior != NULL && uniform && i < SA; i++)
        uniform = sp->action_prior[i] == 1.0 / (double)A;
    m->prior = uniform ? NULL : copy_array(sp->action_prior, SA, sizeof(double));
    if (!m->rho || !m->reward || !m->terminal || (!uniform && !m->prior)) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if (sp->terminal == NULL)
        for (size_t s = 0; s < S; s++)
            m->terminal[s] = 0.0;
    *out_mdp = m;
    return CAI_OK;
fail:
    cai_mdp_free(m);
    return st;
}

size_t cai_mdp_n_states(const cai_mdp *m) { return m->S; }
size_t cai_mdp_n_actions(const cai_mdp *m) { return m->A; }
const char *cai_mdp_state_name(const cai_mdp *m, size_t s) { return s < m->S ? name_get(&m->states, s) : NULL; }
const char *cai_mdp_action_name(const cai_mdp *m, size_t a) { return a < m->A ? name_get(&m->actions, a) : NULL; }
size_t cai_mdp_horizon(const cai_mdp *m) { return m->T; }
double cai_mdp_discount(const cai_mdp *m) { return m->gamma; }
double cai_mdp_temperature(const cai_mdp *m) { return m->alpha; }
size_t cai_mdp_n_transitions(const cai_mdp *m) { return m->row_ptr[m->S * m->A]; }
const double *cai_mdp_initial(const cai_mdp *m) { return m->rho; }
const double *cai_mdp_reward(const cai_mdp *m) { return m->reward; }
const double *cai_mdp_terminal(const cai_mdp *m) { return m->terminal; }
const double *cai_mdp_action_prior(const cai_mdp *m) { return m->prior; }

double cai_mdp_action_prior_at(const cai_mdp *m, size_t s, size_t a)
{
    return s < m->S && a < m->A ? mdp_prior(m, s * m->A + a) : NAN;
}

const cai_potential *cai_mdp_transition_potential(const cai_mdp *m)
{
    return m->dyn;
}

void cai_mdp_dynamics(const cai_mdp *m, const size_t **row_ptr, const uint32_t **next,
                      const double **prob)
{
    if (row_ptr)
        *row_ptr = m->row_ptr;
    if (next)
        *next = m->next;
    if (prob)
        *prob = m->prob;
}

const char *cai_mdp_grid(const cai_mdp *m, size_t *out_rows, size_t *out_cols)
{
    if (out_rows)
        *out_rows = m->grid_rows;
    if (out_cols)
        *out_cols = m->grid_cols;
    return m->grid;
}

/* Given names: binary search of the name-sorted index, O(log n) per
 * lookup. Decimal names: the number itself, written canonically. */
static size_t find_name(const name_table *t, const char *name)
{
    if (name == NULL)
        return CAI_NONE;
    if (t->names == NULL) {
        size_t v = 0, len = strlen(name);
        if (len == 0 || len > 20 || (name[0] == '0' && len > 1))
            return CAI_NONE;
        for (size_t i = 0; i < len; i++) {
            if (name[i] < '0' || name[i] > '9' || v > (SIZE_MAX - 9) / 10)
                return CAI_NONE;
            v = v * 10 + (size_t)(name[i] - '0');
        }
        return v < t->n ? v : CAI_NONE;
    }
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->names[t->index[mid]], name);
        if (c == 0)
            return t->index[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CAI_NONE;
}

size_t cai_mdp_find_state(const cai_mdp *m, const char *name)
{
    return find_name(&m->states, name);
}

size_t cai_mdp_find_action(const cai_mdp *m, const char *name)
{
    return find_name(&m->actions, name);
}
