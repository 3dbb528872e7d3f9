/*
 * store.h — the results store: results/store.jsonl, one JSON record per line
 * (format in docs/run_layout.md), appended and never rewritten.
 *
 * Appending opens the file with O_APPEND, writes the record and its newline
 * in one write(2) and fsyncs, so concurrent appenders (parallel ablation
 * jobs) never interleave and a crash loses at most the line being written.
 * Loading is strict: every line must be a JSON object with the record's
 * required fields; the first line that is not is an MR_EUSER error naming
 * the file and the line number. Nothing is skipped silently.
 *
 * defines: mr_store, mr_store_append, mr_store_load, mr_store_free,
 *          mr_store_find, MR_RECORD_REQUIRED
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

/* Append rec (serialised unformatted, on one line) to path, creating the file
 * and its directory when missing. A record that fails validation (not an
 * object, missing a required field) is refused with MR_EUSER. */
int mr_store_append(const char *path, const cJSON *rec, mr_err *e);

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

#endif
