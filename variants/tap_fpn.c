/*
 * tap_fpn.c — the FPN backbone tap (registry name "fpn"): P2-P6 from
 * lateral 1x1 convs, top-down nearest upsampling and 3x3 outputs, P6 by
 * max-pool (core/fpn.c); the RPN runs on all five levels (one anchor size
 * each), RoIs are pooled from P2-P5 by the paper's k0 = 4, canonical 224
 * rule (the spec's canonical_scale / canonical_level). The tap's state is
 * the mr_fpn module with its tensors (torchvision's backbone.fpn.* names).
 */
#include "core/detector.h"
#include "core/fpn.h"

static const char *const fpn_trace_names[5] = {"fpn.0", "fpn.1", "fpn.2", "fpn.3", "fpn.pool"};

static int fpn_declare(void *state, const mr_detector_spec *s, const int body_ch[4],
                       mr_param_table *t, int *map_ch, mr_err *e)
{
    *map_ch = s->fpn_channels;
    return mr_fpn_declare(state, body_ch, s->fpn_channels, t, e);
}

static int fpn_forward(const void *state, const mr_detector_spec *s, int N, const int H[4],
                       const int W[4], const float *const c[4], mr_arena *a, void *act,
                       mr_tap_maps *out, mr_err *e)
{
    mr_fpn_act *f = act;
    int rc = mr_fpn_forward(state, N, H, W, c, a, f, e);
    if (rc) return rc;
    out->nrpn = 5;
    for (int l = 0; l < 5; l++) {
        out->rpn[l] = f->p[l];
        out->rh[l] = f->H[l];
        out->rw[l] = f->W[l];
    }
    out->lv.nlevels = 4;   /* P2-P5 */
    out->lv.k_min = 2;
    out->lv.canonical_scale = s->canonical_scale;
    out->lv.canonical_level = s->canonical_level;
    for (int l = 0; l < 4; l++) {
        out->lv.feat[l] = f->p[l];
        out->lv.H[l] = f->H[l];
        out->lv.W[l] = f->W[l];
        out->lv.scale[l] = 1.0f / (float)(4 << l);
    }
    return MR_OK;
}

static int fpn_backward(const void *state, const mr_detector_spec *s, const void *act, int N,
                        int map_ch, const mr_tap_maps *out, float *const *dmaps, float *const dc[4],
                        mr_arena *a, mr_err *e)
{
    (void)s; (void)N; (void)map_ch; (void)out;
    return mr_fpn_backward(state, act, dmaps, dc, a, e);
}

const struct mr_tap mr_tap_fpn = {
    .name = "fpn",
    .summary = "Feature Pyramid Network P2-P6, RoIs assigned to P2-P5 (k0 = 4, canonical 224)",
    .rpn_levels = 5,
    .size_divisor = 32,
    .default_pooled = 7,
    .default_batch = 512,
    .roi_scale = 0.0f,
    .body_stages = 4,
    .box_head = MR_BOX_HEAD_FC2,
    .trace_names = fpn_trace_names,
    .state_size = sizeof(mr_fpn),
    .act_size = sizeof(mr_fpn_act),
    .declare = fpn_declare,
    .forward = fpn_forward,
    .backward = fpn_backward,
};
