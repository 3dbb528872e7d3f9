/*
 * ablate.c — running and tabulating the paper's ablations (see ablate.h).
 */
#include "harness/ablate.h"
#include "harness/precheck.h"
#include "harness/record.h"
#include "harness/store.h"
#include "harness/run_pr.h"
#include "core/fileio.h"
#include "core/strbuf.h"
#include "core/json.h"
#include "variants/config.h"
#include "eval/cocoeval.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEGM3 {{"AP", "segm", "AP", ""}, {"AP50", "segm", "AP50", ""}, {"AP75", "segm", "AP75", ""}}

/* The paper's tables. Our backbones are CPU-sized: "R-50"/"R-101" rows are
 * our two depths (18 and 34) of the same narrow ResNet; labels say both. */
static const mr_ablate_table_def TABLES[] = {
    {"2a", "Backbone architecture (mask AP)", 0, 3, 4, SEGM3,
     {{"r50_c4", "R-18-C4 (paper R-50-C4)", 0, NULL}, {"r101_c4", "R-34-C4 (paper R-101-C4)", 1, NULL},
      {"r50_fpn", "R-18-FPN (paper R-50-FPN)", 2, NULL}, {"r101_fpn", "R-34-FPN (paper R-101-FPN)", 3, NULL}}},
    {"2b", "Multinomial vs independent masks (C4)", 0, 3, 2, SEGM3,
     {{"softmax", "softmax", 0, NULL}, {"sigmoid", "sigmoid", 1, NULL}}},
    {"2c", "RoIPool vs RoIWarp vs RoIAlign (C4)", 0, 3, 5, SEGM3,
     /* rows as overrides of 2c/_base.json (no row files) */
     {{"roipool", "RoIPool (max)", 0, "roi.extractor=roipool roi.agg=max"},
      {"roiwarp_max", "RoIWarp, max", 1, "roi.extractor=roiwarp roi.agg=max"},
      {"roiwarp_ave", "RoIWarp, ave", 2, "roi.extractor=roiwarp roi.agg=avg"},
      {"roialign_max", "RoIAlign, max", 3, "roi.extractor=roialign roi.agg=max"},
      {"roialign_ave", "RoIAlign, ave", 4, "roi.extractor=roialign roi.agg=avg"}}},
    {"2d", "RoIPool vs RoIAlign on C5 (stride 32): mask and box AP", 0, 6, 3,
     {{"AP", "segm", "AP", ""}, {"AP50", "segm", "AP50", ""}, {"AP75", "segm", "AP75", ""},
      {"APbb", "bbox", "AP", ""}, {"APbb50", "bbox", "AP50", ""}, {"APbb75", "bbox", "AP75", ""}},
     {{"roipool", "RoIPool", 0, NULL}, {"roialign", "RoIAlign", 1, NULL},
      {"roialign_dc5", "RoIAlign, DC5 (dilated C5, stride 16; not in the paper)", -1, NULL}}},
    {"2e", "Mask branch: MLP vs FCN (FPN)", 0, 3, 4, SEGM3,
     {{"mlp", "MLP fc-fc-K*28^2 (2 hidden fc)", 0, NULL}, {"mlp3", "MLP fc-fc-fc-K*28^2 (3 hidden fc)", 1, NULL},
      {"fcn", "FCN 4 convs + deconv", 2, NULL},
      {"fcn_resize", "FCN 4 convs + upsample and 3x3 conv (not in the paper)", -1, NULL}}},
    {"5", "Multi-task learning on the figure category (FPN)", 0, 3, 4,
     {{"APbb_person", "bbox", "AP", "figure"}, {"APmask_person", "segm", "AP", "figure"},
      {"APkp", "keypoints", "AP", ""}},
     {{"box_only", "box only (Faster R-CNN)", 0, NULL}, {"mask", "+ mask", 1, NULL}, {"keypoint", "+ keypoint", 2, NULL},
      {"mask_keypoint", "+ mask + keypoint", 3, NULL}}},
    {"6", "RoIPool vs RoIAlign for keypoints (FPN)", 0, 3, 2,
     {{"APkp", "keypoints", "AP", ""}, {"APkp50", "keypoints", "AP50", ""},
      {"APkp75", "keypoints", "AP75", ""}},
     {{"roipool", "RoIPool", 0, NULL}, {"roialign", "RoIAlign", 1, NULL}}},
};
#define NTABLES ((int)(sizeof TABLES / sizeof TABLES[0]))

const mr_ablate_table_def *mr_ablate_find(const char *id)
{
    for (int i = 0; i < NTABLES; i++)
        if (!strcmp(TABLES[i].id, id)) return &TABLES[i];
    return NULL;
}

const char *mr_ablate_names(const char *const **ids, int *n)
{
    static const char *const IDS[] = {"2a", "2b", "2c", "2d", "2e", "5", "6"};
    if (ids) *ids = IDS;
    if (n) *n = (int)(sizeof IDS / sizeof IDS[0]);
    return "2a, 2b, 2c, 2d, 2e, 5, 6, all";
}

int mr_ablate_select(const char *spec, char *sel, mr_err *e)
{
    const char *const *ids;
    int nids;
    mr_ablate_names(&ids, &nids);
    memset(sel, 0, (size_t)nids);
    if (!strcmp(spec, "all")) { memset(sel, 1, (size_t)nids); return MR_OK; }
    for (const char *p = spec;;) {
        size_t k = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < nids; i++)
            if (k && strlen(ids[i]) == k && !strncmp(p, ids[i], k)) { sel[i] = 1; found = 1; }
        if (!found)
            return mr_errf(e, MR_EUSER, "unknown table '%.*s' (known: %s; several as 5,6)", (int)k, p,
                           mr_ablate_names(NULL, NULL));
        if (!p[k]) return MR_OK;
        p += k + 1;
    }
}

int mr_ablate_value(const cJSON *metrics, const mr_table_col *col, const char *where, double *v,
                    mr_err *e)
{
    *v = NAN;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(metrics, col->iou_type);
    if (!ev) return MR_OK;  /* this run has no such iou type (e.g. box-only) */
    const cJSON *x = NULL;
    if (!col->category[0]) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "metrics");
        if (!cJSON_IsObject(m))
            return mr_errf(e, MR_EUSER, "%s: \"%s\" has no \"metrics\" object", where, col->iou_type);
        x = cJSON_GetObjectItemCaseSensitive(m, col->metric);
    } else {
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(ev, "per_category"), *c;
        if (!cJSON_IsArray(pc))
            return mr_errf(e, MR_EUSER, "%s: \"%s\" has no \"per_category\" array", where, col->iou_type);
        cJSON_ArrayForEach(c, pc) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, col->category)) {
                x = cJSON_GetObjectItemCaseSensitive(c, col->metric);
                break;
            }
        }
        if (!x) return MR_OK;  /* category absent: no number */
    }
    if (x && (!cJSON_IsNumber(x) || !mr_eval_valid_metric(x->valuedouble)))
        return mr_errf(e, MR_EUSER, "%s: %s.%s%s%s must be a number in [0, 1] or -1", where, col->iou_type,
                       col->category[0] ? col->category : "", col->category[0] ? "." : "", col->metric);
    if (x && x->valuedouble >= 0) *v = 100.0 * x->valuedouble;
    return MR_OK;
}

/* a table as this invocation runs it: a paper table's rows, then
 * o->user_rows; or the rows of o->ftable */
typedef struct tab {
    mr_ablate_table_def d;
    int nbuilt;                       /* rows [0, nbuilt) are not --row rows (always run) */
    const mr_ablate_user_row *ov[MR_TABLE_MAX_ROWS];   /* row r's overrides of base, or NULL */
    const char *base;                 /* their base: NULL = CONFIGS/<id>/_base.json */
    const char *file;                 /* the table file, or NULL */
} tab;

static const mr_ablate_user_row *user_of(const tab *t, int r)
{
    return t->ov[r];
}

