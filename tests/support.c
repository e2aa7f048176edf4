/* tests/support.c — helpers several test programs share (support.h). */
#include "support.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cai/model.h"
#include "harness.h"

void cai_test_put(cai_test_text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        CU_ASSERT_FATAL(w >= 0);
        if ((size_t)w < t->cap - t->n) {
            t->n += (size_t)w;
            return;
        }
        t->cap = t->cap * 2 + (size_t)w + 64;
        t->s = realloc(t->s, t->cap);
        CU_ASSERT_FATAL(t->s != NULL);
    }
}

/* ---- the temporary directory the cai program runs in -------------------- */

/* One per test program: its suites run one after the other. */
static char dir[64];

int cai_test_dir_create(const char *pattern)
{
    snprintf(dir, sizeof dir, "%s", pattern);
    return mkdtemp(dir) == NULL ? -1 : 0;
}

int cai_test_dir_remove(void)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        remove(path);
    }
    closedir(d);
    return rmdir(dir);
}

const char *cai_test_dir(void)
{
    return dir;
}

char *cai_test_slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
    if (s != NULL) {
        len = fread(s, 1, cap - 1, f);
        s[len] = '\0';
    }
    fclose(f);
    return s;
}

void cai_test_write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Run "cai ARGS" in the directory, stdout to the shell word out, stderr to
 * stderr.txt; the exit status, -1 if it did not exit normally. */
static int run_shell(const char *args, const char *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >%s 2>stderr.txt", dir,
             CAI_EXE, args, out);
    int rc = system(cmd);
    return (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
}

cai_test_outcome cai_test_run(const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    cai_test_outcome o;
    o.status = run_shell(args, "stdout.txt");
    o.out = cai_test_slurp("stdout.txt");
    o.err = cai_test_slurp("stderr.txt");
    CU_ASSERT_FATAL(o.out != NULL && o.err != NULL);
    return o;
}

void cai_test_outcome_free(cai_test_outcome *o)
{
    free(o->out);
    free(o->err);
}

int cai_test_run_to_full(const char *args)
{
    return run_shell(args, "/dev/full");
}

/* ---- model loader errors ------------------------------------------------ */

void cai_test_check_error(const char *text, cai_status code, size_t line,
                          size_t column, const char *phrase)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_load_string(text, strlen(text), "bad.yaml", &m,
                                          &err);
    CU_ASSERT_EQUAL(st, code);
    CU_ASSERT_EQUAL(err.code, code);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err.file, "bad.yaml");
    CU_ASSERT_EQUAL(err.line, line);
    CU_ASSERT_EQUAL(err.column, column);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, phrase));
    CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
    if (st != code || err.line != line || err.column != column ||
        strstr(err.message, phrase) == NULL)
        fprintf(stderr, "\n  got %d %zu:%zu: %s\n  want %d %zu:%zu: ...%s...\n",
                (int)st, err.line, err.column, err.message, (int)code, line,
                column, phrase);
    cai_model_free(m);
}

/* ---- random generators -------------------------------------------------- */

void cai_test_shuffle(gsl_rng *r, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = gsl_rng_uniform_int(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void cai_test_permutation(gsl_rng *r, size_t *perm, size_t n)
{
    for (size_t v = 0; v < n; v++)
        perm[v] = v;
    cai_test_shuffle(r, perm, n);
}

void cai_test_check_columns(const char *text, size_t max)
{
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        CU_ASSERT(len <= max);
        line += len + (nl != NULL);
    }
}
