/*
 * table.c — ablation tables in Markdown, LaTeX (booktabs), CSV and JSON
 * (see table.h for the statistics and what each output contains).
 */
#include "report/table.h"
#include "core/json.h"
#include "core/fileio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growing string ---- */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) { b->oom = 1; return; }
        if (b->p && (size_t)k < room) { b->n += (size_t)k; return; }
        size_t nc = (b->cap ? b->cap * 2 : 1024) + (size_t)k;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

static char *sb_take(sbuf *b)
{
    if (b->oom) { free(b->p); return NULL; }
    if (!b->p) return strdup("");
    return b->p;
}

/* ---- building ---- */
void mr_table_init(mr_table *t, const char *id, const char *title)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->title, sizeof t->title, "%s", title);
}

int mr_table_add_row(mr_table *t, const char *name, const char *label, const char *diff,
                     int paper_index)
{
    if (t->nrows >= MR_TABLE_MAX_ROWS) return -1;
    mr_table_row *r = &t->row[t->nrows];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->label, sizeof r->label, "%s", label ? label : name);
    snprintf(r->diff, sizeof r->diff, "%s", diff ? diff : "");
    r->paper_index = paper_index;
    for (int c = 0; c < MR_TABLE_MAX_COLS; c++) r->paper[c] = NAN;
    return t->nrows++;
}

int mr_table_add_seed(mr_table *t, int r, long seed, const double *vals, mr_err *e)
{
    if (r < 0 || r >= t->nrows) return mr_errf(e, MR_EINTERNAL, "table %s: no row %d", t->id, r);
    mr_table_row *row = &t->row[r];
    if (row->nseeds >= MR_TABLE_MAX_SEEDS)
        return mr_errf(e, MR_EUSER, "table %s, row %s: more than %d seeds", t->id, row->name,
                       MR_TABLE_MAX_SEEDS);
    row->seed[row->nseeds] = seed;
    for (int c = 0; c < MR_TABLE_MAX_COLS; c++)
        row->val[row->nseeds][c] = c < t->ncols ? vals[c] : NAN;
    row->nseeds++;
    return MR_OK;
}

int mr_table_paper_load(mr_table *t, const char *paper_json, mr_err *e)
{
    char *buf;
    size_t len;
    int rc = mr_read_file(paper_json, &buf, &len, e);
    if (rc) return rc;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) return mr_errf(e, MR_EUSER, "%s: not valid JSON", paper_json);
    if ((rc = mr_json_check_finite(j, paper_json, e))) { cJSON_Delete(j); return rc; }
    const cJSON *tabs = cJSON_GetObjectItemCaseSensitive(j, "tables");
    const cJSON *tab = cJSON_GetObjectItemCaseSensitive(tabs, t->id);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(tab, "rows");
    if (!cJSON_IsArray(rows)) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: no table \"%s\" with a \"rows\" array under \"tables\"",
                       paper_json, t->id);
    }
    int nrows = cJSON_GetArraySize(rows);
    for (int r = 0; r < t->nrows; r++) {
        mr_table_row *row = &t->row[r];
        for (int c = 0; c < MR_TABLE_MAX_COLS; c++) row->paper[c] = NAN;
        if (row->paper_index < 0) continue;
        if (row->paper_index >= nrows) {
            cJSON_Delete(j);
            return mr_errf(e, MR_EUSER, "%s: table %s has %d rows, row %s wants row %d", paper_json,
                           t->id, nrows, row->name, row->paper_index);
        }
        const cJSON *pr = cJSON_GetArrayItem(rows, row->paper_index);
        for (int c = 0; c < t->ncols; c++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(pr, t->col[c].name);
            row->paper[c] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        }
    }
    cJSON_Delete(j);
    return MR_OK;
}

