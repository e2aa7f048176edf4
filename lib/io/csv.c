/* lib/io/csv.c — a fast reader of CSV tables (csv.h).
 *
 * A file is read whole into one buffer with a NUL after it (a sentinel for
 * the scanning loops; NUL bytes inside are refused). fast_row() reads the
 * common row in one pass; anything else goes to split_line(), which cuts
 * a line into fields pointing into the buffer, and to the field readers,
 * which say what is wrong. The buffer is never modified, so a line can be
 * split again to place an error found later (a duplicate, a bad sum) on
 * its field. Names are copied into one scratch buffer only to
 * NUL-terminate them for yr_names_find(); indices of count axes are read
 * straight from the buffer. Nothing is allocated per row or per field. */
#define _DEFAULT_SOURCE /* madvise, where there is one */
#include "csv.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cai/graph.h"
#include "cai/logmath.h"

/* ---- reading ----------------------------------------------------------- */

void *csv_alloc(size_t bytes)
{
    void *p = malloc(bytes);
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (p != NULL && bytes >= 4 * huge) {
        uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t e = ((uintptr_t)p + bytes) & ~(huge - 1);
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only */
    }
#endif
    return p;
}

void csv_close(csv_reader *R)
{
    free(R->buf);
    free(R->scratch);
}

cai_status csv_open(csv_reader *R, const char *path, cai_error *err)
{
    *R = (csv_reader){.path = path, .err = err, .line = 1};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cai_error_set(err, CAI_ERR_IO, path, 0, 0,
                             "cannot open '%s': %s", yr_show(path).s,
                             strerror(errno));
    struct stat sb;
    size_t cap = 1 << 16, len = 0;
    if (fstat(fileno(f), &sb) == 0 && sb.st_size > 0 &&
        (uintmax_t)sb.st_size < SIZE_MAX / 2)
        cap = (size_t)sb.st_size + 2; /* one short read: the whole file */
    char *buf = NULL;
    cai_status st = CAI_OK;
    for (;;) {
        if (buf == NULL || len + 1 == cap) {
            if (buf != NULL && !cai_size_mul(cap, 2, &cap)) {
                st = cai_error_set(err, CAI_ERR_OVERFLOW, path, 0, 0,
                                   "file too large");
                goto fail;
            }
            char *nbuf = buf == NULL ? csv_alloc(cap) : realloc(buf, cap);
            if (nbuf == NULL) {
                st = cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0,
                                   "out of memory");
                goto fail;
            }
            buf = nbuf;
        }
        size_t want = cap - 1 - len, got = fread(buf + len, 1, want, f);
        len += got;
        if (got < want)
            break; /* the end, or an error */
    }
    if (ferror(f)) {
        st = cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot read '%s': %s",
                           yr_show(path).s, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[len] = '\0';
    R->buf = buf;
    R->end = buf + len;
    R->p = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        R->p += 3; /* a byte order mark: not a column */
    return CAI_OK;
fail:
    free(buf);
    fclose(f);
    return st;
}

/* The 1-based column (UTF-8 characters) of at, on the current line. */
static size_t column_of(const csv_reader *R, const char *at)
{
    size_t c = 1;
    for (const char *q = R->p; q < at; q++)
        c += ((unsigned char)*q & 0xC0) != 0x80;
    return c;
}

