/*
 * plot.c — gnuplot scripts and data from stored results (see plot.h).
 */
#include "report/plot.h"
#include "core/fileio.h"
#include "core/strbuf.h"
#include "core/json.h"
#include "eval/cocoeval.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mr_plot_find_gnuplot(const char *prog, char *path, size_t n, mr_err *e)
{
    if (!prog || !*prog) prog = "gnuplot";
    if (strchr(prog, '/')) {
        if (access(prog, X_OK) == 0) { snprintf(path, n, "%s", prog); return MR_OK; }
        return mr_errf(e, MR_EUSER, "gnuplot '%s' is not an executable file; install gnuplot with "
                                    "`make deps` (Debian package gnuplot-nox)", prog);
    }
    const char *pe = getenv("PATH");
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", pe ? pe : "");
    for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, n, "%s/%s", *d ? d : ".", prog);
        if (access(path, X_OK) == 0) return MR_OK;
    }
    return mr_errf(e, MR_EUSER, "gnuplot not found in PATH; install it with `make deps` "
                                "(Debian package gnuplot-nox) or name it with --gnuplot");
}

static int load_json(const char *path, cJSON **out, mr_err *e)
{
    char *buf;
    size_t len;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    *out = cJSON_Parse(buf);
    free(buf);
    if (!*out) return mr_errf(e, MR_EUSER, "%s: not valid JSON", path);
    if ((rc = mr_json_check_finite(*out, path, e))) { cJSON_Delete(*out); *out = NULL; }
    return rc;
}

/* a string safe inside gnuplot double quotes */
static void gp_str(char *o, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 2 < n; s++) {
        char c = *s;
        if (c == '"' || c == '\\') c = '\'';
        o[k++] = c;
    }
    o[k] = 0;
}

/* the common preamble (terminals are set in render()); the title may hold
 * "\n" for a second line: its lines are escaped one by one */
static void gp_head(FILE *f, const char *title, const char *xl, const char *yl)
{
    char t[1200] = "", x[200], y[200], part[600];
    const char *p = title;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(part, sizeof part, "%.*s", (int)(l < 599 ? l : 599), p);
        gp_str(part + 0, sizeof part, part);
        size_t tl = strlen(t);
        snprintf(t + tl, sizeof t - tl, "%s%s", tl ? "\\n" : "", part);
        p += l + (nl ? 1 : 0);
    }
    gp_str(x, sizeof x, xl);
    gp_str(y, sizeof y, yl);
    fprintf(f, "set title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\nset grid\nset key outside right top\n",
            t, x, y);
    /* eight colours that read on white (gnuplot's default fifth is a pale
     * yellow); line types cycle through them */
    static const char *const PAL[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
    for (int i = 0; i < 8; i++) fprintf(f, "set linetype %d lc rgb \"%s\"\n", i + 1, PAL[i]);
    fprintf(f, "set linetype cycle 8\n");
}

/* Run gnuplot (prog, or from PATH) on script, from dir when not NULL, its
 * output kept for the error: a failure names label and gnuplot's words. */
int mr_plot_run_gnuplot(const char *gnuplot, const char *dir, const char *script, const char *label, mr_err *e)
{
    char prog[4096];
    int rc = mr_plot_find_gnuplot(gnuplot, prog, sizeof prog, e);
    if (rc) return rc;
    if (strchr(prog, '\'')) return mr_errf(e, MR_EUSER, "%s: quotes in the gnuplot path", prog);
    char cmd[8600];
    if (dir) snprintf(cmd, sizeof cmd, "cd '%s' && '%s' '%s' 2>&1", dir, prog, script);
    else snprintf(cmd, sizeof cmd, "'%s' '%s' 2>&1", prog, script);
    FILE *p = popen(cmd, "r");
    if (!p) return mr_errf(e, MR_EIO, "could not run %s", prog);
    char out[2048] = {0};
    size_t used = 0, k;
    char chunk[512];
    while ((k = fread(chunk, 1, sizeof chunk, p)) > 0)
        if (used + 1 < sizeof out) {
            size_t c = k < sizeof out - 1 - used ? k : sizeof out - 1 - used;
            memcpy(out + used, chunk, c);
            used += c;
        }
    int st = pclose(p);
    if (st != 0) {
        for (char *q = out; *q; q++) if (*q == '\n') *q = ' ';
        return mr_errf(e, MR_EUSER, "%s: gnuplot failed (status %d): %.600s", label, st, out);
    }
    return MR_OK;
}

/* Wrap the plot commands in body into a script that writes PNG and SVG,
 * and run gnuplot on it. */
