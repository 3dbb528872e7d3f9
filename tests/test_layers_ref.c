/*
 * test_layers_ref.c — part of group `layers`: layers against values that
 * PyTorch computed (filled in below once scripts/layers_reference.py has
 * written tests/data/layers_ref.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

const struct CMUnitTest *layers_ref_tests(size_t *n);

const struct CMUnitTest *layers_ref_tests(size_t *n)
{
    *n = 0;
    return NULL;
}