/* "2c/_base.json" or the table file's base, for messages */
static const char *base_label(const tab *t, char *buf, size_t n)
{
    if (t->base) snprintf(buf, n, "%s", t->base);
    else snprintf(buf, n, "%s/_base.json", t->d.id);
    return buf;
}

/* "roipool, roiwarp_max, ..." */
static const char *row_list(const tab *t, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int r = 0; r < t->d.nrows; r++) {
        size_t l = strlen(buf);
        if (l < n) snprintf(buf + l, n - l, "%s%s", r ? ", " : "", t->d.rows[r].name);
    }
    return buf;
}

static const mr_table_col COLS[] = {
    {"AP", "segm", "AP", ""}, {"AP50", "segm", "AP50", ""}, {"AP75", "segm", "AP75", ""},
    {"APbb", "bbox", "AP", ""}, {"APbb50", "bbox", "AP50", ""}, {"APbb75", "bbox", "AP75", ""},
    {"APkp", "keypoints", "AP", ""}, {"APkp50", "keypoints", "AP50", ""}, {"APkp75", "keypoints", "AP75", ""},
};
#define NCOLS ((int)(sizeof COLS / sizeof COLS[0]))

/* table id with o's user rows appended (o NULL: none), or o's table file */
static int tab_make(const mr_ablate_opts *o, const char *id, tab *t, mr_err *e)
{
    memset(t, 0, sizeof *t);
    const mr_ablate_file_table *ft = o ? o->ftable : NULL;
    if (ft && !strcmp(id, ft->name)) {
        t->d.id = ft->name;
        t->d.title = ft->title;
        t->d.base = ft->base_row;
        t->d.ncols = ft->ncols;
        memcpy(t->d.cols, ft->cols, sizeof ft->cols);
        t->d.nrows = t->nbuilt = ft->nrows;
        for (int r = 0; r < ft->nrows; r++) {
            t->d.rows[r] = (mr_ablate_row_def){ft->rows[r].name, ft->rows[r].name, -1, NULL};
            t->ov[r] = &ft->rows[r];
        }
        t->base = ft->base;
        t->file = ft->file;
        return MR_OK;
    }
    const mr_ablate_table_def *td = mr_ablate_find(id);
    if (!td) return mr_errf(e, MR_EUSER, "unknown table '%s' (known: %s)", id, mr_ablate_names(NULL, NULL));
    t->d = *td;
    t->nbuilt = td->nrows;
    int nu = o && o->user_rows ? o->nuser_rows : 0;
    if (nu && strcmp(o->table, id))
        return mr_errf(e, MR_EUSAGE, "--row adds a row to one table, not to '%s'", o->table);
    for (int u = 0; u < nu; u++) {
        const char *nm = o->user_rows[u].name;
        char known[512];
        for (int r = 0; r < t->d.nrows; r++) {
            if (strcmp(t->d.rows[r].name, nm)) continue;
            if (r < t->nbuilt)
                return mr_errf(e, MR_EUSER, "--row %s: table %s already has a row '%s' (rows: %s): give the new row "
                               "another name", nm, id, nm, row_list(t, known, sizeof known));
            return mr_errf(e, MR_EUSAGE, "--row %s: a row of that name is given twice", nm);
        }
        if (t->d.nrows >= MR_TABLE_MAX_ROWS)
            return mr_errf(e, MR_EUSAGE, "--row %s: a table has at most %d rows (table %s has %d of its own)", nm,
                           MR_TABLE_MAX_ROWS, id, t->nbuilt);
        t->ov[t->d.nrows] = &o->user_rows[u];
        t->d.rows[t->d.nrows++] = (mr_ablate_row_def){nm, nm, -1, NULL};
    }
    return MR_OK;
}

/* a row or table name: letters, digits, '_' and '-', not starting with '_';
 * NULL when fine, else what is wrong */
static const char *bad_name(const char *s, size_t n, size_t cap)
{
    if (!n) return "empty";
    if (n >= cap) return "too long";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '-') return "may hold only letters, digits, '_' and '-'";
    }
    if (s[0] == '_') return "may not start with '_'";
    return NULL;
}

