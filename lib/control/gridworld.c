/* lib/control/gridworld.c — a gridworld map compiled into an MDP
 * (../shared/DESIGN.md, "Gridworld semantics"). */
#include "mdp_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { UP, DOWN, LEFT, RIGHT, N_MOVES };
static const char *const move_names[N_MOVES] = {"up", "down", "left", "right"};
static const int d_row[N_MOVES] = {-1, 1, 0, 0};
static const int d_col[N_MOVES] = {0, 0, -1, 1};
/* the two moves perpendicular to each move */
static const int perp[N_MOVES][2] = {{LEFT, RIGHT}, {LEFT, RIGHT}, {UP, DOWN}, {UP, DOWN}};

/* Measure the map: rows of equal length made of S . # G X, one S. */
static cai_status measure(const char *map, size_t *out_rows, size_t *out_cols, cai_error *err)
{
    size_t rows = 0, cols = 0, starts = 0, len = 0;
    for (const char *p = map;; p++) {
        if (*p == '\n' || *p == '\0') {
            if (len == 0 && *p == '\0')
                break; /* a final newline ends the map */
            if (rows > 0 && len != cols)
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "map row %zu has %zu cells, row 1 has %zu", rows + 1,
                                     len, cols);
            if (len == 0)
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "map row %zu is empty",
                                     rows + 1);
            cols = len;
            rows++;
            len = 0;
            if (*p == '\0')
                break;
            continue;
        }
        if (!strchr("S.#GX", *p))
            return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                 "map row %zu, column %zu: '%c' is not one of S . # G X",
                                 rows + 1, len + 1, *p);
        starts += *p == 'S';
        len++;
    }
    if (rows == 0)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "the map is empty");
    if (starts != 1)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "the map needs exactly one start S, it has %zu", starts);
    *out_rows = rows;
    *out_cols = cols;
    return CAI_OK;
}

cai_status cai_gridworld_create(const cai_gridworld_spec *sp, cai_mdp **out_mdp, cai_error *err)
{
    if (sp == NULL || sp->map == NULL || out_mdp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (!(sp->slip >= 0 && sp->slip <= 1))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "slip %g is not in [0, 1]", sp->slip);
    if (!isfinite(sp->step) || !isfinite(sp->goal) || !isfinite(sp->pit))
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "gridworld rewards must be finite");
    size_t rows = 0, cols = 0;
    cai_status st = measure(sp->map, &rows, &cols, err);
    if (st != CAI_OK)
        return st;
    size_t cells = rows * cols;
    char *grid = malloc(cells);
    size_t *state_of = malloc(cells * sizeof *state_of);
    size_t S = 0;
    char **names = NULL;
    size_t *row_ptr = NULL, *next = NULL;
    double *prob = NULL, *reward = NULL, *rho = NULL;
    cai_mdp *m = NULL;
    if (grid == NULL || state_of == NULL)
        goto nomem;
    for (size_t r = 0, i = 0; r < rows; r++, i++) /* i skips the newlines */
        for (size_t c = 0; c < cols; c++, i++)
            grid[r * cols + c] = sp->map[i];
    for (size_t i = 0; i < cells; i++)
        state_of[i] = grid[i] == '#' ? CAI_NONE : S++;
    size_t done = S++, A = N_MOVES, SA = S * A;
    names = calloc(S, sizeof *names);
    row_ptr = malloc((SA + 1) * sizeof *row_ptr);
    next = malloc(SA * 3 * sizeof *next); /* at most three outcomes per move */
    prob = malloc(SA * 3 * sizeof *prob);
    reward = malloc(SA * sizeof *reward);
    rho = calloc(S, sizeof *rho);
    if (!names || !row_ptr || !next || !prob || !reward || !rho)
        goto nomem;
    size_t n = 0;
    row_ptr[0] = 0;
    for (size_t i = 0; i < cells; i++) {
        size_t s = state_of[i];
        if (s == CAI_NONE)
            continue;
        size_t r = i / cols, c = i % cols;
        if ((names[s] = malloc(48)) == NULL)
            goto nomem;
        snprintf(names[s], 48, "r%zuc%zu", r, c);
        char kind = grid[i];
        if (kind == 'S')
            rho[s] = 1.0;
        for (int a = 0; a < N_MOVES; a++) {
            size_t row = s * A + (size_t)a;
            if (kind == 'G' || kind == 'X') {
                next[n] = done;
                prob[n++] = 1.0;
                reward[row] = kind == 'G' ? sp->goal : sp->pit;
                row_ptr[row + 1] = n;
                continue;
            }
            reward[row] = sp->step;
            /* outcomes: intended with 1 - slip, each perpendicular with slip / 2 */
            int moves[3] = {a, perp[a][0], perp[a][1]};
            double w[3] = {1.0 - sp->slip, sp->slip / 2, sp->slip / 2};
            size_t dest[3];
            for (int k = 0; k < 3; k++) {
                long nr = (long)r + d_row[moves[k]], nc = (long)c + d_col[moves[k]];
                bool inside = nr >= 0 && nc >= 0 && (size_t)nr < rows && (size_t)nc < cols;
                size_t j = inside ? (size_t)nr * cols + (size_t)nc : i;
                dest[k] = state_of[j] == CAI_NONE ? s : state_of[j]; /* walls: stay */
            }
            /* merge equal destinations, in increasing state order */
            size_t start = n;
            for (int k = 0; k < 3; k++) {
                if (w[k] <= 0)
                    continue;
                size_t j = start;
                while (j < n && next[j] < dest[k])
                    j++;
                if (j < n && next[j] == dest[k]) {
                    prob[j] += w[k];
                    continue;
                }
                memmove(next + j + 1, next + j, (n - j) * sizeof *next);
                memmove(prob + j + 1, prob + j, (n - j) * sizeof *prob);
                next[j] = dest[k];
                prob[j] = w[k];
                n++;
            }
            row_ptr[row + 1] = n;
        }
    }
    if ((names[done] = malloc(5)) == NULL)
        goto nomem;
    memcpy(names[done], "done", 5);
    for (int a = 0; a < N_MOVES; a++) {
        size_t row = done * A + (size_t)a;
        next[n] = done;
        prob[n++] = 1.0;
        reward[row] = 0.0;
        row_ptr[row + 1] = n;
    }
    cai_mdp_spec spec = {
        .n_states = S, .n_actions = A,
        .state_names = (const char *const *)names, .action_names = move_names,
        .initial = rho, .row_ptr = row_ptr, .next = next, .prob = prob, .reward = reward,
        .horizon = sp->horizon, .discount = sp->discount, .temperature = sp->temperature,
    };
    st = cai_mdp_create(&spec, &m, err);
    if (st == CAI_OK) {
        m->grid = grid;
        m->grid_rows = rows;
        m->grid_cols = cols;
        grid = NULL;
        *out_mdp = m;
    }
    goto done;
nomem:
    st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
done:
    if (names)
        for (size_t s = 0; s < S; s++)
            free(names[s]);
    free(names);
    free(grid);
    free(state_of);
    free(row_ptr);
    free(next);
    free(prob);
    free(reward);
    free(rho);
    return st;
}
