/*
 * resnet.c — the ResNet backbone, forward and backward (see resnet.h).
 * Each conv+norm unit is one pair cn_forward / cn_backward; blocks and
 * stages are sequences of units read in reverse by backward.
 */
#include "core/resnet.h"

#include <stdio.h>
#include <string.h>

static int chan(float base, float width)
{
    int c = (int)(base * width + 0.5f);
    return c < 4 ? 4 : c;
}

/* declare a conv+norm unit under prefix: <conv_name>.weight, <norm_name>.* */
static void cn_declare(mr_cn *u, mr_param_table *t, const mr_resnet_cfg *cfg, int cin, int cout,
                       int k, int stride, int dil, const char *conv_name, const char *norm_name,
                       int trainable)
{
    char nm[MR_PARAM_NAME_MAX];
    memset(u, 0, sizeof *u);
    int pad = dil * (k / 2);
    u->c = (mr_conv2d){cin, cout, k, k, stride, stride, pad, pad, dil, dil};
    int wd[4] = {cout, cin, k, k};
    snprintf(nm, sizeof nm, "%.80s.weight", conv_name);
    mr_params_add(t, nm, 4, wd, MR_INIT_KAIMING_OUT, 0, trainable, &u->w, &u->dw);
    u->n.v = cfg->norm;
    cfg->norm->declare(&u->n, t, norm_name, cout, cfg->gn_groups, trainable);
}