/* An error of code at position at of the current line. */
static cai_status vfail(const csv_reader *R, cai_status code, const char *at,
                        const char *fmt, va_list ap)
{
    char msg[CAI_ERROR_MESSAGE_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return cai_error_set(R->err, code, R->path, R->line, column_of(R, at), "%s",
                         msg);
}

static cai_status fail(const csv_reader *R, cai_status code, const char *at,
                       const char *fmt, ...) YR_PRINTF(4, 5);

static cai_status fail(const csv_reader *R, cai_status code, const char *at,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vfail(R, code, at, fmt, ap);
    va_end(ap);
    return st;
}

cai_status csv_nomem(const csv_reader *R)
{
    return cai_error_set(R->err, CAI_ERR_NOMEM, R->path, 0, 0, "out of memory");
}

/* One field of a line: text s[0..n), inside the quotes when quoted. */
typedef struct field {
    const char *start; /* its first character (the quote): for columns */
    const char *s;
    size_t n;
    bool quoted;
    bool escapes; /* "" inside the quotes */
} field;

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* Cut the line at R->p into fields f[0..max) (more are counted, not kept)
 * and set R->next and R->eol; *out_n fields, 0 for a blank line. */
static cai_status split_line(csv_reader *R, field *f, size_t max, size_t *out_n)
{
    const char *p = R->p;
    size_t n = 0;
    for (;;) {
        while (blank(*p))
            p++;
        field x = {.start = p, .s = p};
        if (*p == '"') {
            x.quoted = true;
            x.s = ++p;
            for (;; p++) {
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    x.escapes = true;
                    p++;
                } else if (*p == '\n' || *p == '\r' || *p == '\0') {
                    if (*p == '\0' && p != R->end)
                        return fail(R, CAI_ERR_SYNTAX, p, "NUL byte");
                    return fail(R, CAI_ERR_SYNTAX, x.start,
                                "unterminated quoted field (a quoted field "
                                "must end on its line)");
                }
            }
            x.n = (size_t)(p - x.s);
            p++;
            while (blank(*p) || (*p == '\r' && (p[1] == '\n' || p[1] == '\0')))
                p++;
            if (*p != ',' && *p != '\n' && *p != '\0')
                return fail(R, CAI_ERR_SYNTAX, p,
                            "expected ',' or the end of the line after a "
                            "quoted field");
        } else {
            while (*p != ',' && *p != '\n' && *p != '\0')
                p++;
            const char *e = p;
            while (e > x.s && (blank(e[-1]) || e[-1] == '\r'))
                e--;
            x.n = (size_t)(e - x.s);
        }
        if (*p == '\0' && p != R->end)
            return fail(R, CAI_ERR_SYNTAX, p, "NUL byte");
        if (n < max)
            f[n] = x;
        n++;
        if (*p != ',')
            break;
        p++;
    }
    const char *eol = p;
    if (eol > R->p && eol[-1] == '\r')
        eol--;
    R->eol = eol;
    R->next = *p == '\n' ? p + 1 : p;
    if (n == 1 && !f[0].quoted && f[0].n == 0)
        n = 0; /* nothing but blanks */
    *out_n = n;
    return CAI_OK;
}

void csv_next_line(csv_reader *R)
{
    R->p = R->next;
    R->line++;
}

/* Move to line `line` (>= 1) of the file and split it into f: for placing
 * errors on a line that split cleanly before. */
static void seek_line(csv_reader *R, size_t line, field *f, size_t max)
{
    const char *p = R->buf;
    if (R->end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    for (size_t l = 1; l < line; l++)
        p = (const char *)memchr(p, '\n', (size_t)(R->end - p)) + 1;
    R->p = p;
    R->line = line;
    size_t n;
    (void)split_line(R, f, max, &n);
}

/* The field's text for messages (control characters shown as '?'). */
static yr_shown show_field(const field *f)
{
    char s[sizeof(yr_shown)];
    size_t n = f->n < sizeof s - 1 ? f->n : sizeof s - 1;
    memcpy(s, f->s, n);
    s[n] = '\0';
    return yr_show(s);
}

/* Room for n bytes in R->scratch. */
static bool scratch_reserve(csv_reader *R, size_t n)
{
    if (n <= R->scratch_cap)
        return true;
    size_t cap = n < 64 ? 64 : 2 * n;
    char *s = realloc(R->scratch, cap);
    if (s == NULL)
        return false;
    R->scratch = s;
    R->scratch_cap = cap;
    return true;
}

/* The field's text, unescaped and NUL-terminated, in R->scratch. */
static const char *field_text(csv_reader *R, const field *f)
{
    if (!scratch_reserve(R, f->n + 1))
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < f->n; i++) {
        R->scratch[o++] = f->s[i];
        if (f->escapes && f->s[i] == '"')
            i++; /* "" stands for one quote */
    }
    R->scratch[o] = '\0';
    return R->scratch;
}

