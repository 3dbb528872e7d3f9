/*
 * store.h — the results store: results/store.jsonl, one JSON record per line
 * (format in docs/run_layout.md), appended and never rewritten.
 *
 * Appending takes an exclusive flock of the file, writes the record and its
 * newline in one write(2) and fsyncs; a short write is cut back, so the
 * store holds whole lines only. One record per run: an append of a run
 * already stored (same run identity, mr_record_run_id) writes nothing.
 * `mrcnn store check [--repair]` (mr_store_check) verifies a store and
 * repairs it: an atomic rewrite under the lock, set-aside lines kept in
 * STORE.rejected.
 * Loading is strict: every line must be a JSON object with the record's
 * required fields; the first line that is not is an MR_EUSER error naming
 * the file and the line number. Nothing is skipped silently.
 *
 * defines: mr_store, mr_store_append, mr_store_append_ex, mr_store_load,
 *          mr_store_free, mr_store_find, mr_store_recover, mr_record_run_id,
 *          mr_store_check, mr_store_report, MR_RECORD_REQUIRED
 */
#ifndef MR_STORE_H
#define MR_STORE_H

#include <cjson/cJSON.h>
#include "core/err.h"

/* fields every record must have (checked by mr_store_load) */
#define MR_RECORD_REQUIRED {"commit", "dirty", "date", "machine", "config_name", "seed", "metrics"}

typedef struct mr_store {
    int n;          /* records */
    cJSON **rec;    /* n parsed records (owned) */
    int *line;      /* n 1-based line numbers in the file */
} mr_store;

/* The run identity of a record: a hash of config_name, seed, commit, dirty,
 * run_dir and the resolved config (not the date, machine, speeds or
 * metrics), 16 hex digits. A resumed, re-committed or recovered run has the
 * same identity; a run at another commit or in another directory does not. */
void mr_record_run_id(const cJSON *rec, char out[17]);

/* Append rec (serialised unformatted, on one line) to path, creating the file
 * and its directory when missing, all or nothing, under an exclusive flock
 * of the store:
 *   - a torn last line left by a writer that died (no newline) is first
 *     completed (when it is a whole valid record) or cut off (*tail);
 *   - the store must then load strictly (else its MR_EUSER error);
 *   - a record with rec's run identity already there: nothing is written,
 *     *appended = 0 (idempotent);
 *   - a short write or failed fsync (disk full) is cut back to the old
 *     length: the store is unchanged and MR_EIO says so.
 * A record that fails validation (not an object, missing a required field,
 * a number that is not finite) is refused with MR_EUSER. appended and tail
 * may be NULL. */
int mr_store_append_ex(const char *path, const cJSON *rec, int *appended, int *tail, mr_err *e);
int mr_store_append(const char *path, const cJSON *rec, mr_err *e);
enum { MR_STORE_TAIL_COMPLETED = 1, MR_STORE_TAIL_CUT = 2 };

/* Under the lock: the torn-tail step of an append (above) and the removal
 * of stale "*.tmp.PID" files beside the store. A missing store is fine.
 * `mrcnn train --store` and `mrcnn ablate` call it before their precheck,
 * so a writer killed mid-append does not block the next run. */
int mr_store_recover(const char *path, int *tail, mr_err *e);

/* Load every record of path. A missing file is MR_EIO. A line that is not a
 * JSON object, or lacks a required field, is MR_EUSER "PATH:LINE: ...".
 * A final line without its newline (a torn write) is reported the same way
 * when it does not parse. Empty lines are errors too, except the file's end. */
int mr_store_load(const char *path, mr_store *s, mr_err *e);
void mr_store_free(mr_store *s);

/* Check one record's shape; where names the record in the message
 * (e.g. "results/store.jsonl:12"). */
int mr_record_validate(const cJSON *rec, const char *where, mr_err *e);

/* The last record (in file order) whose config_name and seed match
 * (seed < 0 matches any); NULL when none. */
const cJSON *mr_store_find(const mr_store *s, const char *config_name, long seed);

/* What mr_store_check found (and did). */
typedef struct mr_store_report {
    int lines;        /* lines read */
    int records;      /* valid records kept, one per run */
    int bad;          /* lines that do not parse or validate */
    int empty;        /* empty lines */
    int duplicates;   /* records of a run already stored on an earlier line */
    int tail;         /* MR_STORE_TAIL_COMPLETED / _CUT: the last line had no newline */
    int repaired;     /* the store was rewritten */
    char *text;       /* one line per finding, then a summary line (malloc'd) */
} mr_store_report;

/* Verify the store at path under its lock: every line a valid record, one
 * record per run identity, a newline at the end. With repair, and when
 * anything was found: the first record of each run is kept (in file order),
 * other lines are appended to PATH.rejected (nothing is lost), and the store
 * is rewritten atomically (temporary + rename). A missing store is MR_EIO.
 * Findings are not errors: they are in r. */
int mr_store_check(const char *path, int repair, mr_store_report *r, mr_err *e);
void mr_store_report_free(mr_store_report *r);

#endif
