/* tests/harness.h — the shared CUnit driver. Each test_<module>.c defines
 * cai_test_register(), which adds one suite with CU_add_suite/CU_add_test;
 * harness.c runs it and prints "cai-tests: N passed, M failed". */
#ifndef CAI_TESTS_HARNESS_H
#define CAI_TESTS_HARNESS_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

void cai_test_register(void);

/* Assert |a - b| <= tol * max(1, |a|, |b|), with equal infinities equal. */
#define CAI_ASSERT_CLOSE(a, b, tol) \
    CU_ASSERT(cai_test_close((a), (b), (tol)))

int cai_test_close(double a, double b, double tol);

#endif
