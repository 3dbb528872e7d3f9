/*
 * flops.c — parameters and multiply-adds per stage of a config's detector
 * (flops.h, docs/flops.md). The layers' shapes come from the detector's own
 * parameter table (torchvision's names, core/detector.h); where each layer
 * runs (its output size, how many RoIs) follows the pipeline: ResNet stem
 * and stages at the input's strides (stride in the first block's 3x3 conv of
 * a bottleneck, in its first conv for basic blocks; res5 at stride 1 with
 * DC5), FPN levels on C2..C5, the RPN head on every RPN map (P6 = C5's FPN
 * map subsampled by 2), the box head on the RPN's post-NMS test proposals
 * (on C4 taps res5 runs on them too, at the pooled size), the mask and
 * keypoint heads on the detections (a mask head's tower at its input side,
 * its predictor's convs at its output side, core/mask_head.h).
 */
#include "harness/flops.h"

#include <stdio.h>
#include <string.h>

#include "core/detector.h"
#include "core/layers.h"

enum { ST_BACKBONE, ST_FPN, ST_RPN, ST_BOX, ST_MASK, ST_KP };
static const char *const stage_names[MR_FLOPS_NSTAGES] = {"backbone", "fpn", "rpn", "box_head", "mask_head",
                                                          "keypoint_head"};

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* the layer a ".weight" / ".bias" belongs to: name without the suffix */
static int layer_of(const char *name, char *out, size_t n)
{
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".weight") && strcmp(dot, ".bias"))) return 0;
    snprintf(out, n, "%.*s", (int)(dot - name), name);
    return 1;
}

static const mr_param_desc *find(const mr_param_table *t, const char *layer, const char *suffix)
{
    char nm[512];
    size_t ln = strlen(layer), ls = strlen(suffix);
    if (ln + ls >= sizeof nm) return NULL;
    memcpy(nm, layer, ln);
    memcpy(nm + ln, suffix, ls + 1);
    const mr_param_entry *p = mr_params_find(t, nm);
    return p ? &p->d : NULL;
}

/* ResNet stage sizes: sz[0] stem conv output, sz[1] after the max pool
 * (= C2), sz[2..4] C3..C5; stride 2 per stage from C3 (C5 at stride 1 with
 * res5 dilation 2) */
static void body_sizes(int in, int dilated, int sz[5])
{
    sz[0] = mr_conv_out_size(in, 7, 2, 3, 1);
    sz[1] = mr_conv_out_size(sz[0], 3, 2, 1, 1);
    sz[2] = mr_conv_out_size(sz[1], 3, 2, 1, 1);
    sz[3] = mr_conv_out_size(sz[2], 3, 2, 1, 1);
    sz[4] = dilated ? sz[3] : mr_conv_out_size(sz[3], 3, 2, 1, 1);
}