int mr_ablate_table_load(const char *path, mr_ablate_file_table *ft, mr_err *e)
{
    memset(ft, 0, sizeof *ft);
    if (strlen(path) >= sizeof ft->file) return mr_errf(e, MR_EUSER, "%.80s...: path too long", path);
    snprintf(ft->file, sizeof ft->file, "%s", path);
    cJSON *j = NULL;
    int rc = mr_json_load(path, &j, e);
    if (rc) return rc;
    static const char *const KEYS[] = {"name", "title", "base", "base_row", "columns", "rows", "comment"};
    const cJSON *v;
    const char *s;
    char ctx[1100];
    snprintf(ctx, sizeof ctx, "%s", path);
#define FAIL(...) do { rc = mr_errf(e, MR_EUSER, __VA_ARGS__); goto done; } while (0)
    if (!cJSON_IsObject(j)) FAIL("%s: expected an object {\"name\", \"base\", \"rows\"}, got %s", path, mr_json_kind(j));
    if ((rc = mr_json_check_keys(j, KEYS, (int)(sizeof KEYS / sizeof KEYS[0]), ctx, e))) goto done;
    if ((rc = mr_json_get_string(j, "name", 1, NULL, &s, ctx, e))) goto done;
    const char *why = bad_name(s, strlen(s), sizeof ft->name);
    if (why) FAIL("%s: field name: '%s' %s (it names RESULTS/NAME/ and the runs' folder)", path, s, why);
    if (mr_ablate_find(s) || !strcmp(s, "all"))
        FAIL("%s: field name: '%s' is a paper table's name (%s): choose another", path, s, mr_ablate_names(NULL, NULL));
    snprintf(ft->name, sizeof ft->name, "%s", s);
    if ((rc = mr_json_get_string(j, "title", 0, ft->name, &s, ctx, e))) goto done;
    if (strlen(s) >= sizeof ft->title) FAIL("%s: field title: longer than %zu characters", path, sizeof ft->title - 1);
    snprintf(ft->title, sizeof ft->title, "%s", s);
    if ((rc = mr_json_get_string(j, "base", 1, NULL, &s, ctx, e))) goto done;
    if (!*s) FAIL("%s: field base: empty path (expected a config, relative to this file)", path);
    {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", path);
        char *sl = strrchr(dir, '/');
        if (sl) *sl = '\0';
        if (mr_config_abs_path(sl ? dir : NULL, s, ft->base, sizeof ft->base))
            FAIL("%s: field base: path too long", path);
        if (!mr_file_exists(ft->base)) FAIL("%s: field base: %s not found (a path relative to this file)", path, ft->base);
        char real[PATH_MAX];
        if (realpath(ft->base, real) && strlen(real) < sizeof ft->base) snprintf(ft->base, sizeof ft->base, "%s", real);
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows"), *r;
    if (!rows) FAIL("%s: field rows: missing (expected {\"ROW\": [\"KEY=VALUE\", ...], ...})", path);
    if (!cJSON_IsObject(rows))
        FAIL("%s: field rows: expected an object {\"ROW\": [\"KEY=VALUE\", ...], ...}, got %s", path, mr_json_kind(rows));
    cJSON_ArrayForEach(r, rows) {
        why = bad_name(r->string, strlen(r->string), sizeof ft->rows[0].name);
        if (why) FAIL("%s: field rows: row name '%s' %s", path, r->string, why);
        for (int q = 0; q < ft->nrows; q++)
            if (!strcmp(ft->rows[q].name, r->string)) FAIL("%s: field rows: row '%s' given twice", path, r->string);
        if (ft->nrows >= MR_TABLE_MAX_ROWS) FAIL("%s: field rows: more than %d rows", path, MR_TABLE_MAX_ROWS);
        mr_ablate_user_row *u = &ft->rows[ft->nrows++];
        snprintf(u->name, sizeof u->name, "%s", r->string);
        if (!cJSON_IsArray(r))
            FAIL("%s: field rows.%s: expected an array of \"KEY=VALUE\" strings ([] for the base itself), got %s",
                 path, r->string, mr_json_kind(r));
        int k = 0;
        cJSON_ArrayForEach(v, r) {
            if (!cJSON_IsString(v)) FAIL("%s: field rows.%s[%d]: expected a \"KEY=VALUE\" string, got %s", path, r->string, k, mr_json_kind(v));
            const char *eq = strchr(v->valuestring, '=');
            if (!eq || eq == v->valuestring)
                FAIL("%s: field rows.%s[%d]: '%s': expected KEY=VALUE%s", path, r->string, k, v->valuestring,
                     eq ? " with a key before '='" : "");
            if (u->nsets >= MR_CONFIG_MAX_SETS) FAIL("%s: field rows.%s: more than %d overrides", path, r->string, MR_CONFIG_MAX_SETS);
            if (strlen(v->valuestring) >= sizeof u->sets[0])
                FAIL("%s: field rows.%s[%d]: longer than %zu characters", path, r->string, k, sizeof u->sets[0] - 1);
            snprintf(u->sets[u->nsets++], sizeof u->sets[0], "%s", v->valuestring);
            k++;
        }
    }
    if (!ft->nrows) FAIL("%s: field rows: no rows", path);
    if ((rc = mr_json_get_string(j, "base_row", 0, ft->rows[0].name, &s, ctx, e))) goto done;
    ft->base_row = -1;
    for (int q = 0; q < ft->nrows; q++)
        if (!strcmp(ft->rows[q].name, s)) ft->base_row = q;
    if (ft->base_row < 0) FAIL("%s: field base_row: '%s' is not one of the rows", path, s);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(j, "columns");
    const char *known = "AP, AP50, AP75, APbb, APbb50, APbb75, APkp, APkp50, APkp75";   /* COLS */
    if (!cols) {
        ft->ncols = 3;
        memcpy(ft->cols, COLS, 3 * sizeof COLS[0]);
    } else {
        if (!cJSON_IsArray(cols) || !cJSON_GetArraySize(cols))
            FAIL("%s: field columns: expected a non-empty array of column names (%s)", path, known);
        int k = 0;
        cJSON_ArrayForEach(v, cols) {
            int c = 0;
            while (c < NCOLS && !(cJSON_IsString(v) && !strcmp(v->valuestring, COLS[c].name))) c++;
            if (c == NCOLS)
                FAIL("%s: field columns[%d]: %s%s%s is not a column (known: %s)", path, k, cJSON_IsString(v) ? "'" : "",
                     cJSON_IsString(v) ? v->valuestring : mr_json_kind(v), cJSON_IsString(v) ? "'" : "", known);
            if (ft->ncols >= MR_TABLE_MAX_COLS) FAIL("%s: field columns: more than %d", path, MR_TABLE_MAX_COLS);
            ft->cols[ft->ncols++] = COLS[c];
            k++;
        }
    }
#undef FAIL
done:
    cJSON_Delete(j);
    return rc;
}

int mr_ablate_parse_row(const char *spec, mr_ablate_user_row *out, mr_err *e)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(spec, ':');
    if (!colon)
        return mr_errf(e, MR_EUSAGE, "--row '%s': expected NAME:KEY=VALUE[;KEY=VALUE...]", spec);
    size_t nl = (size_t)(colon - spec);
    if (!nl) return mr_errf(e, MR_EUSAGE, "--row '%s': empty row name (expected NAME:KEY=VALUE[;KEY=VALUE...])", spec);
    if (nl >= sizeof out->name)
        return mr_errf(e, MR_EUSAGE, "--row '%s': row name longer than %zu characters", spec, sizeof out->name - 1);
    for (size_t i = 0; i < nl; i++) {
        unsigned char ch = (unsigned char)spec[i];
        if (!isalnum(ch) && ch != '_' && ch != '-')
            return mr_errf(e, MR_EUSAGE, "--row '%s': row name '%.*s' may hold only letters, digits, '_' and '-'",
                           spec, (int)nl, spec);
    }
    if (spec[0] == '_')
        return mr_errf(e, MR_EUSAGE, "--row '%s': a row name may not start with '_' (_base is the table's base)", spec);
    memcpy(out->name, spec, nl);
    const char *p = colon + 1;
    if (!*p) return mr_errf(e, MR_EUSAGE, "--row '%s': no overrides after the name (expected NAME:KEY=VALUE[;KEY=VALUE...])", spec);
    for (int k = 1;; k++) {
        size_t seg = strcspn(p, ";"), l = seg;
        const char *kv = p;
        while (l && isspace((unsigned char)*kv)) { kv++; l--; }   /* "a=1; b=2" */
        while (l && isspace((unsigned char)kv[l - 1])) l--;
        if (!l) return mr_errf(e, MR_EUSAGE, "--row '%s': override %d is empty (overrides are separated by ';')", spec, k);
        const char *eq = memchr(kv, '=', l);
        if (!eq || eq == kv)
            return mr_errf(e, MR_EUSAGE, "--row '%s': override '%.*s': expected KEY=VALUE%s", spec, (int)l, kv,
                           eq ? " with a key before '='" : "");
        if (out->nsets >= MR_CONFIG_MAX_SETS)
            return mr_errf(e, MR_EUSAGE, "--row '%s': more than %d overrides", spec, MR_CONFIG_MAX_SETS);
        if (l >= sizeof out->sets[0])
            return mr_errf(e, MR_EUSAGE, "--row '%s': override '%.40s...' longer than %zu characters", spec, kv,
                           sizeof out->sets[0] - 1);
        memcpy(out->sets[out->nsets], kv, l);
        out->sets[out->nsets++][l] = '\0';
        p += seg;
        if (!*p) return MR_OK;
        p++;
    }
}

/* the resolved config of row r (through base chains), as JSON: its file,
 * or the table's _base.json with the row's overrides (not listed as the
 * config's "overrides": they are the row, as a file's fields would be); a
 * user row's overrides are listed, as --set ones are */
static int row_config(const char *configs_dir, const tab *t, int r, cJSON **out, mr_err *e)
{
    char path[4200];
    const mr_ablate_row_def *row = &t->d.rows[r];
    const mr_ablate_user_row *u = user_of(t, r);
    snprintf(path, sizeof path, "%s/%s/%s.json", configs_dir, t->d.id, row->name);
    const char *sets[MR_CONFIG_MAX_SETS];
    char buf[1024];
    int nsets = 0;
    if (u && t->base) {
        snprintf(path, sizeof path, "%s", t->base);
        for (int k = 0; k < u->nsets; k++) sets[nsets++] = u->sets[k];
    } else if (u) {
        snprintf(path, sizeof path, "%s/%s/_base.json", configs_dir, t->d.id);
        if (!mr_file_exists(path))
            return mr_errf(e, MR_EUSER, "table %s row %s (--row): %s not found (a --row is overrides of its table's "
                           "_base.json)", t->d.id, row->name, path);
        for (int k = 0; k < u->nsets; k++) sets[nsets++] = u->sets[k];
    } else if (row->set && !mr_file_exists(path)) {
        snprintf(path, sizeof path, "%s/%s/_base.json", configs_dir, t->d.id);
        if (strlen(row->set) >= sizeof buf)
            return mr_errf(e, MR_EINTERNAL, "table %s row %s: overrides too long", t->d.id, row->name);
        snprintf(buf, sizeof buf, "%s", row->set);
        char *save = NULL;
        for (char *s = strtok_r(buf, " ", &save); s && nsets < MR_CONFIG_MAX_SETS; s = strtok_r(NULL, " ", &save))
            sets[nsets++] = s;
    }
    mr_config *c = calloc(1, sizeof *c);
    if (!c) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_config_load_set(c, path, sets, nsets, e);
    if (rc && u && t->file) mr_err_prefix(e, "%s: field rows.%s (overrides of its base)", t->file, row->name);
    else if (rc && u) mr_err_prefix(e, "table %s row %s (--row, overrides of _base.json)", t->d.id, row->name);
    else if (rc && nsets) mr_err_prefix(e, "table %s row %s (overrides of _base.json)", t->d.id, row->name);
    if (!rc) {
        if (nsets || u) snprintf(c->name, sizeof c->name, "%s", row->name);
        if (!u) c->nsets = 0;
        *out = mr_config_to_json(c);
    }
    free(c);
    return rc;
}

