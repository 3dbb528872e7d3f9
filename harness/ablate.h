/*
 * ablate.h — the paper's ablation tables, run and tabulated: each row is a
 * config in variants/configs/ablations/<table>/<row>.json (differing from the
 * table's base row only where the paper's row differs), trained for several
 * seeds in run directories RUNS/<preset>/<table>/<row>/seed<K>/, then read
 * back into an mr_table (report/table.h) next to the paper's numbers and
 * written to RESULTS/<table>/.
 *
 * Resuming: a row+seed is done when its run directory holds metrics.json and
 * record.json; done runs are never retrained, and their record is appended
 * to the store when it is missing there (idempotent: one record per run);
 * an interrupted run (a checkpoint or record.pending.json) is started
 * again with resume (continues from its newest checkpoint, or finishes
 * the commit of its record). A torn last store line (a writer killed
 * mid-append) is cut first (mr_store_recover). A run being
 * trained holds RUN/lock (flock): another mrcnn ablate of the same table
 * skips it, trains the rest, then waits for it and tabulates it.
 * `all` (or a list, "5,6") is one queue over every table (no core idles at a table's end
 * while later tables have runs); each table is written when its last run
 * ends, a table with nothing to train at once.
 * Parallelism: up to `jobs` runs at once, each a separate process started by
 * opts.spawn (the CLI execs itself), with threads / jobs threads each.
 * A row is a file, or (mr_ablate_row_def.set) overrides of its table's
 * _base.json: the same resolved config as a file holding them would give.
 * User rows (opts.user_rows, `mrcnn ablate T --row NAME:K=V;K=V`) are
 * overrides of the table's _base.json too, added after the table's rows:
 * validated like --set (before anything is prepared or trained), run in
 * RUNS/<preset>/<table>/NAME/, shown under their name with no paper number,
 * and their overrides listed as the config's "overrides" (as --set ones).
 * A table of the user's own (opts.ftable, `--table FILE`) is such rows over
 * a base config its file names.
 * Presets: the row configs are sized for the bench preset; for another
 * preset P the file variants/configs/ablations/preset_P.json (if present) is
 * merged over each row's resolved config (input size, backbone width,
 * schedule), then opts.sets (mrcnn ablate --set KEY=VALUE, recorded as the
 * config's "overrides"), written to the run directory as input_config.json.
 *
 * defines: mr_ablate_say, mr_ablate_table_def, mr_ablate_row_def, mr_ablate_find,
 *          mr_ablate_names, mr_ablate_job, mr_ablate_opts, mr_ablate_run,
 *          mr_ablate_collect, mr_ablate_select, mr_ablate_value, mr_ablate_plan,
 *          mr_ablate_tabulate, mr_ablate_run_done, mr_ablate_row_config,
 *          mr_ablate_user_row, mr_ablate_parse_row, mr_ablate_outcome,
 *          mr_ablate_check, mr_ablate_describe, mr_ablate_file_table,
 *          mr_ablate_table_load
 */
#ifndef MR_ABLATE_H
#define MR_ABLATE_H

#include <sys/types.h>
#include <cjson/cJSON.h>
#include "core/err.h"
#include "report/table.h"
#include "variants/config.h"

typedef struct mr_ablate_row_def {
    const char *name;    /* config file stem */
    const char *label;   /* shown in the table */
    int paper_index;     /* row of the paper's table */
    /* NULL: the row is the file <table>/<name>.json; else, when that file is
     * absent, the table's <table>/_base.json with these overrides
     * ("KEY=VALUE KEY=VALUE", as --set takes them) */
    const char *set;
} mr_ablate_row_def;

typedef struct mr_ablate_table_def {
    const char *id, *title;
    int base;                         /* index of the base row */
    int ncols, nrows;
    mr_table_col cols[MR_TABLE_MAX_COLS];
    mr_ablate_row_def rows[MR_TABLE_MAX_ROWS];   /* room for the user's rows too */
} mr_ablate_table_def;

/* A row given on the command line (`--row NAME:KEY=VALUE;KEY=VALUE`):
 * overrides of its table's _base.json. */
#define MR_ABLATE_ROW_NAME 48
typedef struct mr_ablate_user_row {
    char name[MR_ABLATE_ROW_NAME];
    int nsets;
    char sets[MR_CONFIG_MAX_SETS][256];
} mr_ablate_user_row;