static int render(const mr_plot_opts *o, const char *name, const char *body, mr_err *e)
{
    char gp[4200], png[4200], svg[4200];
    snprintf(gp, sizeof gp, "%s/%s.gp", o->out_dir, name);
    snprintf(png, sizeof png, "%s/%s.png", o->out_dir, name);
    snprintf(svg, sizeof svg, "%s/%s.svg", o->out_dir, name);
    if (strchr(o->out_dir, '\'') || strchr(o->out_dir, '"'))
        return mr_errf(e, MR_EUSER, "%s: plot directory names with quotes are not supported", o->out_dir);
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, gp, e);
    if (rc) return rc;
    fprintf(af.f,
            "# %s.gp: generated by mrcnn plot (%s.png, .svg); data paths are relative to the directory mrcnn plot ran in\n"
            "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "  set terminal pngcairo size 1000,650 noenhanced font \"sans,10\"\n"
            "} else {\n"
            "  set terminal png size 1000,650 noenhanced\n"
            "}\n"
            "set output \"%s\"\n%s"
            "set terminal svg size 1000,650 dynamic noenhanced\nset output \"%s\"\nreplot\nunset output\n",
            name, name, png, body, svg);
    if ((rc = mr_atomic_commit(&af, e))) return rc;
    if (o->no_run) return MR_OK;
    if ((rc = mr_plot_run_gnuplot(o->gnuplot, NULL, gp, gp, e))) return rc;
    if (!mr_file_exists(png) || !mr_file_exists(svg))
        return mr_errf(e, MR_EIO, "%s: gnuplot ran but did not write %s and %s", gp, png, svg);
    return MR_OK;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void mean_std(const double *x, int n, double *m, double *s)
{
    double a = 0, b = 0;
    int k = 0;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) { a += x[i]; k++; }
    *m = k ? a / k : NAN;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) b += (x[i] - *m) * (x[i] - *m);
    *s = k >= 2 ? sqrt(b / (k - 1)) : 0;
}

/* the i-th entry of an array when it is a number, else NaN */
static double item_num(const cJSON *a, int i)
{
    const cJSON *v = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, i) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* the fps protocol of the first run that has one, as a line */
static void protocol_line(const cJSON *rows, char *o, size_t n)
{
    snprintf(o, n, "fps protocol unknown");
    const cJSON *r, *run;
    cJSON_ArrayForEach(r, rows) {
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "speed"), "protocol");
            if (!cJSON_IsObject(p)) continue;
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(p, "input");
            const cJSON *core = cJSON_GetObjectItemCaseSensitive(p, "blas_core");
            const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(p, "cpu");
            /* the inference protocol (the plot's x axis); records written
             * before it was stored separately give the training one */
            char what[160];
            if (!isnan(num(p, "infer_batches")))
                snprintf(what, sizeof what, "%g warm-up + %g timed batches of %g (%g images)",
                         num(p, "infer_warmup"), num(p, "infer_batches"), num(p, "batch"), num(p, "infer_images"));
            else
                snprintf(what, sizeof what, "%g warm-up + %g timed iterations, batch %g", num(p, "warmup"),
                         num(p, "iters"), num(p, "batch"));
            double th = num(p, "threads");
            snprintf(o, n, "fps protocol: %s, %g thread%s, %s, %s, input %gx%g", what, th, th == 1 ? "" : "s",
                     cJSON_IsString(core) ? core->valuestring : "?", cJSON_IsString(cpu) ? cpu->valuestring : "?",
                     item_num(in, 0), item_num(in, 1));
            return;
        }
    }
}


static int open_dat(const mr_plot_opts *o, const char *name, mr_atomic_file *af, char *path, size_t n, mr_err *e)
{
    snprintf(path, n, "%s/%s.dat", o->out_dir, name);
    return mr_atomic_open(af, path, e);
}

/* one data block: the row's label, then per point x = x0 + k * dx, the
 * mean over the n seeds of v[k][] and its std (mean -1 when undefined, which
 * the plots do not draw) */
static void mean_block(FILE *f, int first, const cJSON *row, const char *cols, double (*v)[64], int npts, int n,
                       double x0, double dx, char *lab, size_t nlab)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(row, "label");
    gp_str(lab, nlab, cJSON_IsString(l) ? l->valuestring : "?");
    fprintf(f, "%s# %s (%d seeds): %s\n", first ? "" : "\n\n", lab, n, cols);
    for (int k = 0; k < npts; k++) {
        double m, sd;
        mean_std(v[k], n, &m, &sd);
        fprintf(f, "%.2f %.6g %.6g\n", x0 + dx * k, isnan(m) ? -1 : m, sd);
    }
}

/* the plot script: head (title, axis labels, palette), setup lines, then
 * the plot command in series (freed here); rendered as name.png / .svg;
 * *made (may be NULL) counts it */