void mr_table_compute(mr_table *t)
{
    for (int r = 0; r < t->nrows; r++) {
        mr_table_row *row = &t->row[r];
        for (int c = 0; c < t->ncols; c++) {
            double s = 0, ss = 0;
            int n = 0;
            for (int k = 0; k < row->nseeds; k++)
                if (!isnan(row->val[k][c])) { s += row->val[k][c]; n++; }
            mr_stat *st = &row->stat[c];
            st->n = n;
            st->mean = n ? s / n : NAN;
            for (int k = 0; k < row->nseeds; k++)
                if (!isnan(row->val[k][c])) ss += (row->val[k][c] - st->mean) * (row->val[k][c] - st->mean);
            st->std = n >= 2 ? sqrt(ss / (n - 1)) : NAN;
        }
    }
    int has_base = t->base >= 0 && t->base < t->nrows;
    for (int c = 0; c < t->ncols; c++) {   /* the reference row of each column */
        t->ref[c] = has_base ? t->base : -1;
        if (has_base && t->row[t->base].stat[c].n == 0)
            for (int r = 0; r < t->nrows; r++)
                if (t->row[r].stat[c].n > 0) { t->ref[c] = r; break; }
    }
    for (int r = 0; r < t->nrows; r++) {
        mr_table_row *row = &t->row[r];
        for (int c = 0; c < t->ncols; c++) {
            row->delta[c] = row->noise[c] = row->paper_delta[c] = NAN;
            row->agree[c] = row->exceeds[c] = -1;
            if (t->ref[c] < 0 || r == t->ref[c]) continue;
            const mr_table_row *b = &t->row[t->ref[c]];
            const mr_stat *x = &row->stat[c], *y = &b->stat[c];
            row->delta[c] = x->mean - y->mean;  /* NAN propagates */
            if (x->n >= 2 && y->n >= 2)
                row->noise[c] = sqrt(x->std * x->std / x->n + y->std * y->std / y->n);
            row->paper_delta[c] = row->paper[c] - b->paper[c];
            double d = row->delta[c], pd = row->paper_delta[c];
            if (!isnan(d) && !isnan(pd) && pd != 0)
                row->agree[c] = (d > 0) == (pd > 0) && d != 0;
            if (!isnan(d) && !isnan(row->noise[c]))
                row->exceeds[c] = fabs(d) > MR_TABLE_NOISE_K * row->noise[c];
        }
    }
}

/* ---- text helpers ---- */
static void fmt_num(char *o, size_t n, double v, int sign)
{
    if (isnan(v)) snprintf(o, n, "–");
    else snprintf(o, n, sign ? "%+.1f" : "%.1f", v);
}

static void fmt_pm(char *o, size_t n, double m, double s, int sign)
{
    char a[40], b[40];
    fmt_num(a, sizeof a, m, sign);
    if (isnan(m)) { snprintf(o, n, "–"); return; }
    if (isnan(s)) { snprintf(o, n, "%s", a); return; }
    fmt_num(b, sizeof b, s, 0);
    snprintf(o, n, "%s ± %s", a, b);
}

static const char *verdict(int agree, int exceeds)
{
    if (agree < 0) return "n/a";
    if (agree) return exceeds == 1 ? "agree" : exceeds == 0 ? "agree (within noise)" : "agree (noise unknown)";
    return exceeds == 1 ? "DISAGREE" : exceeds == 0 ? "disagree (within noise)" : "disagree (noise unknown)";
}

static const char *noise_text(void)
{
    return "mean ± sample std over seeds; Δ = mean(row) − mean(base) ± its std "
           "sqrt(s_row²/n_row + s_base²/n_base); \"agree\" = same sign as the paper's Δ; "
           "\"within noise\" = |Δ| ≤ 2 × that std";
}

static int max_seeds(const mr_table *t)
{
    int m = 0;
    for (int r = 0; r < t->nrows; r++) if (t->row[r].nseeds > m) m = t->row[r].nseeds;
    return m;
}