int mr_flops_count(const mr_config *c, int H, int W, int rois, int dets, mr_flops *out, mr_err *e)
{
    memset(out, 0, sizeof *out);
    if (H < 32 || W < 32 || H > 16384 || W > 16384)
        return mr_errf(e, MR_EUSER, "size %dx%d: expected sides from 32 to 16384", H, W);
    if (dets < 0 || dets > 100000) return mr_errf(e, MR_EUSER, "%d detections: expected 0 to 100000", dets);
    int d = c->size_div > 1 ? c->size_div : 1;
    out->H = (H + d - 1) / d * d;
    out->W = (W + d - 1) / d * d;
    out->dets = dets;
    out->rois = rois > 0 ? rois : c->spec.rpn.post_nms_test;
    out->num_classes = c->num_classes > 0 ? c->num_classes : 80;
    for (int s = 0; s < MR_FLOPS_NSTAGES; s++) out->st[s].name = stage_names[s];
    mr_detector_spec spec = c->spec;
    spec.box.num_classes = out->num_classes + 1;
    mr_detector *det = NULL;
    int rc = mr_detector_create(&det, &spec, e);
    if (rc) return mr_err_prefix(e, "%s", c->file[0] ? c->file : c->name);
    const mr_param_table *t = &det->params;
    const mr_tap *tap = det->s.tap;
    int c4 = tap->body_stages == 3;   /* res5 is the RoI head */
    int hs[5], ws[5];
    body_sizes(out->H, tap->res5_dilation == 2, hs);
    body_sizes(out->W, tap->res5_dilation == 2, ws);
    /* the RPN's maps: FPN P2..P6, else the tap's one map */
    int nr = 0, rh[5], rw[5];
    if (tap->rpn_levels > 1) {
        for (int l = 0; l < 4; l++) { rh[l] = hs[l + 1]; rw[l] = ws[l + 1]; }
        rh[4] = (hs[4] - 1) / 2 + 1;
        rw[4] = (ws[4] - 1) / 2 + 1;
        nr = 5;
    } else {
        rh[0] = hs[tap->body_stages];
        rw[0] = ws[tap->body_stages];
        nr = 1;
    }
    for (int i = 0; i < t->n && !rc; i++) {
        const mr_param_desc *p = &t->e[i].d;
        char layer[256];
        const mr_param_desc *wt;
        if (!layer_of(p->name, layer, sizeof layer) || !(wt = find(t, layer, ".weight")) ||
            (wt->ndim != 4 && wt->ndim != 2)) {
            out->norm_params += (double)p->numel;   /* a norm's tensor */
            continue;
        }
        int st;
        if (starts(p->name, "backbone.body.")) st = c4 && starts(p->name, "backbone.body.layer4.") ? ST_BOX : ST_BACKBONE;
        else if (starts(p->name, "backbone.fpn.")) st = ST_FPN;
        else if (starts(p->name, "rpn.")) st = ST_RPN;
        else if (starts(p->name, "roi_heads.box_")) st = ST_BOX;
        else if (starts(p->name, "roi_heads.mask_")) st = ST_MASK;
        else if (starts(p->name, "roi_heads.keypoint_")) st = ST_KP;
        else {
            rc = mr_errf(e, MR_EINTERNAL, "flops: parameter %s belongs to no stage", p->name);
            break;
        }
        out->st[st].params += (double)p->numel;
        if (wt != p) continue;   /* a bias: its MACs are not counted */
        double k = (double)p->numel;   /* weights: each is one MAC per use */
        if (p->ndim == 2) {            /* linear: one use per row */
            double rows = st == ST_BOX ? out->rois : dets;
            out->st[st].macs[MR_FLOPS_LINEAR] += k * rows;
            continue;
        }
        int deconv = strstr(p->name, "conv5_mask") || strstr(p->name, "kps_score_lowres");
        double px = 0;   /* output pixels (conv) or input pixels (deconv), summed over the images / RoIs */
        if (st == ST_BACKBONE || (st == ST_BOX && c4)) {
            int L = 0, blk = 0;
            char which[32] = "";
            if (!strcmp(layer, "backbone.body.conv1")) L = 0;
            else if (sscanf(layer, "backbone.body.layer%d.%d.%31s", &L, &blk, which) != 3) {
                rc = mr_errf(e, MR_EINTERNAL, "flops: unexpected backbone layer %s", layer);
                break;
            }
            /* a bottleneck's first block keeps its input size in conv1 (the
             * stride is in its 3x3 conv); every other conv runs at the
             * stage's output size */
            char c3[128];
            snprintf(c3, sizeof c3, "backbone.body.layer%d.0.conv3", L);
            int at_input = L >= 1 && blk == 0 && !strcmp(which, "conv1") && find(t, c3, ".weight");
            if (st == ST_BOX) {
                /* C4: res5 on the RoIs, pooled side P, halved by its first block */
                int P = det->s.roi_params.pooled_h, side = at_input ? P : mr_conv_out_size(P, 3, 2, 1, 1);
                px = (double)side * side * out->rois;
                /* and again on the detections in the mask branch */
                if (det->s.mask_on) {
                    int Pm = det->s.mask_pooled, sm = at_input ? Pm : mr_conv_out_size(Pm, 3, 2, 1, 1);
                    out->st[ST_MASK].macs[MR_FLOPS_CONV] += k * sm * sm * dets;
                }
            } else {
                int idx = at_input && L >= 2 ? L - 1 : L;
                px = (double)hs[idx] * ws[idx];
            }
        } else if (st == ST_FPN) {
            int lv = -1;
            if (sscanf(layer, "backbone.fpn.inner_blocks.%d", &lv) != 1 &&
                sscanf(layer, "backbone.fpn.layer_blocks.%d", &lv) != 1) lv = -1;
            if (lv < 0 || lv > 3) {
                rc = mr_errf(e, MR_EINTERNAL, "flops: unexpected FPN layer %s", layer);
                break;
            }
            px = (double)hs[lv + 1] * ws[lv + 1];
        } else if (st == ST_RPN) {
            for (int l = 0; l < nr; l++) px += (double)rh[l] * rw[l];
        } else if (st == ST_MASK) {
            /* the tower (mask_head.*) runs at the RoI feature side, a
             * deconv reads it, the predictor's convs (after the upsampling:
             * logits, fcn_resize's conv5_up) run at the output side */
            int in = det->mask_io.in_size, o = det->mask_out;
            int pred = starts(p->name, "roi_heads.mask_predictor.");
            px = (double)dets * (deconv || !pred ? (double)in * in : (double)o * o);
        } else if (st == ST_KP) {
            int in = det->s.kp.in_size;
            px = (double)in * in * dets;
        } else {
            px = (double)det->s.roi_params.pooled_h * det->s.roi_params.pooled_h * out->rois;
        }
        out->st[st].macs[deconv ? MR_FLOPS_DECONV : MR_FLOPS_CONV] += k * px;
    }
    mr_detector_free(det);
    if (rc) return rc;
    for (int s = 0; s < MR_FLOPS_NSTAGES; s++) {
        out->params += out->st[s].params;
        for (int q = 0; q < 3; q++) {
            out->macs_type[q] += out->st[s].macs[q];
            out->macs += out->st[s].macs[q];
        }
    }
    return MR_OK;
}

