/*
 * buildinfo.c — the build's identity (version, git commit, compiler, BLAS),
 * for `mrcnn version` and for the run records. The commit is baked in at
 * build time by the Makefile.
 */
#include "core/buildinfo.h"

#ifndef MRCNN_GIT_COMMIT
#define MRCNN_GIT_COMMIT "unknown"
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

