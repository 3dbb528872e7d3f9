/*
 * detector.c — assembling the detector and running it: a training step
 * (forward, losses, backward) and inference (see detector.h).
 *
 * The data flow of one step, for every tap:
 *   image -> stem -> layer1..layer3 (-> layer4 unless C4) -> [FPN] -> maps
 *   maps -> RPN head -> anchor targets + losses; proposals (no gradient)
 *   proposals (+ gt, sampled) -> RoI extractor -> [res5 + avg pool] -> box head
 *   positives (training) / detections (inference) -> mask head, keypoint head
 * Backward walks the same path in reverse, the RoI extractor and the RPN
 * adding into the same feature-map gradients. Every RoI extraction (box,
 * mask, keypoint; one map or FPN's four) goes through core/roi_extractor.h's
 * mr_roi_multilevel_forward / _backward, the path the torchvision tests check.
 */
#include "core/detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/layers.h"
#include "core/postprocess.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

mr_detector_spec mr_detector_spec_default(const mr_tap *tap, const mr_roi_extractor *roi,
                                          int num_classes)
{
    mr_detector_spec s;
    memset(&s, 0, sizeof s);
    s.backbone = (mr_resnet_cfg){50, 1.0f, NULL, 32, 2, 4, 1};  /* the caller sets the norm */
    s.tap = tap;
    s.fpn_channels = 256;
    mr_rpn_cfg *r = &s.rpn;
    int multi = tap && tap->rpn_levels > 1;
    r->nlevels = tap ? tap->rpn_levels : 1;
    r->sizes_per_level = multi ? 1 : 5;
    for (int i = 0; i < 5; i++) r->sizes[i] = (float)(32 << i);
    r->nratios = 3;
    r->ratios[0] = 0.5f; r->ratios[1] = 1.0f; r->ratios[2] = 2.0f;
    r->pre_nms_train = 2000; r->post_nms_train = 2000;
    r->pre_nms_test = 1000; r->post_nms_test = 1000;
    r->nms_thresh = 0.7f; r->min_size = 1e-3f;
    r->fg_iou = 0.7f; r->bg_iou = 0.3f;
    r->batch_per_image = 256; r->positive_fraction = 0.5f;
    r->beta = 1.0f / 9.0f;
    mr_box_head_cfg *b = &s.box;
    b->kind = tap ? tap->box_head : MR_BOX_HEAD_FC2;
    b->num_classes = num_classes + 1;
    b->fc_dim = 1024;
    b->batch_per_image = tap ? tap->default_batch : 512;
    b->positive_fraction = 0.25f;
    b->fg_iou = 0.5f; b->bg_iou = 0.5f;
    b->beta = 1.0f / 9.0f;
    b->score_thresh = 0.05f; b->nms_thresh = 0.5f;
    b->detections_per_img = 100; b->min_size = 1e-2f;
    s.roi = roi;
    s.roi_params = mr_roi_params_default(roi);
    if (tap) s.roi_params.pooled_h = s.roi_params.pooled_w = tap->default_pooled;
    s.canonical_scale = 224;
    s.canonical_level = 4;
    return s;
}

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

/* the box head is res5 + average pool on the RoI features (the C4 design):
 * the mask head then runs on those res5 outputs */
static int res5_head(const mr_detector *d)
{
    return d->s.box.kind == MR_BOX_HEAD_RES5;
}

/* ---- one-map taps (c4, c5, dc5) ---- */

int mr_tap_single_declare(void *state, const mr_detector_spec *s, const int body_ch[4],
                          mr_param_table *t, int *map_ch, mr_err *e)
{
    (void)state; (void)t; (void)e;
    *map_ch = body_ch[s->tap->body_stages - 1];
    return MR_OK;
}

int mr_tap_single_forward(const void *state, const mr_detector_spec *s, int N, const int H[4],
                          const int W[4], const float *const c[4], mr_arena *a, void *act,
                          mr_tap_maps *out, mr_err *e)
{
    (void)state; (void)N; (void)a; (void)act; (void)e;
    int l = s->tap->body_stages - 1;
    out->nrpn = 1;
    out->rpn[0] = out->lv.feat[0] = c[l];
    out->rh[0] = out->lv.H[0] = H[l];
    out->rw[0] = out->lv.W[0] = W[l];
    out->lv.nlevels = 1;
    out->lv.scale[0] = s->tap->roi_scale;
    return MR_OK;
}

int mr_tap_single_backward(const void *state, const mr_detector_spec *s, const void *act, int N,
                           int map_ch, const mr_tap_maps *out, float *const *dmaps, float *const dc[4],
                           mr_arena *a, mr_err *e)
{
    (void)state; (void)act; (void)a; (void)e;
    float *dst = dc[s->tap->body_stages - 1];
    size_t n = (size_t)N * map_ch * out->rh[0] * out->rw[0];
    for (size_t i = 0; i < n; i++) dst[i] += dmaps[0][i];
    return MR_OK;
}

