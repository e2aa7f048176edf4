/* lib/io/csv_mdp.c — the CSV tables of a `kind: mdp` model (csv.h):
 * transitions_file and rewards_file.
 *
 * Transitions are parsed (csv.c) into one array of {prob, next, pair}; a
 * count per pair, prefix sums and one scatter bucket them per pair (a
 * counting sort: linear), and sorting each bucket by successor brings
 * repeats together and orders the CSR row, which is then written over the
 * two arrays. Rows carry no line numbers: only when something is wrong is
 * the file read again, in order, to say where. */
#include "csv.h"
#include "model_impl.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/graph.h"
#include "cai/logmath.h"


/* "state 's1', action 'a'" for messages. */
static void pair_name(const yr_names *states, const yr_names *actions, size_t s,
                      size_t a, char *buf, size_t size)
{
    char sb[32], ab[32];
    yr_shown sn = yr_show(yr_names_get(states, s, sb, sizeof sb));
    snprintf(buf, size, "state '%s', action '%s'", sn.s,
             yr_show(yr_names_get(actions, a, ab, sizeof ab)).s);
}

/* ---- transitions ------------------------------------------------------- */

static const char *const TRANSITION_HEADER[] = {"state", "action", "next",
                                                "prob"};
#define TRANSITION_JOINED "state,action,next,prob"

/* A parsed row: 16 bytes, since at a million rows and more the load is
 * bound by the memory it touches. States and pairs fit in 32 bits: the
 * loader allows at most MODEL_MAX_COUNT (1e8) of either (load_transitions
 * checks). */
typedef struct trow {
    double p;
    uint32_t next;
    uint32_t pair; /* s * A + a */
} trow;

static int cmp_trow(const void *x, const void *y)
{
    const trow *a = x, *b = y;
    return (a->next > b->next) - (a->next < b->next);
}

/* Sort v[0..n) by successor. */
static void sort_bucket(trow *v, size_t n)
{
    if (n > 16) {
        qsort(v, n, sizeof *v, cmp_trow);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        trow x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1].next > x.next; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* The transitions table for these axes. */
static csv_table transition_table(const yr_names *states,
                                  const yr_names *actions)
{
    return (csv_table){.header = TRANSITION_HEADER,
                       .nf = 4,
                       .joined = TRANSITION_JOINED,
                       .axes = {states, actions, states},
                       .what = {"state", "action", "state"},
                       .value = "probability",
                       .prob = true};
}

/* Parse every row of R (past the header) into rows, which has room for
 * all; *out_n rows. */
static cai_status parse_transitions(csv_reader *R, const csv_table *T,
                                    trow *rows, size_t *out_n)
{
    size_t A = T->axes[1]->n, n = 0;
    for (; !csv_at_end(R); csv_next_line(R)) {
        size_t idx[3];
        double p;
        bool blank_line;
        cai_status st = csv_read_row(R, T, idx, &p, &blank_line);
        if (st != CAI_OK)
            return st;
        if (blank_line)
            continue;
        rows[n] = (trow){p + 0.0, (uint32_t)idx[2], /* -0 reads as 0 */
                         (uint32_t)(idx[0] * A + idx[1])};
        n++;
    }
    *out_n = n;
    return CAI_OK;
}

/* Sort each pair's rows b[ptr[r] .. ptr[r + 1]) by successor; whether some
 * successor repeats and whether some pair's probabilities (summed in that
 * order, as cai_mdp_create sums them) are not 1 within 1e-9. */
static void sort_and_check(trow *b, const size_t *ptr, size_t SA, bool *out_dup,
                           bool *out_bad)
{
    bool dup = false, bad = false;
    for (size_t r = 0; r < SA; r++) {
        size_t lo = ptr[r], hi = ptr[r + 1];
        if (lo == hi)
            continue;
        sort_bucket(b + lo, hi - lo);
        double sum = b[lo].p;
        for (size_t i = lo + 1; i < hi; i++) {
            dup |= b[i].next == b[i - 1].next;
            sum += b[i].p;
        }
        bad |= !(fabs(sum - 1.0) <= MODEL_SUM_TOL);
    }
    *out_dup = dup;
    *out_bad = bad;
}

/* The sum of pair r's (sorted) rows. */
static double pair_sum(const trow *b, const size_t *ptr, size_t r)
{
    double sum = 0.0;
    for (size_t i = ptr[r]; i < ptr[r + 1]; i++)
        sum += b[i].p;
    return sum;
}

/* The first row in b[lo..hi), sorted by successor, whose successor is not
 * less than next. */
static size_t find_next(const trow *b, size_t lo, size_t hi, size_t next)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].next < next)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* sort_and_check found a repeated successor (dup) or a bad sum: read the
 * rows again, in file order, to report the earliest repeat (at its
 * second row), else the pair with a bad sum whose first row comes first
 * (at that row). The rows were clean once, so reading them cannot fail
 * but for memory. b is scratch here: the first row of each repeated
 * successor marks its p with minus its line. */