static int draw(const mr_plot_opts *o, const char *name, const char *title, const char *xl, const char *yl,
                const char *setup, char *series, int *made, mr_err *e)
{
    mr_strbuf b = {0};
    FILE *f = open_memstream(&b.p, &b.n);
    if (!f) { free(series); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    gp_head(f, title, xl, yl);
    fprintf(f, "%s%s\n", setup, series ? series : "");
    fclose(f);
    free(series);
    int rc = render(o, name, b.p, e);
    free(b.p);
    if (!rc && made) (*made)++;
    return rc;
}

/* AP (first column) vs inference images/s */
static int plot_ap_speed(const cJSON *j, const char *id, const mr_plot_opts *o, int *made, mr_err *e)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    const cJSON *col0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "columns"), 0);
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(col0, "name");
    const char *cname = cJSON_IsString(cn) ? cn->valuestring : "AP";
    char name[64], path[4200];
    snprintf(name, sizeof name, "%s_ap_speed", id);
    mr_atomic_file af;
    int rc = open_dat(o, name, &af, path, sizeof path, e), npts = 0;
    if (rc) return rc;
    fprintf(af.f, "# one block per row: img/s  %s  img/s_std  %s_std  label  GFLOPs/image (-1: unknown)\n", cname,
            cname);
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(j, "table"), *pre = cJSON_GetObjectItemCaseSensitive(j, "preset");
    mr_strbuf plot = {0};
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        double fps[64];
        int n = 0, ih = 0, iw = 0;
        const cJSON *run;
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(run, "speed");
            if (n < 64) fps[n++] = num(sp, "infer_img_per_s");
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sp, "protocol"), "input");
            if (!ih && !isnan(item_num(in, 0)) && !isnan(item_num(in, 1))) {
                ih = (int)item_num(in, 0);
                iw = (int)item_num(in, 1);
            }
        }
        double fm, fs;
        mean_std(fps, n, &fm, &fs);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "stats"), cname);
        double am = num(st, "mean"), as = num(st, "std");
        if (isnan(fm) || isnan(am)) continue;
        char lab[200];
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "label");
        gp_str(lab, sizeof lab, cJSON_IsString(l) ? l->valuestring : "?");
        /* GFLOPs beside img/s: the row's model at its protocol's input */
        const cJSON *rn = cJSON_GetObjectItemCaseSensitive(r, "name");
        double gf = -1;
        if (o->row_gflops && ih > 0 && iw > 0 && cJSON_IsString(tid) && cJSON_IsString(rn))
            gf = o->row_gflops(o->gflops_ctx, tid->valuestring, rn->valuestring,
                               cJSON_IsString(pre) ? pre->valuestring : NULL, ih, iw);
        char key[260];
        if (gf >= 0) snprintf(key, sizeof key, "%s (%.3g GFLOPs)", lab, gf);
        else snprintf(key, sizeof key, "%s", lab);
        fprintf(af.f, "%s%.6g %.6g %.6g %.6g \"%s\" %.6g\n", npts ? "\n\n" : "", fm, am, fs, isnan(as) ? 0 : as, lab,
                gf);
        /* each row its own colour and point type, named in the key: text
         * labels next to the points overlap when two rows run at one speed */
        mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:2:3:4 with xyerrorbars pt %d ps 1.5 lc %d title \"%s\"",
               npts ? ", \\\n     " : "plot ", path, npts, 5 + 2 * (npts % 4), npts + 1, key);
        npts++;
    }
    if ((rc = mr_atomic_commit(&af, e))) { free(plot.p); return rc; }
    if (!npts) { free(plot.p); return MR_OK; }  /* no run has both speed and AP: nothing to draw */
    char proto[600], title[900], yl[64];
    protocol_line(rows, proto, sizeof proto);
    snprintf(title, sizeof title, "Table %s: %s vs inference speed (mean ± std over seeds; GFLOPs per image in the key)\n%s",
             id, cname, proto);
    snprintf(yl, sizeof yl, "%s (%%)", cname);
    return draw(o, name, title, "inference speed (images/s)", yl,
                "set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1\n", plot.p, made, e);
}

/* AP vs IoU threshold per row */
static int plot_ap_iou(const cJSON *j, const char *id, const mr_plot_opts *o, int *made, mr_err *e)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    const cJSON *col0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "columns"), 0);
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(col0, "iou_type");
    const char *iou_type = cJSON_IsString(it) ? it->valuestring : "segm";
    char name[64], path[4200];
    snprintf(name, sizeof name, "%s_ap_iou", id);
    mr_atomic_file af;
    int rc = open_dat(o, name, &af, path, sizeof path, e), nblocks = 0;
    if (rc) return rc;
    mr_strbuf plot = {0};
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        double v[10][64];
        int n = 0;
        const cJSON *run;
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "ap_per_iou"), iou_type);
            if (!cJSON_IsArray(a) || n >= 64) continue;
            for (int t = 0; t < 10; t++) {
                double x = num(cJSON_GetArrayItem(a, t), "AP");
                v[t][n] = x >= 0 ? 100 * x : NAN;
            }
            n++;
        }
        if (!n) continue;
        char lab[200];
        mean_block(af.f, !nblocks, r, "iou AP std", v, 10, n, 0.5, 0.05, lab, sizeof lab);
        mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:($2 < 0 ? 1/0 : $2):3 with yerrorlines lw 2 title \"%s\"",
               nblocks ? ", \\\n     " : "plot ", path, nblocks, lab);
        nblocks++;
    }
    if ((rc = mr_atomic_commit(&af, e))) { free(plot.p); return rc; }
    if (!nblocks) { free(plot.p); return MR_OK; }
    char title[300];
    /* keypoints are matched by OKS, not IoU (same 0.50:0.95 thresholds) */
    const char *thr = strcmp(iou_type, "keypoints") ? "IoU threshold" : "OKS threshold";
    snprintf(title, sizeof title, "Table %s: %s AP vs %s (mean ± std over seeds)", id, iou_type, thr);
    return draw(o, name, title, thr, "AP (%)", "set xrange [0.48:0.97]\nset xtics 0.5,0.05,0.95\nset yrange [0:*]\n",
                plot.p, made, e);
}

