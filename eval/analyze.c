/*
 * analyze.c — the false-positive breakdown of MatlabAPI CocoEval.analyze()
 * (see analyze.h) as 1 + 2K runs of the evaluator: one at IoU .75/.5/.1
 * over every category (C75, C50, Loc), then per category two runs at IoU .1
 * with only that category's detections against a relabelled ground truth
 * (Sim: its supercategory's, Oth: everyone's), given to the evaluator as
 * per-annotation overrides (mr_eval_params.gt_cat / gt_ignore) instead of
 * copies of the ground truth.
 */
#include "eval/analyze.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/json.h"

const char *const MR_ANALYZE_NAMES[MR_AN_N] = {"C75", "C50", "Loc", "Sim", "Oth", "BG", "FN"};

int mr_analyze_mode(const char *name)
{
    if (!strcmp(name, "matlab")) return MR_ANALYZE_MATLAB;
    if (!strcmp(name, "crowd")) return MR_ANALYZE_CROWD;
    return -1;
}

static size_t ps_at(const mr_analyze *an, int c, int r, size_t k, int a)
{
    return (((size_t)c * an->R + r) * an->K + k) * an->A + a;
}

static size_t gps_at(const mr_analyze *an, size_t g, int c, int r, int a)
{
    return (((g * MR_AN_N + (size_t)c) * an->R + r) * an->A + a);
}

/* precision[t][r][k][a][m = 0] of a run with one maxDets, -1 -> 0 */
static double prec0(const mr_eval *ev, int t, int r, int k, int a)
{
    size_t i = (((size_t)t * ev->p.R + r) * ev->K + k) * ev->p.A + a;
    double v = ev->precision[i * ev->p.M];
    return v < 0 ? 0 : v;
}

