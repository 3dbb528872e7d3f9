/*
 * roi_extractor.c — the small shared helpers of the RoI extractor interface
 * (aggregation names, defaults, parameter checks) and the multi-level (FPN)
 * pooler that runs any extractor per level. The extractors themselves are in
 * variants/roi_*.c.
 */
#include "core/roi_extractor.h"

#include <math.h>
#include <string.h>

#include "core/boxes.h"

const char *mr_roi_agg_name(mr_roi_agg a)
{
    return a == MR_ROI_MAX ? "max" : a == MR_ROI_AVG ? "avg" : "?";
}

int mr_roi_agg_parse(const char *s, mr_roi_agg *out, mr_err *e)
{
    if (s && !strcmp(s, "max")) { *out = MR_ROI_MAX; return MR_OK; }
    if (s && (!strcmp(s, "avg") || !strcmp(s, "ave"))) { *out = MR_ROI_AVG; return MR_OK; }
    return mr_errf(e, MR_EUSER, "unknown RoI aggregation '%s' (known: max, avg, ave)",
                   s ? s : "(null)");
}

mr_roi_params mr_roi_params_default(const mr_roi_extractor *x)
{
    mr_roi_params p = {7, 7, 1.0f / 16.0f, 2, 0, x ? x->default_agg : MR_ROI_AVG};
    return p;
}

int mr_roi_check(const mr_roi_extractor *x, const mr_roi_params *p, mr_err *e)
{
    if (!x || !p) return mr_errf(e, MR_EINTERNAL, "mr_roi_check: NULL extractor or params");
    if (p->pooled_h <= 0 || p->pooled_w <= 0 || p->pooled_h > 4096 || p->pooled_w > 4096)
        return mr_errf(e, MR_EUSER, "%s: output size %dx%d: expected positive sizes",
                       x->name, p->pooled_h, p->pooled_w);
    if (!(p->spatial_scale > 0.0f) || !isfinite(p->spatial_scale))
        return mr_errf(e, MR_EUSER, "%s: spatial_scale %g: expected a positive number",
                       x->name, (double)p->spatial_scale);
    if (p->sampling_ratio > 1024)
        return mr_errf(e, MR_EUSER, "%s: sampling_ratio %d: expected <= 1024 (<= 0 for adaptive)",
                       x->name, p->sampling_ratio);
    if (p->aligned != 0 && p->aligned != 1)
        return mr_errf(e, MR_EUSER, "%s: aligned %d: expected 0 or 1", x->name, p->aligned);
    if ((unsigned)p->agg > 1u || !(x->aggs & (1u << p->agg))) {
        const char *known = (x->aggs & 3u) == 3u ? "max, avg" : (x->aggs & 1u) ? "max" : "avg";
        return mr_errf(e, MR_EUSER, "%s: aggregation '%s' not supported (supported: %s)",
                       x->name, mr_roi_agg_name(p->agg), known);
    }
    return MR_OK;
}

int mr_roi_check_rois(const char *name, int N, int R, const float *rois, mr_err *e)
{
    for (int r = 0; r < R; r++) {
        const float *q = rois + 5 * (size_t)r;
        if (!(q[0] >= 0.0f && q[0] < (float)N && q[0] == floorf(q[0])))
            return mr_errf(e, MR_EUSER, "%s: RoI %d: batch index %g: expected an integer in [0, %d)",
                           name, r, (double)q[0], N);
        for (int k = 1; k < 5; k++)
            if (!(fabsf(q[k]) <= 1e6f))  /* also catches NaN and inf */
                return mr_errf(e, MR_EUSER, "%s: RoI %d: %s = %g: expected a finite coordinate "
                               "within +-1e6", name, r,
                               k == 1 ? "x1" : k == 2 ? "y1" : k == 3 ? "x2" : "y2", (double)q[k]);
    }
    return MR_OK;
}

/* The multi-level workspace, carved from one block (all parts 64-byte
 * aligned): level and order (R ints each), count (levels), grouped RoIs
 * (R x 5), grouped output / gradient rows (R x C x PH x PW) and aux. */
typedef struct {
    int *level, *order, *count;
    float *rois, *rows;
    int32_t *aux;
} ml_ws;

static size_t up64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t ml_layout(const mr_roi_extractor *x, const mr_roi_params *p, int R, int C,
                        void *base, ml_ws *w)
{
    size_t r = R > 0 ? (size_t)R : 0, off = 0;
    size_t sizes[6] = {
        r * sizeof(int), r * sizeof(int), MR_ROI_MAX_LEVELS * sizeof(int), r * 5 * sizeof(float),
        r * (size_t)C * p->pooled_h * p->pooled_w * sizeof(float),
        x->aux_size(p, R > 0 ? R : 0, C) * sizeof(int32_t)};
    char *b = base;
    void *ptr[6];
    for (int i = 0; i < 6; i++) {
        ptr[i] = b ? b + off : NULL;
        off += up64(sizes[i]);
    }
    if (w) {
        w->level = ptr[0]; w->order = ptr[1]; w->count = ptr[2];
        w->rois = ptr[3]; w->rows = ptr[4]; w->aux = ptr[5];
    }
    return off + 64;
}