int mr_detector_create(mr_detector **out, const mr_detector_spec *spec, mr_err *e)
{
    *out = NULL;
    if (!spec->tap) return mr_errf(e, MR_EUSER, "tap: no backbone tap given");
    if (!spec->roi) return mr_errf(e, MR_EUSER, "roi.extractor: no RoI extractor given");
    int rc = mr_roi_check(spec->roi, &spec->roi_params, e);
    if (rc) return mr_err_prefix(e, "roi");
    mr_detector *d = calloc(1, sizeof *d);
    if (!d) return mr_errf(e, MR_ENOMEM, "detector: out of memory");
    d->s = *spec;
    d->s.rpn.nlevels = spec->tap->rpn_levels;
    d->s.box.kind = spec->tap->box_head;
    d->s.backbone.res5_dilation = spec->tap->res5_dilation;
    mr_arena_init(&d->arena, 0);
    mr_param_table *t = &d->params;
    if ((rc = mr_resnet_declare(&d->rn, &d->s.backbone, t, e))) goto fail;
    const mr_tap *tap = spec->tap;
    if (tap->body_stages < 1 || tap->body_stages > 4 || !tap->declare || !tap->forward || !tap->backward) {
        rc = mr_errf(e, MR_EINTERNAL, "tap %s: incomplete descriptor", tap->name);
        goto fail;
    }
    if (tap->state_size && !(d->tap_state = calloc(1, tap->state_size))) {
        rc = mr_errf(e, MR_ENOMEM, "detector: out of memory");
        goto fail;
    }
    int P = d->s.roi_params.pooled_h;
    if (d->s.roi_params.pooled_w != P) {
        rc = mr_errf(e, MR_EUSER, "roi.pooled: expected a square output, got %dx%d", P,
                     d->s.roi_params.pooled_w);
        goto fail;
    }
    int rpn_ch, head_in;
    if ((rc = tap->declare(d->tap_state, &d->s, d->rn.out_ch, t, &rpn_ch, e))) goto fail;
    d->roi_in_ch = rpn_ch;
    if (res5_head(d)) {
        head_in = d->rn.out_ch[3];
        if (P % 2) {
            rc = mr_errf(e, MR_EUSER, "roi.pooled: %d: the %s tap runs res5 (stride 2) on the RoI "
                         "features and needs an even size (14)", P, tap->name);
            goto fail;
        }
    } else {
        head_in = d->roi_in_ch * P * P;
    }
    if ((rc = mr_rpn_declare(&d->rpn, &d->s.rpn, rpn_ch, t, e))) goto fail;
    if ((rc = mr_box_head_declare(&d->box, &d->s.box, head_in, t, e))) goto fail;
    /* the mask branch: the head variant, configured for its input, and a
     * block of its own tensors */
    if (d->s.mask_on) {
        const mr_mask_head *mh = d->s.mask_head;
        if (!d->s.mask_loss) { rc = mr_errf(e, MR_EUSER, "heads.mask_loss: no mask loss given"); goto fail; }
        if (!mh) { rc = mr_errf(e, MR_EUSER, "heads.mask_head: no mask head given"); goto fail; }
        if ((rc = mr_mask_head_check_desc(mh, e))) goto fail;
        if (d->s.mask_pooled < 1) d->s.mask_pooled = 14;
        mr_mask_head_io *io = &d->mask_io;
        io->in_ch = d->roi_in_ch;
        io->in_size = d->s.mask_pooled;
        if (res5_head(d)) {
            /* C4: the head runs on the res5 output of the box head's RoIs
             * (paper Fig. 4 left) */
            d->s.mask_pooled = P;
            io->in_ch = d->rn.out_ch[3];
            io->in_size = P / 2;
            io->res5_input = 1;
        }
        io->num_classes = d->s.box.num_classes;
        io->width = d->s.mask_width;
        io->knobs = d->s.mask_knobs;
        if (!(d->mh_state = calloc(1, mh->state_size + 1))) {
            rc = mr_errf(e, MR_ENOMEM, "detector: out of memory");
            goto fail;
        }
        if ((rc = mr_mask_head_configure(mh, d->mh_state, io, e))) { mr_err_prefix(e, "heads"); goto fail; }
        d->mask_out = mh->out_size(d->mh_state);
        int np = mh->params(d->mh_state, "roi_heads.", NULL, 0);
        mr_param_desc *descs = calloc((size_t)np + 1, sizeof *descs);
        if (!descs) { rc = mr_errf(e, MR_ENOMEM, "detector: out of memory"); goto fail; }
        mh->params(d->mh_state, "roi_heads.", descs, np);
        /* the block must start 16-float aligned: params offsets already are */
        int brc = mr_params_add_block(t, descs, np, 1, NULL, NULL);
        free(descs);
        if (brc) { rc = mr_errf(e, MR_EINTERNAL, "mask head: %s", t->fail_msg); goto fail; }
    }
    mr_kp_head_cfg kcfg = d->s.kp;
    if (d->s.kp_on) {
        if (res5_head(d)) {
            rc = mr_errf(e, MR_EUSER, "heads.keypoints: the keypoint branch is not available with the %s tap yet "
                         "(its RoI head is res5; use a tap with a 2fc box head)", tap->name);
            goto fail;
        }
        if (d->s.kp_pooled < 1) d->s.kp_pooled = 14;
        kcfg.in_ch = d->roi_in_ch;
        kcfg.in_size = d->s.kp_pooled;
        if ((rc = mr_kp_head_check(&kcfg, e))) { mr_err_prefix(e, "heads"); goto fail; }
        int np = mr_kp_head_params(&kcfg, "roi_heads.", NULL, 0);
        mr_param_desc *descs = calloc((size_t)np + 1, sizeof *descs);
        if (!descs) { rc = mr_errf(e, MR_ENOMEM, "detector: out of memory"); goto fail; }
        mr_kp_head_params(&kcfg, "roi_heads.", descs, np);
        int brc = mr_params_add_block(t, descs, np, 1, NULL, NULL);
        free(descs);
        if (brc) { rc = mr_errf(e, MR_EINTERNAL, "keypoint head: %s", t->fail_msg); goto fail; }
        d->s.kp = kcfg;
    }
    if ((rc = mr_params_alloc(t, e))) goto fail;
    if (d->s.kp_on) {
        const mr_param_entry *first = NULL;
        for (int i = 0; i < t->n; i++)
            if (!strncmp(t->e[i].d.name, "roi_heads.keypoint_", 19)) { first = &t->e[i]; break; }
        if (!first) { rc = mr_errf(e, MR_EINTERNAL, "keypoint head: no tensors"); goto fail; }
        mr_kp_head_bind(&d->kh, &kcfg, t->data + first->d.offset, t->grad + first->d.offset);
    }
    if (d->s.mask_on) {
        /* the head's block starts at its first tensor */
        const mr_param_entry *first = NULL;
        for (int i = 0; i < t->n; i++)
            if (!strncmp(t->e[i].d.name, "roi_heads.mask_", 15)) { first = &t->e[i]; break; }
        if (!first) { rc = mr_errf(e, MR_EINTERNAL, "mask head: no tensors"); goto fail; }
        d->s.mask_head->bind(d->mh_state, t->data + first->d.offset, t->grad + first->d.offset);
    }
    *out = d;
    return MR_OK;
fail:
    mr_detector_free(d);
    return rc;
}

