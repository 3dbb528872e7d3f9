/*
 * buildinfo.c — the build's identity (version, git commit, compiler, BLAS),
 * for `mrcnn version` and for the run records. The commit is baked in at
 * build time by the Makefile.
 */
#include "core/buildinfo.h"

#ifndef MRCNN_GIT_COMMIT
#define MRCNN_GIT_COMMIT "unknown"
#endif
#ifndef MRCNN_CFLAGS
#define MRCNN_CFLAGS "unknown"
#endif
#ifndef MRCNN_GIT_DIRTY
#define MRCNN_GIT_DIRTY 0
#endif

/* OpenBLAS's own introspection (declared in its cblas.h as well) */
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

const char *mr_version_string(void) { return MRCNN_VERSION; }
const char *mr_git_commit(void) { return MRCNN_GIT_COMMIT; }
int mr_git_dirty(void) { return MRCNN_GIT_DIRTY; }
const char *mr_compiler(void) { return "gcc " __VERSION__; }
const char *mr_blas_core(void) { return openblas_get_corename(); }
int mr_blas_threads(void) { return openblas_get_num_threads(); }
const char *mr_blas_config(void) { return openblas_get_config(); }

const char *mr_build_flags(void) { return MRCNN_CFLAGS; }

const char *mr_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "other";
#endif
}

const char *mr_build_isa(void)
{
#if defined(__x86_64__)
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512CD__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
    return "x86-64-v4";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__)
    return "x86-64-v3";
#elif defined(__SSE4_2__) && defined(__POPCNT__)
    return "x86-64-v2";
#else
    return "x86-64-v1";
#endif
#else
    return mr_arch();
#endif
}

const char *mr_cpu_isa(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "x86-64-v4";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
        return "x86-64-v3";
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt")) return "x86-64-v2";
    return "x86-64-v1";
#else
    return mr_arch();
#endif
}
