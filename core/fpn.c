/*
 * fpn.c — Feature Pyramid Network forward and backward (see fpn.h).
 */
#include "core/fpn.h"

#include <stdio.h>
#include <string.h>

int mr_fpn_declare(mr_fpn *f, const int in_ch[4], int out_ch, mr_param_table *t, mr_err *e)
{
    if (out_ch < 1 || out_ch > 4096)
        return mr_errf(e, MR_EUSER, "fpn.channels: %d: expected 1..4096", out_ch);
    memset(f, 0, sizeof *f);
    f->out_ch = out_ch;
    char nm[MR_PARAM_NAME_MAX];
    for (int l = 0; l < 4; l++) {
        f->in_ch[l] = in_ch[l];
        f->inner[l] = (mr_conv2d){in_ch[l], out_ch, 1, 1, 1, 1, 0, 0, 1, 1};
        f->layer[l] = (mr_conv2d){out_ch, out_ch, 3, 3, 1, 1, 1, 1, 1, 1};
        int wi[4] = {out_ch, in_ch[l], 1, 1}, wl[4] = {out_ch, out_ch, 3, 3}, b[1] = {out_ch};
        snprintf(nm, sizeof nm, "backbone.fpn.inner_blocks.%d.0.weight", l);
        mr_params_add(t, nm, 4, wi, MR_INIT_KAIMING_UNIF_A1, 0, 1, &f->inner_w[l], &f->dinner_w[l]);
        snprintf(nm, sizeof nm, "backbone.fpn.inner_blocks.%d.0.bias", l);
        mr_params_add(t, nm, 1, b, MR_INIT_ZERO, 0, 1, &f->inner_b[l], &f->dinner_b[l]);
        snprintf(nm, sizeof nm, "backbone.fpn.layer_blocks.%d.0.weight", l);
        mr_params_add(t, nm, 4, wl, MR_INIT_KAIMING_UNIF_A1, 0, 1, &f->layer_w[l], &f->dlayer_w[l]);
        snprintf(nm, sizeof nm, "backbone.fpn.layer_blocks.%d.0.bias", l);
        mr_params_add(t, nm, 1, b, MR_INIT_ZERO, 0, 1, &f->layer_b[l], &f->dlayer_b[l]);
    }
    if (t->failed) return mr_errf(e, MR_EINTERNAL, "fpn: %s", t->fail_msg);
    return MR_OK;
}

int mr_fpn_forward(const mr_fpn *f, int N, const int H[4], const int W[4], const float *const c[4],
                   mr_arena *a, mr_fpn_act *act, mr_err *e)
{
    memset(act, 0, sizeof *act);
    act->N = N;
    int C = f->out_ch;
    for (int l = 0; l < 4; l++) {
        act->H[l] = H[l];
        act->W[l] = W[l];
        act->c[l] = c[l];
        act->inner[l] = mr_arena_floats(a, (size_t)N * C * H[l] * W[l]);
        act->p[l] = mr_arena_floats(a, (size_t)N * C * H[l] * W[l]);
        if (!act->inner[l] || !act->p[l]) return mr_errf(e, MR_ENOMEM, "fpn: out of memory");
    }
    act->H[4] = mr_conv_out_size(H[3], 1, 2, 0, 1);
    act->W[4] = mr_conv_out_size(W[3], 1, 2, 0, 1);
    size_t n6 = (size_t)N * C * act->H[4] * act->W[4];
    act->p[4] = mr_arena_floats(a, n6);
    act->argmax = mr_arena_alloc(a, n6 * sizeof(int32_t));
    if (!act->p[4] || !act->argmax) return mr_errf(e, MR_ENOMEM, "fpn: out of memory");
    for (int l = 3; l >= 0; l--) {
        mr_arena_mark m = mr_arena_get_mark(a);
        size_t wsn = mr_conv2d_workspace(&f->inner[l], H[l], W[l]);
        size_t wsl = mr_conv2d_workspace(&f->layer[l], H[l], W[l]);
        float *ws = mr_arena_floats(a, (wsn > wsl ? wsn : wsl) + 1);
        size_t n = (size_t)N * C * H[l] * W[l];
        float *up = l < 3 ? mr_arena_floats(a, n) : NULL;
        if (!ws || (l < 3 && !up)) return mr_errf(e, MR_ENOMEM, "fpn: out of memory");
        mr_conv2d_forward(&f->inner[l], N, H[l], W[l], c[l], f->inner_w[l], f->inner_b[l],
                          act->inner[l], ws);
        if (l < 3) {
            mr_upsample_nearest_forward(N, C, H[l + 1], W[l + 1], H[l], W[l], act->inner[l + 1], up);
            mr_add_forward(n, act->inner[l], up, act->inner[l]);
        }
        mr_conv2d_forward(&f->layer[l], N, H[l], W[l], act->inner[l], f->layer_w[l], f->layer_b[l],
                          act->p[l], ws);
        mr_arena_release(a, m);
    }
    mr_maxpool2d_forward(N, C, H[3], W[3], 1, 2, 0, act->p[3], act->p[4], act->argmax);
    return MR_OK;
}