void mr_detector_init_weights(mr_detector *d, uint64_t seed)
{
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, seed, 0x6d7263636e6e /* "mrcnn" */);
    mr_params_init(&d->params, &rng);
    if (d->s.mask_on) d->s.mask_head->init(d->mh_state, &rng);
    if (d->s.kp_on) mr_kp_head_init(&d->kh, &rng);
}

void mr_detector_set_trace(mr_detector *d, mr_trace_fn fn, void *ctx)
{
    d->trace = fn;
    d->trace_ctx = ctx;
}

/* hand one intermediate to the observer, if any (dims: ndim sizes) */
static void trace_t(const mr_detector *d, const char *name, const float *x, int ndim, int64_t d0,
                    int64_t d1, int64_t d2, int64_t d3)
{
    if (!d->trace) return;
    const int64_t shape[4] = {d0, d1, d2, d3};
    d->trace(d->trace_ctx, name, x, ndim, shape);
}

void mr_detector_free(mr_detector *d)
{
    if (!d) return;
    mr_params_free(&d->params);
    mr_arena_free(&d->arena);
    free(d->tap_state);
    free(d->mh_state);
    free(d);
}

int mr_detector_check_batch(const mr_detector *d, const mr_batch *b, mr_err *e)
{
    int div = d->s.tap->size_divisor;
    if (b->n < 1) return mr_errf(e, MR_EUSER, "batch: no images");
    if (b->H < div || b->W < div || b->H % div || b->W % div)
        return mr_errf(e, MR_EUSER,
                       "batch: padded image size %dx%d: the %s tap needs multiples of %d "
                       "(input.size_divisibility)", b->H, b->W, d->s.tap->name, div);
    for (int n = 0; n < b->n; n++) {
        const mr_batch_image *im = &b->img[n];
        if (im->height < 1 || im->width < 1 || im->height > b->H || im->width > b->W)
            return mr_errf(e, MR_EUSER, "batch image %d (id %ld): size %dx%d outside the padded %dx%d",
                           n, im->image_id, im->height, im->width, b->H, b->W);
        for (int i = 0; i < im->ninst; i++)
            if (im->labels[i] < 1 || im->labels[i] >= d->s.box.num_classes)
                return mr_errf(e, MR_EUSER,
                               "batch image %d (id %ld) instance %d: label %d outside 1..%d (num_classes)",
                               n, im->image_id, i, im->labels[i], d->s.box.num_classes - 1);
    }
    return MR_OK;
}

/* ---- the shared forward state of one batch ---- */

/* one RoI feature extraction: R RoIs (R x 5) pooled to P x P from the maps
 * (core/roi_extractor.h's multi-level path; ws keeps the level assignment
 * and aux scratch from the forward for the backward) */
typedef struct roi_job {
    int R, P;
    const float *rois;
    void *ws;
    float *pooled;                   /* (R, C, P, P) in RoI order */
} roi_job;

typedef struct fwd_state {
    mr_stage_act stem, st[4];
    void *tap_act;                   /* the tap's forward state (act_size bytes) */
    mr_tap_maps maps;                /* the RPN's and the RoI stage's feature maps */
    mr_rpn_act rpn;
    /* RoI stage */
    int R;
    const float *rois;
    roi_job box_job, mask_job, kp_job;
    float *pooled;                   /* box head RoI features (R, C, P, P) */
    mr_stage_act res5;               /* C4 */
    float *pool5;                    /* C4: (R, C5) */
    mr_box_head_act box;
} fwd_state;

static int backbone_forward(mr_detector *d, const mr_batch *b, fwd_state *f, mr_err *e)
{
    int rc, N = b->n;
    mr_arena *a = &d->arena;
    if ((rc = mr_resnet_stem_forward(&d->rn, N, b->H, b->W, b->images, a, &f->stem, e))) return rc;
    const float *x = f->stem.out;
    int h = f->stem.OH, w = f->stem.OW;
    int nst = d->s.tap->body_stages;
    int H[4] = {0}, W[4] = {0};
    const float *c[4] = {0};
    for (int s = 0; s < nst; s++) {
        if ((rc = mr_stage_forward(&d->rn, s, N, h, w, x, a, &f->st[s], e))) return rc;
        x = c[s] = f->st[s].out;
        h = H[s] = f->st[s].OH;
        w = W[s] = f->st[s].OW;
    }
    f->tap_act = d->s.tap->act_size ? mr_arena_alloc(a, d->s.tap->act_size) : NULL;
    if (d->s.tap->act_size && !f->tap_act) return mr_errf(e, MR_ENOMEM, "tap: out of memory");
    if ((rc = d->s.tap->forward(d->tap_state, &d->s, N, H, W, c, a, f->tap_act, &f->maps, e))) return rc;
    double t0 = now_ms();
    rc = mr_rpn_forward(&d->rpn, N, b->H, b->W, d->s.rpn.nlevels, f->maps.rh, f->maps.rw, f->maps.rpn, a,
                        &f->rpn, e);
    d->ms.rpn_head += now_ms() - t0;
    return rc;
}

/* the backbone, FPN and RPN-head outputs of an inference batch, to the
 * observer (torchvision's names: body.cN, fpn.L / fpn.pool, rpn.*.L) */