/* precision-recall at IoU 0.50 (w = 0) or 0.75 per row: each run's
 * category-mean curve (the table JSON's runs[].pr, from mrcnn ablate),
 * averaged over the row's seeds point by point */
static int plot_pr_rows(const cJSON *j, const char *id, int w, const mr_plot_opts *o, int *made, mr_err *e)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    const char *key = w ? "iou75" : "iou50";
    char name[64], path[4200], iou_type[32] = "", cat[64] = "";
    snprintf(name, sizeof name, "%s_pr%s", id, w ? "75" : "50");
    mr_atomic_file af;
    int rc = MR_OK, nblocks = 0, opened = 0;
    mr_strbuf plot = {0};
    const cJSON *r, *run;
    cJSON_ArrayForEach(r, rows) {
        double v[101][64];
        int n = 0;
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *pr = cJSON_GetObjectItemCaseSensitive(run, "pr");
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(pr, key);
            if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 101 || n >= 64) continue;
            const cJSON *it = cJSON_GetObjectItemCaseSensitive(pr, "iou_type");
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(pr, "category");
            if (!iou_type[0] && cJSON_IsString(it)) gp_str(iou_type, sizeof iou_type, it->valuestring);
            if (!cat[0] && cJSON_IsString(ct)) gp_str(cat, sizeof cat, ct->valuestring);
            for (int k = 0; k < 101; k++) {
                const cJSON *xi = cJSON_GetArrayItem(a, k);
                double x = cJSON_IsNumber(xi) ? xi->valuedouble : NAN;
                v[k][n] = x >= 0 ? x : NAN;
            }
            n++;
        }
        if (!n) continue;
        if (!opened) {
            if ((rc = open_dat(o, name, &af, path, sizeof path, e))) { free(plot.p); return rc; }
            opened = 1;
        }
        char lab[200];
        mean_block(af.f, !nblocks, r, "recall precision std", v, 101, n, 0.0, 0.01, lab, sizeof lab);
        mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:($2 < 0 ? 1/0 : $2) with lines lw 2 title \"%s\"",
               nblocks ? ", \\\n     " : "plot ", path, nblocks, lab);
        nblocks++;
    }
    if (!opened) return MR_OK;   /* no run holds curves (tables from before, fake runs) */
    if ((rc = mr_atomic_commit(&af, e))) { free(plot.p); return rc; }
    char title[400];
    const char *thr = strcmp(iou_type, "keypoints") ? "IoU" : "OKS";
    snprintf(title, sizeof title, "Table %s: %s%s%s precision-recall at %s %s\n"
             "area all, largest maxDets; mean over %s", id, iou_type, cat[0] ? ", category " : "", cat, thr,
             w ? "0.75" : "0.50", cat[0] ? "seeds" : "categories, then over seeds");
    return draw(o, name, title, "recall", "precision", "set xrange [0:1]\nset yrange [0:1.02]\n", plot.p, made, e);
}

/* training loss per run from RUN/train_log.jsonl */
static int plot_loss(const cJSON *j, const char *id, const mr_plot_opts *o, int *made, mr_err *e)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
    char name[64], path[4200];
    snprintf(name, sizeof name, "%s_loss", id);
    mr_atomic_file af;
    int rc = open_dat(o, name, &af, path, sizeof path, e), nblocks = 0;
    if (rc) return rc;
    mr_strbuf plot = {0};
    const cJSON *r, *run;
    cJSON_ArrayForEach(r, rows) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "label");
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *dir = cJSON_GetObjectItemCaseSensitive(run, "run_dir");
            if (!cJSON_IsString(dir)) continue;
            char lp[4200], *buf;
            size_t len;
            mr_err e2;
            snprintf(lp, sizeof lp, "%s/train_log.jsonl", dir->valuestring);
            if (mr_read_file(lp, &buf, &len, &e2)) continue;  /* a run without a log: no line */
            char lab[200];
            gp_str(lab, sizeof lab, cJSON_IsString(l) ? l->valuestring : "?");
            fprintf(af.f, "%s# %s seed %g: iter loss\n", nblocks ? "\n\n" : "", lab, num(run, "seed"));
            int lineno = 0;
            for (char *save = NULL, *ln = strtok_r(buf, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
                lineno++;
                cJSON *o2 = cJSON_Parse(ln);
                if (!o2) {
                    free(buf);
                    mr_atomic_abort(&af);
                    free(plot.p);
                    return mr_errf(e, MR_EUSER, "%s:%d: not valid JSON", lp, lineno);
                }
                double it = num(o2, "iter"), loss = num(o2, "loss");
                if (!isnan(it) && !isnan(loss)) fprintf(af.f, "%g %.6g\n", it, loss);
                cJSON_Delete(o2);
            }
            free(buf);
            mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:2 with lines lw 1.5 title \"%s, seed %g\"",
                   nblocks ? ", \\\n     " : "plot ", path, nblocks, lab, num(run, "seed"));
            nblocks++;
        }
    }
    /* no run's log here (runs trained elsewhere): no plot, and a plot
     * already drawn from them is left as it is, not emptied */
    if (!nblocks) { mr_atomic_abort(&af); free(plot.p); return MR_OK; }
    if ((rc = mr_atomic_commit(&af, e))) { free(plot.p); return rc; }
    char title[300];
    snprintf(title, sizeof title, "Table %s: training loss (sum of all terms) per run", id);
    return draw(o, name, title, "iteration", "loss", "", plot.p, made, e);
}

