/*
 * run_pr.c — precision-recall curves of a finished run from its stored
 * detections (see run_pr.h).
 */
#include "harness/run_pr.h"
#include "core/fileio.h"
#include "eval/cocoeval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void mr_run_pr_init(mr_run_pr_ctx *c, const char *data_dir)
{
    memset(c, 0, sizeof *c);
    mr_coco_init(&c->gt);
    if (data_dir) snprintf(c->gt_path, sizeof c->gt_path, "%s/val.json", data_dir);
    else c->state = -1;
}

void mr_run_pr_free(mr_run_pr_ctx *c)
{
    if (c->state == 1) mr_coco_free(&c->gt);
    c->state = 0;
}

/* the run's own AP50 / AP75 (fractions) for the check; -1 when absent */
static double stored_ap(const cJSON *metrics, const char *iou_type, const char *category, const char *key)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(metrics, iou_type), *x = NULL, *c;
    if (!category[0]) {
        x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "metrics"), key);
    } else {
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ev, "per_category")) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, category))
                x = cJSON_GetObjectItemCaseSensitive(c, key);
        }
    }
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

int mr_run_pr(mr_run_pr_ctx *c, const char *run_dir, const char *iou_type, const char *category,
              const cJSON *metrics, cJSON **out, mr_err *e)
{
    *out = NULL;
    int type = mr_eval_iou_type(iou_type);
    if (type < 0) return mr_errf(e, MR_EINTERNAL, "PR curves: unknown iou type '%s'", iou_type);
    if (!cJSON_GetObjectItemCaseSensitive(metrics, iou_type)) return MR_OK;   /* e.g. box-only run */
    char rpath[4200];
    snprintf(rpath, sizeof rpath, "%s/results_val.json", run_dir);
    if (!mr_file_exists(rpath)) return MR_OK;
    if (c->state == 0) {
        if (!mr_file_exists(c->gt_path)) { c->state = -1; return MR_OK; }
        int rc = mr_coco_load(&c->gt, c->gt_path, e);
        if (rc) return rc;
        c->state = 1;
    }
    if (c->state < 0) return MR_OK;
    const mr_coco *gt = &c->gt;
    /* the categories: the column's one, else (keypoints) those with
     * keypoints, else all */
    int64_t ids[256];
    size_t nids = 0;
    for (size_t k = 0; k < gt->num_cats && nids < 256; k++) {
        const mr_coco_cat *ct = &gt->cats[k];
        if (category[0] ? !strcmp(ct->name, category) : (type != MR_IOU_KEYPOINTS || ct->num_keypoints > 0))
            ids[nids++] = ct->id;
    }
    if (!nids) return MR_OK;   /* the dataset lacks the column's category */
    mr_coco dt;
    mr_coco_init(&dt);
    int rc = mr_coco_load_results(&dt, gt, rpath, e);
    if (rc) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        mr_coco_free(&dt);
        return mr_errf(e, rc, "%s (against %s)", m, c->gt_path);
    }
    mr_eval_params p;
    mr_eval_params_default(&p, type);
    p.cat_ids = ids;
    p.num_cat_ids = nids;
    mr_eval ev;
    memset(&ev, 0, sizeof ev);
    rc = mr_eval_run(&ev, gt, &dt, &p, e);
    mr_coco_free(&dt);
    if (rc) { mr_eval_free(&ev); return rc; }
    double prec[2][MR_EVAL_MAX_R];
    int R = mr_eval_mean_pr(&ev, 0.5, prec[0]);
    if (R < 0 || mr_eval_mean_pr(&ev, 0.75, prec[1]) != R) {
        mr_eval_free(&ev);
        return mr_errf(e, MR_EINTERNAL, "PR curves: IoU 0.50 / 0.75 not among the default thresholds");
    }
    /* each curve's mean is the run's AP50 / AP75: else these detections
     * were evaluated against another val split than this one */
    for (int w = 0; w < 2; w++) {
        double sum = 0;
        int n = 0;
        for (int r = 0; r < R; r++)
            if (prec[w][r] > -1) { sum += prec[w][r]; n++; }
        double want = stored_ap(metrics, iou_type, category, w ? "AP75" : "AP50");
        if (n && want >= 0 && fabs(sum / n - want) > 1e-6) {
            mr_eval_free(&ev);
            return mr_errf(e, MR_EUSER,
                           "%s evaluated against %s gives %s %s%s%s %.4f, but %s/metrics.json says %.4f: "
                           "was the run trained on another dataset than --data?",
                           rpath, c->gt_path, iou_type, category, category[0] ? " " : "", w ? "AP75" : "AP50",
                           sum / n, run_dir, want);
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "iou_type", iou_type);
    cJSON_AddStringToObject(o, "category", category);
    cJSON *rec = cJSON_AddArrayToObject(o, "recall");
    for (int r = 0; r < R; r++) cJSON_AddItemToArray(rec, cJSON_CreateNumber(p.rec_thrs[r]));
    for (int w = 0; w < 2; w++) {
        cJSON *a = cJSON_AddArrayToObject(o, w ? "iou75" : "iou50");
        for (int r = 0; r < R; r++) cJSON_AddItemToArray(a, cJSON_CreateNumber(round(prec[w][r] * 1e6) / 1e6));
    }
    mr_eval_free(&ev);
    *out = o;
    return MR_OK;
}