static void trace_backbone(const mr_detector *d, const fwd_state *f)
{
    static const char *const body[4] = {"body.c2", "body.c3", "body.c4", "body.c5"};
    const char *const *names = d->s.tap->trace_names;
    int N = f->rpn.N, nst = d->s.tap->body_stages;
    for (int s = 0; s < nst; s++)
        trace_t(d, body[s], f->st[s].out, 4, N, d->rn.out_ch[s], f->st[s].OH, f->st[s].OW);
    for (int l = 0; names && l < f->maps.nrpn; l++)
        trace_t(d, names[l], f->maps.rpn[l], 4, N, d->roi_in_ch, f->maps.rh[l], f->maps.rw[l]);
    for (int l = 0; l < f->rpn.nlevels; l++) {
        char name[40];
        snprintf(name, sizeof name, "rpn.objectness.%d", l);
        trace_t(d, name, f->rpn.logits[l], 4, N, d->rpn.A, f->rpn.H[l], f->rpn.W[l]);
        snprintf(name, sizeof name, "rpn.deltas.%d", l);
        trace_t(d, name, f->rpn.deltas[l], 4, N, 4 * d->rpn.A, f->rpn.H[l], f->rpn.W[l]);
    }
}

/* the extraction parameters of job j: the spec's, at j's output size */
static mr_roi_params job_params(const mr_detector *d, const roi_job *j)
{
    mr_roi_params p = d->s.roi_params;
    p.pooled_h = p.pooled_w = j->P;
    return p;
}

/* RoI features of j->rois (j->R x 5) at j->P x j->P into j->pooled */
static int roi_forward(mr_detector *d, fwd_state *f, roi_job *j, mr_err *e)
{
    mr_arena *a = &d->arena;
    int R = j->R, C = d->roi_in_ch;
    mr_roi_params p = job_params(d, j);
    j->pooled = mr_arena_floats(a, (R ? (size_t)R : 1) * C * j->P * j->P);
    j->ws = mr_arena_alloc(a, mr_roi_multilevel_workspace(d->s.roi, &p, R, C));
    if (!j->pooled || !j->ws) return mr_errf(e, MR_ENOMEM, "RoI stage: out of memory");
    return mr_roi_multilevel_forward(d->s.roi, &p, &f->maps.lv, f->rpn.N, C, R, j->rois, j->pooled, j->ws, e);
}

/* dpooled (R, C, P, P) in RoI order -> dmaps[l] += */
static void roi_backward(const mr_detector *d, const fwd_state *f, const roi_job *j,
                         const float *dpooled, float *const *dmaps)
{
    mr_roi_params p = job_params(d, j);
    mr_roi_multilevel_backward(d->s.roi, &p, &f->maps.lv, f->rpn.N, d->roi_in_ch, j->R, j->rois, dpooled,
                               j->ws, dmaps);
}

/* pooled -> box head input (C4: res5 + avg pool), then the box head */
static int heads_forward(mr_detector *d, fwd_state *f, mr_err *e)
{
    mr_arena *a = &d->arena;
    const float *x = f->pooled;
    int rc;
    if (res5_head(d)) {
        int P = d->s.roi_params.pooled_h, C5 = d->rn.out_ch[3];
        f->pool5 = mr_arena_floats(a, (f->R ? (size_t)f->R : 1) * C5);
        if (!f->pool5) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
        if (f->R) {
            if ((rc = mr_stage_forward(&d->rn, 3, f->R, P, P, f->pooled, a, &f->res5, e))) return rc;
            mr_avgpool_global_forward(f->R, C5, f->res5.OH, f->res5.OW, f->res5.out, f->pool5);
        }
        x = f->pool5;
    }
    return mr_box_head_forward(&d->box, f->R, x, a, &f->box, e);
}

/* the mask branch of a training step */
typedef struct mask_state {
    int P;                           /* positive RoIs */
    const float *x;                  /* the mask head's input */
    int *rows;                       /* C4: box-sample row of each positive */
    mr_mask_head_acts acts;
    float *logits;
    float *dlogits;
} mask_state;

static int mask_forward_train(mr_detector *d, fwd_state *f, const mr_batch *b, const mr_box_samples *smp,
                              mask_state *ms, mr_losses *L, mr_err *e)
{
    mr_arena *a = &d->arena;
    int P = 0, M = d->mask_out, K1 = d->s.box.num_classes;
    for (int r = 0; r < smp->R; r++) P += smp->labels[r] > 0;
    float *rois = mr_arena_floats(a, (size_t)(P + 1) * 5);
    int *labels = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1));
    float *tg = mr_arena_floats(a, (size_t)(P + 1) * M * M);
    ms->rows = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1));
    if (!rois || !labels || !tg || !ms->rows) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
    int k = 0;
    for (int r = 0; r < smp->R; r++) {
        if (smp->labels[r] <= 0) continue;
        ms->rows[k] = r;
        memcpy(rois + 5 * k, smp->rois + 5 * r, 5 * sizeof(float));
        labels[k] = smp->labels[r];
        const mr_batch_image *im = &b->img[(int)smp->rois[5 * r]];
        if (!im->mask_target)
            return mr_errf(e, MR_EUSER, "heads.mask is on but image id %ld of the dataset has no masks", im->image_id);
        int rc = im->mask_target(im->mask_ctx, smp->gt[r], smp->rois + 5 * r + 1, M, tg + (size_t)k * M * M);
        if (rc) return mr_errf(e, MR_EUSER, "image id %ld instance %d: cannot make its mask target", im->image_id, smp->gt[r]);
        k++;
    }
    ms->P = P;
    double t0 = now_ms();
    int rc;
    if (res5_head(d)) {
        /* the positives' res5 outputs, computed for the box head */
        size_t per = (size_t)d->mask_io.in_ch * d->mask_io.in_size * d->mask_io.in_size;
        float *x = mr_arena_floats(a, (size_t)(P + 1) * per);
        if (!x) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
        for (int i = 0; i < P; i++) memcpy(x + i * per, f->res5.out + (size_t)ms->rows[i] * per, per * sizeof(float));
        ms->x = x;
    } else {
        f->mask_job.R = P;
        f->mask_job.P = d->s.mask_pooled;
        f->mask_job.rois = rois;
        if ((rc = roi_forward(d, f, &f->mask_job, e))) return rc;
        ms->x = f->mask_job.pooled;
    }
    double t1 = now_ms();
    d->ms.roi_extract += t1 - t0;
    if ((rc = d->s.mask_head->forward(d->mh_state, P, ms->x, a, &ms->acts, &ms->logits, e))) return rc;
    ms->dlogits = mr_arena_zeros(a, (size_t)(P + 1) * K1 * M * M);
    if (!ms->dlogits) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
    if (P > 0) {
        float w = d->s.mask_loss_weight > 0 ? d->s.mask_loss_weight : 1.0f;
        /* one rank of a global batch: its part of the mean over the global positives */
        if (smp->norm > 0 && smp->npos_global > 0) w *= (float)P / (float)smp->npos_global;
        L->mask = w * d->s.mask_loss->forward(P, K1, M, ms->logits, labels, tg);
        d->s.mask_loss->backward(P, K1, M, ms->logits, labels, tg, w, ms->dlogits);
    }
    L->has_mask = 1;
    d->ms.heads += now_ms() - t1;
    return MR_OK;
}

