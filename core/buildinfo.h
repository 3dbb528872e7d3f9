/*
 * buildinfo.h — build identity, for `mrcnn version` and for run records.
 *
 * defines: MRCNN_VERSION, mr_version_string, mr_git_commit, mr_git_dirty,
 *          mr_compiler, mr_blas_core, mr_blas_threads, mr_blas_config,
 *          mr_build_flags, mr_arch, mr_build_isa, mr_cpu_isa
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
/* the optimisation flags the library was built with (the Makefile's OPT) */
const char *mr_build_flags(void);
/* "x86_64", "aarch64", ... */
const char *mr_arch(void);
/* x86-64 micro-architecture level (x86-64-v1..v4) the code was compiled
 * for (from the compiler's target macros) and the one this CPU supports;
 * elsewhere the architecture's name. Together with the BLAS kernel, the
 * compiler, the flags and the thread count they decide a run's bits. */
const char *mr_build_isa(void);
const char *mr_cpu_isa(void);

#endif
