/* tools/mdp_text.c — the human-readable tables of the mdp commands: states
 * by actions, and a gridworld's map with the policy's arrows. */
#include "cli.h"

#include <string.h>

/* Rows of a table a large model shows. */
#define TABLE_ALL_MAX 50
#define TABLE_HEAD 20
/* The part of a gridworld map the text shows. */
#define GRID_ROWS_MAX 40
#define GRID_COLS_MAX 100

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* A table of states by columns: the actions, or when single is not NULL
 * one column headed single. v holds every state's row (v[s * cols + c]).
 * The rows are the states rows[0..n-1], or when rows is NULL the first
 * ones (all of them up to TABLE_ALL_MAX, else TABLE_HEAD and a line saying
 * how many more there are). fixed: %.4f (probabilities at a glance), else
 * %.10g. */
void cli_mdp_table(FILE *f, const cai_mdp *mdp, const size_t *rows, size_t n,
                   const char *single, const double *v, bool fixed)
{
    size_t cols = single ? 1 : cai_mdp_n_actions(mdp);
    size_t S = cai_mdp_n_states(mdp), shown = n;
    if (rows == NULL) {
        n = S;
        shown = S > TABLE_ALL_MAX ? TABLE_HEAD : S;
    }
    int ws = (int)strlen("state"), wc = fixed ? 6 : 12;
    for (size_t i = 0; i < shown; i++)
        ws = max_int(ws, (int)strlen(cai_mdp_state_name(mdp, rows ? rows[i] : i)));
    fprintf(f, "  %-*s", ws, "state");
    for (size_t c = 0; c < cols; c++) {
        const char *h = single ? single : cai_mdp_action_name(mdp, c);
        fprintf(f, "  %*s", max_int(wc, (int)strlen(h)), h);
    }
    fputc('\n', f);
    for (size_t i = 0; i < shown; i++) {
        size_t s = rows ? rows[i] : i;
        fprintf(f, "  %-*s", ws, cai_mdp_state_name(mdp, s));
        for (size_t c = 0; c < cols; c++) {
            const char *h = single ? single : cai_mdp_action_name(mdp, c);
            fprintf(f, fixed ? "  %*.4f" : "  %*.10g", max_int(wc, (int)strlen(h)),
                    v[s * cols + c]);
        }
        fputc('\n', f);
    }
    if (shown < n)
        fprintf(f, "  ... %zu more states omitted (--query with --states NAME,... "
                   "shows chosen ones)\n", n - shown);
}

/* The arrow of a gridworld action (up, down, left, right). */
static char arrow(const char *action)
{
    switch (action[0]) {
    case 'u': return '^';
    case 'd': return 'v';
    case 'l': return '<';
    case 'r': return '>';
    default: return '?';
    }
}

/* The map with an arrow per floor cell for its most probable action at
 * t = 0 (the first of equally probable ones); of a large map, the top-left
 * GRID_ROWS_MAX x GRID_COLS_MAX cells. */
void cli_mdp_grid(FILE *f, const cai_mdp *mdp, const char *grid, size_t rows, size_t cols,
                  const double *pi)
{
    size_t A = cai_mdp_n_actions(mdp);
    size_t shown_rows = rows > GRID_ROWS_MAX ? GRID_ROWS_MAX : rows;
    size_t shown_cols = cols > GRID_COLS_MAX ? GRID_COLS_MAX : cols;
    fputs("policy at t = 0 (most probable action; # wall, G goal, X pit):\n", f);
    for (size_t r = 0; r < shown_rows; r++) {
        fputs("  ", f);
        for (size_t c = 0; c < shown_cols; c++) {
            char ch = grid[r * cols + c], name[64];
            snprintf(name, sizeof name, "r%zuc%zu", r, c);
            size_t s = cai_mdp_find_state(mdp, name);
            if ((ch == '.' || ch == 'S') && s != CAI_NONE && A > 0) {
                size_t best = 0;
                for (size_t a = 1; a < A; a++)
                    if (pi[s * A + a] > pi[s * A + best])
                        best = a;
                ch = arrow(cai_mdp_action_name(mdp, best));
            }
            fputc(ch, f);
        }
        fputc('\n', f);
    }
    if (shown_rows < rows || shown_cols < cols)
        fprintf(f, "  ... rows 0..%zu and columns 0..%zu of a %zu x %zu map shown "
                   "(--query policy --states r0c0,... shows any cell)\n",
                shown_rows - 1, shown_cols - 1, rows, cols);
}