/* RoI features of the final detections (inference): one RoI per detection,
 * pooled at `pooled` into job; *P gets the number of RoIs. */
static int dets_roi_forward(mr_detector *d, fwd_state *f, const mr_batch *b, const mr_dets *dets,
                            roi_job *job, int pooled, const char *what, int *P, mr_err *e)
{
    int np = 0;
    for (int n = 0; n < b->n; n++) np += dets[n].n;
    float *rois = mr_arena_floats(&d->arena, (size_t)(np + 1) * 5);
    if (!rois) return mr_errf(e, MR_ENOMEM, "%s: out of memory", what);
    int k = 0;
    for (int n = 0; n < b->n; n++)
        for (int i = 0; i < dets[n].n; i++, k++) {
            rois[5 * k] = (float)n;
            memcpy(rois + 5 * k + 1, dets[n].boxes + 4 * i, 4 * sizeof(float));
        }
    double t0 = now_ms();
    job->R = np;
    job->P = pooled;
    job->rois = rois;
    int rc = roi_forward(d, f, job, e);
    if (rc) return rc;
    d->ms.roi_extract += now_ms() - t0;
    *P = np;
    return MR_OK;
}

/* masks for the final detections (inference) */
static int mask_forward_infer(mr_detector *d, fwd_state *f, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    mr_arena *a = &d->arena;
    int P = 0, M = d->mask_out, K1 = d->s.box.num_classes;
    int rc = dets_roi_forward(d, f, b, dets, &f->mask_job, d->s.mask_pooled, "mask head", &P, e);
    if (rc) return rc;
    double t1 = now_ms();
    const float *x = f->mask_job.pooled;
    if (res5_head(d) && P > 0) {
        /* C4: res5 on the detections' RoI features, as for the box head */
        mr_stage_act r5;
        if ((rc = mr_stage_forward(&d->rn, 3, P, f->mask_job.P, f->mask_job.P, x, a, &r5, e))) return rc;
        x = r5.out;
    }
    mr_mask_head_acts acts;
    float *logits;
    if ((rc = d->s.mask_head->forward(d->mh_state, P, x, a, &acts, &logits, e))) return rc;
    if (d->trace) {
        trace_t(d, "mask.roi_feats", f->mask_job.pooled, 4, P, d->roi_in_ch, f->mask_job.P, f->mask_job.P);
        trace_t(d, "mask.logits", logits, 4, P, K1, M, M);
    }
    int k = 0;
    for (int n = 0; n < b->n; n++) {
        dets[n].mask_size = M;
        dets[n].masks = mr_arena_floats(a, (size_t)(dets[n].n + 1) * M * M);
        if (!dets[n].masks) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
        for (int i = 0; i < dets[n].n; i++, k++)
            d->s.mask_loss->probs(K1, M, logits + (size_t)k * K1 * M * M, dets[n].labels[i],
                                  dets[n].masks + (size_t)i * M * M);
    }
    d->ms.heads += now_ms() - t1;
    return MR_OK;
}

/* the keypoint branch of a training step */
typedef struct kp_state {
    int P;
    mr_kp_head_acts acts;
    float *dlogits;
} kp_state;

