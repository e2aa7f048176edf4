/* tests/support.h — helpers that several test programs share, compiled into
 * every one of them with harness.c.
 *
 * The CLI suites (test_cli.c, test_cli_mdp.c) run the cai program (CAI_EXE)
 * in one temporary directory per test program: their suite init calls
 * cai_test_dir_create() and their suite cleanup cai_test_dir_remove(), and
 * file names given to the helpers below are relative to that directory. The
 * loader suites (test_io.c, test_io_mdp.c) check error paths with
 * cai_test_check_error(); the random generators of test_engine.c and
 * test_expectation.c shuffle with cai_test_shuffle(). */
#ifndef CAI_TESTS_SUPPORT_H
#define CAI_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "cai/error.h"

/* ---- texts built piece by piece ----------------------------------------- */

/* A growing string (start with {0}; free s). */
typedef struct cai_test_text {
    char *s;
    size_t n, cap;
} cai_test_text;

/* Append printf(fmt, ...) to t (a fatal assertion that memory lasts). */
void cai_test_put(cai_test_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the temporary directory the cai program runs in -------------------- */

/* Create the directory from a mkdtemp() template such as
 * "/tmp/cai-test-cli-XXXXXX" (at most 63 characters); 0, or -1 when it
 * cannot be made. A CUnit suite init function. */
int cai_test_dir_create(const char *pattern);

/* Remove every file in the directory, then the directory; 0 or -1. A CUnit
 * suite cleanup function. */
int cai_test_dir_remove(void);

/* The directory's path; valid until the test program exits. */
const char *cai_test_dir(void);

/* The contents of file name (at most 1 MiB of it), NUL-terminated, in a
 * fresh buffer the caller frees; NULL when the file cannot be opened. */
char *cai_test_slurp(const char *name);

/* Write text to file name, replacing it (a fatal assertion that it opens). */
void cai_test_write_file(const char *name, const char *text);

/* What a run of the cai program left: both streams, owned by the outcome
 * until cai_test_outcome_free(). */
typedef struct cai_test_outcome {
    int status; /* exit status, -1 if it did not exit normally */
    char *out;  /* stdout */
    char *err;  /* stderr */
} cai_test_outcome;

/* Run "cai ARGS" in the directory (ARGS, printf-formatted, is shell text),
 * capturing stdout and stderr in stdout.txt and stderr.txt there (a fatal
 * assertion that both can be read back). */
cai_test_outcome cai_test_run(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Free the streams of o. */
void cai_test_outcome_free(cai_test_outcome *o);

/* Run "cai ARGS" in the directory with stdout on /dev/full (so that writing
 * it fails) and stderr in stderr.txt there; the exit status, -1 if it did
 * not exit normally. */
int cai_test_run_to_full(const char *args);

/* ---- model loader errors ------------------------------------------------ */

/* Load text as "bad.yaml" and assert that it fails with code at line and
 * column, with phrase somewhere in a one-line message and no model; prints
 * the difference to stderr when it does not. */
void cai_test_check_error(const char *text, cai_status code, size_t line,
                          size_t column, const char *phrase);

/* For an X-macro table of loader error cases X(name, text, code, line,
 * column, phrase): define test_err_NAME as one cai_test_check_error(). */
#define CAI_TEST_DEFINE_ERROR_CASE(name, text, code, line, column, phrase)    \
    static void test_err_##name(void)                                         \
    {                                                                         \
        cai_test_check_error(text, code, line, column, phrase);               \
    }

/* The same table's registration: test_err_NAME as "error NAME" in the
 * CU_pSuite held by a variable named s where the table is expanded. */
#define CAI_TEST_REGISTER_ERROR_CASE(name, text, code, line, column, phrase)  \
    CU_add_test(s, "error " #name, test_err_##name);

/* ---- random generators -------------------------------------------------- */

/* Assert that every line of text has at most max characters. */
void cai_test_check_columns(const char *text, size_t max);

/* Shuffle a[0..n-1] in place (Fisher-Yates, drawing from r). */
void cai_test_shuffle(gsl_rng *r, size_t *a, size_t n);

/* A random permutation of 0..n-1 into perm (drawn as cai_test_shuffle of
 * the identity). */
void cai_test_permutation(gsl_rng *r, size_t *perm, size_t n);

#endif