int mr_resnet_declare(mr_resnet *r, const mr_resnet_cfg *cfg, mr_param_table *t, mr_err *e)
{
    static const int blocks10[4] = {1, 1, 1, 1}, blocks18[4] = {2, 2, 2, 2},
                     blocks34[4] = {3, 4, 6, 3}, blocks101[4] = {3, 4, 23, 3};
    const int *nb;
    int bottleneck;
    switch (cfg->depth) {
    case 10: nb = blocks10; bottleneck = 0; break;
    case 18: nb = blocks18; bottleneck = 0; break;
    case 34: nb = blocks34; bottleneck = 0; break;
    case 26: nb = blocks18; bottleneck = 1; break;
    case 50: nb = blocks34; bottleneck = 1; break;
    case 101: nb = blocks101; bottleneck = 1; break;
    default:
        return mr_errf(e, MR_EUSER, "backbone.depth: %d is not supported (expected 10, 18, 26, 34, 50 or 101)",
                       cfg->depth);
    }
    if (!(cfg->width > 0.0f) || cfg->width > 4.0f)
        return mr_errf(e, MR_EUSER, "backbone.width: %g: expected a multiplier in (0, 4]",
                       (double)cfg->width);
    if (cfg->freeze_at < 0 || cfg->freeze_at > 5)
        return mr_errf(e, MR_EUSER, "backbone.freeze_at: %d: expected 0..5", cfg->freeze_at);
    if (!cfg->norm || !cfg->norm->declare || !cfg->norm->forward || !cfg->norm->backward ||
        !cfg->norm->stats_size)
        return mr_errf(e, MR_EUSER, "backbone.norm: no norm variant given");
    if (cfg->res5_dilation < 0 || cfg->res5_dilation > 2)
        return mr_errf(e, MR_EUSER, "backbone.res5_dilation: %d: expected 1 or 2", cfg->res5_dilation);
    if (cfg->gn_groups < 1)
        return mr_errf(e, MR_EUSER, "backbone.gn_groups: %d: expected >= 1", cfg->gn_groups);
    /* every GN layer has the stem's or a stage's mid channels (or 4x those):
     * groups that do not divide them are an error, not quietly fewer groups */
    for (int s = -1; s < 4 && cfg->norm->uses_groups; s++) {
        int C = chan(s < 0 ? 64 : 64 << s, cfg->width);
        if (C % cfg->gn_groups)
            return mr_errf(e, MR_EUSER, "backbone.gn_groups: %d does not divide the %d channels of %s "
                           "(backbone.width %g): expected a divisor of every GroupNorm layer's channels",
                           cfg->gn_groups, C, s < 0 ? "backbone.body.conv1" : (const char *[]){
                           "backbone.body.layer1", "backbone.body.layer2", "backbone.body.layer3",
                           "backbone.body.layer4"}[s], (double)cfg->width);
    }
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->stem_ch = chan(64, cfg->width);
    r->stem_trainable = cfg->freeze_at < 1;
    cn_declare(&r->stem, t, cfg, 3, r->stem_ch, 7, 2, 1, "backbone.body.conv1", "backbone.body.bn1",
               r->stem_trainable);
    int in = r->stem_ch;
    char cname[MR_PARAM_NAME_MAX], nname[MR_PARAM_NAME_MAX];
    for (int s = 0; s < 4; s++) {
        mr_stage *st = &r->st[s];
        int mid = chan(64 << s, cfg->width);
        int out = bottleneck ? 4 * mid : mid;
        st->nblocks = nb[s];
        st->in_ch = in;
        st->out_ch = out;
        int dil = s == 3 && cfg->res5_dilation == 2 ? 2 : 1;
        st->stride = s == 0 || dil > 1 ? 1 : 2;
        st->trainable = cfg->freeze_at < s + 2;
        for (int b = 0; b < nb[s]; b++) {
            mr_block *bl = &st->b[b];
            int bin = b == 0 ? in : out, stride = b == 0 ? st->stride : 1;
            bl->bottleneck = bottleneck;
            bl->nunits = bottleneck ? 3 : 2;
            char pre[64];
            snprintf(pre, sizeof pre, "backbone.body.layer%d.%d", s + 1, b);
            for (int u = 0; u < bl->nunits; u++) {
                int cin, cout, k, str;
                if (bottleneck) {
                    cin = u == 0 ? bin : mid;
                    cout = u == 2 ? out : mid;
                    k = u == 1 ? 3 : 1;
                    str = u == 1 ? stride : 1;
                } else {
                    cin = u == 0 ? bin : out;
                    cout = out;
                    k = 3;
                    str = u == 0 ? stride : 1;
                }
                snprintf(cname, sizeof cname, "%s.conv%d", pre, u + 1);
                snprintf(nname, sizeof nname, "%s.bn%d", pre, u + 1);
                cn_declare(&bl->u[u], t, cfg, cin, cout, k, str, k == 3 ? dil : 1, cname, nname,
                           st->trainable);
            }
            bl->has_down = b == 0 && (stride != 1 || bin != out);
            if (bl->has_down) {
                snprintf(cname, sizeof cname, "%s.downsample.0", pre);
                snprintf(nname, sizeof nname, "%s.downsample.1", pre);
                cn_declare(&bl->down, t, cfg, bin, out, 1, stride, 1, cname, nname, st->trainable);
            }
        }
        r->out_ch[s] = out;
        in = out;
    }
    if (t->failed) return mr_errf(e, MR_EINTERNAL, "backbone: %s", t->fail_msg);
    return MR_OK;
}

/* ---- one conv + norm (+ ReLU) unit ---- */

static int cn_forward(const mr_cn *u, int N, int H, int W, const float *x, int relu,
                      mr_arena *a, mr_cn_act *act, mr_err *e)
{
    const mr_conv2d *c = &u->c;
    int OH = mr_conv_out_size(H, c->kh, c->sh, c->ph, c->dh);
    int OW = mr_conv_out_size(W, c->kw, c->sw, c->pw, c->dw);
    size_t n = (size_t)N * c->cout * OH * OW;
    act->x = x;
    act->N = N; act->H = H; act->W = W; act->OH = OH; act->OW = OW;
    act->y = mr_arena_floats(a, n);
    act->z = mr_arena_floats(a, n);
    size_t ns = u->n.v->stats_size(&u->n, N);
    act->stats = ns ? mr_arena_floats(a, ns) : NULL;
    mr_arena_mark m = mr_arena_get_mark(a);
    float *ws = mr_arena_floats(a, mr_conv2d_workspace(c, H, W) + 1);
    if (!act->y || !act->z || !ws || (ns && !act->stats))
        return mr_errf(e, MR_ENOMEM, "backbone: out of memory for activations");
    mr_conv2d_forward(c, N, H, W, x, u->w, NULL, act->y, ws);
    mr_arena_release(a, m);
    u->n.v->forward(&u->n, N, OH * OW, act->y, act->z, act->stats);
    if (relu) mr_relu_forward(n, act->z, act->z);
    return MR_OK;
}