size_t mr_roi_multilevel_workspace(const mr_roi_extractor *x, const mr_roi_params *p, int R, int C)
{
    return ml_layout(x, p, R, C, NULL, NULL);
}

static void *align64(void *ws) { return (void *)(((uintptr_t)ws + 63) & ~(uintptr_t)63); }

int mr_roi_multilevel_forward(const mr_roi_extractor *x, const mr_roi_params *p,
                              const mr_roi_levels *lv, int N, int C, int R, const float *rois,
                              float *out, void *ws, mr_err *e)
{
    int rc = mr_roi_check(x, p, e);
    if (rc) return rc;
    if (!lv || lv->nlevels < 1 || lv->nlevels > MR_ROI_MAX_LEVELS)
        return mr_errf(e, MR_EUSER, "%s: %d feature levels: expected 1..%d", x->name,
                       lv ? lv->nlevels : 0, MR_ROI_MAX_LEVELS);
    for (int l = 0; l < lv->nlevels; l++)
        if (!(lv->scale[l] > 0.0f) || lv->H[l] <= 0 || lv->W[l] <= 0 || !lv->feat[l])
            return mr_errf(e, MR_EUSER, "%s: level %d: map %dx%d, scale %g: expected a positive "
                           "size and scale", x->name, l, lv->H[l], lv->W[l], (double)lv->scale[l]);
    if ((rc = mr_roi_check_rois(x->name, N, R, rois, e))) return rc;
    ml_ws w;
    ml_layout(x, p, R, C, align64(ws), &w);
    const size_t row = (size_t)C * p->pooled_h * p->pooled_w;
    if (lv->nlevels == 1) {
        w.level[0] = 0;
        mr_roi_params q = *p;
        q.spatial_scale = lv->scale[0];
        return x->forward(&q, N, C, lv->H[0], lv->W[0], lv->feat[0], R, rois, out, w.aux, e);
    }
    int kmax = lv->k_min + lv->nlevels - 1;
    mr_fpn_levels(R, rois + 1, 5, lv->k_min, kmax, lv->canonical_scale, lv->canonical_level, w.level);
    mr_fpn_partition(R, w.level, lv->k_min, kmax, w.order, w.count);
    for (int i = 0; i < R; i++) memcpy(w.rois + 5 * (size_t)i, rois + 5 * (size_t)w.order[i], 5 * sizeof(float));
    for (int l = 0, start = 0; l < lv->nlevels; start += w.count[l], l++) {
        if (w.count[l] == 0) continue;
        mr_roi_params q = *p;
        q.spatial_scale = lv->scale[l];
        rc = x->forward(&q, N, C, lv->H[l], lv->W[l], lv->feat[l], w.count[l],
                        w.rois + 5 * (size_t)start, w.rows + row * start,
                        w.aux ? w.aux + x->aux_size(p, start, C) : NULL, e);
        if (rc) return mr_err_prefix(e, "level P%d", lv->k_min + l);
    }
    for (int i = 0; i < R; i++)
        memcpy(out + row * w.order[i], w.rows + row * i, row * sizeof(float));
    return MR_OK;
}

void mr_roi_multilevel_backward(const mr_roi_extractor *x, const mr_roi_params *p,
                                const mr_roi_levels *lv, int N, int C, int R, const float *rois,
                                const float *dout, void *ws, float *const *dfeat)
{
    ml_ws w;
    ml_layout(x, p, R, C, align64(ws), &w);
    const size_t row = (size_t)C * p->pooled_h * p->pooled_w;
    if (lv->nlevels == 1) {
        mr_roi_params q = *p;
        q.spatial_scale = lv->scale[0];
        if (dfeat[0]) x->backward(&q, N, C, lv->H[0], lv->W[0], R, rois, dout, w.aux, dfeat[0]);
        return;
    }
    for (int i = 0; i < R; i++)
        memcpy(w.rows + row * i, dout + row * w.order[i], row * sizeof(float));
    for (int l = 0, start = 0; l < lv->nlevels; start += w.count[l], l++) {
        if (w.count[l] == 0 || !dfeat[l]) continue;
        mr_roi_params q = *p;
        q.spatial_scale = lv->scale[l];
        x->backward(&q, N, C, lv->H[l], lv->W[l], w.count[l], w.rois + 5 * (size_t)start,
                    w.rows + row * start, w.aux ? w.aux + x->aux_size(p, start, C) : NULL,
                    dfeat[l]);
    }
}