/* The fields the plots read, checked before anything is drawn. Absent is
 * fine (tables from before a field existed, runs without speed); present
 * but of the wrong type or out of range is an error naming its path, where
 * the plots would otherwise show a damaged or hand-edited table as gaps or
 * wild points. */
#define NUM_NULL 1   /* JSON null allowed (a statistic without values) */
#define NUM_M1 2     /* -1 allowed (pycocotools' "no ground truth") */
static int chk_num(const cJSON *v, double lo, double hi, int flags, const char *file, const char *path,
                   mr_err *e)
{
    if (!v || ((flags & NUM_NULL) && cJSON_IsNull(v))) return MR_OK;
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
        ((v->valuedouble >= lo && v->valuedouble <= hi) || ((flags & NUM_M1) && v->valuedouble == -1)))
        return MR_OK;
    return mr_errf(e, MR_EUSER, "%s: field %s: expected a number in [%g, %g]%s%s", file, path, lo, hi,
                   flags & NUM_M1 ? " or -1" : "", flags & NUM_NULL ? " or null" : "");
}

static int chk_curve(const cJSON *a, int len, double lo, double hi, int flags, const char *file, const char *path,
                     mr_err *e)
{
    if (!a) return MR_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != len)
        return mr_errf(e, MR_EUSER, "%s: field %s: expected an array of %d numbers", file, path, len);
    char p[200];
    for (int k = 0; k < len; k++) {
        snprintf(p, sizeof p, "%s[%d]", path, k);
        int rc = chk_num(cJSON_GetArrayItem(a, k), lo, hi, flags, file, p, e);
        if (rc) return rc;
    }
    return MR_OK;
}

static int check_table(const cJSON *j, const char *file, mr_err *e)
{
    char p[160];
    int rc = MR_OK, i = 0;
    const cJSON *r, *run, *st;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "rows")) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "label");
        if (!cJSON_IsObject(r) || (l && !cJSON_IsString(l)))
            return mr_errf(e, MR_EUSER, "%s: field rows[%d]: expected an object with a string \"label\"", file, i);
        cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(r, "stats")) {
            snprintf(p, sizeof p, "rows[%d].stats.%.40s.mean", i, st->string ? st->string : "?");
            if ((rc = chk_num(cJSON_GetObjectItemCaseSensitive(st, "mean"), 0, 100, NUM_NULL, file, p, e))) return rc;
            snprintf(p, sizeof p, "rows[%d].stats.%.40s.std", i, st->string ? st->string : "?");
            if ((rc = chk_num(cJSON_GetObjectItemCaseSensitive(st, "std"), 0, 100, NUM_NULL, file, p, e))) return rc;
        }
        int k = 0;
        cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
            const cJSON *dir = cJSON_GetObjectItemCaseSensitive(run, "run_dir");
            if (!cJSON_IsObject(run) || (dir && !cJSON_IsString(dir)))
                return mr_errf(e, MR_EUSER, "%s: field rows[%d].runs[%d]: expected an object with a string \"run_dir\"",
                               file, i, k);
            snprintf(p, sizeof p, "rows[%d].runs[%d].seed", i, k);
            if ((rc = chk_num(cJSON_GetObjectItemCaseSensitive(run, "seed"), 0, 9.007199254740992e15, 0, file, p, e)))
                return rc;
            snprintf(p, sizeof p, "rows[%d].runs[%d].speed.infer_img_per_s", i, k);
            const cJSON *sp = cJSON_GetObjectItemCaseSensitive(run, "speed");
            if ((rc = chk_num(cJSON_GetObjectItemCaseSensitive(sp, "infer_img_per_s"), 1e-9, 1e9, 0, file, p, e)))
                return rc;
            const cJSON *api = cJSON_GetObjectItemCaseSensitive(run, "ap_per_iou"), *a;
            cJSON_ArrayForEach(a, api) {
                if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 10)
                    return mr_errf(e, MR_EUSER, "%s: field rows[%d].runs[%d].ap_per_iou.%.40s: expected an array of 10 "
                                   "{\"iou\", \"AP\"}", file, i, k, a->string ? a->string : "?");
                for (int t = 0; t < 10; t++) {
                    snprintf(p, sizeof p, "rows[%d].runs[%d].ap_per_iou.%.40s[%d].AP", i, k, a->string, t);
                    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, t), "AP");
                    if (!ap) return mr_errf(e, MR_EUSER, "%s: field %s: missing", file, p);
                    if ((rc = chk_num(ap, 0, 1, NUM_M1, file, p, e))) return rc;
                    /* the plot puts entry t at 0.50 + 0.05 t */
                    const cJSON *th = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, t), "iou");
                    if (th && !(cJSON_IsNumber(th) && fabs(th->valuedouble - (0.5 + 0.05 * t)) < 1e-9))
                        return mr_errf(e, MR_EUSER, "%s: field rows[%d].runs[%d].ap_per_iou.%.40s[%d].iou: expected %.2f",
                                       file, i, k, a->string, t, 0.5 + 0.05 * t);
                }
            }
            const cJSON *pr = cJSON_GetObjectItemCaseSensitive(run, "pr");
            static const char *const curves[3] = {"recall", "iou50", "iou75"};
            for (int c = 0; pr && c < 3; c++) {
                snprintf(p, sizeof p, "rows[%d].runs[%d].pr.%s", i, k, curves[c]);
                if ((rc = chk_curve(cJSON_GetObjectItemCaseSensitive(pr, curves[c]), 101, 0, 1, c ? NUM_M1 : 0, file,
                                    p, e)))
                    return rc;
            }
            k++;
        }
        i++;
    }
    return MR_OK;
}