/* dz: gradient at the unit output (after the ReLU when relu); dx += ... */
static int cn_backward(const mr_cn *u, const mr_cn_act *act, const float *dz, int relu,
                       float *dx, mr_arena *a, mr_err *e)
{
    const mr_conv2d *c = &u->c;
    size_t n = (size_t)act->N * c->cout * act->OH * act->OW;
    if (!dx && !u->dw) return MR_OK;
    mr_arena_mark m = mr_arena_get_mark(a);
    const float *dn = dz;
    if (relu) {
        float *t = mr_arena_zeros(a, n);
        if (!t) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward");
        mr_relu_backward(n, act->z, dz, t);
        dn = t;
    }
    float *dy = mr_arena_zeros(a, n);
    float *ws = mr_arena_floats(a, mr_conv2d_workspace(c, act->H, act->W) + 1);
    if (!dy || !ws) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward");
    u->n.v->backward(&u->n, act->N, act->OH * act->OW, act->y, act->stats, dn, dy);
    mr_conv2d_backward(c, act->N, act->H, act->W, act->x, u->w, dy, dx, u->dw, NULL, ws);
    mr_arena_release(a, m);
    return MR_OK;
}

/* ---- stem ---- */

int mr_resnet_stem_forward(const mr_resnet *r, int N, int H, int W, const float *img,
                           mr_arena *a, mr_stage_act *act, mr_err *e)
{
    memset(act, 0, sizeof *act);
    int rc = cn_forward(&r->stem, N, H, W, img, 1, a, &act->stem, e);
    if (rc) return rc;
    int h = act->stem.OH, w = act->stem.OW;
    int OH = mr_conv_out_size(h, 3, 2, 1, 1), OW = mr_conv_out_size(w, 3, 2, 1, 1);
    size_t n = (size_t)N * r->stem_ch * OH * OW;
    act->N = N; act->H = h; act->W = w; act->OH = OH; act->OW = OW;
    act->x = act->stem.z;
    act->out = mr_arena_floats(a, n);
    act->argmax = mr_arena_alloc(a, n * sizeof(int32_t));
    if (!act->out || !act->argmax) return mr_errf(e, MR_ENOMEM, "backbone: out of memory (stem)");
    mr_maxpool2d_forward(N, r->stem_ch, h, w, 3, 2, 1, act->stem.z, act->out, act->argmax);
    return MR_OK;
}

int mr_resnet_stem_backward(const mr_resnet *r, const mr_stage_act *act, const float *dout,
                            mr_arena *a, mr_err *e)
{
    if (!r->stem_trainable) return MR_OK;
    mr_arena_mark m = mr_arena_get_mark(a);
    float *dz = mr_arena_zeros(a, (size_t)act->N * r->stem_ch * act->H * act->W);
    if (!dz) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward (stem)");
    mr_maxpool2d_backward(act->N, r->stem_ch, act->H, act->W, 3, 2, 1, dout, act->argmax, dz);
    int rc = cn_backward(&r->stem, &act->stem, dz, 1, NULL, a, e);
    mr_arena_release(a, m);
    return rc;
}

/* ---- stages ---- */