/* does j hold the dotted key ("roi.extractor")? */
static int has_key(const cJSON *j, const char *key, size_t n)
{
    char k[256];
    if (n >= sizeof k) return 0;
    memcpy(k, key, n);
    k[n] = '\0';
    char *save = NULL;
    for (char *s = strtok_r(k, ".", &save); s && j; s = strtok_r(NULL, ".", &save))
        j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, s) : NULL;
    return j != NULL;
}

/* the row's config with the preset's overlay (configs_dir/preset_P.json,
 * when present); a user row's override the overlay would replace is an
 * error (the row would silently not be what it says) */
static int row_config_preset(const char *configs_dir, const tab *t, int r, const char *preset, cJSON **out,
                             mr_err *e)
{
    cJSON *cfg = NULL;
    int rc = row_config(configs_dir, t, r, &cfg, e);
    if (rc) return rc;
    char ov[4200];
    snprintf(ov, sizeof ov, "%s/preset_%s.json", configs_dir, preset ? preset : "bench");
    if (mr_file_exists(ov)) {
        cJSON *over = NULL;
        if ((rc = mr_json_load(ov, &over, e))) { cJSON_Delete(cfg); return rc; }
        cJSON_DeleteItemFromObjectCaseSensitive(over, "comment");
        const mr_ablate_user_row *u = user_of(t, r);
        for (int k = 0; u && k < u->nsets; k++) {
            size_t kl = strcspn(u->sets[k], "=");
            if (!has_key(over, u->sets[k], kl)) continue;
            char who[1200];
            if (t->file) snprintf(who, sizeof who, "%s: field rows.%s", t->file, t->d.rows[r].name);
            else snprintf(who, sizeof who, "table %s row %s (--row)", t->d.id, t->d.rows[r].name);
            rc = mr_errf(e, MR_EUSER, "%s: override %s: the %s preset (%s) sets %.*s too, over the row: change it "
                         "for every row with --set %.*s=..., or use another preset", who, u->sets[k],
                         preset ? preset : "bench", ov, (int)kl, u->sets[k], (int)kl, u->sets[k]);
            cJSON_Delete(over);
            cJSON_Delete(cfg);
            return rc;
        }
        cJSON *m = mr_config_merge(cfg, over);
        cJSON_Delete(over);
        cJSON_Delete(cfg);
        cfg = m;
        if (!cfg) return mr_errf(e, MR_ENOMEM, "%s: out of memory", ov);
    }
    *out = cfg;
    return MR_OK;
}

int mr_ablate_row_config(const char *configs_dir, const char *table, const char *row, const char *preset,
                         mr_config *out, mr_err *e)
{
    tab t;
    if (!mr_ablate_find(table)) return mr_errf(e, MR_EUSER, "no ablation table '%s'", table);
    int rc = tab_make(NULL, table, &t, e);
    if (rc) return rc;
    int r = 0;
    while (r < t.d.nrows && strcmp(t.d.rows[r].name, row)) r++;
    if (r == t.d.nrows) return mr_errf(e, MR_EUSER, "table %s has no row '%s'", table, row);
    cJSON *cfg = NULL;
    rc = row_config_preset(configs_dir, &t, r, preset, &cfg, e);
    if (rc) return rc;
    char label[4200];
    snprintf(label, sizeof label, "%s/%s/%s.json (preset %s)", configs_dir, table, row, preset ? preset : "bench");
    rc = mr_config_parse(out, cfg, label, e);
    cJSON_Delete(cfg);
    return rc;
}

static int write_json(const char *path, const cJSON *j, mr_err *e)
{
    char *t = cJSON_Print(j);
    if (!t) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_write_file_atomic(path, t, strlen(t), e);
    free(t);
    return rc;
}

/* a job's names and paths for one row+seed (nothing created) */
static void job_paths(const mr_ablate_opts *o, const tab *t, int r, long seed, mr_ablate_job *j)
{
    memset(j, 0, sizeof *j);
    j->table = t->d.id;          /* static storage or o's, outlives t */
    j->row = t->d.rows[r].name;
    snprintf(j->config_name, sizeof j->config_name, "%s_%s", t->d.id, t->d.rows[r].name);
    snprintf(j->run_dir, sizeof j->run_dir, "%s/%s/%s/%s/seed%ld", o->runs_dir, o->preset, t->d.id,
             t->d.rows[r].name, seed);
    snprintf(j->config, sizeof j->config, "%s/input_config.json", j->run_dir);
    j->data_dir = o->data_dir;
    j->store = o->store;
    j->seed = seed;
    j->max_iters = o->max_iters;
    int jobs = o->jobs > 0 ? o->jobs : 1;
    j->threads = o->threads > jobs ? o->threads / jobs : 1;
}

/* RUN/input_config.json's content for job j (row config + preset overlay +
 * --set, checked), refused when j's run was prepared from another config */
static int job_config(const mr_ablate_opts *o, const tab *t, int r, const mr_ablate_job *j, cJSON **out,
                      mr_err *e)
{
    cJSON *cfg = NULL;
    int rc = row_config_preset(o->configs_dir, t, r, o->preset, &cfg, e);
    if (rc) return rc;
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "seed");
    cJSON_AddNumberToObject(cfg, "seed", (double)j->seed);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "name");
    cJSON_AddStringToObject(cfg, "name", j->config_name);
    /* --set: over the row and the preset, checked here (before any training)
     * and kept as the config's "overrides" (after a user row's own) */
    if (o->nsets > 0) {
        for (int k = 0; k < o->nsets && !rc; k++) rc = mr_config_apply_set(cfg, o->sets[k], e);
        cJSON *ov = cJSON_GetObjectItemCaseSensitive(cfg, "overrides");
        if (!rc && !ov) ov = cJSON_AddArrayToObject(cfg, "overrides");
        for (int k = 0; k < o->nsets && !rc; k++) cJSON_AddItemToArray(ov, cJSON_CreateString(o->sets[k]));
        mr_config *c = rc ? NULL : calloc(1, sizeof *c);
        if (!rc && !c) rc = mr_errf(e, MR_ENOMEM, "out of memory");
        if (!rc) rc = mr_config_parse(c, cfg, "--set", e);
        free(c);
        if (rc) {
            cJSON_Delete(cfg);
            return mr_err_prefix(e, "table %s row %s", t->d.id, t->d.rows[r].name);
        }
    }
    /* a run already started (or finished) from another config is not
     * resumed or tabulated as this row: say what changed */
    if (mr_file_exists(j->config)) {
        cJSON *old = NULL;
        mr_err e2;
        if (mr_json_load(j->config, &old, &e2) == MR_OK) {
            /* leaves only in the row's config now are not listed: a field
             * added to the schema since has a default that keeps the old behaviour */
            char diff[1024] = "";
            mr_json_diff(old, cfg, 1, diff, sizeof diff);
            cJSON_Delete(old);
            if (diff[0]) {
                cJSON_Delete(cfg);
                return mr_errf(e, MR_EUSER,
                               "%s was prepared from another config than row %s of table %s resolves to now "
                               "(%s): move that run directory away to train the row again, or use another --runs",
                               j->run_dir, t->d.rows[r].name, t->d.id, diff);
            }
        }
    }
    *out = cfg;
    return MR_OK;
}

/* prepare RUN/input_config.json for one row+seed */
static int prepare_job(const mr_ablate_opts *o, const tab *t, int r, long seed, mr_ablate_job *j, mr_err *e)
{
    job_paths(o, t, r, seed, j);
    cJSON *cfg = NULL;
    int rc = job_config(o, t, r, j, &cfg, e);   /* checked before the directory is made */
    if (!rc) rc = mr_mkdir_p(j->run_dir, e);
    if (!rc) rc = write_json(j->config, cfg, e);
    cJSON_Delete(cfg);
    return rc;
}