/* Field f names a `what` of t (a state or an action): its index. */
static cai_status field_index(csv_reader *R, const field *f, const yr_names *t,
                              const char *what, size_t *out)
{
    const char *s = f->s;
    size_t n = f->n;
    if (t->names == NULL && !f->escapes && n > 0 && n <= 19 &&
        (s[0] != '0' || n == 1)) {
        /* a count axis: a canonical decimal index */
        size_t v = 0, i = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (size_t)(s[i++] - '0');
        if (i == n) {
            if (v < t->n) {
                *out = v;
                return CAI_OK;
            }
            return fail(R, CAI_ERR_MODEL, f->start,
                        "%s index %s is out of range (%ss: 0..%zu)", what,
                        show_field(f).s, what, t->n - 1);
        }
    }
    if (n == 0)
        return fail(R, CAI_ERR_MODEL, f->start, "empty %s field", what);
    if (n == 1 && s[0] == '*')
        return fail(R, CAI_ERR_MODEL, f->start,
                    "wildcards are not supported in CSV files: '*' cannot "
                    "stand for every %s (give one row per %s)",
                    what, what);
    if (t->names != NULL) {
        const char *name = field_text(R, f);
        if (name == NULL)
            return csv_nomem(R);
        size_t i = yr_names_find(t, name);
        if (i != CAI_NONE) {
            *out = i;
            return CAI_OK;
        }
    }
    char hint[200];
    yr_names_hint(t, hint, sizeof hint);
    return fail(R, CAI_ERR_MODEL, f->start, "unknown %s '%s' (%ss: %s)", what,
                show_field(f).s, what, hint);
}

/* When m <= 2^53 and k <= 22, m / 10^k of two exact doubles is correctly
 * rounded (Clinger's fast path). With x87 long doubles (64 bits of
 * significand), m < 2^63 and k <= 27, m / 10^k is exact operands rounded
 * once to 64 bits, and rounding that to 53 bits gives the correctly
 * rounded double unless it lies exactly halfway between two doubles (its
 * low 11 bits 0x400): only then false. Where FLT_EVAL_METHOD != 0 (double
 * arithmetic carried out wider, then rounded again) always false. */