int mr_stage_forward(const mr_resnet *r, int s, int N, int H, int W, const float *x,
                     mr_arena *a, mr_stage_act *act, mr_err *e)
{
    const mr_stage *st = &r->st[s];
    memset(act, 0, sizeof *act);
    act->N = N; act->H = H; act->W = W;
    act->x = x;
    act->b = mr_arena_alloc(a, (size_t)st->nblocks * sizeof *act->b);
    if (!act->b) return mr_errf(e, MR_ENOMEM, "backbone: out of memory (layer%d)", s + 1);
    const float *cur = x;
    int h = H, w = W;
    for (int b = 0; b < st->nblocks; b++) {
        const mr_block *bl = &st->b[b];
        mr_block_act *ba = &act->b[b];
        const float *in = cur;
        int ih = h, iw = w;
        for (int u = 0; u < bl->nunits; u++) {
            int last = u == bl->nunits - 1;
            int rc = cn_forward(&bl->u[u], N, h, w, cur, !last, a, &ba->u[u], e);
            if (rc) return rc;
            cur = ba->u[u].z;
            h = ba->u[u].OH;
            w = ba->u[u].OW;
        }
        const float *sc = in;
        if (bl->has_down) {
            int rc = cn_forward(&bl->down, N, ih, iw, in, 0, a, &ba->down, e);
            if (rc) return rc;
            sc = ba->down.z;
        }
        size_t n = (size_t)N * st->out_ch * h * w;
        ba->out = mr_arena_floats(a, n);
        if (!ba->out) return mr_errf(e, MR_ENOMEM, "backbone: out of memory (layer%d)", s + 1);
        mr_add_forward(n, cur, sc, ba->out);
        mr_relu_forward(n, ba->out, ba->out);
        cur = ba->out;
    }
    act->OH = h;
    act->OW = w;
    act->out = (float *)cur;
    return MR_OK;
}

int mr_stage_backward(const mr_resnet *r, int s, const mr_stage_act *act, const float *dout,
                      float *dx, mr_arena *a, mr_err *e)
{
    const mr_stage *st = &r->st[s];
    if (!st->trainable && !dx) return MR_OK;
    mr_arena_mark m = mr_arena_get_mark(a);
    const float *dcur = dout;
    for (int b = st->nblocks - 1; b >= 0; b--) {
        const mr_block *bl = &st->b[b];
        const mr_block_act *ba = &act->b[b];
        const mr_cn_act *l = &ba->u[bl->nunits - 1];
        size_t n = (size_t)l->N * st->out_ch * l->OH * l->OW;
        float *dsum = mr_arena_zeros(a, n);
        if (!dsum) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward");
        mr_relu_backward(n, ba->out, dcur, dsum);
        /* gradient at the block input */
        const mr_cn_act *f = &ba->u[0];
        float *din = b > 0 ? mr_arena_zeros(a, (size_t)f->N * bl->u[0].c.cin * f->H * f->W) : dx;
        if (b > 0 && !din) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward");
        const float *dz = dsum;
        for (int u = bl->nunits - 1; u >= 0; u--) {
            const mr_cn_act *ua = &ba->u[u];
            float *dprev = NULL;
            if (u > 0) {
                dprev = mr_arena_zeros(a, (size_t)ua->N * bl->u[u].c.cin * ua->H * ua->W);
                if (!dprev) return mr_errf(e, MR_ENOMEM, "backbone: out of memory in backward");
            } else {
                dprev = din;
            }
            int rc = cn_backward(&bl->u[u], ua, dz, u != bl->nunits - 1, dprev, a, e);
            if (rc) return rc;
            dz = dprev;
        }
        if (bl->has_down) {
            int rc = cn_backward(&bl->down, &ba->down, dsum, 0, din, a, e);
            if (rc) return rc;
        } else if (din) {
            for (size_t i = 0; i < n; i++) din[i] += dsum[i];
        }
        dcur = din;
        if (!dcur) break; /* nothing further down needs a gradient */
    }
    mr_arena_release(a, m);
    return MR_OK;
}
