/* lib/io/gridworld.c — the `kind: gridworld` loader.
 *
 *     kind: gridworld
 *     name: small maze                 # optional string
 *     map: |                           # rows of S . # G X, all one length
 *       S..#
 *       .#.G
 *       ...X
 *     slip: 0.1                        # optional, default 0, in [0, 1]
 *     rewards: {step: -1, goal: 10, pit: -10}  # optional; defaults -1, 0, -100
 *     horizon: 30                      # or discount: 0.95 (exactly one)
 *     temperature: 1                   # optional, default 1, >= 0
 *
 * The semantics are cai_gridworld_create's (../shared/DESIGN.md, "Gridworld
 * semantics"). The map is checked here so that every error points at the
 * offending character inside the YAML text (yr_fail_in_scalar traces a
 * literal block back to its source lines); "no S" points at the map.
 * Empty lines before and after the rows are ignored. A folded block (>) or
 * a plain scalar over several lines would join the rows into one, so they
 * are refused with a hint to write `map: |`. */
#include "model_impl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"
#include "cai/mdp.h"

typedef struct shown_char {
    char s[sizeof(yr_shown) + 8];
} shown_char;

/* The character at v[i] (one UTF-8 sequence) for a message. */
static shown_char show_char(const char *v, size_t len, size_t i)
{
    shown_char r;
    if (v[i] == ' ') {
        snprintf(r.s, sizeof r.s, "a space");
        return r;
    }
    if (v[i] == '\t') {
        snprintf(r.s, sizeof r.s, "a tab");
        return r;
    }
    char c[8];
    size_t n = 0;
    do
        c[n++] = v[i++];
    while (i < len && n < 4 && ((unsigned char)v[i] & 0xC0) == 0x80);
    c[n] = '\0';
    snprintf(r.s, sizeof r.s, "'%s'", yr_show(c).s);
    return r;
}

/* Check the map node and copy its rows, '\n'-separated without a final
 * newline, into *out_map (free() it). */
static cai_status read_map(const yr_loader *L, const yaml_node_t *n,
                           char **out_map)
{
    if (!yr_is_string(n))
        return yr_fail_got(
            L, n,
            "'map' must be rows of S . # G X in a literal block (map: |)");
    if (n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE ||
        (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         n->end_mark.line != n->start_mark.line))
        return yr_fail_at(L, n,
                          "'map' is written so that YAML joins its rows into "
                          "one line: write it as a literal block (map: |)");
    const char *v = yr_text(n);
    size_t len = n->data.scalar.length, b = 0, e = len;
    while (b < len && v[b] == '\n')
        b++;
    while (e > b && v[e - 1] == '\n')
        e--;
    if (b == e)
        return yr_fail_at(L, n, "'map' has no rows");

    size_t width = 0, row = 0, start = b, s_at = CAI_NONE;
    for (size_t i = b; i <= e; i++) {
        if (i == e || v[i] == '\n') {
            size_t w = i - start;
            if (row == 0)
                width = w;
            else if (w != width)
                /* too long: at the first extra character; too short:
                 * just past the row's last one */
                return yr_fail_in_scalar(
                    L, n, w > width ? start + width : i,
                    "map row %zu has %zu columns, expected %zu as in row 0",
                    row, w, width);
            row++;
            start = i + 1;
            continue;
        }
        char c = v[i];
        size_t col = i - start;
        if (c == 'S' && s_at != CAI_NONE) {
            size_t line, column;
            yr_scalar_position(L, n, s_at, &line, &column);
            return yr_fail_in_scalar(L, n, i,
                                     "map row %zu, column %zu: a second start "
                                     "'S' (the first is at line %zu, column "
                                     "%zu)",
                                     row, col, line, column);
        }
        if (c == 'S')
            s_at = i;
        else if (c != '.' && c != '#' && c != 'G' && c != 'X')
            return yr_fail_in_scalar(L, n, i,
                                     "map row %zu, column %zu: unexpected %s "
                                     "(expected S, ., #, G or X)",
                                     row, col, show_char(v, len, i).s);
    }
    if (s_at == CAI_NONE)
        return yr_fail_at(L, n, "the map has no start 'S'");
    char *map = malloc(e - b + 1);
    if (map == NULL)
        return yr_nomem(L);
    memcpy(map, v + b, e - b);
    map[e - b] = '\0';
    *out_map = map;
    return CAI_OK;
}

