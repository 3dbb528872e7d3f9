/*
 * record.h — a run's record (docs/run_layout.md): git commit and dirty flag,
 * date, machine (CPU model, threads, OpenBLAS core), resolved config, seed,
 * AP numbers and the fps protocol with its speeds. Built from the files of a
 * finished run directory, written to RUN/record.json and appended to the
 * results store (harness/store.h).
 *
 * defines: mr_machine, mr_machine_detect, mr_machine_json, mr_record_build, mr_record_commit,
 *   mr_record_set_world,
 *          mr_record_recover,
 *          mr_metrics_summary, mr_json_load
 */
#ifndef MR_RECORD_H
#define MR_RECORD_H

#include <cjson/cJSON.h>
#include "core/err.h"

typedef struct mr_machine {
    char cpu[256];        /* "model name" of /proc/cpuinfo ("unknown" if absent) */
    int threads;          /* threads the run used */
    int cores_online;     /* sysconf(_SC_NPROCESSORS_ONLN) */
    char blas_core[64];   /* openblas_get_corename() */
    char arch[16];        /* mr_arch() */
    char cpu_isa[16];     /* mr_cpu_isa(): what this CPU runs (glibc's libm picks its code by it) */
    char build_isa[16];   /* mr_build_isa(): what our code was compiled for */
    char compiler[64];    /* mr_compiler() */
    char flags[128];      /* mr_build_flags() */
    /* The machine class: everything that decides a run's bits (BLAS kernel,
     * CPU and build ISA levels, compiler and flags, threads), one string.
     * Runs of one config and seed on one class are bitwise identical; on
     * two classes they are not (docs/regress.md). */
    char class_id[640];
} mr_machine;

/* Fill m for a run that uses `threads` threads (<= 0: OpenBLAS's count). */
void mr_machine_detect(mr_machine *m, int threads);
/* m as the records' and baselines' "machine" object (caller deletes) */
cJSON *mr_machine_json(const mr_machine *m);

/* Parse a JSON file into *out (caller deletes); errors name the path and the
 * column where parsing stopped. */
int mr_json_load(const char *path, cJSON **out, mr_err *e);

/* From a metrics.json object ({"bbox": EVAL, "segm": EVAL, ...}) make the
 * record's summary {"bbox": {"AP": .., ...}, ...}: each EVAL's "metrics"
 * object, copied. An EVAL without "metrics" is an MR_EUSER error naming
 * `where` and the iou type. */
int mr_metrics_summary(const cJSON *metrics, const char *where, cJSON **out, mr_err *e);

/* Build the record of the finished run in run_dir: reads config.json and
 * metrics.json (required) and speed.json (optional: "speed" is null when
 * absent). config_name NULL = the run directory's last path component;
 * seed < 0 = the resolved config's "seed" field. */
/* A record of a data-parallel run: "world_size": K at the top and in
 * "machine" (whose "threads" are per rank), and, for K > 1, ", K ranks" in
 * the machine class (K ranks split each batch: another class's numbers). */
void mr_record_set_world(cJSON *rec, int world_size);
int mr_record_build(const char *run_dir, const char *config_name, long seed, int threads,
                    cJSON **out, mr_err *e);

/* Commit rec: written to run_dir/record.pending.json (atomically), appended
 * to the store (store NULL = no store; idempotent, harness/store.h), then
 * renamed to record.json. A crash at any point leaves either no record
 * file (the run is redone from its checkpoints), record.pending.json
 * (mr_record_recover finishes the commit with that very record), or
 * record.json with the record in the store. */
int mr_record_commit(const char *run_dir, const cJSON *rec, const char *store, mr_err *e);

/* A run that has its record already: record.pending.json is committed,
 * record.json is appended to the store if missing there (idempotent).
 * *out gets the record (caller deletes), NULL when the run has neither
 * file (not finished). config (may be NULL): the resolved config the run
 * is resumed with; a record of another config is MR_EUSER naming the
 * fields that differ. */
int mr_record_recover(const char *run_dir, const char *store, const cJSON *config, cJSON **out, mr_err *e);

#endif