void mr_analyze_free(mr_analyze *an)
{
    free(an->cat_ids);
    free(an->names);
    free(an->supers);
    free(an->ps);
    free(an->group_names);
    free(an->group_size);
    free(an->gps);
    memset(an, 0, sizeof *an);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int mr_analyze_check(const mr_coco *gt, const mr_eval_params *base, mr_err *e)
{
    if (base->iou_type == MR_IOU_KEYPOINTS)
        return mr_errf(e, MR_EUSER, "the error analysis (C75, C50, Loc, Sim, Oth, BG, FN) supports bbox and segm "
                                    "only: it removes confusions between categories, and keypoints have one (person)");
    if (!base->use_cats)
        return mr_errf(e, MR_EUSER, "the error analysis needs categories (use_cats 1): its Sim and Oth steps "
                                    "remove confusions between them");
    for (size_t i = 0; i < gt->num_cats; i++)
        if (!gt->cats[i].supercategory || !*gt->cats[i].supercategory)
            return mr_errf(e, MR_EUSER, "%s: categories[%zu]: field 'supercategory': missing or empty (category %lld); "
                           "the error analysis groups categories by it (Sim step)", gt->path, i,
                           (long long)gt->cats[i].id);
    return MR_OK;
}

int mr_analyze_run(mr_analyze *an, const mr_coco *gt, const mr_coco *dt, const mr_eval_params *base, int mode,
                   mr_err *e)
{
    memset(an, 0, sizeof *an);
    int rc = mr_analyze_check(gt, base, e);
    if (rc) return rc;
    if (mode != MR_ANALYZE_MATLAB && mode != MR_ANALYZE_CROWD)
        return mr_errf(e, MR_EUSAGE, "analysis mode %d: expected matlab or crowd", mode);
    an->mode = mode;
    an->iou_type = base->iou_type;
    an->strict = base->strict;

    mr_eval_params p = *base;
    p.T = 3;
    p.iou_thrs[0] = .75; p.iou_thrs[1] = .5; p.iou_thrs[2] = .1;
    p.M = 1;
    p.max_dets[0] = 100;
    p.gt_cat = NULL;
    p.gt_ignore = NULL;
    p.gt_order = NULL;
    mr_eval ev;
    rc = mr_eval_run(&ev, gt, dt, &p, e);
    if (rc) return rc;
    an->R = p.R;
    an->A = p.A;
    memcpy(an->rec_thrs, p.rec_thrs, sizeof p.rec_thrs);
    memcpy(an->area_lbl, p.area_lbl, sizeof p.area_lbl);
    memcpy(an->area_rng, p.area_rng, sizeof p.area_rng);
    an->I = ev.I;
    an->K = ev.K0;
    size_t K = an->K;
    int R = an->R, A = an->A;
    an->cat_ids = malloc((K + 1) * sizeof(int64_t));
    an->names = calloc(K + 1, sizeof(char *));
    an->supers = calloc(K + 1, sizeof(char *));
    an->ps = calloc((size_t)MR_AN_N * R * (K + 1) * A, sizeof(double));
    int32_t *gcat = malloc((gt->num_anns + 1) * sizeof(int32_t));
    uint8_t *gig = malloc(gt->num_anns + 1);
    long *cidx = malloc((K + 1) * sizeof(long));
    /* matlab mode: a cell's ground truths in analyze()'s order, that of
     * MatlabAPI's useCats=0 (annotations sorted by image, then category id,
     * stable): by their own category's id, then file order. crowd mode:
     * the python ports' relabelled file order. */
    uint64_t *gord = mode == MR_ANALYZE_MATLAB ? malloc((gt->num_anns + 1) * sizeof(uint64_t)) : NULL;
    size_t *crank = mode == MR_ANALYZE_MATLAB ? calloc(gt->num_cats + 1, sizeof(size_t)) : NULL;
    if (mode == MR_ANALYZE_MATLAB && (!gord || !crank)) {
        free(gord); free(crank);
        gord = NULL; crank = NULL;
        free(cidx); cidx = NULL;   /* reported below */
    }
    if (gord) {
        for (size_t i = 0; i < gt->num_cats; i++)
            for (size_t j = 0; j < gt->num_cats; j++) crank[i] += gt->cats[j].id < gt->cats[i].id;
        for (size_t i = 0; i < gt->num_anns; i++)
            gord[i] = (uint64_t)crank[gt->anns[i].category_index] * (uint64_t)(gt->num_anns + 1) + i;
    }
    free(crank);
    if (!an->cat_ids || !an->names || !an->supers || !an->ps || !gcat || !gig || !cidx) {
        rc = mr_errf(e, MR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < K; k++) {
        an->cat_ids[k] = ev.cat_ids[k];
        cidx[k] = mr_coco_cat_index(gt, ev.cat_ids[k]);
        an->names[k] = cidx[k] >= 0 ? gt->cats[cidx[k]].name : "";
        an->supers[k] = cidx[k] >= 0 ? gt->cats[cidx[k]].supercategory : "";
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < R; r++)
                for (int a = 0; a < A; a++) an->ps[ps_at(an, c, r, k, a)] = prec0(&ev, c, r, (int)k, a);
    }
    mr_eval_free(&ev);

    /* Sim and Oth: the category's detections against its own ground truth
     * plus the others', relabelled and ignored */
    for (size_t k = 0; k < K && !rc; k++) {
        long ci = cidx[k];
        for (int step = MR_AN_SIM; step <= MR_AN_OTH && !rc; step++) {
            if (ci < 0) break;   /* an id the ground truth lacks: no ground truth, precision 0 */
            for (size_t i = 0; i < gt->num_anns; i++) {
                int32_t ca = gt->anns[i].category_index;
                if (ca == ci) { gcat[i] = (int32_t)ci; gig[i] = 0; }
                else if (step == MR_AN_OTH || !strcmp(gt->cats[ca].supercategory, gt->cats[ci].supercategory)) {
                    gcat[i] = (int32_t)ci;
                    gig[i] = mode == MR_ANALYZE_CROWD ? 2 : 1;
                } else { gcat[i] = -1; gig[i] = 0; }
            }
            mr_eval_params q = p;
            q.T = 1;
            q.iou_thrs[0] = .1;
            q.cat_ids = &an->cat_ids[k];
            q.num_cat_ids = 1;
            q.gt_cat = gcat;
            q.gt_ignore = gig;
            q.gt_order = gord;
            mr_eval ev1;
            rc = mr_eval_run(&ev1, gt, dt, &q, e);
            if (rc) break;
            for (int r = 0; r < R; r++)
                for (int a = 0; a < A; a++) an->ps[ps_at(an, step, r, k, a)] = prec0(&ev1, 0, r, 0, a);
            mr_eval_free(&ev1);
        }
        for (int r = 0; r < R; r++)
            for (int a = 0; a < A; a++) {
                an->ps[ps_at(an, MR_AN_BG, r, k, a)] = an->ps[ps_at(an, MR_AN_OTH, r, k, a)] > 0;
                an->ps[ps_at(an, MR_AN_FN, r, k, a)] = 1;
            }
    }
    if (rc) goto out;

    /* groups: all, then each supercategory (sorted, as Matlab's unique) */
    an->group_names = calloc(K + 2, sizeof(char *));
    an->group_size = calloc(K + 2, sizeof(size_t));
    if (!an->group_names || !an->group_size) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
    const char **sup = an->group_names + 1;
    size_t ns = 0;
    for (size_t k = 0; k < K; k++) sup[ns++] = an->supers[k];
    qsort(sup, ns, sizeof *sup, cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < ns; i++) if (!nu || strcmp(sup[i], sup[nu - 1])) sup[nu++] = sup[i];
    an->group_names[0] = "all";
    an->G = K ? 1 + nu : 1;
    an->gps = calloc(an->G * MR_AN_N * (size_t)R * A + 1, sizeof(double));
    if (!an->gps) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto out; }
    for (size_t g = 0; g < an->G; g++) {
        size_t n = 0;
        for (size_t k = 0; k < K; k++) n += g == 0 || !strcmp(an->supers[k], an->group_names[g]);
        an->group_size[g] = n;
        for (int c = 0; c < MR_AN_N; c++)
            for (int r = 0; r < R; r++)
                for (int a = 0; a < A; a++) {
                    double s = 0;
                    for (size_t k = 0; k < K; k++)
                        if (g == 0 || !strcmp(an->supers[k], an->group_names[g])) s += an->ps[ps_at(an, c, r, k, a)];
                    an->gps[gps_at(an, g, c, r, a)] = n ? s / (double)n : 0;
                }
    }
out:
    free(gcat);
    free(gig);
    free(gord);
    free(cidx);
    if (rc) mr_analyze_free(an);
    return rc;
}