char *mr_table_markdown(const mr_table *t)
{
    sbuf b = {0};
    sb_printf(&b, "### Table %s: %s\n\n", t->id, t->title);
    if (t->note[0]) sb_printf(&b, "%s\n\n", t->note);
    sb_printf(&b, "| row | differs from base | seeds |");
    for (int c = 0; c < t->ncols; c++)
        sb_printf(&b, " %s | Δ%s | paper | paper Δ | sign vs paper |", t->col[c].name, t->col[c].name);
    sb_printf(&b, "\n| --- | --- | ---: |");
    for (int c = 0; c < t->ncols; c++) sb_printf(&b, " ---: | ---: | ---: | ---: | --- |");
    sb_printf(&b, "\n");
    for (int r = 0; r < t->nrows; r++) {
        const mr_table_row *row = &t->row[r];
        sb_printf(&b, "| %s%s | %s | %d |", row->label, r == t->base ? " (base)" : "",
                  r == t->base ? "—" : (row->diff[0] ? row->diff : "?"), row->nseeds);
        for (int c = 0; c < t->ncols; c++) {
            char v[96], d[96], p[40], pd[40];
            fmt_pm(v, sizeof v, row->stat[c].mean, row->stat[c].std, 0);
            fmt_pm(d, sizeof d, row->delta[c], row->noise[c], 1);
            fmt_num(p, sizeof p, row->paper[c], 0);
            fmt_num(pd, sizeof pd, row->paper_delta[c], 1);
            int ref = r == t->ref[c];
            sb_printf(&b, " %s | %s | %s | %s | %s |", v, ref ? "—" : d, p, ref ? "—" : pd,
                      ref ? "—" : row->delta[c] == 0 ? "no change" : verdict(row->agree[c], row->exceeds[c]));
        }
        sb_printf(&b, "\n");
    }
    sb_printf(&b, "\nAP in percent; %s.\n", noise_text());
    for (int c = 0; c < t->ncols; c++)
        if (t->ref[c] >= 0 && t->ref[c] != t->base)
            sb_printf(&b, "Δ%s is to %s, the first row with %s (the base row has none), as in the paper.\n",
                      t->col[c].name, t->row[t->ref[c]].label, t->col[c].name);
    if (max_seeds(t) < 2) sb_printf(&b, "With one seed per row the noise is unknown.\n");
    return sb_take(&b);
}

/* LaTeX-escape s into o */
static void tex_escape(char *o, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 8 < n; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "\\&"; break;
        case '%': rep = "\\%"; break;
        case '_': rep = "\\_"; break;
        case '#': rep = "\\#"; break;
        case '$': rep = "\\$"; break;
        case '{': rep = "\\{"; break;
        case '}': rep = "\\}"; break;
        case '^': rep = "\\^{}"; break;
        case '~': rep = "\\~{}"; break;
        case '\\': rep = "\\textbackslash{}"; break;
        }
        if (rep) {
            size_t l = strlen(rep);
            if (k + l + 1 >= n) break;
            memcpy(o + k, rep, l);
            k += l;
        } else o[k++] = *s;
    }
    o[k] = 0;
}

static void tex_pm(char *o, size_t n, double m, double s, int sign)
{
    char a[40], b[40];
    if (isnan(m)) { snprintf(o, n, "--"); return; }
    snprintf(a, sizeof a, sign ? "%+.1f" : "%.1f", m);
    if (isnan(s)) { snprintf(o, n, "%s", a); return; }
    snprintf(b, sizeof b, "%.1f", s);
    snprintf(o, n, "%s$\\pm$%s", a, b);
}

