/*
 * fileio.h — whole-file reads and atomic writes. Every output file in mrcnn
 * is written through mr_atomic_open/commit: to "PATH.tmp.<pid>" then renamed
 * over PATH, so an interrupted run never leaves a half-written file.
 *
 * Every input file is opened through mr_open_regular: a FIFO, device,
 * socket or directory is refused before anything is read from it (opening
 * a FIFO for reading would otherwise block until a writer appears).
 * A writer killed between open and commit leaves its "PATH.tmp.<pid>";
 * mr_clean_stale_tmp removes those of writers that are no longer alive.
 *
 * defines: mr_read_file, mr_write_file_atomic, mr_atomic_file,
 *          mr_atomic_open, mr_atomic_commit, mr_atomic_abort, mr_mkdir_p,
 *          mr_mkdir_p_new, mr_remove_tree,
 *          mr_file_exists, mr_open_regular, mr_clean_stale_tmp, mr_fault_point
 */
#ifndef MR_FILEIO_H
#define MR_FILEIO_H

#include <stdio.h>
#include <stddef.h>
#include "core/err.h"

/* Read all of path into a malloc'd buffer (NUL-terminated; *len excludes the
 * NUL). Errors name the path and the reason. */
int mr_read_file(const char *path, char **buf, size_t *len, mr_err *e);
/* Open path for reading ("rb") only if it is a regular file; NULL with an
 * MR_EIO error "WHAT PATH: not a regular file (a FIFO)" otherwise (what may
 * be "", e.g. "checkpoint"). Never blocks on a FIFO. */
FILE *mr_open_regular(const char *path, const char *what, mr_err *e);
int mr_write_file_atomic(const char *path, const void *data, size_t len, mr_err *e);

typedef struct mr_atomic_file {
    FILE *f;
    char path[4096];
    char tmp[4200];
} mr_atomic_file;

/* Open a temporary next to path for writing ("wb"); the error names path,
 * the temporary and the directory: "DIR/o.json: cannot create (temporary
 * DIR/o.json.tmp.PID): No such file or directory (directory DIR does not
 * exist)". */
int mr_atomic_open(mr_atomic_file *af, const char *path, mr_err *e);
/* Flush, fsync, close and rename over path; on any failure the temporary is
 * removed and an error naming path is returned. */
int mr_atomic_commit(mr_atomic_file *af, mr_err *e);
/* Close and remove the temporary (after an error). */
void mr_atomic_abort(mr_atomic_file *af);

/* mkdir -p; an existing directory is fine */
int mr_mkdir_p(const char *dir, mr_err *e);
/* mr_mkdir_p, and the topmost directory it made into created ("" when dir
 * was there already): what a caller that fails before doing anything may
 * remove again (mr_remove_tree), and nothing that existed before */
int mr_mkdir_p_new(const char *dir, char *created, size_t n, mr_err *e);
/* rm -r path (symbolic links removed, not followed); 0, or -1 when
 * something could not be removed */
int mr_remove_tree(const char *path);
int mr_file_exists(const char *path);
/* path as recorded in results: an absolute path under the current directory
 * becomes relative to it (so committed results carry no machine's absolute
 * paths); any other path is copied as given */
void mr_path_for_record(const char *path, char *out, size_t n);
/* Remove dir's "*.tmp.<pid>" files whose pid is not a live process (writers
 * killed before their rename); *removed (may be NULL) gets the count. A
 * missing dir is fine. */
int mr_clean_stale_tmp(const char *dir, int *removed);
/* Fault injection for the kill-9 soak (scripts/soak.sh): the process
 * SIGKILLs itself here when the environment's MRCNN_FAULT_AT is name
 * ("store_torn", "store_written", "record_pending", "record_stored").
 * Does nothing otherwise. */
void mr_fault_point(const char *name);

#endif