void mr_analyze_curve(const mr_analyze *an, size_t kg, int curve, int area, double *out)
{
    for (int r = 0; r < an->R; r++)
        out[r] = kg < an->K ? an->ps[ps_at(an, curve, r, kg, area)] : an->gps[gps_at(an, kg - an->K, curve, r, area)];
}

double mr_analyze_ap(const mr_analyze *an, size_t kg, int curve, int area)
{
    double s = 0;
    for (int r = 0; r < an->R; r++)
        s += kg < an->K ? an->ps[ps_at(an, curve, r, kg, area)] : an->gps[gps_at(an, kg - an->K, curve, r, area)];
    return s / an->R;
}

static const char *mode_name(int mode) { return mode == MR_ANALYZE_CROWD ? "crowd" : "matlab"; }

static const char *iou_name(int t) { return t == MR_IOU_SEGM ? "segm" : t == MR_IOU_KEYPOINTS ? "keypoints" : "bbox"; }

char *mr_analyze_table(const mr_analyze *an)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "error analysis (%s, area %s, maxDets 100, %s mode): area under each PR curve\n", iou_name(an->iou_type),
            an->A ? an->area_lbl[0] : "?", mode_name(an->mode));
    fprintf(f, "%-32s %6s", "category", "n");
    for (int c = 0; c < MR_AN_N; c++) fprintf(f, " %6s", MR_ANALYZE_NAMES[c]);
    fputc('\n', f);
    for (size_t i = 0; i < an->K + an->G; i++) {
        char label[64];
        if (i < an->K) snprintf(label, sizeof label, "%.24s (%lld)", an->names[i], (long long)an->cat_ids[i]);
        else snprintf(label, sizeof label, "overall-%.40s", an->group_names[i - an->K]);
        fprintf(f, "%-32s %6zu", label, i < an->K ? (size_t)1 : an->group_size[i - an->K]);
        for (int c = 0; c < MR_AN_N; c++) fprintf(f, " %6.3f", mr_analyze_ap(an, i, c, 0));
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}

/* {"all": {"C75": ap, ...}, "small": {...}} */
static cJSON *ap_obj(const mr_analyze *an, size_t kg)
{
    cJSON *o = cJSON_CreateObject();
    for (int a = 0; a < an->A; a++) {
        cJSON *x = cJSON_AddObjectToObject(o, an->area_lbl[a]);
        for (int c = 0; c < MR_AN_N; c++) cJSON_AddNumberToObject(x, MR_ANALYZE_NAMES[c], mr_analyze_ap(an, kg, c, a));
    }
    return o;
}

