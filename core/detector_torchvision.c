/*
 * detector_torchvision.c — the detector spec from a torchvision model
 * description (mr_detector_spec_torchvision, see detector.h): the JSON that
 * scripts/torchvision_reference.py stores as the "config" __metadata__ of
 * its safetensors files, mapped onto mrcnn's sizes (backbone, FPN, anchors,
 * RPN and box-head test parameters, RoIAlign, the mask head's knobs, the
 * keypoint head). Split out of detector.c: the name and size mapping to
 * torchvision lives here, the model and its runs there.
 */
#include "core/detector.h"

#include <string.h>

#include "core/json.h"

int mr_detector_spec_torchvision(mr_detector_spec *s, const char *config_json, mr_err *e)
{
    static const char ctx[] = "torchvision config";
    char cbuf[96];
    cJSON *j = NULL;
    int rc = mr_json_parse(config_json, strlen(config_json), ctx, &j, e);
    if (rc) return rc;
    if (!s->tap || strcmp(s->tap->name, "fpn")) {
        rc = mr_errf(e, MR_EUSER, "%s: mrcnn builds torchvision's detectors with the fpn tap", ctx);
        goto done;
    }
    const cJSON *bb = NULL, *mh = NULL, *kh = NULL, *ra = NULL, *sizes = NULL, *ratios = NULL;
    int K1 = 0, depth = 0, aligned = 0;
    double width = 1, pre = 0, post = 0, thr = 0;
    const char *norm = NULL;
    if ((rc = mr_json_get_int_range(j, "num_classes", 1, 0, 2, 100000, &K1, ctx, e)) ||
        (rc = mr_json_get_object(j, "backbone", 1, &bb, ctx, e)) ||
        (rc = mr_json_get_int(bb, "depth", 1, 50, &depth, mr_json_ctx(cbuf, sizeof cbuf, ctx, "backbone"), e)) ||
        (rc = mr_json_get_double(bb, "width", 0, 1.0, &width, cbuf, e)) ||
        (rc = mr_json_get_string(bb, "norm", 0, "frozen_bn", &norm, cbuf, e)) ||
        (rc = mr_json_get_int_range(j, "fpn_channels", 1, 256, 1, 65536, &s->fpn_channels, ctx, e)) ||
        (rc = mr_json_get_array(j, "anchor_sizes", 1, &sizes, ctx, e)) ||
        (rc = mr_json_get_array(j, "aspect_ratios", 1, &ratios, ctx, e)) ||
        (rc = mr_json_get_double(j, "rpn_pre_nms_top_n_test", 1, 1000, &pre, ctx, e)) ||
        (rc = mr_json_get_double(j, "rpn_post_nms_top_n_test", 1, 1000, &post, ctx, e)) ||
        (rc = mr_json_get_double(j, "rpn_score_thresh", 0, 0.0, &thr, ctx, e)) ||
        (rc = mr_json_get_int_range(j, "representation_size", 1, 1024, 1, 1 << 20, &s->box.fc_dim, ctx, e)) ||
        (rc = mr_json_get_int_range(j, "box_detections_per_img", 1, 100, 1, 1 << 20, &s->box.detections_per_img, ctx, e)) ||
        (rc = mr_json_get_object(j, "roi_align", 0, &ra, ctx, e)) ||
        (rc = mr_json_get_bool(ra, "aligned", 0, 0, &aligned, mr_json_ctx(cbuf, sizeof cbuf, ctx, "roi_align"), e)) ||
        (rc = mr_json_get_object(j, "mask_head", 0, &mh, ctx, e)) ||
        (rc = mr_json_get_object(j, "keypoint_head", 0, &kh, ctx, e)))
        goto done;
    double v;
    if ((rc = mr_json_get_double(j, "rpn_nms_thresh", 1, 0.7, &v, ctx, e))) goto done;
    s->rpn.nms_thresh = (float)v;
    if ((rc = mr_json_get_double(j, "rpn_min_size", 1, 1e-3, &v, ctx, e))) goto done;
    s->rpn.min_size = (float)v;
    if ((rc = mr_json_get_double(j, "box_score_thresh", 1, 0.05, &v, ctx, e))) goto done;
    s->box.score_thresh = (float)v;
    if ((rc = mr_json_get_double(j, "box_nms_thresh", 1, 0.5, &v, ctx, e))) goto done;
    s->box.nms_thresh = (float)v;
    if (!s->backbone.norm || strcmp(s->backbone.norm->name, "frozen_bn")) {
        rc = mr_errf(e, MR_EUSER, "%s: torchvision's detectors use the frozen_bn norm: set the spec's "
                     "backbone.norm to it first", ctx);
        goto done;
    }
    if (strcmp(norm, "frozen_bn")) {
        rc = mr_errf(e, MR_EUSER, "%s: field backbone.norm: expected frozen_bn, got '%s'", ctx, norm);
        goto done;
    }
    if (thr != 0) {   /* mrcnn's RPN keeps every score (torchvision's default 0.0) */
        rc = mr_errf(e, MR_EUSER, "%s: field rpn_score_thresh: expected 0, got %g", ctx, thr);
        goto done;
    }
    s->backbone.depth = depth;
    s->backbone.width = (float)width;
    s->rpn.pre_nms_test = (int)pre;
    s->rpn.post_nms_test = (int)post;
    /* anchors: one size per FPN level, the same ratios on every level */
    if (cJSON_GetArraySize(sizes) != 5 || cJSON_GetArraySize(ratios) != 5) {
        rc = mr_errf(e, MR_EUSER, "%s: fields anchor_sizes, aspect_ratios: expected 5 levels", ctx);
        goto done;
    }
    int nr = 0;
    double rr[MR_RPN_MAX_RATIOS];
    for (int l = 0; l < 5; l++) {
        const cJSON *sl = cJSON_GetArrayItem(sizes, l), *rl = cJSON_GetArrayItem(ratios, l);
        if (cJSON_GetArraySize(sl) != 1 || !cJSON_IsNumber(cJSON_GetArrayItem(sl, 0))) {
            rc = mr_errf(e, MR_EUSER, "%s: field anchor_sizes[%d]: expected one size per level", ctx, l);
            goto done;
        }
        s->rpn.sizes[l] = (float)cJSON_GetArrayItem(sl, 0)->valuedouble;
        int n = cJSON_GetArraySize(rl);
        if (n < 1 || n > MR_RPN_MAX_RATIOS || (l && n != nr)) {
            rc = mr_errf(e, MR_EUSER, "%s: field aspect_ratios[%d]: expected the same 1..%d ratios on every level",
                         ctx, l, MR_RPN_MAX_RATIOS);
            goto done;
        }
        for (int i = 0; i < n; i++) {
            const cJSON *x = cJSON_GetArrayItem(rl, i);
            if (!cJSON_IsNumber(x) || (l && x->valuedouble != rr[i])) {
                rc = mr_errf(e, MR_EUSER, "%s: field aspect_ratios[%d][%d]: expected a number equal on every level",
                             ctx, l, i);
                goto done;
            }
            rr[i] = x->valuedouble;
        }
        nr = n;
    }
    s->rpn.nlevels = 5;
    s->rpn.sizes_per_level = 1;
    s->rpn.nratios = nr;
    for (int i = 0; i < nr; i++) s->rpn.ratios[i] = (float)rr[i];
    s->box.num_classes = K1;
    /* MultiScaleRoIAlign(output 7 / 14, sampling_ratio 2), aligned=False */
    s->roi_params.pooled_h = s->roi_params.pooled_w = 7;
    s->roi_params.sampling_ratio = 2;
    s->roi_params.aligned = aligned;
    s->roi_params.agg = MR_ROI_AVG;
    s->canonical_scale = 224;
    s->canonical_level = 4;
    s->mask_on = mh != NULL;
    if (mh) {
        int conv = 256, deconv = 256, nconv = 4;
        mr_json_ctx(cbuf, sizeof cbuf, ctx, "mask_head");
        if ((rc = mr_json_get_int_range(mh, "conv_ch", 1, 256, 1, 65536, &conv, cbuf, e)) ||
            (rc = mr_json_get_int_range(mh, "deconv_ch", 1, 256, 1, 65536, &deconv, cbuf, e)) ||
            (rc = mr_json_get_int_range(mh, "nconv", 0, 4, 0, 64, &nconv, cbuf, e)))
            goto done;
        /* torchvision's MaskRCNNHeads + MaskRCNNPredictor: the caller's head
         * (fcn) with its knobs set by name */
        const struct { const char *knob; int v; } kv[] = {{"mask_convs", nconv}, {"mask_deconv_width", deconv}};
        if (!s->mask_head) {
            rc = mr_errf(e, MR_EUSER, "%s: field mask_head: set the spec's mask_head (fcn) first", ctx);
            goto done;
        }
        mr_mask_head_knob_defaults(s->mask_head, s->mask_knobs);
        for (int i = 0; i < 2; i++) {
            int k = mr_mask_head_knob_index(s->mask_head, kv[i].knob);
            if (k < 0) {
                rc = mr_errf(e, MR_EUSER, "%s: field mask_head: the %s mask head has no knob %s (use fcn)", ctx,
                             s->mask_head->name, kv[i].knob);
                goto done;
            }
            s->mask_knobs[k] = kv[i].v;
        }
        s->mask_width = conv;
        s->mask_pooled = 14;
    }
    s->kp_on = kh != NULL;
    if (kh) {
        int conv = 512, nk = 17, nconv = 8;
        mr_json_ctx(cbuf, sizeof cbuf, ctx, "keypoint_head");
        if ((rc = mr_json_get_int_range(kh, "conv_ch", 1, 512, 1, 65536, &conv, cbuf, e)) ||
            (rc = mr_json_get_int_range(kh, "num_kp", 1, 17, 1, 1024, &nk, cbuf, e)) ||
            (rc = mr_json_get_int_range(kh, "nconv", 0, 8, 1, 64, &nconv, cbuf, e)))
            goto done;
        s->kp = mr_kp_head_cfg_fpn(s->fpn_channels, nk, conv);
        s->kp.nconv = nconv;
        s->kp_pooled = 14;
    }
done:
    cJSON_Delete(j);
    return rc;
}