static int kp_forward_train(mr_detector *d, fwd_state *f, const mr_batch *b, const mr_box_samples *smp,
                            const mr_shard *sh, kp_state *ks, mr_losses *L, mr_err *e)
{
    mr_arena *a = &d->arena;
    int NK = d->s.kp.num_kp, H = mr_kp_head_out_size(&d->s.kp), P = 0;
    for (int r = 0; r < smp->R; r++) P += smp->labels[r] > 0;
    float *rois = mr_arena_floats(a, (size_t)(P + 1) * 5);
    int *tg = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1) * NK);
    float *probs = mr_arena_floats(a, (size_t)(P + 1) * NK * H * H);
    if (!rois || !tg || !probs) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    int k = 0;
    for (int r = 0; r < smp->R; r++) {
        if (smp->labels[r] <= 0) continue;
        memcpy(rois + 5 * k, smp->rois + 5 * r, 5 * sizeof(float));
        const mr_batch_image *im = &b->img[(int)smp->rois[5 * r]];
        if (im->nkp && im->nkp != NK)
            return mr_errf(e, MR_EUSER, "image id %ld: %d keypoints per instance, the model has %d", im->image_id, im->nkp, NK);
        if (im->nkp && im->keypoints)
            mr_keypoints_to_heatmap(NK, im->keypoints + (size_t)smp->gt[r] * NK * 3, smp->rois + 5 * r + 1, H,
                                    tg + (size_t)k * NK);
        else
            for (int q = 0; q < NK; q++) tg[(size_t)k * NK + q] = -1;
        k++;
    }
    ks->P = P;
    double t0 = now_ms();
    f->kp_job.R = P;
    f->kp_job.P = d->s.kp_pooled;
    f->kp_job.rois = rois;
    int rc = roi_forward(d, f, &f->kp_job, e);
    if (rc) return rc;
    double t1 = now_ms();
    d->ms.roi_extract += t1 - t0;
    if ((rc = mr_kp_head_forward(&d->kh, P, f->kp_job.pooled, a, &ks->acts, e))) return rc;
    ks->dlogits = mr_arena_zeros(a, (size_t)(P + 1) * NK * H * H);
    if (!ks->dlogits) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    /* one rank of a global batch: its part of the mean over the global
     * batch's valid keypoints (every rank takes part, with or without any) */
    float kw = 1.0f;
    if (sh) {
        int nv = 0;
        for (long q = 0; q < (long)P * NK; q++) nv += tg[q] >= 0;
        long gv = 0;
        if ((rc = mr_shard_sum_int(sh, nv, &gv, e))) return mr_err_prefix(e, "keypoint loss");
        kw = gv > 0 ? (float)nv / (float)gv : 0.0f;
    }
    if (P > 0) {
        int nvalid = 0;
        L->kp = mr_kp_loss_forward(P * NK, H * H, ks->acts.logits, tg, probs, &nvalid);
        if (sh) L->kp *= kw;
        if (nvalid > 0) mr_kp_loss_backward(P * NK, H * H, probs, tg, kw, ks->dlogits);
    }
    L->has_kp = 1;
    d->ms.heads += now_ms() - t1;
    return MR_OK;
}

/* keypoints for the final detections (inference) */
static int kp_forward_infer(mr_detector *d, fwd_state *f, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    mr_arena *a = &d->arena;
    int NK = d->s.kp.num_kp, H = mr_kp_head_out_size(&d->s.kp), P = 0;
    float *sc = mr_arena_floats(a, (size_t)NK + 1);
    if (!sc) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    int rc = dets_roi_forward(d, f, b, dets, &f->kp_job, d->s.kp_pooled, "keypoint head", &P, e);
    if (rc) return rc;
    double t1 = now_ms();
    mr_kp_head_acts acts;
    if ((rc = mr_kp_head_forward(&d->kh, P, f->kp_job.pooled, a, &acts, e))) return rc;
    if (d->trace) {
        trace_t(d, "kp.roi_feats", f->kp_job.pooled, 4, P, d->roi_in_ch, f->kp_job.P, f->kp_job.P);
        trace_t(d, "kp.logits", acts.logits, 4, P, NK, H, H);
    }
    double t2 = now_ms();
    d->ms.heads += t2 - t1;
    int k = 0;
    for (int n = 0; n < b->n; n++) {
        dets[n].num_kp = NK;
        dets[n].kps = mr_arena_floats(a, (size_t)(dets[n].n + 1) * NK * 3);
        if (!dets[n].kps) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
        for (int i = 0; i < dets[n].n; i++, k++) {
            const float *roi = dets[n].boxes + 4 * i;
            mr_arena_mark m = mr_arena_get_mark(a);
            float *ws = mr_arena_floats(a, mr_kp_decode_workspace(H, roi) + 1);
            if (!ws) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
            float *xy = dets[n].kps + (size_t)i * NK * 3;
            mr_heatmaps_to_keypoints(acts.logits + (size_t)k * NK * H * H, NK, H, roi, xy, sc, ws);
            for (int q = 0; q < NK; q++) xy[3 * q + 2] = sc[q];
            mr_arena_release(a, m);
        }
    }
    d->ms.postprocess += now_ms() - t2;
    return MR_OK;
}

int mr_detector_train_step_grads(mr_detector *d, const mr_batch *b, mr_pcg32 *rng, mr_losses *L,
                                 mr_err *e)
{
    return mr_detector_train_step_grads_shard(d, b, NULL, rng, L, e);
}