static cai_status diagnose(csv_reader *R, const csv_table *T, trow *b,
                           const size_t *ptr, bool dup)
{
    const yr_names *states = T->axes[0], *actions = T->axes[1];
    size_t A = actions->n, SA = states->n * A;
    unsigned char *bad = NULL;
    if (!dup) {
        if ((bad = calloc(SA / 8 + 1, 1)) == NULL)
            return csv_nomem(R);
        for (size_t r = 0; r < SA; r++)
            if (ptr[r] < ptr[r + 1] &&
                !(fabs(pair_sum(b, ptr, r) - 1.0) <= MODEL_SUM_TOL))
                bad[r / 8] |= (unsigned char)(1u << (r % 8));
    }
    size_t pair = CAI_NONE, first = 0, last = 0, next = 0;
    cai_status st = CAI_OK;
    for (csv_rewind(R); !csv_at_end(R); csv_next_line(R)) {
        size_t idx[3];
        double v;
        bool blank_line;
        if ((st = csv_read_row(R, T, idx, &v, &blank_line)) != CAI_OK)
            goto done;
        if (blank_line)
            continue;
        size_t r = idx[0] * A + idx[1];
        if (pair != CAI_NONE && r != pair)
            continue;
        if (!dup) { /* the first row of the first bad pair, and its last */
            if (pair == CAI_NONE && (bad[r / 8] & (1u << (r % 8)))) {
                pair = r;
                first = R->line;
            }
            last = R->line;
            continue;
        }
        size_t g = find_next(b, ptr[r], ptr[r + 1], idx[2]);
        if (g + 1 == ptr[r + 1] || b[g + 1].next != idx[2])
            continue; /* not repeated */
        if (b[g].p >= 0.0) {
            b[g].p = -(double)R->line;
            continue;
        }
        pair = r;
        first = (size_t)-b[g].p;
        next = idx[2];
        break; /* R is on the second row */
    }
    if (pair == CAI_NONE) { /* cannot happen: the rows were read before */
        st = cai_error_set(R->err, CAI_ERR_MODEL, R->path, 0, 0,
                           "the file changed while it was read");
        goto done;
    }
    char pb[256];
    pair_name(states, actions, pair / A, pair % A, pb, sizeof pb);
    if (dup) {
        char nb[32];
        st = csv_fail_field(
            R, R->line, 0,
            "duplicate row for %s, next '%s' (first at line %zu)", pb,
            yr_show(yr_names_get(states, next, nb, sizeof nb)).s, first);
        goto done;
    }
    size_t rows = ptr[pair + 1] - ptr[pair];
    char which[96];
    if (rows > 1)
        snprintf(which, sizeof which,
                 "the first of its %zu rows (the last is at line %zu)", rows,
                 last);
    else
        snprintf(which, sizeof which, "its only row");
    st = csv_fail_field(R, first, 3,
                        "probabilities for %s sum to %.17g, not 1 (within "
                        "1e-9); this is %s",
                        pb, pair_sum(b, ptr, pair), which);
done:
    free(bad);
    return st;
}

/* b's rows, bucketed and sorted, as CSR arrays without zeros: next, with
 * room for all rows, and prob written over b itself, behind the row being
 * read (entry j <= row i, and 8 bytes against 16); ptr becomes row_ptr.
 * The number of entries. */
static size_t pack(trow *b, size_t *ptr, size_t SA, size_t *next)
{
    double *prob = (double *)(void *)b;
    size_t lo = 0, j = 0;
    for (size_t r = 0; r < SA; r++) {
        size_t hi = ptr[r + 1];
        for (size_t i = lo; i < hi; i++) {
            trow x = b[i]; /* before prob[j] may cover b[0] */
            if (x.p > 0.0) {
                next[j] = x.next;
                prob[j] = x.p;
                j++;
            }
        }
        ptr[r + 1] = j;
        lo = hi;
    }
    return j;
}

/* The transitions table at path into *out (written only on success), and
 * the first pair no row covers (or CAI_NONE), which is the caller's error. */
