/*
 * table.h — ablation tables next to the paper's: per row the mean and
 * standard deviation over seeds of each column (AP, AP50, AP75, APbb, APkp,
 * ...), the paper's number for the same row, the delta to the table's base
 * row for ours and for the paper, and whether the two deltas agree in sign
 * and ours exceeds the seed noise. Written as Markdown, LaTeX (booktabs),
 * CSV and one JSON with every number.
 *
 * Numbers are COCO AP in percent (the evaluator's fractions x 100), as in
 * the paper. NAN marks a missing number everywhere.
 *
 * Statistics (also written into every output):
 *   mean, std    sample mean and sample standard deviation (n - 1) over the
 *                row's seeds; std is undefined (NAN) for one seed.
 *   delta        mean(row) - mean(ref), ref the base row; for a column the
 *                base row has no number for (table 5: box-only has no
 *                mask or keypoint AP) the first row that has one, which is
 *                how the paper compares those columns.
 *   noise        the standard deviation of that difference of means,
 *                sqrt(std_row^2 / n_row + std_base^2 / n_base) (Welch);
 *                undefined unless both rows have 2 or more seeds.
 *   agree        sign(delta) == sign(paper delta); undefined when the
 *                paper's delta is 0 or missing.
 *   exceeds      |delta| > 2 * noise (about a 95% two-sided test).
 *
 * defines: mr_table, mr_table_col, mr_table_row, mr_stat, mr_table_init,
 *          mr_table_add_row, mr_table_paper_load, mr_table_compute,
 *          mr_table_markdown, mr_table_latex, mr_table_csv, mr_table_json,
 *          mr_table_save, MR_TABLE_NOISE_K
 */
#ifndef MR_TABLE_H
#define MR_TABLE_H

#include <cjson/cJSON.h>
#include "core/err.h"

/* the paper's tables as data, relative to the repository root (our copy;
 * checked against the reference copy in tests/test_harness_store.c) */
#define MR_PAPER_TABLES "results/paper/mask_rcnn_tables.json"

#define MR_TABLE_MAX_COLS 8
#define MR_TABLE_MAX_ROWS 16
#define MR_TABLE_MAX_SEEDS 16
#define MR_TABLE_NOISE_K 2.0   /* "exceeds the noise" means |delta| > K * noise */

typedef struct mr_table_col {
    char name[24];      /* the paper's column name: AP, AP50, APbb, APkp, APbb_person... */
    char iou_type[16];  /* where our number comes from: segm, bbox or keypoints */
    char metric[16];    /* the EVAL metrics key (AP, AP50, AP75) */
    char category[32];  /* "" = all categories, else a per_category name */
} mr_table_col;

typedef struct mr_stat { double mean, std; int n; } mr_stat;

typedef struct mr_table_row {
    char name[64];      /* our row id (the config's file stem) */
    char label[96];     /* shown in the table */
    char diff[256];     /* how the row's config differs from the base */
    int paper_index;    /* the row in the paper's table; -1 = none */
    int nseeds;
    long seed[MR_TABLE_MAX_SEEDS];
    double val[MR_TABLE_MAX_SEEDS][MR_TABLE_MAX_COLS];  /* percent; NAN = missing */
    double paper[MR_TABLE_MAX_COLS];                     /* NAN = not reported */
    /* filled by mr_table_compute */
    mr_stat stat[MR_TABLE_MAX_COLS];
    double delta[MR_TABLE_MAX_COLS], noise[MR_TABLE_MAX_COLS];
    double paper_delta[MR_TABLE_MAX_COLS];
    int agree[MR_TABLE_MAX_COLS];    /* 1 yes, 0 no, -1 undefined */
    int exceeds[MR_TABLE_MAX_COLS];  /* 1 yes, 0 no, -1 undefined */
} mr_table_row;

typedef struct mr_table {
    char id[48];         /* the paper's table name: 2a, 2b, ..., 6 (or a table file's name) */
    char title[160];
    char note[512];      /* set-up line printed under the table (preset, iterations) */
    int base;            /* index of the base row */
    int ref[MR_TABLE_MAX_COLS];   /* per column, the row deltas are taken to (mr_table_compute) */
    int ncols, nrows;
    mr_table_col col[MR_TABLE_MAX_COLS];
    mr_table_row row[MR_TABLE_MAX_ROWS];
} mr_table;

/* Zero t and set its id and title. Columns are added by filling t->col. */
void mr_table_init(mr_table *t, const char *id, const char *title);
/* Append a row with no seeds yet (all values NAN); returns its index or -1 when full. */
int mr_table_add_row(mr_table *t, const char *name, const char *label, const char *diff,
                     int paper_index);
/* Add one seed's values (ncols numbers, percent, NAN = missing) to row r. */
int mr_table_add_seed(mr_table *t, int r, long seed, const double *vals, mr_err *e);

/* Fill each row's paper[] from the paper JSON (MR_PAPER_TABLES):
 * table t->id, row paper_index, column by name. A missing table, row index
 * or malformed file is an MR_EUSER error naming the path and what is missing. */
int mr_table_paper_load(mr_table *t, const char *paper_json, mr_err *e);

/* Compute stat, delta, noise, paper_delta, agree and exceeds for every row. */
void mr_table_compute(mr_table *t);

/* The table as text (malloc'd, caller frees); NULL only when out of memory. */
char *mr_table_markdown(const mr_table *t);
char *mr_table_latex(const mr_table *t);
char *mr_table_csv(const mr_table *t);
/* Every number, for re-plotting and re-tabulating: {"table", "title", "note",
 * "base", "noise_definition", "columns": [...], "rows": [{..., "seeds",
 * "values", "stats": {COL: {mean, std, n, paper, delta, noise, paper_delta,
 * agree_sign, exceeds_noise}}}]} */
cJSON *mr_table_json(const mr_table *t);

/* Write DIR/table_<id>.{md,tex,csv,json} atomically (DIR created). json may be
 * NULL (then mr_table_json(t) is written) or a caller-extended version of it. */
int mr_table_save(const mr_table *t, const cJSON *json, const char *dir, mr_err *e);

#endif