/* Parse "NAME:KEY=VALUE[;KEY=VALUE...]" into out. ';' separates the
 * overrides (a value may hold commas: anchors.sizes=8,16). NAME: letters,
 * digits, '_' and '-', not starting with '_' (it names the run directory).
 * Errors (MR_EUSAGE, quoting spec): no ':', an empty or bad name, no
 * overrides, an empty override, one without KEY=, too many or too long.
 * Keys and values are checked later, against the table's base
 * (mr_ablate_check). */
int mr_ablate_parse_row(const char *spec, mr_ablate_user_row *out, mr_err *e);

/* A table of the user's own (`mrcnn ablate --table FILE`), from a JSON file
 *   {"name": "lr_sweep", "title": "...", "base": "base.json",
 *    "base_row": "lr02", "columns": ["AP", "AP50", "APbb"],
 *    "rows": {"lr02": [], "lr01": ["schedule.lr=0.01"], ...}}
 * name (required; letters, digits, '_', '-'; not a paper table's id): the
 * results folder RESULTS/NAME/ and runs RUNS/PRESET/NAME/ROW/; title
 * (default: name); base (required): a config, relative to the file; rows
 * (required, 1..16, in order): each a list of overrides ("KEY=VALUE", as
 * --set takes them; [] is the base itself) of base, as --row rows are;
 * base_row (default: the first row): the row deltas are taken to; columns
 * (default AP, AP50, AP75): of AP AP50 AP75 (segm), APbb APbb50 APbb75
 * (bbox), APkp APkp50 APkp75 (keypoints). No paper numbers. */
typedef struct mr_ablate_file_table {
    char file[1024];
    char name[MR_ABLATE_ROW_NAME], title[160];
    char base[4096];   /* absolute */
    int base_row, ncols, nrows;
    mr_table_col cols[MR_TABLE_MAX_COLS];
    mr_ablate_user_row rows[MR_TABLE_MAX_ROWS];
} mr_ablate_file_table;

/* Read and check a table file (errors MR_EUSER: "FILE: field rows.lr01[0]:
 * expected a \"KEY=VALUE\" string", an unknown field with a near miss,
 * a base that is not there, ...). Keys and values are checked against the
 * base later (mr_ablate_check: "FILE: field rows.lr01 (overrides of
 * BASE): ..."). */
int mr_ablate_table_load(const char *path, mr_ablate_file_table *out, mr_err *e);

/* What mr_ablate_run got to: planned is 0 when it stopped at a check
 * (table, rows, overrides, store, dataset) before preparing anything; the
 * runs that failed to train, as "2c_roipool seed 1, ..." (truncated). */
typedef struct mr_ablate_outcome {
    int planned;
    int nfailed;
    char failed[1024];
} mr_ablate_outcome;

/* The resolved config of row `row` of table `table` as a sweep with preset
 * (NULL: bench) trains it: CONFIGS_DIR/TABLE/ROW.json with the preset's
 * overlay CONFIGS_DIR/preset_P.json when there is one (the seed and name
 * aside). */
int mr_ablate_row_config(const char *configs_dir, const char *table, const char *row, const char *preset,
                         mr_config *out, mr_err *e);

/* The table named id ("2a".."2e", "5", "6"); NULL when unknown. */
const mr_ablate_table_def *mr_ablate_find(const char *id);
/* "2a, 2b, 2c, 2d, 2e, 5, 6" for messages; all ids in order via *ids. */
const char *mr_ablate_names(const char *const **ids, int *n);

typedef struct mr_ablate_job {
    const char *table, *row;
    char config_name[96];   /* "<table>_<row>", as recorded */
    char config[4200];      /* the config file to train (input_config.json) */
    char run_dir[4096];
    const char *data_dir, *store;
    long seed, max_iters;
    int threads, resume;
    int table_idx;          /* its table's index in mr_ablate_names' order */
} mr_ablate_job;