char *mr_table_latex(const mr_table *t)
{
    sbuf b = {0};
    char esc[512];
    tex_escape(esc, sizeof esc, t->title);
    sb_printf(&b, "%% Table %s: generated by mrcnn ablate; AP in percent.\n", t->id);
    sb_printf(&b, "%% ours: mean $\\pm$ std over seeds; $\\Delta$ vs the base row $\\pm$ the std of the\n"
                  "%% difference sqrt(s_r^2/n_r + s_b^2/n_b); * = same sign as the paper and |Delta| > %.0f std.\n",
              MR_TABLE_NOISE_K);
    sb_printf(&b, "\\begin{table}[t]\n\\centering\n\\small\n\\begin{tabular}{l");
    for (int c = 0; c < t->ncols; c++) sb_printf(&b, "rrrr");
    sb_printf(&b, "}\n\\toprule\n");
    for (int c = 0; c < t->ncols; c++) {
        tex_escape(esc, sizeof esc, t->col[c].name);
        sb_printf(&b, " & \\multicolumn{4}{c}{%s}", esc);
    }
    sb_printf(&b, " \\\\\n");
    for (int c = 0; c < t->ncols; c++) sb_printf(&b, "\\cmidrule(lr){%d-%d}", 2 + 4 * c, 5 + 4 * c);
    sb_printf(&b, "\nrow");
    for (int c = 0; c < t->ncols; c++) sb_printf(&b, " & ours & $\\Delta$ & paper & $\\Delta$");
    sb_printf(&b, " \\\\\n\\midrule\n");
    for (int r = 0; r < t->nrows; r++) {
        const mr_table_row *row = &t->row[r];
        tex_escape(esc, sizeof esc, row->label);
        sb_printf(&b, "%s", esc);
        for (int c = 0; c < t->ncols; c++) {
            char v[128], d[128], p[128], pd[128];
            tex_pm(v, sizeof v, row->stat[c].mean, row->stat[c].std, 0);
            if (r == t->ref[c]) { snprintf(d, sizeof d, "--"); snprintf(pd, sizeof pd, "--"); }
            else {
                tex_pm(d, sizeof d, row->delta[c], row->noise[c], 1);
                if (row->agree[c] == 1 && row->exceeds[c] == 1) strcat(d, "$^*$");
                tex_pm(pd, sizeof pd, row->paper_delta[c], NAN, 1);
            }
            tex_pm(p, sizeof p, row->paper[c], NAN, 0);
            sb_printf(&b, " & %s & %s & %s & %s", v, d, p, pd);
        }
        sb_printf(&b, " \\\\\n");
    }
    tex_escape(esc, sizeof esc, t->note);
    sb_printf(&b, "\\bottomrule\n\\end{tabular}\n\\caption{Table %s: ", t->id);
    tex_escape(esc, sizeof esc, t->title);
    sb_printf(&b, "%s.", esc);
    tex_escape(esc, sizeof esc, t->note);
    if (t->note[0]) sb_printf(&b, " %s.", esc);
    sb_printf(&b, "}\n\\end{table}\n");
    return sb_take(&b);
}

/* CSV field: quoted when it holds a comma, quote or newline */
static void csv_field(sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n")) { sb_printf(b, "%s", s); return; }
    sb_printf(b, "\"");
    for (; *s; s++) sb_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    sb_printf(b, "\"");
}

static void csv_num(sbuf *b, double v)
{
    if (isnan(v)) sb_printf(b, ",");
    else sb_printf(b, ",%.6g", v);
}

static void csv_flag(sbuf *b, int v)
{
    sb_printf(b, v < 0 ? "," : v ? ",true" : ",false");
}

char *mr_table_csv(const mr_table *t)
{
    sbuf b = {0};
    sb_printf(&b, "table,row,label,is_base,differs,metric,iou_type,category,seeds,mean,std,n,"
                  "paper,delta,noise,paper_delta,agree_sign,exceeds_noise\n");
    for (int r = 0; r < t->nrows; r++) {
        const mr_table_row *row = &t->row[r];
        for (int c = 0; c < t->ncols; c++) {
            csv_field(&b, t->id);
            sb_printf(&b, ",");
            csv_field(&b, row->name);
            sb_printf(&b, ",");
            csv_field(&b, row->label);
            sb_printf(&b, ",%s,", r == t->base ? "true" : "false");
            csv_field(&b, row->diff);
            sb_printf(&b, ",");
            csv_field(&b, t->col[c].name);
            sb_printf(&b, ",%s,", t->col[c].iou_type);
            csv_field(&b, t->col[c].category);
            sb_printf(&b, ",%d", row->nseeds);
            csv_num(&b, row->stat[c].mean);
            csv_num(&b, row->stat[c].std);
            sb_printf(&b, ",%d", row->stat[c].n);
            csv_num(&b, row->paper[c]);
            csv_num(&b, row->delta[c]);
            csv_num(&b, row->noise[c]);
            csv_num(&b, row->paper_delta[c]);
            csv_flag(&b, row->agree[c]);
            csv_flag(&b, row->exceeds[c]);
            sb_printf(&b, "\n");
        }
    }
    return sb_take(&b);
}

static void json_num(cJSON *o, const char *k, double v)
{
    if (isnan(v)) cJSON_AddNullToObject(o, k);
    else cJSON_AddNumberToObject(o, k, v);
}