/* is row r selected by o->rows (the base row and user rows always are)? */
static int row_wanted(const mr_ablate_opts *o, const tab *t, int r)
{
    if (!o->rows || !*o->rows || r == t->d.base || r >= t->nbuilt) return 1;
    size_t l = strlen(t->d.rows[r].name);
    for (const char *p = o->rows; *p;) {
        size_t k = strcspn(p, ",");
        if (k == l && !strncmp(p, t->d.rows[r].name, l)) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

/* every name in o->rows must be a row of t (its own or a user row) */
static int check_rows(const mr_ablate_opts *o, const tab *t, mr_err *e)
{
    if (!o->rows) return MR_OK;
    for (const char *p = o->rows; *p;) {
        size_t k = strcspn(p, ",");
        int found = 0;
        for (int r = 0; r < t->d.nrows; r++)
            if (strlen(t->d.rows[r].name) == k && !strncmp(p, t->d.rows[r].name, k)) found = 1;
        if (!found) {
            char known[512];
            return mr_errf(e, MR_EUSER, "table %s has no row '%.*s' (rows: %s)", t->d.id, (int)k, p,
                           row_list(t, known, sizeof known));
        }
        p += k + (p[k] == ',');
    }
    return MR_OK;
}

/* has an earlier (interrupted) training left a checkpoint to resume from? */
static int run_started(const char *run_dir)
{
    int found = 0;
    DIR *d = opendir(run_dir);
    if (d) {
        struct dirent *de;
        while (!found && (de = readdir(d)))
            if (!strncmp(de->d_name, "checkpoint_", 11) || !strcmp(de->d_name, "record.pending.json")) found = 1;
        closedir(d);
    }
    return found;
}

/* the exit status a batch task recorded for a run (RUN/task_rc), 0 when
 * none or 0 */
static int task_failed(const char *run_dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/task_rc", run_dir);
    FILE *f = fopen(p, "r");
    int v = 0;
    if (!f) return 0;
    if (fscanf(f, "%d", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static int run_done(const char *run_dir)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/metrics.json", run_dir);
    snprintf(b, sizeof b, "%s/record.json", run_dir);
    return mr_file_exists(a) && mr_file_exists(b);
}

void mr_ablate_say(const mr_ablate_opts *o, const char *fmt, ...)
{
    if (!o->progress) return;
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, buf);
}

typedef struct running { pid_t pid; int lock_fd; double t0; mr_ablate_job job; } running;

/* RUN/lock, flock()ed while a run trains: a second `mrcnn ablate` of the
 * same table (another terminal, another lane) skips the runs the first
 * holds and waits for them only at the end, so two invocations share the
 * work instead of training one run directory twice at once. The child
 * inherits the descriptor, so the lock lives as long as the training does
 * even when this scheduler is killed. Returns the fd (>= 0), -1 if another
 * process holds it (wait = 0), -2 on an error (in e). */
static int lock_run(const mr_ablate_job *j, int wait, mr_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", j->run_dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) { mr_errf(e, MR_EIO, "%s: cannot open: %s", path, strerror(errno)); return -2; }
    for (;;) {
        if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) return fd;
        if (errno == EINTR) continue;
        int busy = errno == EWOULDBLOCK;
        if (!busy) mr_errf(e, MR_EIO, "%s: cannot lock: %s", path, strerror(errno));
        close(fd);
        return busy ? -1 : -2;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ": AP 3.1" — the table's first column for a finished run, for the
 * progress line (nothing if it cannot be read: the table reports that) */
static void finished_value(const mr_ablate_table_def *td, const char *run_dir, char *out, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.json", run_dir);
    cJSON *m = NULL;
    mr_err e2;
    double v;
    if (mr_json_load(path, &m, &e2)) return;
    if (!mr_ablate_value(m, &td->cols[0], path, &v, &e2) && !isnan(v))
        snprintf(out, n, ": %s %.1f", td->cols[0].name, v);
    cJSON_Delete(m);
}

/* wait for one of our running children (never waitpid(-1): that would
 * reap the caller's other children too); a child that cannot be waited for
 * reads as failed (*st = -1) */
static pid_t wait_ours(const running *rs, int par, int *st)
{
    for (;;) {
        for (int k = 0; k < par; k++) {
            if (!rs[k].pid) continue;
            pid_t p = waitpid(rs[k].pid, st, WNOHANG);
            if (p == rs[k].pid) return p;
            if (p < 0 && errno != EINTR) { *st = -1; return rs[k].pid; }
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* write one table from its finished runs, and say where */
static int tabulate(const mr_ablate_opts *o, const char *id, mr_err *e)
{
    mr_table t;
    int rc = mr_ablate_collect(o, id, &t, e);
    if (!rc)
        mr_ablate_say(o, "table %s written to %s/%s/table_%s.{md,tex,csv,json}", id, o->results_dir, id, id);
    return rc;
}

/* a run that failed, for o->outcome */
static void note_failed(const mr_ablate_opts *o, const mr_ablate_job *j)
{
    mr_ablate_outcome *oc = o->outcome;
    if (!oc) return;
    size_t l = strlen(oc->failed);
    if (l + 1 < sizeof oc->failed)
        snprintf(oc->failed + l, sizeof oc->failed - l, "%s%s seed %ld", oc->nfailed ? ", " : "", j->config_name,
                 j->seed);
    oc->nfailed++;
}

/* run every job not yet done, at most o->jobs at a time, in one queue over
 * every table asked for (`all` or `5,6` keeps both cores busy across a table's end
 * instead of waiting there for its last run); a job whose run another
 * process is training is put last and waited for (pass 1). pending[t] counts
 * table t's jobs not yet finished: at 0 the table is written at once.
 * label names the queue in the time estimate ("table 2c", "tables 2a-6"). */
static int run_jobs(const mr_ablate_opts *o, mr_ablate_job *jobs, int njobs, int *pending,
                    const char *label, mr_err *e)
{
    int par = o->jobs > 0 ? o->jobs : 1, nrun = 0, first_rc = MR_OK, done = 0, ntimed = 0;
    double trained_s = 0;   /* wall time of the runs trained here, for the estimate */
    running *rs = calloc((size_t)par, sizeof *rs);
    char *busy = calloc((size_t)njobs + 1, 1);
    if (!rs || !busy) { free(rs); free(busy); return mr_errf(e, MR_ENOMEM, "out of memory"); }
#define FIRST_FAIL(E2) do { if (!first_rc) { first_rc = (E2).code; *e = (E2); } } while (0)
#define JOB_ENDED(J) do {                                                      \
        mr_err e3;                                                             \
        if (--pending[(J)->table_idx] == 0 && tabulate(o, (J)->table, &e3))    \
            FIRST_FAIL(e3);                                                    \
    } while (0)
    for (int pass = 0; pass < 2; pass++) {
        int next = 0;
        while (next < njobs || nrun > 0) {
            while (nrun < par && next < njobs) {
                mr_ablate_job *j = &jobs[next++];
                if (pass == 1 && !busy[j - jobs]) continue;
                mr_err e2;
                if (pass == 1)
                    mr_ablate_say(o, "waiting for %s seed %ld: another process is training %s", j->config_name,
                        j->seed, j->run_dir);
                int fd = lock_run(j, pass == 1, &e2);
                if (fd == -1) {
                    busy[j - jobs] = 1;
                    mr_ablate_say(o, "%s seed %ld is being trained by another process: left to it, "
                        "waited for at the end", j->config_name, j->seed);
                    continue;
                }
                if (fd < 0) { FIRST_FAIL(e2); JOB_ENDED(j); continue; }
                if (run_done(j->run_dir)) {   /* the other process finished it */
                    close(fd);
                    done++;
                    mr_ablate_say(o, "[%d/%d] %s seed %ld finished (by another process)", done, njobs,
                        j->config_name, j->seed);
                    JOB_ENDED(j);
                    continue;
                }
                j->resume = run_started(j->run_dir);
                pid_t pid;
                if (o->spawn(o->spawn_ctx, j, &pid, &e2)) {
                    close(fd);
                    note_failed(o, j);
                    FIRST_FAIL(e2);
                    JOB_ENDED(j);
                    continue;
                }
                for (int k = 0; k < par; k++)
                    if (!rs[k].pid) {
                        rs[k].pid = pid; rs[k].lock_fd = fd; rs[k].t0 = now_s(); rs[k].job = *j;
                        break;
                    }
                nrun++;
                mr_ablate_say(o, "started %s seed %ld%s (%d thread%s): %s", j->config_name, j->seed,
                    j->resume ? " (resuming)" : "", j->threads, j->threads > 1 ? "s" : "", j->run_dir);
            }
            if (!nrun) continue;
            int st;
            pid_t p = wait_ours(rs, par, &st);
            for (int k = 0; k < par; k++) {
                if (rs[k].pid != p) continue;
                rs[k].pid = 0;
                close(rs[k].lock_fd);
                nrun--;
                done++;
                mr_ablate_job *j = &rs[k].job;
                int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && run_done(j->run_dir);
                double dt = now_s() - rs[k].t0;
                if (ok) { trained_s += dt; ntimed++; }
                char what[160] = "", left[160] = "";
                tab tb;
                mr_err e4;
                if (ok && !tab_make(o, j->table, &tb, &e4)) finished_value(&tb.d, j->run_dir, what, sizeof what);
                if (ok && done < njobs)   /* the remaining runs at this pace, `par` at a time */
                    snprintf(left, sizeof left, "; about %.0f min left for %s",
                             trained_s / ntimed * (njobs - done) / par / 60.0, label);
                mr_ablate_say(o, "[%d/%d] %s seed %ld %s in %.1f min%s%s", done, njobs, j->config_name, j->seed,
                    ok ? "finished" : "FAILED", dt / 60.0, what, left);
                if (!ok) note_failed(o, j);
                if (!ok && !first_rc)
                    first_rc = mr_errf(e, MR_EUSER, "%s seed %ld failed (exit %d); its log: %s/train.out",
                                       j->config_name, j->seed, WIFEXITED(st) ? WEXITSTATUS(st) : -1, j->run_dir);
                JOB_ENDED(j);
            }
        }
    }
#undef JOB_ENDED
#undef FIRST_FAIL
    free(rs);
    free(busy);
    return first_rc;
}

/* "our base row: FPN tap, ResNet-18 x0.25, 128 px input, 2000 iterations
 * at lr 0.02" from the base row's config as trained (or as configured): the
 * table's title names the paper's set-up, this names ours (a --configs
 * directory may use another base). Fields the config lacks are left out. */
static double num_at(const cJSON *cfg, const char *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, obj), key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

static void setup_note(const cJSON *cfg, long max_iters, char *buf, size_t n)
{
    const cJSON *tap = cJSON_GetObjectItemCaseSensitive(cfg, "tap");
    double depth = num_at(cfg, "backbone", "depth"), width = num_at(cfg, "backbone", "width");
    double size = num_at(cfg, "input", "min_size"), iters = num_at(cfg, "schedule", "iters");
    double lr = num_at(cfg, "schedule", "lr");
    size_t l = 0;
    l += (size_t)snprintf(buf + l, n - l, "; our base row:");
    if (cJSON_IsString(tap)) {
        char up[16] = "";
        for (size_t i = 0; i < sizeof up - 1 && tap->valuestring[i]; i++)
            up[i] = (char)toupper((unsigned char)tap->valuestring[i]);
        if (l < n) l += (size_t)snprintf(buf + l, n - l, " %s tap,", up);
    }
    if (depth > 0 && l < n) l += (size_t)snprintf(buf + l, n - l, " ResNet-%.0f x%g,", depth, width > 0 ? width : 1.0);
    if (size > 0 && l < n) l += (size_t)snprintf(buf + l, n - l, " %.0f px input,", size);
    if (max_iters > 0 && (iters <= 0 || max_iters < iters)) iters = (double)max_iters;
    if (iters > 0 && l < n) l += (size_t)snprintf(buf + l, n - l, " %.0f iterations", iters);
    if (lr > 0 && l < n) l += (size_t)snprintf(buf + l, n - l, " at lr %g", lr);
    if (l < n && l > 0 && buf[l - 1] == ',') buf[l - 1] = '\0';
}

int mr_ablate_collect(const mr_ablate_opts *o, const char *table, mr_table *t, mr_err *e)
{
    tab tb;
    int rc = tab_make(o, table, &tb, e);
    if (rc) return rc;
    const mr_ablate_table_def *td = &tb.d;
    mr_table_init(t, td->id, td->title);
    t->ncols = td->ncols;
    memcpy(t->col, td->cols, sizeof td->cols);
    t->base = td->base;
    int seeds = o->seeds > 0 ? o->seeds : 1;
    snprintf(t->note, sizeof t->note, "Synthetic %s preset, %d seed%s per row (seeds %ld..%ld)%s%s",
             o->preset, seeds, seeds > 1 ? "s" : "", o->seed0, o->seed0 + seeds - 1,
             o->max_iters > 0 ? ", iterations capped at " : "", "");
    if (o->max_iters > 0) {
        size_t l = strlen(t->note);
        snprintf(t->note + l, sizeof t->note - l, "%ld", o->max_iters);
    }
    cJSON *base_cfg = NULL, *base_run_cfg = NULL;
    if ((rc = check_rows(o, &tb, e))) return rc;
    cJSON *runs_per_row = cJSON_CreateArray();
    int nfailed = 0;
    mr_run_pr_ctx prc;   /* PR curves of the first column, from each run's detections */
    mr_run_pr_init(&prc, o->data_dir);
    for (int r = 0; r < td->nrows; r++) {
        cJSON *cfg = NULL;
        char diff[256] = "";
        if (!row_wanted(o, &tb, r)) continue;
        if (!row_config(o->configs_dir, &tb, r, &cfg, e)) {
            cJSON_DeleteItemFromObjectCaseSensitive(cfg, "overrides");   /* a user row's: the diff lists them */
            if (r == td->base) base_cfg = cJSON_Duplicate(cfg, 1);
            else if (base_cfg) mr_json_diff(cfg, base_cfg, 0, diff, sizeof diff);
        } else snprintf(diff, sizeof diff, "(config unreadable: %.200s)", e->msg);
        cJSON_Delete(cfg);
        int ri = mr_table_add_row(t, td->rows[r].name, td->rows[r].label, diff, td->rows[r].paper_index);
        if (r == td->base) t->base = ri;
        cJSON *runs = cJSON_CreateArray();
        cJSON_AddItemToArray(runs_per_row, runs);
        for (int k = 0; k < seeds; k++) {
            long seed = o->seed0 + k;
            char dir[4096], path[4200];
            snprintf(dir, sizeof dir, "%s/%s/%s/%s/seed%ld", o->runs_dir, o->preset, td->id,
                     td->rows[r].name, seed);
            if (!run_done(dir)) {
                /* a task of a batch scheduler that ended without finishing
                 * its run (RUN/task_rc, written by the Slurm script) */
                int trc = task_failed(dir);
                if (trc) {
                    cJSON *run = cJSON_CreateObject();
                    cJSON_AddNumberToObject(run, "seed", (double)seed);
                    cJSON_AddStringToObject(run, "run_dir", dir);
                    cJSON_AddBoolToObject(run, "failed", 1);
                    cJSON_AddNumberToObject(run, "exit", trc);
                    snprintf(path, sizeof path, "%s/train.out", dir);
                    cJSON_AddStringToObject(run, "log", path);
                    cJSON_AddItemToArray(runs, run);
                    size_t l = strlen(t->note);
                    snprintf(t->note + l, sizeof t->note - l, "%s%s seed %ld FAILED (exit %d, log %s)",
                             nfailed++ ? "; " : ". ", td->rows[r].name, seed, trc, path);
                }
                continue;
            }
            snprintf(path, sizeof path, "%s/config.json", dir);
            if (r == td->base && !base_run_cfg && mr_file_exists(path) && mr_json_load(path, &base_run_cfg, e))
                base_run_cfg = NULL;   /* the note then falls back to the row's config */
            snprintf(path, sizeof path, "%s/metrics.json", dir);
            cJSON *m = NULL;
            if ((rc = mr_json_load(path, &m, e))) goto fail;
            double vals[MR_TABLE_MAX_COLS];
            for (int c = 0; c < t->ncols && !rc; c++) rc = mr_ablate_value(m, &t->col[c], path, &vals[c], e);
            if (!rc) rc = mr_table_add_seed(t, ri, seed, vals, e);
            cJSON *run = cJSON_CreateObject();
            cJSON_AddNumberToObject(run, "seed", (double)seed);
            cJSON_AddStringToObject(run, "run_dir", dir);
            cJSON *api = cJSON_AddObjectToObject(run, "ap_per_iou");
            const cJSON *ev;
            cJSON_ArrayForEach(ev, m) {
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(ev, "ap_per_iou");
                if (cJSON_IsArray(a)) cJSON_AddItemToObject(api, ev->string, cJSON_Duplicate(a, 1));
            }
            cJSON *pr = NULL;
            if (!rc) rc = mr_run_pr(&prc, dir, t->col[0].iou_type, t->col[0].category, m, &pr, e);
            if (pr) cJSON_AddItemToObject(run, "pr", pr);
            cJSON_Delete(m);
            snprintf(path, sizeof path, "%s/speed.json", dir);
            cJSON *sp = NULL;
            if (!rc && mr_file_exists(path)) rc = mr_json_load(path, &sp, e);
            if (sp) cJSON_AddItemToObject(run, "speed", sp);
            cJSON_AddItemToArray(runs, run);
            if (rc) goto fail;
        }
    }
    /* as trained (preset overlay, cap) when a base run holds its resolved config */
    if (base_run_cfg && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(base_run_cfg, "tap"))) {
        cJSON_Delete(base_run_cfg);
        base_run_cfg = NULL;
    }
    if (base_run_cfg || base_cfg) {
        size_t l = strlen(t->note);
        setup_note(base_run_cfg ? base_run_cfg : base_cfg, base_run_cfg ? 0 : o->max_iters,
                   t->note + l, sizeof t->note - l);
    }
    if (o->paper_json && !tb.file && (rc = mr_table_paper_load(t, o->paper_json, e))) goto fail;
    if (tb.file) {   /* no paper numbers */
        for (int r = 0; r < t->nrows; r++)
            for (int c = 0; c < MR_TABLE_MAX_COLS; c++) t->row[r].paper[c] = NAN;
    }
    mr_table_compute(t);
    cJSON *j = mr_table_json(t);
    cJSON_AddStringToObject(j, "preset", o->preset);
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    for (int r = 0; r < t->nrows; r++)
        cJSON_AddItemToObject(cJSON_GetArrayItem(rows, r), "runs",
                              cJSON_Duplicate(cJSON_GetArrayItem(runs_per_row, r), 1));
    /* user rows (--row): their overrides of _base.json */
    for (int r = 0, ri = 0; r < td->nrows; r++) {
        if (!row_wanted(o, &tb, r)) continue;
        const mr_ablate_user_row *u = user_of(&tb, r);
        cJSON *row = cJSON_GetArrayItem(rows, ri++);
        if (!u || !row) continue;
        cJSON *ov = cJSON_AddArrayToObject(row, "overrides");
        for (int k = 0; k < u->nsets; k++) cJSON_AddItemToArray(ov, cJSON_CreateString(u->sets[k]));
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", o->results_dir, td->id);
    rc = mr_table_save(t, j, dir, e);
    cJSON_Delete(j);
fail:
    cJSON_Delete(base_cfg);
    cJSON_Delete(base_run_cfg);
    cJSON_Delete(runs_per_row);
    mr_run_pr_free(&prc);
    return rc;
}

/* the tables o names, in order, and each one's slot in pending[] and
 * mr_ablate_job.table_idx: a paper table's index in mr_ablate_names'
 * order, a table file's one past them */
static int tables_of(const mr_ablate_opts *o, const char **ids, int *slot, int *n, mr_err *e)
{
    const char *const *all;
    int nall;
    mr_ablate_names(&all, &nall);
    *n = 0;
    if (nall >= 16) return mr_errf(e, MR_EINTERNAL, "more tables than the scheduler counts");
    if (o->ftable) {
        if (o->nuser_rows)
            return mr_errf(e, MR_EUSAGE, "--row and --table %s: add the row to the file's \"rows\"", o->ftable->file);
        ids[0] = o->ftable->name;
        slot[0] = nall;
        *n = 1;
        return MR_OK;
    }
    char sel[16];
    int rc = mr_ablate_select(o->table, sel, e);
    if (rc) return rc;
    for (int i = 0; i < nall; i++)
        if (sel[i]) { ids[*n] = all[i]; slot[(*n)++] = i; }
    return MR_OK;
}

/* every wanted row of t resolves (row, preset, --set) for the first seed,
 * and no run directory of it was prepared from another config */
static int check_table(const mr_ablate_opts *o, const tab *t, mr_err *e)
{
    int seeds = o->seeds > 0 ? o->seeds : 1;
    for (int r = 0; r < t->d.nrows; r++) {
        if (!row_wanted(o, t, r)) continue;
        for (int k = 0; k < seeds; k++) {
            mr_ablate_job j;
            cJSON *cfg = NULL;
            job_paths(o, t, r, o->seed0 + k, &j);
            int rc = job_config(o, t, r, &j, &cfg, e);
            cJSON_Delete(cfg);
            if (rc) return rc;
        }
    }
    return MR_OK;
}

int mr_ablate_check(const mr_ablate_opts *o, mr_err *e)
{
    const char *ids[16];
    int slot[16], n;
    int rc = tables_of(o, ids, slot, &n, e);
    for (int q = 0; q < n && !rc; q++) {
        tab tb;
        if ((rc = tab_make(o, ids[q], &tb, e)) || (rc = check_rows(o, &tb, e)) || (rc = check_table(o, &tb, e)))
            return rc;
    }
    return rc;
}


int mr_ablate_describe(const mr_ablate_opts *o, char **out, mr_err *e)
{
    *out = NULL;
    int rc = mr_ablate_check(o, e);
    if (rc) return rc;
    const char *ids[16];
    int slot[16], nt;
    if ((rc = tables_of(o, ids, slot, &nt, e))) return rc;
    int seeds = o->seeds > 0 ? o->seeds : 1;
    mr_strbuf b = {0};
    char bl[4200];
    for (int q = 0; q < nt && !rc; q++) {
        tab tb;
        if ((rc = tab_make(o, ids[q], &tb, e))) break;
        const mr_ablate_table_def *td = &tb.d;
        mr_strbuf_add(&b, "table %s: %s\n  preset %s, seeds %ld..%ld%s", td->id, td->title, o->preset, o->seed0,
                o->seed0 + seeds - 1, o->max_iters > 0 ? ", iterations capped at " : "");
        if (o->max_iters > 0) mr_strbuf_add(&b, "%ld", o->max_iters);
        if (tb.file) mr_strbuf_add(&b, "; rows of %s over %s\n", tb.file, tb.base);
        else mr_strbuf_add(&b, "; row configs in %s/%s/\n", o->configs_dir, td->id);
        /* the base row's config as trained, for the differences */
        mr_ablate_job jb;
        cJSON *base = NULL;
        job_paths(o, &tb, td->base, o->seed0, &jb);
        if ((rc = job_config(o, &tb, td->base, &jb, &base, e))) break;
        cJSON_DeleteItemFromObjectCaseSensitive(base, "overrides");
        for (int r = 0; r < td->nrows && !rc; r++) {
            if (!row_wanted(o, &tb, r)) continue;
            const mr_ablate_row_def *row = &td->rows[r];
            const mr_ablate_user_row *u = user_of(&tb, r);
            char path[4200];
            snprintf(path, sizeof path, "%s/%s/%s.json", o->configs_dir, td->id, row->name);
            mr_strbuf_add(&b, "  row %s%s: ", row->name, r == td->base ? " (base)" : "");
            if (u) {
                mr_strbuf_add(&b, "%soverrides of %s:", tb.file ? "" : "--row, ", base_label(&tb, bl, sizeof bl));
                for (int k = 0; k < u->nsets; k++) mr_strbuf_add(&b, "%s%s", k ? "; " : " ", u->sets[k]);
                if (!u->nsets) mr_strbuf_add(&b, " none");
            } else if (row->set && !mr_file_exists(path)) mr_strbuf_add(&b, "overrides of %s/_base.json: %s", td->id, row->set);
            else mr_strbuf_add(&b, "%s", path);
            if (row->paper_index >= 0) mr_strbuf_add(&b, " (paper row %d)\n", row->paper_index + 1);
            else mr_strbuf_add(&b, " (not in the paper)\n");
            mr_ablate_job j;
            cJSON *cfg = NULL;
            job_paths(o, &tb, r, o->seed0, &j);
            if ((rc = job_config(o, &tb, r, &j, &cfg, e))) break;
            cJSON_DeleteItemFromObjectCaseSensitive(cfg, "overrides");
            if (r != td->base) {
                char diff[1024] = "";
                mr_json_diff(base, cfg, 1, diff, sizeof diff);
                mr_strbuf_add(&b, "    differs from the base row: %s\n", diff[0] ? diff : "nothing");
            }
            cJSON_Delete(cfg);
            for (int k = 0; k < seeds; k++) {
                job_paths(o, &tb, r, o->seed0 + k, &j);
                const char *st = run_done(j.run_dir) ? "done" : task_failed(j.run_dir) ? "failed (retrained)"
                               : run_started(j.run_dir) ? "started (resumed)" : "to train";
                mr_strbuf_add(&b, "    seed %ld: %s (%s)\n", j.seed, j.run_dir, st);
            }
        }
        cJSON_Delete(base);
        if (o->nsets) {
            mr_strbuf_add(&b, "  --set over every row, after the preset:");
            for (int k = 0; k < o->nsets; k++) mr_strbuf_add(&b, " %s", o->sets[k]);
            mr_strbuf_add(&b, "\n");
        }
        mr_strbuf_add(&b, "  table: %s/%s/table_%s.{md,tex,csv,json}\n", o->results_dir, td->id, td->id);
    }
    if (!rc && b.oom) rc = mr_errf(e, MR_ENOMEM, "out of memory");
    if (rc) { free(b.p); return rc; }
    *out = b.p ? b.p : calloc(1, 1);
    return *out ? MR_OK : mr_errf(e, MR_ENOMEM, "out of memory");
}

int mr_ablate_plan(const mr_ablate_opts *o, mr_ablate_job **jobs_out, int *njobs, int *pending, mr_err *e)
{
    const char *ids[16];
    int slot[16], nt;
    *jobs_out = NULL;
    *njobs = 0;
    for (int i = 0; i < 16; i++) pending[i] = 0;
    int rc = tables_of(o, ids, slot, &nt, e);
    if (rc) return rc;
    if (o->seeds < 1 || o->seeds > MR_TABLE_MAX_SEEDS)
        return mr_errf(e, MR_EUSAGE, "--seeds must be 1..%d", MR_TABLE_MAX_SEEDS);
    /* rows, user rows, every config and override: before anything is written */
    if ((rc = mr_ablate_check(o, e))) return rc;
    /* every run appends to the store: a line that does not parse is
     * reported now, not after hours of training */
    if (!o->dry_run && o->store && (rc = mr_store_recover(o->store, NULL, e))) return rc;  /* a torn append */
    rc = o->dry_run ? MR_OK : mr_precheck_store(o->store, NULL, e);
    if (rc) return rc;
    /* one queue over every table asked for, seeds outer within a table (a
     * first full table sooner) */
    int nj = 0, cap = 0;
    mr_ablate_job *jobs = NULL;
    for (int q = 0; q < nt; q++) {
        int ti = slot[q];
        tab tb;
        const mr_ablate_table_def *td = &tb.d;
        if ((rc = tab_make(o, ids[q], &tb, e))) { free(jobs); return rc; }
        int skipped = 0, nt = 0;
        for (int k = 0; k < o->seeds; k++)
            for (int r = 0; r < td->nrows; r++) {
                mr_ablate_job j;
                if (!row_wanted(o, &tb, r)) continue;
                if ((rc = prepare_job(o, &tb, r, o->seed0 + k, &j, e))) { free(jobs); return rc; }
                if (run_done(j.run_dir)) {
                    /* its record in the store (a store repaired, or a run
                     * committed by an older mrcnn); idempotent */
                    cJSON *rec = NULL;
                    if (!o->dry_run && o->store && (rc = mr_record_recover(j.run_dir, o->store, NULL, &rec, e))) {
                        free(jobs);
                        return rc;
                    }
                    cJSON_Delete(rec);
                    skipped++;
                    continue;
                }
                if (o->dry_run && !o->keep_dry_jobs) { nt++; continue; }
                if (nj == cap) {
                    cap = cap ? 2 * cap : 64;
                    mr_ablate_job *nw = realloc(jobs, (size_t)cap * sizeof *jobs);
                    if (!nw) { free(jobs); return mr_errf(e, MR_ENOMEM, "out of memory"); }
                    jobs = nw;
                }
                j.table_idx = ti;
                jobs[nj++] = j;
                nt++;
            }
        mr_ablate_say(o, "table %s: %d runs to train, %d already done", td->id, o->dry_run && !o->keep_dry_jobs ? 0 : nt,
            skipped);
        pending[ti] = o->dry_run ? 0 : nt;
    }
    /* a dataset that is not there fails now, not once per spawned run */
    for (int k = 0; nj && k < 2; k++) {
        char dp[4200];
        snprintf(dp, sizeof dp, "%s/%s", o->data_dir, k ? "val.json" : "train.json");
        if (!mr_file_exists(dp)) {
            free(jobs);
            return mr_errf(e, MR_EUSER, "%s: the dataset has no %s (make one with mrcnn synth --preset %s --out %s)",
                           o->data_dir, k ? "val.json" : "train.json", o->preset, o->data_dir);
        }
    }
    *jobs_out = jobs;
    *njobs = nj;
    return MR_OK;
}

int mr_ablate_tabulate(const mr_ablate_opts *o, const char *id, mr_err *e)
{
    return tabulate(o, id, e);
}

int mr_ablate_run_done(const char *run_dir)
{
    return run_done(run_dir);
}

int mr_ablate_run(const mr_ablate_opts *o, mr_err *e)
{
    const char *const *ids;
    int nids;
    mr_ablate_names(&ids, &nids);
    const char *tids[16];
    int slot[16], nt;
    int pending[16] = {0}, nj = 0;
    mr_ablate_job *jobs = NULL;
    if (o->outcome) memset(o->outcome, 0, sizeof *o->outcome);
    int rc = mr_ablate_plan(o, &jobs, &nj, pending, e);
    if (rc) return rc;
    if (o->outcome) o->outcome->planned = 1;
    tables_of(o, tids, slot, &nt, e);
    for (int q = 0; q < nt; q++)   /* nothing to train: tabulate now */
        if (!pending[slot[q]] && (rc = tabulate(o, tids[q], e))) {
            free(jobs);
            return rc;
        }
    if (nj) {
        char label[64];
        if (!strcmp(o->table, "all")) snprintf(label, sizeof label, "tables %s-%s", ids[0], ids[nids - 1]);
        else snprintf(label, sizeof label, "table%s %.50s", strchr(o->table, ',') ? "s" : "", o->table);
        rc = run_jobs(o, jobs, nj, pending, label, e);   /* the first failure, in e */
    }
    free(jobs);
    return rc;
}