typedef struct mr_ablate_opts {
    const char *table;        /* one id, a comma-separated list ("5,6"), or "all" */
    int seeds;                /* seeds per row (seed0, seed0+1, ...) */
    long seed0;
    const char *preset;       /* "bench", "tiny", ... (names the runs folder and overlay) */
    int jobs, threads;        /* parallel runs, total threads (split between jobs) */
    long max_iters;           /* > 0 overrides every config's schedule length */
    const char *configs_dir;  /* variants/configs/ablations */
    const char *data_dir;     /* the dataset (train.json, val.json, images) */
    const char *runs_dir;     /* runs/ablate */
    const char *results_dir;  /* results */
    const char *paper_json;   /* MR_PAPER_TABLES */
    const char *store;        /* results/store.jsonl (NULL = none) */
    int dry_run;              /* tabulate what exists, train nothing */
    int keep_dry_jobs;        /* with dry_run: mr_ablate_plan still lists the runs
                                 to train (the Slurm script of a dry run) */
    const char *rows;         /* comma-separated row names to run and show (the base
                                 row is always included); NULL = every row */
    const char *const *sets;  /* overrides of every row ("KEY.PATH=VALUE"), after the preset */
    int nsets;
    const mr_ablate_user_row *user_rows;  /* rows added to the table (one table only) */
    int nuser_rows;
    mr_ablate_outcome *outcome;           /* filled by mr_ablate_run when not NULL */
    const mr_ablate_file_table *ftable;   /* the table to run instead of the paper's
                                             (then table is its name; no user rows) */
    /* start one job as a child process; the harness waits for it with waitpid */
    int (*spawn)(void *ctx, const mr_ablate_job *j, pid_t *pid, mr_err *e);
    void *spawn_ctx;
    /* progress lines for the user (may be NULL) */
    void (*progress)(void *ctx, const char *line);
    void *progress_ctx;
} mr_ablate_opts;

/* Train what is missing for the table(s) and write RESULTS/<table>/table_<table>.*.
 * A failed run does not stop the others; the first failure is returned at
 * the end (its log is RUN/train.out). Unknown table: MR_EUSER listing the
 * known names. A store (o->store) with a line that does not parse:
 * MR_EUSER naming the line, before anything is trained (not in dry runs). */
int mr_ablate_run(const mr_ablate_opts *o, mr_err *e);

/* The runs to train for o->table (every row x seed not finished; each
 * RUN/input_config.json written), *jobs malloc'd (caller frees); pending
 * (16 ints, one per table in mr_ablate_names' order) their count per table.
 * The checks of mr_ablate_run come first (tables, rows, store, dataset). */
int mr_ablate_plan(const mr_ablate_opts *o, mr_ablate_job **jobs, int *njobs, int *pending, mr_err *e);
/* Every check of mr_ablate_plan that needs no writing, for every table
 * o->table names: the tables, --rows, the user rows (one table; a name
 * no row of the table has, nor another user row; room in the table), and
 * every row's resolved config with the preset and --set, keys and values
 * typed and ranged by the schema (errors name the table, the row and the
 * override), and a run directory prepared from another config. Nothing is
 * written; the store and the dataset are not looked at. */
int mr_ablate_check(const mr_ablate_opts *o, mr_err *e);

/* The plan as text (malloc'd into *text): per table its rows (how each is
 * given, how its config as trained differs from the base row's), per seed
 * the run directory and whether it is done, started or to train, the
 * --set overrides and where the tables go. After mr_ablate_check's checks;
 * writes nothing. */
int mr_ablate_describe(const mr_ablate_opts *o, char **text, mr_err *e);
/* mr_ablate_collect of one table, with a progress line */
int mr_ablate_tabulate(const mr_ablate_opts *o, const char *id, mr_err *e);
/* a run directory with metrics.json and record.json */
int mr_ablate_run_done(const char *run_dir);

/* Read the finished runs of one table (rows with no finished seed are kept
 * with no values), fill t with statistics and paper numbers, and save it
 * with the per-run details (run dirs, speeds, AP per IoU, protocol) to
 * RESULTS/<table>/. A malformed run directory is an MR_EUSER error naming
 * the file. A run that did not finish but whose batch task recorded a
 * non-zero exit (RUN/task_rc) is listed as failed: in the note, with the
 * path of its log, and in the JSON's runs ("failed", "exit", "log"). */
int mr_ablate_collect(const mr_ablate_opts *o, const char *table, mr_table *t, mr_err *e);

/* Which tables spec names: "all", one id or a comma-separated list; sel
 * (one flag per id in mr_ablate_names' order) is set. An unknown or empty
 * name: MR_EUSER naming it and the known ones. */
int mr_ablate_select(const char *spec, char *sel, mr_err *e);

/* One table column's value (percent; NAN when -1 or absent) from a
 * metrics.json object; where names the file in errors. */
int mr_ablate_value(const cJSON *metrics, const mr_table_col *col, const char *where, double *v,
                    mr_err *e);

/* a progress line through o->progress (nothing when it is NULL): the one
 * reporter of the local and the Slurm engine */
void mr_ablate_say(const mr_ablate_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