static cai_status load_transitions(const char *path, const yr_names *states,
                                   const yr_names *actions, csv_csr *out,
                                   size_t *out_uncovered, cai_error *err)
{
    size_t SA = states->n * actions->n; /* the caller checked the product */
    if (states->n > UINT32_MAX || SA > UINT32_MAX) /* beyond the loader's */
        return cai_error_set(err, CAI_ERR_OVERFLOW, path, 0, 0,
                             "too many states and actions for a table");
    const csv_table T = transition_table(states, actions);
    csv_reader R;
    size_t *ptr = NULL, n = 0;
    trow *rows = NULL, *b = NULL;
    cai_status st = csv_open(&R, path, err);
    if (st != CAI_OK)
        return st;
    if ((st = csv_read_header(&R, &T)) != CAI_OK)
        goto done;
    size_t cap = csv_count_lines(&R), row_bytes, ptr_bytes;
    if (!cai_size_mul(cap, sizeof *rows, &row_bytes) ||
        !cai_size_mul(SA + 1, sizeof *ptr, &ptr_bytes)) {
        st = csv_nomem(&R);
        goto done;
    }
    rows = csv_alloc(row_bytes);
    ptr = calloc(1, ptr_bytes);
    if (rows == NULL || ptr == NULL) {
        st = csv_nomem(&R);
        goto done;
    }
    if ((st = parse_transitions(&R, &T, rows, &n)) != CAI_OK)
        goto done;

    /* the rows are bucketed into the file's own buffer when it is large
     * enough (rows are usually longer than 16 bytes): memory already
     * mapped; the text, needed again only to place an error, is read
     * again then */
    size_t b_bytes = n * sizeof *b;
    if ((size_t)(R.end - R.buf) >= b_bytes) {
        b = (trow *)(void *)R.buf;
        R.buf = NULL;
    } else if ((b = csv_alloc(b_bytes ? b_bytes : 1)) == NULL) {
        st = csv_nomem(&R);
        goto done;
    }

    /* bucket by pair (a counting sort): count, in a loop of its own rather
     * than during the parse, so that its cache misses overlap; prefix sums;
     * scatter, which leaves ptr[r] at the end of pair r's rows */
    for (size_t k = 0; k < n; k++)
        ptr[rows[k].pair + 1]++;
    for (size_t r = 0; r < SA; r++)
        ptr[r + 1] += ptr[r];
    for (size_t k = 0; k < n; k++)
        b[ptr[rows[k].pair]++] = rows[k];
    memmove(ptr + 1, ptr, SA * sizeof *ptr);
    ptr[0] = 0;
    bool dup, bad;
    sort_and_check(b, ptr, SA, &dup, &bad);
    if (dup || bad) {
        if (R.buf == NULL) { /* the text again */
            csv_close(&R);
            if ((st = csv_open(&R, path, err)) != CAI_OK ||
                (st = csv_read_header(&R, &T)) != CAI_OK)
                goto done;
        }
        st = diagnose(&R, &T, b, ptr, dup);
        goto done;
    }
    size_t uncovered = CAI_NONE;
    for (size_t r = 0; r < SA && uncovered == CAI_NONE; r++)
        if (ptr[r] == ptr[r + 1])
            uncovered = r;

    /* the CSR arrays reuse the blocks of rows (read by now) and b, whose
     * pages are mapped already; realloc gives back the rest */
    size_t nnz = pack(b, ptr, SA, (size_t *)(void *)rows);
    size_t keep = (nnz ? nnz : 1) * sizeof(double);
    void *next = realloc(rows, keep), *prob = realloc(b, keep);
    *out = (csv_csr){ptr, next ? next : (void *)rows, prob ? prob : (void *)b};
    *out_uncovered = uncovered;
    ptr = NULL;
    rows = NULL;
    b = NULL;
done:
    free(rows);
    free(b);
    free(ptr);
    csv_close(&R);
    return st;
}

/* ---- rewards ----------------------------------------------------------- */

static const char *const REWARD_HEADER[] = {"state", "action", "value"};
#define REWARD_JOINED "state,action,value"

static csv_table reward_table(const yr_names *states, const yr_names *actions)
{
    return (csv_table){.header = REWARD_HEADER,
                       .nf = 3,
                       .joined = REWARD_JOINED,
                       .axes = {states, actions},
                       .what = {"state", "action"},
                       .value = "reward",
                       .prob = false};
}

/* Pair r of the row on the current line of R was given before: report it
 * there, naming the line of the first row for it. */
static cai_status repeated_reward(csv_reader *R, const csv_table *T, size_t r)
{
    size_t line = R->line, first = 0, A = T->axes[1]->n;
    for (csv_rewind(R); R->line < line && first == 0; csv_next_line(R)) {
        size_t idx[2];
        double v;
        bool blank_line;
        cai_status st = csv_read_row(R, T, idx, &v, &blank_line);
        if (st != CAI_OK) /* out of memory: the rows were clean */
            return st;
        if (!blank_line && idx[0] * A + idx[1] == r)
            first = R->line;
    }
    char pair[256];
    pair_name(T->axes[0], T->axes[1], r / A, r % A, pair, sizeof pair);
    return csv_fail_field(
        R, line, 0, "duplicate row for %s (first at line %zu)", pair, first);
}