int mr_plot_table(const char *table_json, const mr_plot_opts *o, int *nplots, mr_err *e)
{
    cJSON *j = NULL;
    int made = 0;
    if (nplots) *nplots = 0;
    int rc = load_json(table_json, &j, e);
    if (rc) return rc;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "table");
    if (!cJSON_IsString(id) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "rows")) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "columns"))) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: not an ablation table JSON (expected \"table\", \"columns\" and \"rows\")",
                       table_json);
    }
    if ((rc = check_table(j, table_json, e))) { cJSON_Delete(j); return rc; }
    char tid[16];
    snprintf(tid, sizeof tid, "%s", id->valuestring);
    for (char *c = tid; *c; c++) if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z'))) *c = '_';
    if (!(rc = mr_mkdir_p(o->out_dir, e)) && !(rc = plot_ap_speed(j, tid, o, &made, e)) &&
        !(rc = plot_ap_iou(j, tid, o, &made, e)) && !(rc = plot_pr_rows(j, tid, 0, o, &made, e)) &&
        !(rc = plot_pr_rows(j, tid, 1, o, &made, e)))
        rc = plot_loss(j, tid, o, &made, e);
    cJSON_Delete(j);
    if (nplots) *nplots = made;
    return rc;
}

/* gnuplot reads the curves straight from the file, by block index, and
 * skips what it cannot parse: check first that the file is what mrcnn eval
 * --pr-curves writes (header k before the k-th block, blocks two blank
 * lines apart, data lines of three numbers in range), so a damaged file is
 * an error naming its line rather than a wrong or gappy curve. */
static int check_pr_file(const char *buf, const char *path, mr_err *e)
{
    int lineno = 0, blocks = 0, blank = 2;
    for (const char *p = buf; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(l < 511 ? l : 511), p);
        lineno++;
        p += l + (nl ? 1 : 0);
        if (l == 0) { blank++; continue; }
        if (!strncmp(line, "# index ", 8)) {
            int idx;
            if (sscanf(line, "# index %d:", &idx) != 1 || idx != blocks)
                return mr_errf(e, MR_EUSER, "%s:%d: expected '# index %d: ...' (blocks numbered in order)", path, lineno, blocks);
            if (blank < 2)
                return mr_errf(e, MR_EUSER, "%s:%d: expected two blank lines before block %d", path, lineno, blocks);
            blocks++;
        } else if (line[0] != '#') {
            double r, pr, sc;
            int n = 0;
            if (!blocks)
                return mr_errf(e, MR_EUSER, "%s:%d: data before the first '# index' header", path, lineno);
            if (l > 511 || sscanf(line, "%lf %lf %lf%n", &r, &pr, &sc, &n) != 3 || line[n] != '\0' ||
                !(r >= 0 && r <= 1) || !(pr == -1 || (pr >= 0 && pr <= 1)) || !isfinite(sc))
                return mr_errf(e, MR_EUSER, "%s:%d: expected 'recall precision score': recall in [0, 1], precision "
                               "in [0, 1] or -1, a finite score", path, lineno);
            blank = 0;   /* comments do not count as records for gnuplot */
        }
    }
    return MR_OK;
}

