/*
 * buildinfo.h — build identity, for `mrcnn version` and for run records.
 *
 * defines: MRCNN_VERSION, mr_version_string, mr_git_commit, mr_git_dirty,
 *          mr_compiler, mr_blas_core, mr_blas_threads, mr_blas_config
 */
#ifndef MR_BUILDINFO_H
#define MR_BUILDINFO_H

#define MRCNN_VERSION "0.1.0"

const char *mr_version_string(void);
const char *mr_git_commit(void);
int mr_git_dirty(void);
const char *mr_compiler(void);
const char *mr_blas_core(void);
int mr_blas_threads(void);
const char *mr_blas_config(void);

#endif