static void json_flag(cJSON *o, const char *k, int v)
{
    if (v < 0) cJSON_AddNullToObject(o, k);
    else cJSON_AddBoolToObject(o, k, v);
}

cJSON *mr_table_json(const mr_table *t)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "table", t->id);
    cJSON_AddStringToObject(j, "title", t->title);
    cJSON_AddStringToObject(j, "note", t->note);
    cJSON_AddStringToObject(j, "base", t->base >= 0 && t->base < t->nrows ? t->row[t->base].name : "");
    cJSON_AddStringToObject(j, "units", "COCO AP in percent");
    cJSON_AddStringToObject(j, "noise_definition", noise_text());
    cJSON_AddNumberToObject(j, "noise_k", MR_TABLE_NOISE_K);
    cJSON *cols = cJSON_AddArrayToObject(j, "columns");
    for (int c = 0; c < t->ncols; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->col[c].name);
        cJSON_AddStringToObject(o, "iou_type", t->col[c].iou_type);
        cJSON_AddStringToObject(o, "metric", t->col[c].metric);
        cJSON_AddStringToObject(o, "category", t->col[c].category);
        /* the row this column's deltas are to (the base, unless it has none) */
        cJSON_AddStringToObject(o, "delta_to", t->ref[c] >= 0 ? t->row[t->ref[c]].name : "");
        cJSON_AddItemToArray(cols, o);
    }
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (int r = 0; r < t->nrows; r++) {
        const mr_table_row *row = &t->row[r];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", row->name);
        cJSON_AddStringToObject(o, "label", row->label);
        cJSON_AddStringToObject(o, "differs", row->diff);
        cJSON_AddBoolToObject(o, "is_base", r == t->base);
        cJSON_AddNumberToObject(o, "paper_row", row->paper_index);
        cJSON *seeds = cJSON_AddArrayToObject(o, "seeds");
        cJSON *vals = cJSON_AddArrayToObject(o, "values");
        for (int k = 0; k < row->nseeds; k++) {
            cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)row->seed[k]));
            cJSON *v = cJSON_CreateObject();
            for (int c = 0; c < t->ncols; c++) json_num(v, t->col[c].name, row->val[k][c]);
            cJSON_AddItemToArray(vals, v);
        }
        cJSON *st = cJSON_AddObjectToObject(o, "stats");
        for (int c = 0; c < t->ncols; c++) {
            cJSON *s = cJSON_AddObjectToObject(st, t->col[c].name);
            json_num(s, "mean", row->stat[c].mean);
            json_num(s, "std", row->stat[c].std);
            cJSON_AddNumberToObject(s, "n", row->stat[c].n);
            json_num(s, "paper", row->paper[c]);
            json_num(s, "delta", row->delta[c]);
            json_num(s, "noise", row->noise[c]);
            json_num(s, "paper_delta", row->paper_delta[c]);
            json_flag(s, "agree_sign", row->agree[c]);
            json_flag(s, "exceeds_noise", row->exceeds[c]);
        }
        cJSON_AddItemToArray(rows, o);
    }
    return j;
}

static int save_text(const char *dir, const char *id, const char *ext, char *txt, mr_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/table_%s.%s", dir, id, ext);
    if (!txt) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_write_file_atomic(path, txt, strlen(txt), e);
    free(txt);
    return rc;
}

int mr_table_save(const mr_table *t, const cJSON *json, const char *dir, mr_err *e)
{
    int rc = mr_mkdir_p(dir, e);
    if (rc) return rc;
    if ((rc = save_text(dir, t->id, "md", mr_table_markdown(t), e))) return rc;
    if ((rc = save_text(dir, t->id, "tex", mr_table_latex(t), e))) return rc;
    if ((rc = save_text(dir, t->id, "csv", mr_table_csv(t), e))) return rc;
    cJSON *own = json ? NULL : mr_table_json(t);
    char *txt = cJSON_Print(json ? json : own);
    cJSON_Delete(own);
    if (txt) {
        size_t n = strlen(txt);
        char *t2 = realloc(txt, n + 2);
        if (t2) { txt = t2; txt[n] = '\n'; txt[n + 1] = 0; }
    }
    return save_text(dir, t->id, "json", txt, e);
}
