/*
 * eval_write.c — the evaluator's files (cocoeval.h): the EVAL JSON of
 * docs/run_layout.md, per-category tables as CSV and Markdown, PR curves as
 * gnuplot data, and the mean PR curve the plots draw. Everything here reads
 * a finished mr_eval; writes are atomic (core/fileio.h).
 */
#include "eval/cocoeval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fileio.h"
#include "coco/json_fast.h"

static void jnum(FILE *f, double v)
{
    if (v == -1) fputs("-1", f);
    else fprintf(f, "%.17g", v);
}

static const char *iou_name(int t) { return t == MR_IOU_BBOX ? "bbox" : t == MR_IOU_SEGM ? "segm" : "keypoints"; }

int mr_eval_write_json(const mr_eval *ev, const char *path, mr_err *e)
{
    const mr_eval_params *p = &ev->p;
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    fprintf(f, "{\"iouType\": \"%s\", \"strict\": %s,\n \"params\": {\"iouThrs\": [", iou_name(p->iou_type), p->strict ? "true" : "false");
    for (int t = 0; t < p->T; t++) { if (t) fputs(", ", f); jnum(f, p->iou_thrs[t]); }
    fputs("], \"maxDets\": [", f);
    for (int m = 0; m < p->M; m++) fprintf(f, "%s%d", m ? ", " : "", p->max_dets[m]);
    fputs("], \"areaRng\": [", f);
    for (int a = 0; a < p->A; a++) { fputs(a ? ", [" : "[", f); jnum(f, p->area_rng[a][0]); fputs(", ", f); jnum(f, p->area_rng[a][1]); fputc(']', f); }
    fputs("], \"areaRngLbl\": [", f);
    for (int a = 0; a < p->A; a++) { if (a) fputs(", ", f); mr_jw_str(f, p->area_lbl[a]); }
    fprintf(f, "], \"useCats\": %d, \"catIds\": [", p->use_cats ? 1 : 0);
    for (size_t k = 0; k < ev->K0; k++) fprintf(f, "%s%lld", k ? ", " : "", (long long)ev->cat_ids[k]);
    fprintf(f, "], \"imgIds\": %zu},\n \"stats\": [", ev->I);
    for (int i = 0; i < ev->nstats; i++) { if (i) fputs(", ", f); jnum(f, ev->stats[i]); }
    fputs("], \"stats_names\": [", f);
    for (int i = 0; i < ev->nstats; i++) { if (i) fputs(", ", f); mr_jw_str(f, ev->stats_names[i]); }
    fputs("],\n \"metrics\": {", f);
    for (int i = 0; i < ev->nstats; i++) { fprintf(f, "%s\"%s\": ", i ? ", " : "", ev->stats_names[i]); jnum(f, ev->stats[i]); }
    fputs("},\n \"ap_per_iou\": [", f);
    for (int t = 0; t < p->T; t++) {
        fprintf(f, "%s{\"iou\": ", t ? ", " : "");
        jnum(f, p->iou_thrs[t]);
        fputs(", \"AP\": ", f);
        jnum(f, mr_eval_ap_at(ev, t));
        fputc('}', f);
    }
    fputs("],\n \"per_category\": [", f);
    for (size_t k = 0; k < ev->ncats; k++) {
        const mr_cat_result *cr = &ev->cats[k];
        fprintf(f, "%s\n  {\"id\": %lld, \"name\": ", k ? "," : "", (long long)cr->id);
        mr_jw_str(f, cr->name);
        fputs(", \"AP\": ", f); jnum(f, cr->ap);
        fputs(", \"AP50\": ", f); jnum(f, cr->ap50);
        fputs(", \"AP75\": ", f); jnum(f, cr->ap75);
        fputs(", \"AR100\": ", f); jnum(f, cr->ar);
        fputs(", \"f1_best\": ", f); jnum(f, cr->f1_best);
        fputs(", \"f1_best_score\": ", f); jnum(f, cr->f1_best_score);
        fputc('}', f);
    }
    fputs("]}\n", f);
    return mr_atomic_commit(&af, e);
}

static void fmt_v(char *b, size_t n, double v)
{
    if (v == -1) snprintf(b, n, "-1");
    else snprintf(b, n, "%.6f", v);
}