/* `rewards`: {step, goal, pit}, each optional. */
static cai_status read_rewards(const yr_loader *L, yaml_node_t *n,
                               cai_gridworld_spec *sp)
{
    if (n->type != YAML_MAPPING_NODE)
        return yr_fail_got(
            L, n,
            "'rewards' must be a mapping like {step: -1, goal: 0, pit: -100}");
    yr_field f[3] = {
        {"step", NULL, NULL}, {"goal", NULL, NULL}, {"pit", NULL, NULL}};
    cai_status st = yr_read_fields(L, n, "'rewards'", f, 3);
    if (st == CAI_OK)
        st = model_read_number(L, &f[0], "rewards", sp->step, &sp->step);
    if (st == CAI_OK)
        st = model_read_number(L, &f[1], "rewards", sp->goal, &sp->goal);
    if (st == CAI_OK)
        st = model_read_number(L, &f[2], "rewards", sp->pit, &sp->pit);
    return st;
}

cai_status model_load_gridworld(const yr_loader *L, yaml_node_t *root,
                                cai_model *m)
{
    const char *where = "the model";
    enum {
        K_KIND,
        K_NAME,
        K_MAP,
        K_SLIP,
        K_REWARDS,
        K_HORIZON,
        K_DISCOUNT,
        K_TEMPERATURE,
        K_COUNT
    };
    yr_field f[K_COUNT] = {
        [K_KIND] = {"kind", NULL, NULL},
        [K_NAME] = {"name", NULL, NULL},
        [K_MAP] = {"map", NULL, NULL},
        [K_SLIP] = {"slip", NULL, NULL},
        [K_REWARDS] = {"rewards", NULL, NULL},
        [K_HORIZON] = {"horizon", NULL, NULL},
        [K_DISCOUNT] = {"discount", NULL, NULL},
        [K_TEMPERATURE] = {"temperature", NULL, NULL},
    };
    cai_status st;
    if ((st = model_read_root(L, root, f, K_COUNT, K_NAME, m)) != CAI_OK ||
        (st = yr_require(L, root, where, &f[K_MAP])) != CAI_OK)
        return st;
    cai_gridworld_spec sp = {
        .slip = 0.0, .step = -1.0, .goal = 0.0, .pit = -100.0};
    char *map = NULL;
    if ((st = read_map(L, f[K_MAP].value, &map)) != CAI_OK)
        return st;
    sp.map = map;
    yaml_node_t *slip = f[K_SLIP].value;
    if (slip != NULL && (!yr_parse_number(slip, &sp.slip) ||
                         !(sp.slip >= 0.0 && sp.slip <= 1.0))) {
        st = yr_fail_got(L, slip, "'slip' must be a number in [0, 1]");
        goto done;
    }
    if ((f[K_REWARDS].value != NULL &&
         (st = read_rewards(L, f[K_REWARDS].value, &sp)) != CAI_OK) ||
        (st = model_read_time(L, root, &f[K_HORIZON], &f[K_DISCOUNT],
                              &sp.horizon, &sp.discount)) != CAI_OK ||
        (st = model_read_temperature(L, &f[K_TEMPERATURE], &sp.temperature)) !=
            CAI_OK)
        goto done;
    cai_error sub;
    cai_error_clear(&sub);
    st = cai_gridworld_create(&sp, &m->mdp, &sub);
    if (st != CAI_OK)
        st = yr_engine_fail(L, root, st, &sub, where);
done:
    free(map);
    return st;
}