static void add_counts(cJSON *o, double params, const double m[3])
{
    cJSON_AddNumberToObject(o, "params", params);
    cJSON_AddNumberToObject(o, "gmacs", (m[0] + m[1] + m[2]) * 1e-9);
    cJSON_AddNumberToObject(o, "gmacs_conv", m[0] * 1e-9);
    cJSON_AddNumberToObject(o, "gmacs_linear", m[1] * 1e-9);
    cJSON_AddNumberToObject(o, "gmacs_deconv", m[2] * 1e-9);
}

cJSON *mr_flops_to_json(const mr_flops *f)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(j, "input");
    cJSON_AddItemToArray(a, cJSON_CreateNumber(f->H));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(f->W));
    cJSON_AddNumberToObject(j, "rois", f->rois);
    cJSON_AddNumberToObject(j, "dets", f->dets);
    cJSON_AddNumberToObject(j, "num_classes", f->num_classes);
    cJSON *s = cJSON_AddObjectToObject(j, "stages");
    for (int i = 0; i < MR_FLOPS_NSTAGES; i++) add_counts(cJSON_AddObjectToObject(s, f->st[i].name), f->st[i].params,
                                                          f->st[i].macs);
    cJSON *t = cJSON_AddObjectToObject(j, "total");
    add_counts(t, f->params, f->macs_type);
    cJSON_AddNumberToObject(t, "gflops", 2e-9 * f->macs);
    cJSON_AddNumberToObject(j, "norm_params", f->norm_params);
    return j;
}