int mr_analyze_write_json(const mr_analyze *an, const char *path, mr_err *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "iouType", iou_name(an->iou_type));
    cJSON_AddStringToObject(j, "mode", mode_name(an->mode));
    cJSON_AddBoolToObject(j, "strict", an->strict);
    cJSON_AddNumberToObject(j, "maxDets", 100);
    cJSON_AddNumberToObject(j, "imgIds", (double)an->I);
    cJSON *cn = cJSON_AddArrayToObject(j, "curves");
    for (int c = 0; c < MR_AN_N; c++) cJSON_AddItemToArray(cn, cJSON_CreateString(MR_ANALYZE_NAMES[c]));
    cJSON *al = cJSON_AddArrayToObject(j, "areaRngLbl"), *ar = cJSON_AddArrayToObject(j, "areaRng");
    for (int a = 0; a < an->A; a++) {
        cJSON_AddItemToArray(al, cJSON_CreateString(an->area_lbl[a]));
        cJSON_AddItemToArray(ar, cJSON_CreateDoubleArray(an->area_rng[a], 2));
    }
    cJSON_AddItemToObject(j, "recThrs", cJSON_CreateDoubleArray(an->rec_thrs, an->R));
    cJSON *cats = cJSON_AddArrayToObject(j, "categories");
    for (size_t k = 0; k < an->K; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)an->cat_ids[k]);
        cJSON_AddStringToObject(o, "name", an->names[k]);
        cJSON_AddStringToObject(o, "supercategory", an->supers[k]);
        cJSON_AddItemToObject(o, "ap", ap_obj(an, k));
        cJSON_AddItemToArray(cats, o);
    }
    cJSON *groups = cJSON_AddArrayToObject(j, "groups");
    double *cur = malloc((size_t)an->R * sizeof(double) + 1);
    for (size_t g = 0; g < an->G && cur; g++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", an->group_names[g]);
        cJSON_AddNumberToObject(o, "categories", (double)an->group_size[g]);
        cJSON_AddItemToObject(o, "ap", ap_obj(an, an->K + g));
        cJSON *pr = cJSON_AddObjectToObject(o, "pr");
        for (int a = 0; a < an->A; a++) {
            cJSON *x = cJSON_AddObjectToObject(pr, an->area_lbl[a]);
            for (int c = 0; c < MR_AN_N; c++) {
                mr_analyze_curve(an, an->K + g, c, a, cur);
                cJSON_AddItemToObject(x, MR_ANALYZE_NAMES[c], cJSON_CreateDoubleArray(cur, an->R));
            }
        }
        cJSON_AddItemToArray(groups, o);
    }
    int rc = cur ? mr_json_write_file(path, j, e) : mr_errf(e, MR_ENOMEM, "out of memory");
    free(cur);
    cJSON_Delete(j);
    return rc;
}

static void md_text(FILE *f, const char *s)
{
    for (; *s; s++) { if (*s == '|') fputc('\\', f); fputc(*s, f); }
}

int mr_analyze_write_markdown(const mr_analyze *an, const char *path, mr_err *e)
{
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    fprintf(f, "Error analysis (%s, area %s, maxDets 100, %s mode): area under each PR curve, in percent. "
               "C75/C50: IoU .75/.50; Loc: IoU .10; Sim: supercategory confusions removed; Oth: all class "
               "confusions removed; BG: background false positives removed; FN: everything removed.\n\n",
            iou_name(an->iou_type), an->A ? an->area_lbl[0] : "?", mode_name(an->mode));
    fputs("| id | category | supercategory |", f);
    for (int c = 0; c < MR_AN_N; c++) fprintf(f, " %s |", MR_ANALYZE_NAMES[c]);
    fputs("\n| ---: | --- | --- |", f);
    for (int c = 0; c < MR_AN_N; c++) fputs(" ---: |", f);
    fputc('\n', f);
    for (size_t i = 0; i < an->K + an->G; i++) {
        if (i < an->K) {
            fprintf(f, "| %lld | ", (long long)an->cat_ids[i]);
            md_text(f, an->names[i]);
            fputs(" | ", f);
            md_text(f, an->supers[i]);
            fputs(" |", f);
        } else {
            fputs("| | **overall** | ", f);
            md_text(f, an->group_names[i - an->K]);
            fprintf(f, " (%zu) |", an->group_size[i - an->K]);
        }
        for (int c = 0; c < MR_AN_N; c++) fprintf(f, " %.1f |", 100 * mr_analyze_ap(an, i, c, 0));
        fputc('\n', f);
    }
    return mr_atomic_commit(&af, e);
}