/* The rewards table at path into reward. */
static cai_status load_rewards(const char *path, const yr_names *states,
                               const yr_names *actions, double *reward,
                               cai_error *err)
{
    size_t A = actions->n, SA = states->n * A;
    const csv_table T = reward_table(states, actions);
    csv_reader R;
    unsigned char *seen = NULL;
    cai_status st = csv_open(&R, path, err);
    if (st != CAI_OK)
        return st;
    if ((st = csv_read_header(&R, &T)) != CAI_OK)
        goto done;
    if ((seen = calloc(SA / 8 + 1, 1)) == NULL) {
        st = csv_nomem(&R);
        goto done;
    }
    for (; !csv_at_end(&R); csv_next_line(&R)) {
        size_t idx[2];
        double v;
        bool blank_line;
        if ((st = csv_read_row(&R, &T, idx, &v, &blank_line)) != CAI_OK)
            goto done;
        if (blank_line)
            continue;
        size_t r = idx[0] * A + idx[1];
        if (seen[r / 8] & (1u << (r % 8))) {
            st = repeated_reward(&R, &T, r);
            goto done;
        }
        seen[r / 8] |= (unsigned char)(1u << (r % 8));
        reward[r] = v;
    }
done:
    free(seen);
    csv_close(&R);
    return st;
}

/* ---- the YAML keys ----------------------------------------------------- */

/* The file named by f (a `*_file` key), relative to the directory of the
 * YAML file (the working directory when L->path has none), as a fresh
 * string: the path errors in the file are reported under. */
static cai_status csv_path(const yr_loader *L, const yr_field *f, char **out)
{
    const char *name;
    cai_status st = yr_read_string(L, f->value, NULL, f->key, true, &name);
    if (st != CAI_OK)
        return st;
    size_t dir = 0, len = strlen(name), bytes;
    if (name[0] != '/' && L->path != NULL) {
        const char *slash = strrchr(L->path, '/');
        if (slash != NULL)
            dir = (size_t)(slash - L->path) + 1;
    }
    if (!cai_size_add(dir, len + 1, &bytes))
        return yr_overflow(L, "'%s': path too long", f->key);
    char *path = malloc(bytes);
    if (path == NULL)
        return yr_nomem(L);
    if (dir > 0)
        memcpy(path, L->path, dir);
    memcpy(path + dir, name, len + 1);
    *out = path;
    return CAI_OK;
}

/* Reading the file named by f failed with st, saying sub. A file that
 * cannot be read is reported at f's value; the rest (positions in the
 * file, memory) as they are. */
static cai_status csv_fail(const yr_loader *L, const yr_field *f, cai_status st,
                           const cai_error *sub)
{
    if (st == CAI_ERR_IO)
        return cai_error_set(L->err, st, L->path,
                             (size_t)f->value->start_mark.line + 1,
                             (size_t)f->value->start_mark.column + 1,
                             "'%s': %s", f->key, sub->message);
    if (L->err != NULL)
        *L->err = *sub;
    return st;
}

cai_status csv_mdp_transitions(const yr_loader *L, const yr_field *f,
                               const yr_names *states, const yr_names *actions,
                               csv_csr *out)
{
    char *path;
    cai_status st = csv_path(L, f, &path);
    if (st != CAI_OK)
        return st;
    size_t r = CAI_NONE;
    cai_error sub;
    cai_error_clear(&sub);
    st = load_transitions(path, states, actions, out, &r, &sub);
    if (st != CAI_OK) {
        st = csv_fail(L, f, st, &sub);
    } else if (r != CAI_NONE) {
        char sb[32], ab[32];
        size_t A = actions->n;
        st = yr_fail_at(
            L, f->key_node,
            "'transitions_file' %s does not cover state '%s', action '%s' "
            "(every pair needs a row)",
            yr_show(path).s,
            yr_show(yr_names_get(states, r / A, sb, sizeof sb)).s,
            yr_show(yr_names_get(actions, r % A, ab, sizeof ab)).s);
    }
    free(path);
    return st;
}

cai_status csv_mdp_rewards(const yr_loader *L, const yr_field *f,
                           const yr_names *states, const yr_names *actions,
                           double *reward)
{
    char *path;
    cai_status st = csv_path(L, f, &path);
    if (st != CAI_OK)
        return st;
    cai_error sub;
    cai_error_clear(&sub);
    st = load_rewards(path, states, actions, reward, &sub);
    if (st != CAI_OK)
        st = csv_fail(L, f, st, &sub);
    free(path);
    return st;
}