int mr_detector_train_step_grads_shard(mr_detector *d, const mr_batch *b, const mr_shard *sh, mr_pcg32 *rng,
                                       mr_losses *L, mr_err *e)
{
    int rc;
    if (sh && mr_dist_size(sh->dist) <= 1) sh = NULL;
    memset(L, 0, sizeof *L);
    if ((rc = mr_detector_check_batch(d, b, e))) return rc;
    mr_arena *a = &d->arena;
    mr_arena_reset(a);
    memset(d->params.grad, 0, d->params.numel * sizeof(float));
    fwd_state f;
    memset(&f, 0, sizeof f);
    double t0 = now_ms();
    if ((rc = backbone_forward(d, b, &f, e))) return rc;
    double t1 = now_ms();
    d->ms.backbone += t1 - t0;
    /* RPN losses and proposals */
    mr_rpn_targets tg;
    if ((rc = mr_rpn_assign_shard(&d->rpn, &f.rpn, b, sh, rng, a, &tg, e))) return rc;
    float *dlog[MR_RPN_MAX_LEVELS], *ddel[MR_RPN_MAX_LEVELS];
    int A = d->rpn.A, N = b->n;
    for (int l = 0; l < f.rpn.nlevels; l++) {
        size_t hw = (size_t)f.rpn.H[l] * f.rpn.W[l];
        dlog[l] = mr_arena_zeros(a, (size_t)N * A * hw);
        ddel[l] = mr_arena_zeros(a, (size_t)N * 4 * A * hw);
        if (!dlog[l] || !ddel[l]) return mr_errf(e, MR_ENOMEM, "rpn: out of memory");
    }
    mr_rpn_loss(&d->rpn, &f.rpn, &tg, dlog, ddel, &L->rpn_cls, &L->rpn_box);
    mr_proposals props;
    if ((rc = mr_rpn_proposals(&d->rpn, &f.rpn, b, 1, a, &props, e))) return rc;
    mr_box_samples smp;
    if ((rc = mr_box_assign_shard(&d->box, &props, b, sh, rng, a, &smp, e))) return rc;
    double t2 = now_ms();
    d->ms.rpn += t2 - t1;
    L->rois = smp.R;
    L->pos_rois = smp.npos;
    f.R = smp.R;
    f.rois = smp.rois;
    f.box_job.R = smp.R;
    f.box_job.P = d->s.roi_params.pooled_h;
    f.box_job.rois = smp.rois;
    if ((rc = roi_forward(d, &f, &f.box_job, e))) return rc;
    f.pooled = f.box_job.pooled;
    double t3 = now_ms();
    d->ms.roi_extract += t3 - t2;
    if ((rc = heads_forward(d, &f, e))) return rc;
    int K1 = d->s.box.num_classes, R = f.R;
    float *dcls = mr_arena_zeros(a, (size_t)(R + 1) * K1), *ddl = mr_arena_zeros(a, (size_t)(R + 1) * 4 * K1);
    if (!dcls || !ddl) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
    mr_box_loss(&d->box, &f.box, &smp, dcls, ddl, &L->cls, &L->box);
    /* the mask branch: positive RoIs -> RoI features (mask_pooled) -> mask
     * head -> loss against the dataset's mask targets */
    mask_state ms;
    memset(&ms, 0, sizeof ms);
    if (d->s.mask_on && (rc = mask_forward_train(d, &f, b, &smp, &ms, L, e))) return rc;
    /* the keypoint branch: positive RoIs -> RoI features -> keypoint head ->
     * heatmap loss against b->img[n].keypoints */
    kp_state ks;
    memset(&ks, 0, sizeof ks);
    if (d->s.kp_on && (rc = kp_forward_train(d, &f, b, &smp, sh, &ks, L, e))) return rc;
    L->total = L->rpn_cls + L->rpn_box + L->cls + L->box + L->mask + L->kp;
    /* before any gradient: the caller's weights stay as they are. One rank
     * of a global batch leaves the check to mr_trainer_step, on the global
     * loss every rank has (so they all stop alike, with one message) */
    if (!sh && !isfinite(L->total)) {
        char extra[64] = "";
        if (d->s.mask_on) snprintf(extra, sizeof extra, " mask %g", L->mask);
        if (d->s.kp_on) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " kp %g", L->kp);
        return mr_errf(e, MR_EUSER, "training diverged: loss is %g (rpn_cls %g rpn_box %g cls %g box %g%s); "
                       "lower schedule.lr or lengthen schedule.warmup_iters", L->total, L->rpn_cls, L->rpn_box,
                       L->cls, L->box, extra);
    }
    /* ---- backward ---- */
    int C = d->roi_in_ch, P = d->s.roi_params.pooled_h;
    float *dpooled = mr_arena_zeros(a, (size_t)(R + 1) * C * P * P);
    if (!dpooled) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
    if (res5_head(d)) {
        int C5 = d->rn.out_ch[3];
        float *dp5 = mr_arena_zeros(a, (size_t)(R + 1) * C5);
        if (!dp5) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
        if ((rc = mr_box_head_backward(&d->box, &f.box, dcls, ddl, dp5, a, e))) return rc;
        if (R) {
            float *dres5 = mr_arena_zeros(a, (size_t)R * C5 * f.res5.OH * f.res5.OW);
            if (!dres5) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
            mr_avgpool_global_backward(R, C5, f.res5.OH, f.res5.OW, dp5, dres5);
            if (d->s.mask_on && ms.P > 0) {
                /* the mask head's gradient joins its RoIs' res5 outputs */
                size_t per = (size_t)C5 * f.res5.OH * f.res5.OW;
                float *dx = mr_arena_zeros(a, (size_t)ms.P * per);
                if (!dx) return mr_errf(e, MR_ENOMEM, "mask head: out of memory in backward");
                if ((rc = d->s.mask_head->backward(d->mh_state, ms.x, &ms.acts, ms.dlogits, dx, a, e))) return rc;
                for (int i = 0; i < ms.P; i++) {
                    float *dst = dres5 + (size_t)ms.rows[i] * per;
                    const float *src = dx + (size_t)i * per;
                    for (size_t q = 0; q < per; q++) dst[q] += src[q];
                }
            }
            if ((rc = mr_stage_backward(&d->rn, 3, &f.res5, dres5, dpooled, a, e))) return rc;
        }
    } else {
        if ((rc = mr_box_head_backward(&d->box, &f.box, dcls, ddl, dpooled, a, e))) return rc;
    }
    double t4 = now_ms();
    d->ms.heads += t4 - t3;
    /* feature-map gradients */
    float *dmaps[5] = {0};
    for (int l = 0; l < f.rpn.nlevels; l++) {
        dmaps[l] = mr_arena_zeros(a, (size_t)N * d->rpn.C * f.rpn.H[l] * f.rpn.W[l]);
        if (!dmaps[l]) return mr_errf(e, MR_ENOMEM, "out of memory in backward");
    }
    roi_backward(d, &f, &f.box_job, dpooled, dmaps);
    d->ms.roi_extract += now_ms() - t4;
    if (d->s.mask_on && ms.P > 0 && !res5_head(d)) {
        float *dx = mr_arena_zeros(a, (size_t)ms.P * C * f.mask_job.P * f.mask_job.P);
        if (!dx) return mr_errf(e, MR_ENOMEM, "mask head: out of memory in backward");
        double tm = now_ms();
        if ((rc = d->s.mask_head->backward(d->mh_state, ms.x, &ms.acts, ms.dlogits, dx, a, e))) return rc;
        double tr = now_ms();
        d->ms.heads += tr - tm;
        roi_backward(d, &f, &f.mask_job, dx, dmaps);
        d->ms.roi_extract += now_ms() - tr;
    }
    if (d->s.kp_on && ks.P > 0) {
        float *dx = mr_arena_zeros(a, (size_t)ks.P * C * f.kp_job.P * f.kp_job.P);
        if (!dx) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory in backward");
        double tm = now_ms();
        if ((rc = mr_kp_head_backward(&d->kh, f.kp_job.pooled, &ks.acts, ks.dlogits, dx, a, e))) return rc;
        double tr = now_ms();
        d->ms.heads += tr - tm;
        roi_backward(d, &f, &f.kp_job, dx, dmaps);
        d->ms.roi_extract += now_ms() - tr;
    }
    /* (the mask and keypoint parts above are counted as they run) */
    double t5 = now_ms();
    if ((rc = mr_rpn_backward(&d->rpn, &f.rpn, dlog, ddel, dmaps, a, e))) return rc;
    double t6 = now_ms();
    d->ms.rpn += t6 - t5;
    /* backbone */
    int nst = d->s.tap->body_stages;
    float *dc[4] = {0};
    for (int s = 0; s < nst; s++) {
        dc[s] = mr_arena_zeros(a, (size_t)N * d->rn.out_ch[s] * f.st[s].OH * f.st[s].OW);
        if (!dc[s]) return mr_errf(e, MR_ENOMEM, "out of memory in backward");
    }
    if ((rc = d->s.tap->backward(d->tap_state, &d->s, f.tap_act, N, d->roi_in_ch, &f.maps, dmaps, dc, a, e)))
        return rc;
    float *dstem = d->rn.stem_trainable
                       ? mr_arena_zeros(a, (size_t)N * d->rn.stem_ch * f.stem.OH * f.stem.OW) : NULL;
    for (int s = nst - 1; s >= 0; s--) {
        int below_trainable = s == 0 ? d->rn.stem_trainable : d->rn.st[s - 1].trainable;
        float *dx = below_trainable ? (s == 0 ? dstem : dc[s - 1]) : NULL;
        if ((rc = mr_stage_backward(&d->rn, s, &f.st[s], dc[s], dx, a, e))) return rc;
    }
    if (dstem && (rc = mr_resnet_stem_backward(&d->rn, &f.stem, dstem, a, e))) return rc;
    d->ms.backbone += now_ms() - t6;
    return MR_OK;
}