bool csv_decimal(const char *s, size_t n, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double pow10[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s, *end = s + n, *q;
    uint64_t m = 0; /* wraps beyond 19 digits, then unused */
    size_t sig = 0, frac = 0;
    bool neg = false, digit;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    for (q = p; q < end && (unsigned)(*q - '0') < 10u; q++) {
        m = m * 10 + (uint64_t)(*q - '0');
        sig += m != 0; /* digits from the first nonzero one */
    }
    digit = q > p;
    if (q < end && *q == '.') {
        const char *f = ++q;
        for (; q < end && (unsigned)(*q - '0') < 10u; q++) {
            m = m * 10 + (uint64_t)(*q - '0');
            sig += m != 0;
        }
        frac = (size_t)(q - f);
        digit |= q > f;
    }
    if (q != end || !digit || sig > 19)
        return false;
    double v;
    if (m <= (uint64_t)1 << 53 && frac <= 22) {
        v = (double)m / pow10[frac];
    }
#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64
    else if (m < (uint64_t)1 << 63 && frac <= 27) {
        static const long double pow10l[] = {
            1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
            1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
            1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
            1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
        long double x = (long double)(int64_t)m / pow10l[frac];
        uint64_t bits; /* the significand: the first 8 bytes on x86 */
        memcpy(&bits, &x, sizeof bits);
        if ((bits & 0x7FF) == 0x400)
            return false;
        v = (double)x;
    }
#endif
    else {
        return false;
    }
    *out = neg ? -v : v;
    return true;
#else
    (void)s;
    (void)n;
    (void)out;
    return false;
#endif
}

/* Field f as a number (what strtod reads, nothing after it) into *out. */
static cai_status field_number(const csv_reader *R, const field *f,
                               const char *what, double *out)
{
    char *e = NULL;
    double v = 0.0;
    if (!f->escapes && csv_decimal(f->s, f->n, &v))
        e = (char *)(f->s + f->n);
    else if (f->n > 0 && !f->escapes && !blank(f->s[0]))
        v = strtod(f->s, &e);
    if (e != f->s + f->n || f->n == 0)
        return fail(R, CAI_ERR_MODEL, f->start,
                    "the %s must be a number, got '%s'", what, show_field(f).s);
    if (!isfinite(v))
        return fail(R, CAI_ERR_MODEL, f->start,
                    "the %s must be a finite number, got '%s'", what,
                    show_field(f).s);
    *out = v;
    return CAI_OK;
}

cai_status csv_read_header(csv_reader *R, const csv_table *T)
{
    const char *const *h = T->header, *joined = T->joined;
    size_t nf = T->nf;
    if (R->p == R->end)
        return fail(R, CAI_ERR_MODEL, R->p,
                    "empty file: expected the header line '%s'", joined);
    field f[CSV_MAX_FIELDS + 1];
    size_t n;
    cai_status st = split_line(R, f, CSV_MAX_FIELDS + 1, &n);
    if (st != CAI_OK)
        return st;
    for (size_t i = 0; i <= nf; i++) {
        const char *at;
        if (i < n && i < nf) {
            if (!f[i].escapes && f[i].n == strlen(h[i]) &&
                memcmp(f[i].s, h[i], f[i].n) == 0)
                continue;
            at = f[i].start;
        } else if (i == nf && n > nf) {
            at = f[nf].start;
        } else if (i < nf) {
            at = R->eol;
        } else {
            break;
        }
        field line = {.s = R->p, .n = (size_t)(R->eol - R->p)};
        return fail(R, CAI_ERR_MODEL, at,
                    "expected the header line '%s', got '%s'", joined,
                    show_field(&line).s);
    }
    csv_next_line(R);
    R->data = R->p;
    R->data_line = R->line;
    return CAI_OK;
}

/* A data line with n fields must have nf (joined: the header). */
static cai_status check_width(const csv_reader *R, const field *f, size_t n,
                              size_t nf, const char *joined)
{
    if (n == nf)
        return CAI_OK;
    return fail(R, CAI_ERR_SYNTAX, n > nf ? f[nf].start : R->eol,
                "expected %zu fields (%s), got %zu", nf, joined, n);
}

size_t csv_count_lines(const csv_reader *R)
{
    /* eight bytes at a time: a byte of x = word ^ "\n\n..." is zero iff
     * ((x & 0x7F) + 0x7F) | x has its high bit clear */
    const uint64_t ones = 0x0101010101010101u, low = ones * 0x7F;
    const char *p = R->p;
    size_t n = 1;
    for (; R->end - p >= 8; p += 8) {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        x ^= ones * '\n';
        uint64_t zero = ~(((x & low) + low) | x | low); /* 0x80 per '\n' */
        n += (size_t)(((zero >> 7) * ones) >> 56);
    }
    for (; p < R->end; p++)
        n += *p == '\n';
    return n;
}

/* ---- rows -------------------------------------------------------------- */

/* Bytes that end a field or make the general reader necessary. */
static const bool STOP[256] = {
    ['\0'] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true,
    [' '] = true,  ['"'] = true,  [','] = true};

/* The common row, read in one pass: plain fields (no quotes or blanks),
 * names and indices that exist, a finite number, and the line's end. Fills
 * idx, *out_v and R->next; false for anything else, having reported
 * nothing: the general reader then reads the row again and says what is
 * wrong. Rows it accepts are exactly rows the general reader accepts, with
 * the same values. */
static bool fast_row(csv_reader *R, const csv_table *T, size_t *idx,
                     double *out_v)
{
    const char *p = R->p;
    for (size_t i = 0; i + 1 < T->nf; i++) {
        const yr_names *t = T->axes[i];
        const char *q = p;
        if (t->names == NULL) {
            size_t v = 0;
            while ((unsigned)(*q - '0') < 10u)
                v = v * 10 + (size_t)(*q++ - '0');
            size_t len = (size_t)(q - p);
            if (*q != ',' || len == 0 || len > 19 || (*p == '0' && len > 1) ||
                v >= t->n)
                return false;
            idx[i] = v;
        } else {
            while (!STOP[(unsigned char)*q])
                q++;
            size_t len = (size_t)(q - p);
            if (*q != ',' || len == 0)
                return false;
            if (len == R->last[i].n && memcmp(p, R->last[i].s, len) == 0) {
                idx[i] = R->last[i].index;
            } else {
                if (!scratch_reserve(R, len + 1))
                    return false;
                memcpy(R->scratch, p, len);
                R->scratch[len] = '\0';
                if ((idx[i] = yr_names_find(t, R->scratch)) == CAI_NONE)
                    return false;
                R->last[i].s = p;
                R->last[i].n = len;
                R->last[i].index = idx[i];
            }
        }
        p = q + 1;
    }
    const char *e = p;
    while (!STOP[(unsigned char)*e])
        e++;
    const char *q = e + (*e == '\r');
    if (*q == '\n')
        q++;
    else if (q != R->end)
        return false;
    double v;
    if (!csv_decimal(p, (size_t)(e - p), &v)) {
        char *end;
        if (e == p || (v = strtod(p, &end), end != e) || !isfinite(v))
            return false;
    }
    *out_v = v;
    R->next = q;
    R->eol = e;
    return true;
}

cai_status csv_read_row(csv_reader *R, const csv_table *T, size_t *idx,
                        double *out_v, bool *out_blank)
{
    double v = 0.0;
    *out_blank = false;
    if (fast_row(R, T, idx, &v) && (!T->prob || (v >= 0.0 && v <= 1.0))) {
        *out_v = v;
        return CAI_OK;
    }
    field f[CSV_MAX_FIELDS + 1];
    size_t n;
    cai_status st = split_line(R, f, CSV_MAX_FIELDS + 1, &n);
    if (st != CAI_OK)
        return st;
    if (n == 0) {
        *out_blank = true;
        return CAI_OK;
    }
    if ((st = check_width(R, f, n, T->nf, T->joined)) != CAI_OK)
        return st;
    for (size_t i = 0; i + 1 < T->nf; i++)
        if ((st = field_index(R, &f[i], T->axes[i], T->what[i], &idx[i])) !=
            CAI_OK)
            return st;
    const field *vf = &f[T->nf - 1];
    if ((st = field_number(R, vf, T->value, &v)) != CAI_OK)
        return st;
    if (T->prob && v < 0.0)
        return fail(R, CAI_ERR_MODEL, vf->start, "negative probability %s",
                    show_field(vf).s);
    if (T->prob && v > 1.0)
        return fail(R, CAI_ERR_MODEL, vf->start,
                    "probability %s is greater than 1", show_field(vf).s);
    *out_v = v;
    return CAI_OK;
}

void csv_rewind(csv_reader *R)
{
    R->p = R->data;
    R->line = R->data_line;
}

cai_status csv_fail_field(csv_reader *R, size_t line, size_t j, const char *fmt,
                          ...)
{
    field f[CSV_MAX_FIELDS + 1];
    seek_line(R, line, f, CSV_MAX_FIELDS + 1);
    va_list ap;
    va_start(ap, fmt);
    cai_status st = vfail(R, CAI_ERR_MODEL, f[j].start, fmt, ap);
    va_end(ap);
    return st;
}