int mr_fpn_backward(const mr_fpn *f, const mr_fpn_act *act, float *const dp[5], float *const dc[4],
                    mr_arena *a, mr_err *e)
{
    int N = act->N, C = f->out_ch;
    mr_arena_mark m = mr_arena_get_mark(a);
    float *dp5 = NULL;
    if (dp[4]) {
        /* P6 = maxpool(P5): its gradient joins P5's */
        dp5 = mr_arena_zeros(a, (size_t)N * C * act->H[3] * act->W[3]);
        if (!dp5) return mr_errf(e, MR_ENOMEM, "fpn: out of memory in backward");
        mr_maxpool2d_backward(N, C, act->H[3], act->W[3], 1, 2, 0, dp[4], act->argmax, dp5);
        if (dp[3]) {
            size_t n = (size_t)N * C * act->H[3] * act->W[3];
            for (size_t i = 0; i < n; i++) dp5[i] += dp[3][i];
        }
    }
    float *dinner[4];
    for (int l = 0; l < 4; l++) {
        size_t n = (size_t)N * C * act->H[l] * act->W[l];
        dinner[l] = mr_arena_zeros(a, n);
        if (!dinner[l]) return mr_errf(e, MR_ENOMEM, "fpn: out of memory in backward");
    }
    /* output convs, then the top-down path from the finest level up */
    for (int l = 0; l < 4; l++) {
        const float *g = l == 3 && dp5 ? dp5 : dp[l];
        if (!g) continue;
        mr_arena_mark m2 = mr_arena_get_mark(a);
        float *ws = mr_arena_floats(a, mr_conv2d_workspace(&f->layer[l], act->H[l], act->W[l]) + 1);
        if (!ws) return mr_errf(e, MR_ENOMEM, "fpn: out of memory in backward");
        mr_conv2d_backward(&f->layer[l], N, act->H[l], act->W[l], act->inner[l], f->layer_w[l], g,
                           dinner[l], f->dlayer_w[l], f->dlayer_b[l], ws);
        mr_arena_release(a, m2);
    }
    for (int l = 0; l < 3; l++)
        mr_upsample_nearest_backward(N, C, act->H[l + 1], act->W[l + 1], act->H[l], act->W[l],
                                     dinner[l], dinner[l + 1]);
    for (int l = 0; l < 4; l++) {
        mr_arena_mark m2 = mr_arena_get_mark(a);
        float *ws = mr_arena_floats(a, mr_conv2d_workspace(&f->inner[l], act->H[l], act->W[l]) + 1);
        if (!ws) return mr_errf(e, MR_ENOMEM, "fpn: out of memory in backward");
        mr_conv2d_backward(&f->inner[l], N, act->H[l], act->W[l], act->c[l], f->inner_w[l], dinner[l],
                           dc[l], f->dinner_w[l], f->dinner_b[l], ws);
        mr_arena_release(a, m2);
    }
    mr_arena_release(a, m);
    return MR_OK;
}