int mr_plot_pr(const char *pr_dat, const char *name, const mr_plot_opts *o, mr_err *e)
{
    char *buf;
    size_t len;
    int rc = mr_read_file(pr_dat, &buf, &len, e);
    if (rc) return rc;
    if ((rc = mr_mkdir_p(o->out_dir, e))) { free(buf); return rc; }
    if (strchr(pr_dat, '"')) { free(buf); return mr_errf(e, MR_EUSER, "%s: quotes in the path", pr_dat); }
    if ((rc = check_pr_file(buf, pr_dat, e))) { free(buf); return rc; }
    static const double ious[2] = {0.50, 0.75};
    for (int w = 0; w < 2; w++) {
        mr_strbuf plot = {0};
        int found = 0, lineno = 0;
        const char *p = buf;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            lineno++;
            if (!strncmp(p, "# index ", 8)) {
                int idx;
                long long cat;
                char cname[128];
                double iou;
                char line[512];
                snprintf(line, sizeof line, "%.*s", (int)(l < 511 ? l : 511), p);
                if (sscanf(line, "# index %d: category %lld \"%127[^\"]\" iou %lf", &idx, &cat, cname, &iou) != 4) {
                    free(buf);
                    free(plot.p);
                    return mr_errf(e, MR_EUSER, "%s:%d: expected '# index N: category ID \"NAME\" iou X' "
                                                "(mrcnn eval --pr-curves format)", pr_dat, lineno);
                }
                if (fabs(iou - ious[w]) < 1e-6) {
                    char lab[200];
                    gp_str(lab, sizeof lab, cname);
                    mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:($2 < 0 ? 1/0 : $2) with lines lw 2 title \"%s\"",
                           found ? ", \\\n     " : "plot ", pr_dat, idx, lab);
                    found++;
                }
            }
            p += l + (nl ? 1 : 0);
        }
        if (!found) {
            free(buf);
            free(plot.p);
            return mr_errf(e, MR_EUSER, "%s: no curve at IoU %.2f (expected '# index' blocks from mrcnn eval --pr-curves)",
                           pr_dat, ious[w]);
        }
        char nm[200], title[300];
        snprintf(nm, sizeof nm, "%s_pr%02d", name, (int)lround(ious[w] * 100));
        snprintf(title, sizeof title, "%s: precision vs recall per category at IoU %.2f", name, ious[w]);
        rc = draw(o, nm, title, "recall", "precision", "set xrange [0:1]\nset yrange [0:1.02]\n", plot.p, NULL, e);
        if (rc) break;
    }
    free(buf);
    return rc;
}

/* ---- the results store over commits ---- */

/* a record's config as text without its comment, name and seed: two
 * records with the same text trained the same configuration, seeds apart
 * (caller frees) */
static char *config_text(const cJSON *rec)
{
    cJSON *c = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rec, "config"), 1);
    cJSON_DeleteItemFromObjectCaseSensitive(c, "comment");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "seed");
    char *t = c ? cJSON_PrintUnformatted(c) : NULL;
    cJSON_Delete(c);
    return t ? t : strdup("");
}

typedef struct hist_series {
    const char *name;        /* config_name */
    char *config;            /* config_text */
    int version, nversions;  /* 1-based among the name's configs */
    int ncommits;            /* commits with a value */
} hist_series;

/* one record's value in a history plot: series, commit index, record index */
typedef struct hist_pt { int s, k, i; double v; } hist_pt;