int mr_detector_infer(mr_detector *d, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    int rc;
    if ((rc = mr_detector_check_batch(d, b, e))) return rc;
    mr_arena *a = &d->arena;
    mr_arena_reset(a);
    fwd_state f;
    memset(&f, 0, sizeof f);
    double t0 = now_ms();
    if ((rc = backbone_forward(d, b, &f, e))) return rc;
    double t1 = now_ms();
    d->ms.backbone += t1 - t0;
    if (d->trace) trace_backbone(d, &f);
    t1 = now_ms();
    mr_proposals props;
    if ((rc = mr_rpn_proposals(&d->rpn, &f.rpn, b, 0, a, &props, e))) return rc;
    int R = 0;
    for (int n = 0; n < b->n; n++) R += props.n[n];
    float *rois = mr_arena_floats(a, (size_t)(R + 1) * 5);
    if (!rois) return mr_errf(e, MR_ENOMEM, "out of memory (proposals)");
    int r = 0;
    for (int n = 0; n < b->n; n++)
        for (int i = 0; i < props.n[n]; i++, r++) {
            rois[5 * r] = (float)n;
            memcpy(rois + 5 * r + 1, props.boxes[n] + 4 * i, 4 * sizeof(float));
        }
    double t2 = now_ms();
    d->ms.rpn += t2 - t1;
    if (d->trace) {
        trace_t(d, "rpn.proposals", rois, 2, R, 5, 0, 0);
        float *sc = mr_arena_floats(a, (size_t)R + 1);
        if (!sc) return mr_errf(e, MR_ENOMEM, "out of memory (proposals)");
        for (int n = 0, k = 0; n < b->n; n++)
            for (int i = 0; i < props.n[n]; i++) sc[k++] = props.scores[n][i];
        trace_t(d, "rpn.proposal_scores", sc, 1, R, 0, 0, 0);
        t2 = now_ms();
    }
    f.R = R;
    f.rois = rois;
    f.box_job.R = R;
    f.box_job.P = d->s.roi_params.pooled_h;
    f.box_job.rois = rois;
    if ((rc = roi_forward(d, &f, &f.box_job, e))) return rc;
    f.pooled = f.box_job.pooled;
    double t3 = now_ms();
    d->ms.roi_extract += t3 - t2;
    if ((rc = heads_forward(d, &f, e))) return rc;
    double t4 = now_ms();
    d->ms.heads += t4 - t3;
    if (d->trace) {
        int C = d->roi_in_ch, P = f.box_job.P, K1 = d->s.box.num_classes;
        trace_t(d, "box.roi_feats", f.box_job.pooled, 4, R, C, P, P);
        trace_t(d, "box.class_logits", f.box.cls, 2, R, K1, 0, 0);
        trace_t(d, "box.box_regression", f.box.deltas, 2, R, 4 * K1, 0, 0);
        t4 = now_ms();
    }
    if ((rc = mr_box_postprocess(&d->box, &f.box, R, rois, b, a, dets, e))) return rc;
    d->ms.postprocess += now_ms() - t4;
    /* masks for the final detections (pasted by the caller: core/postprocess.h) */
    double t5 = now_ms();
    if (d->s.mask_on && (rc = mask_forward_infer(d, &f, b, dets, e))) return rc;
    d->ms.mask_branch += now_ms() - t5;
    if (d->s.kp_on && (rc = kp_forward_infer(d, &f, b, dets, e))) return rc;
    return MR_OK;
}
