/*
 * roi_extractor.c — the small shared helpers of the RoI extractor interface
 * (aggregation names, defaults, parameter checks). The extractors themselves
 * are in variants/roi_*.c.
 */
#include "core/roi_extractor.h"

#include <math.h>
#include <string.h>

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