static int cmp_hist_pt(const void *a, const void *b)
{
    const hist_pt *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    if (x->k != y->k) return x->k < y->k ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int mr_plot_history(cJSON *const *recs, const int *lines, int n, const char *store_path,
                    const char *const *names, int nnames, const mr_plot_opts *o, int *nplots, mr_err *e)
{
    static const char *const ious[3] = {"bbox", "segm", "keypoints"};
    int made = 0, rc = MR_OK;
    if (nplots) *nplots = 0;
    /* commits in order of first appearance ("+": a dirty tree) */
    char (*commit)[16] = calloc((size_t)(n ? n : 1), sizeof *commit);
    int *ci = calloc((size_t)(n ? n : 1), sizeof *ci), *si = calloc((size_t)(n ? n : 1), sizeof *si);
    hist_series *ser = calloc((size_t)(n ? n : 1), sizeof *ser);
    int nc = 0, ns = 0;
    if (!commit || !ci || !si || !ser) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
    if ((rc = mr_mkdir_p(o->out_dir, e))) goto out;
    for (int i = 0; i < n; i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(recs[i], "commit");
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(recs[i], "config_name");
        if (!cJSON_IsString(c) || !cJSON_IsString(nm)) {
            rc = mr_errf(e, MR_EUSER, "%s:%d: fields 'commit' and 'config_name': expected strings", store_path, lines[i]);
            goto out;
        }
        char lab[16];
        snprintf(lab, sizeof lab, "%.7s%s", c->valuestring,
                 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(recs[i], "dirty")) ? "+" : "");
        int k = 0;
        while (k < nc && strcmp(commit[k], lab)) k++;
        if (k == nc) snprintf(commit[nc++], sizeof commit[0], "%s", lab);
        ci[i] = k;
        char *cfg = config_text(recs[i]);
        int s = 0;
        while (s < ns && (strcmp(ser[s].name, nm->valuestring) || strcmp(ser[s].config, cfg))) s++;
        if (s == ns) {
            ser[ns].name = nm->valuestring;
            ser[ns].config = cfg;
            for (int q = 0; q < ns; q++) ser[ns].version += !strcmp(ser[q].name, nm->valuestring);
            ser[ns].version++;
            ns++;
        } else free(cfg);
        si[i] = s;
    }
    for (int s = 0; s < ns; s++)
        for (int q = 0; q < ns; q++) ser[s].nversions += !strcmp(ser[q].name, ser[s].name);
    for (int k = 0; k < nnames; k++) {
        int found = 0;
        for (int s = 0; s < ns; s++) found |= !strcmp(ser[s].name, names[k]);
        if (!found) { rc = mr_errf(e, MR_EUSER, "%s: no record of config '%s'", store_path, names[k]); goto out; }
    }
    hist_pt *pt = calloc((size_t)(n ? n : 1), sizeof *pt);
    double *vals = calloc((size_t)(n ? n : 1), sizeof *vals);
    if (!pt || !vals) { free(pt); free(vals); rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
    for (int t = 0; t < 3 && !rc; t++) {
        /* the records' AP (points) by series, then commit, then store order:
         * a group of equal (series, commit) is one point, its seeds' mean */
        int np = 0;
        for (int i = 0; i < n && !rc; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(recs[i], "metrics");
            const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, ious[t]);
            const cJSON *ap = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "metrics"), "AP");
            if (!ap) ap = cJSON_GetObjectItemCaseSensitive(ev, "AP");   /* summary form */
            if (!ap) continue;
            if (!cJSON_IsNumber(ap) || !mr_eval_valid_metric(ap->valuedouble)) {
                rc = mr_errf(e, MR_EUSER, "%s:%d: field metrics.%s AP: expected a number in [0, 1] or -1", store_path,
                             lines[i], ious[t]);
                break;
            }
            if (ap->valuedouble >= 0) pt[np++] = (hist_pt){si[i], ci[i], i, 100 * ap->valuedouble};
        }
        if (rc) break;
        qsort(pt, (size_t)np, sizeof *pt, cmp_hist_pt);
        for (int q = 0; q < ns; q++) ser[q].ncommits = 0;
        for (int q = 0; q < np; q++)
            if (!q || pt[q].s != pt[q - 1].s || pt[q].k != pt[q - 1].k) ser[pt[q].s].ncommits++;
        char name[64], path[4200];
        snprintf(name, sizeof name, "store_%s_ap", ious[t]);
        mr_atomic_file af;
        mr_strbuf plot = {0};
        int nb = 0, opened = 0;
        for (int s = 0; s < ns && !rc; s++) {
            int want = 0;
            for (int k = 0; k < nnames; k++) want |= !strcmp(ser[s].name, names[k]);
            if (!nnames) want = ser[s].ncommits >= 2;   /* a history needs two commits */
            if (!want || !ser[s].ncommits) continue;
            if (!opened && (rc = open_dat(o, name, &af, path, sizeof path, e))) break;
            opened = 1;
            char lab[200];
            if (ser[s].nversions > 1) {
                char t2[160];
                gp_str(t2, sizeof t2, ser[s].name);
                snprintf(lab, sizeof lab, "%s (config %d of %d)", t2, ser[s].version, ser[s].nversions);
            } else gp_str(lab, sizeof lab, ser[s].name);
            fprintf(af.f, "%s# %s: commit_index AP std seeds\n", nb ? "\n\n" : "", lab);
            for (int q = 0; q < np;) {
                if (pt[q].s != s) { q++; continue; }
                int c = 0, k = pt[q].k;
                for (; q < np && pt[q].s == s && pt[q].k == k; q++) vals[c++] = pt[q].v;
                double mu, sd;
                mean_std(vals, c, &mu, &sd);
                fprintf(af.f, "%d %.6g %.6g %d\n", k, mu, c > 1 ? sd : 0, c);
            }
            mr_strbuf_add(&plot, "%s\"%s\" index %d using 1:2:3 with yerrorlines lw 2 pt %d title \"%s\"",
                   nb ? ", \\\n     " : "plot ", path, nb, 5 + 2 * (nb % 4), lab);
            nb++;
        }
        if (!opened) { free(plot.p); continue; }
        if (rc) { mr_atomic_abort(&af); free(plot.p); break; }
        if ((rc = mr_atomic_commit(&af, e))) { free(plot.p); break; }
        mr_strbuf setup = {0};
        mr_strbuf_add(&setup, "set xrange [-0.5:%d.5]\nset xtics rotate by 45 right (", nc - 1);
        for (int k = 0; k < nc; k++) mr_strbuf_add(&setup, "%s\"%s\" %d", k ? ", " : "", commit[k], k);
        mr_strbuf_add(&setup, ")\nset yrange [0:*]\nset bmargin 6\n");
        char title[400];
        snprintf(title, sizeof title, "Results store: %s AP per commit (mean ± std over seeds)\n"
                 "%d records, %d commits in store order; a config whose settings changed is one series per version",
                 ious[t], n, nc);
        rc = draw(o, name, title, "commit (+: uncommitted changes)", "AP (%)", setup.p ? setup.p : "", plot.p, &made, e);
        free(setup.p);
    }
    free(pt);
    free(vals);
out:
    if (ser) for (int s = 0; s < ns; s++) free(ser[s].config);
    free(ser);
    free(commit);
    free(ci);
    free(si);
    if (nplots) *nplots = made;
    return rc;
}