int mr_eval_write_csv(const mr_eval *ev, const char *path, mr_err *e)
{
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    fprintf(f, "id,name,AP,AP50,AP75,AR%d,f1_best,f1_best_score\n", ev->p.max_dets[ev->p.M - 1]);
    for (size_t k = 0; k < ev->ncats; k++) {
        const mr_cat_result *cr = &ev->cats[k];
        char v[6][32];
        fmt_v(v[0], 32, cr->ap); fmt_v(v[1], 32, cr->ap50); fmt_v(v[2], 32, cr->ap75);
        fmt_v(v[3], 32, cr->ar); fmt_v(v[4], 32, cr->f1_best); fmt_v(v[5], 32, cr->f1_best_score);
        fprintf(f, "%lld,", (long long)cr->id);
        int q = strpbrk(cr->name, ",\"\n") != NULL;
        if (q) {
            fputc('"', f);
            for (const char *s = cr->name; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
            fputc('"', f);
        } else fputs(cr->name, f);
        fprintf(f, ",%s,%s,%s,%s,%s,%s\n", v[0], v[1], v[2], v[3], v[4], v[5]);
    }
    return mr_atomic_commit(&af, e);
}

int mr_eval_write_markdown(const mr_eval *ev, const char *path, mr_err *e)
{
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    int md = ev->p.max_dets[ev->p.M - 1];
    fprintf(f, "| id | category | AP | AP50 | AP75 | AR%d | F1 best | at score |\n", md);
    fputs("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n", f);
    for (size_t k = 0; k < ev->ncats; k++) {
        const mr_cat_result *cr = &ev->cats[k];
        double v[6] = {cr->ap, cr->ap50, cr->ap75, cr->ar, cr->f1_best, cr->f1_best_score};
        fprintf(f, "| %lld | ", (long long)cr->id);
        for (const char *s = cr->name; *s; s++) { if (*s == '|') fputc('\\', f); fputc(*s, f); }
        fputs(" |", f);
        for (int i = 0; i < 6; i++) {
            if (v[i] == -1) fputs(" – |", f);
            else if (i < 5) fprintf(f, " %.1f |", 100 * v[i]);
            else fprintf(f, " %.3f |", v[i]);
        }
        fputc('\n', f);
    }
    return mr_atomic_commit(&af, e);
}

int mr_eval_write_pr(const mr_eval *ev, const char *path, mr_err *e)
{
    const mr_eval_params *p = &ev->p;
    if (!ev->scores)
        return mr_errf(e, MR_EUSAGE, "%s: PR curves need the scores (an evaluation run without no_scores)", path);
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    int T = p->T, R = p->R, K = ev->K, M = p->M;
    fprintf(f, "# mrcnn eval PR curves: %s, area %s, maxDets %d\n# one gnuplot index per (category, IoU); columns: recall precision score\n",
            iou_name(p->iou_type), p->area_lbl[0], p->max_dets[M - 1]);
    int idx = 0;
    for (int k = 0; k < K; k++)
        for (int t = 0; t < T; t++) {
            fprintf(f, "%s# index %d: category %lld \"%s\" iou %.2f\n", idx ? "\n\n" : "", idx,
                    p->use_cats ? (long long)ev->cat_ids[k] : -1LL, p->use_cats ? ev->cats[k].name : "all", p->iou_thrs[t]);
            for (int r = 0; r < R; r++) {
                size_t o = mr_eval_pr_at(ev, t, r, k, 0, M - 1);
                fprintf(f, "%.2f %.6f %.6f\n", p->rec_thrs[r], ev->precision[o], ev->scores[o]);
            }
            idx++;
        }
    return mr_atomic_commit(&af, e);
}

int mr_eval_mean_pr(const mr_eval *ev, double iou, double *prec)
{
    const mr_eval_params *p = &ev->p;
    int T = p->T, R = p->R, K = ev->K, M = p->M, t = -1;
    for (int i = 0; i < T; i++)
        if (fabs(p->iou_thrs[i] - iou) < 1e-6) t = i;
    if (t < 0) return -1;
    for (int r = 0; r < R; r++) {
        double sum = 0;
        int n = 0;
        for (int k = 0; k < K; k++) {
            double v = ev->precision[mr_eval_pr_at(ev, t, r, k, 0, M - 1)];
            if (v > -1) { sum += v; n++; }
        }
        prec[r] = n ? sum / n : -1;
    }
    return R;
}
