/*
 * keypoint_head.c — the keypoint head (see keypoint_head.h): parameters,
 * torchvision's initialisation, forward/backward over a batch of RoIs, the
 * one-hot heatmap targets and the softmax cross-entropy loss.
 */
#include "core/keypoint_head.h"
#include "core/conv_tower.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/layers.h"

mr_kp_head_cfg mr_kp_head_cfg_fpn(int in_ch, int num_kp, int width)
{
    mr_kp_head_cfg c = {in_ch, 14, 8, width, num_kp};
    return c;
}

static int bad(mr_err *e, const char *field, int v, const char *want)
{
    return mr_errf(e, MR_EUSER, "keypoint head: %s = %d, expected %s", field, v, want);
}

int mr_kp_head_check(const mr_kp_head_cfg *c, mr_err *e)
{
    if (c->in_ch < 1 || c->in_ch > 65536) return bad(e, "in_ch", c->in_ch, "1..65536");
    if (c->in_size < 1 || c->in_size > 256) return bad(e, "in_size", c->in_size, "1..256");
    if (c->nconv < 0 || c->nconv > MR_KP_MAX_CONV) return bad(e, "nconv", c->nconv, "0..8");
    if (c->nconv > 0 && (c->conv_ch < 1 || c->conv_ch > 65536))
        return bad(e, "conv_ch", c->conv_ch, "1..65536");
    if (c->num_kp < 1 || c->num_kp > 1024) return bad(e, "num_kp", c->num_kp, "1..1024");
    return MR_OK;
}

int mr_kp_head_out_size(const mr_kp_head_cfg *c) { return 4 * c->in_size; }

static int top_ch(const mr_kp_head_cfg *c) { return c->nconv > 0 ? c->conv_ch : c->in_ch; }

static void add(mr_param_desc *out, int max, int *n, size_t *off, const char *prefix,
                const char *name, int ndim, const int64_t *d)
{
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)d[i];
    if (out && *n < max) {
        mr_param_desc *p = &out[*n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s%s", prefix, name);
        p->ndim = ndim;
        for (int i = 0; i < ndim; i++) p->shape[i] = d[i];
        p->numel = numel;
        p->offset = *off;
    }
    (*n)++;
    *off += mr_param_align(numel);
}

/* lists the parameters; returns the count and sets *total (floats) */
static int list_all(const mr_kp_head_cfg *c, const char *prefix, mr_param_desc *out, int max,
                    size_t *total)
{
    int n = 0;
    size_t off = 0;
    char nm[MR_PARAM_NAME_MAX];
    int cin = c->in_ch;
    if (!prefix) prefix = "";
    for (int i = 0; i < c->nconv; i++) {
        int64_t w[4] = {c->conv_ch, cin, 3, 3}, b[1] = {c->conv_ch};
        snprintf(nm, sizeof nm, "keypoint_head.%d.weight", 2 * i);
        add(out, max, &n, &off, prefix, nm, 4, w);
        snprintf(nm, sizeof nm, "keypoint_head.%d.bias", 2 * i);
        add(out, max, &n, &off, prefix, nm, 1, b);
        cin = c->conv_ch;
    }
    int64_t w[4] = {cin, c->num_kp, 4, 4}, b[1] = {c->num_kp};
    add(out, max, &n, &off, prefix, "keypoint_predictor.kps_score_lowres.weight", 4, w);
    add(out, max, &n, &off, prefix, "keypoint_predictor.kps_score_lowres.bias", 1, b);
    if (total) *total = off;
    return n;
}

int mr_kp_head_params(const mr_kp_head_cfg *cfg, const char *prefix, mr_param_desc *out, int max)
{
    return list_all(cfg, prefix, out, max, NULL);
}

size_t mr_kp_head_numel(const mr_kp_head_cfg *cfg)
{
    size_t t = 0;
    list_all(cfg, NULL, NULL, 0, &t);
    return t;
}

static void bind_tensors(const mr_kp_head_cfg *c, mr_kp_head_tensors *t, float *block)
{
    memset(t, 0, sizeof *t);
    if (!block) return;
    mr_param_desc d[2 * MR_KP_MAX_CONV + 2];
    list_all(c, NULL, d, (int)(sizeof d / sizeof d[0]), NULL);
    int k = 0;
    for (int i = 0; i < c->nconv; i++) {
        t->conv_w[i] = block + d[k++].offset;
        t->conv_b[i] = block + d[k++].offset;
    }
    t->deconv_w = block + d[k++].offset;
    t->deconv_b = block + d[k++].offset;
}

void mr_kp_head_bind(mr_kp_head *h, const mr_kp_head_cfg *cfg, float *params, float *grads)
{
    h->cfg = *cfg;
    bind_tensors(cfg, &h->w, params);
    bind_tensors(cfg, &h->g, grads);
}

static mr_conv_tower tower(const mr_kp_head_cfg *c);

void mr_kp_head_init(mr_kp_head *h, mr_pcg32 *rng)
{
    const mr_kp_head_cfg *c = &h->cfg;
    mr_conv_tower t = tower(c);
    mr_conv_tower_init(&t, h->w.conv_w, h->w.conv_b, rng);
    int cin = top_ch(c);
    /* (Cin, NK, 4, 4): PyTorch's fan_out of a transposed conv is Cin * 16 */
    mr_pcg32_fill_normal(rng, h->w.deconv_w, (size_t)cin * c->num_kp * 16, sqrt(2.0 / (cin * 16.0)));
    memset(h->w.deconv_b, 0, sizeof(float) * c->num_kp);
}

static mr_conv_tower tower(const mr_kp_head_cfg *c)
{
    mr_conv_tower t = {c->nconv, c->in_ch, c->conv_ch, c->in_size, 1};
    return t;
}

static mr_deconv2d deconv(const mr_kp_head_cfg *c)
{
    mr_deconv2d k = {top_ch(c), c->num_kp, 4, 4, 2, 2, 1, 1};
    return k;
}

static size_t workspace(const mr_kp_head_cfg *c)
{
    mr_conv_tower t = tower(c);
    size_t ws = mr_conv_tower_workspace(&t), s;
    mr_deconv2d d = deconv(c);
    s = mr_deconv2d_workspace(&d, c->in_size, c->in_size);
    if (s > ws) ws = s;
    return ws ? ws : 1;
}

static int oom(mr_err *e, const char *what, int R)
{
    return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory for %s (%d RoIs)", what, R);
}

int mr_kp_head_forward(const mr_kp_head *h, int R, const float *x, mr_arena *a,
                       mr_kp_head_acts *st, mr_err *e)
{
    const mr_kp_head_cfg *c = &h->cfg;
    int S = c->in_size, NK = c->num_kp;
    memset(st, 0, sizeof *st);
    st->R = R;
    st->logits = mr_arena_floats(a, (size_t)R * NK * 16 * S * S + 1);
    if (!st->logits) return oom(e, "heatmaps", R);
    if (R == 0) return MR_OK;
    for (int i = 0; i < c->nconv; i++) {
        st->act[i] = mr_arena_floats(a, (size_t)R * c->conv_ch * S * S);
        if (!st->act[i]) return oom(e, "conv activations", R);
    }
    st->low = mr_arena_floats(a, (size_t)R * NK * 4 * S * S);
    if (!st->low) return oom(e, "deconv output", R);
    mr_arena_mark mk = mr_arena_get_mark(a);
    float *ws = mr_arena_floats(a, workspace(c));
    if (!ws) return oom(e, "workspace", R);
    mr_conv_tower t = tower(c);
    mr_conv_tower_forward(&t, R, x, h->w.conv_w, h->w.conv_b, st->act, ws);
    const float *in = c->nconv > 0 ? st->act[c->nconv - 1] : x;
    mr_deconv2d d = deconv(c);
    mr_deconv2d_forward(&d, R, S, S, in, h->w.deconv_w, h->w.deconv_b, st->low, ws);
    mr_upsample_bilinear_forward(R, NK, 2 * S, 2 * S, 4 * S, 4 * S, st->low, st->logits);
    mr_arena_release(a, mk);
    return MR_OK;
}

int mr_kp_head_backward(const mr_kp_head *h, const float *x, const mr_kp_head_acts *st,
                        const float *dlogits, float *dx, mr_arena *a, mr_err *e)
{
    const mr_kp_head_cfg *c = &h->cfg;
    int R = st->R, S = c->in_size, NK = c->num_kp;
    if (R == 0) return MR_OK;
    mr_arena_mark mk = mr_arena_get_mark(a);
    int rc = MR_OK;
    size_t nact = (size_t)R * c->conv_ch * S * S;
    float *dlow = mr_arena_zeros(a, (size_t)R * NK * 4 * S * S);
    float *buf[2] = {NULL, NULL};
    if (c->nconv > 0) buf[0] = mr_arena_floats(a, nact);
    if (c->nconv > 1) buf[1] = mr_arena_floats(a, nact);
    float *ws = mr_arena_floats(a, workspace(c));
    if (!dlow || !ws || (c->nconv > 0 && !buf[0]) || (c->nconv > 1 && !buf[1])) {
        rc = oom(e, "backward scratch", R);
        goto done;
    }
    mr_upsample_bilinear_backward(R, NK, 2 * S, 2 * S, 4 * S, 4 * S, dlogits, dlow);
    mr_conv_tower t = tower(c);
    float *dtop = mr_conv_tower_dtop(&t, buf, dx);
    if (c->nconv > 0) memset(dtop, 0, nact * sizeof(float));
    mr_deconv2d d = deconv(c);
    mr_deconv2d_backward(&d, R, S, S, c->nconv > 0 ? st->act[c->nconv - 1] : x, h->w.deconv_w,
                         dlow, dtop, h->g.deconv_w, h->g.deconv_b, ws);
    mr_conv_tower_backward(&t, R, x, h->w.conv_w, st->act, buf, dx, h->g.conv_w, h->g.conv_b, ws);
done:
    mr_arena_release(a, mk);
    return rc;
}

void mr_keypoints_to_heatmap(int NK, const float *kps, const float roi[4], int H, int *target)
{
    /* float32 arithmetic in torchvision's order: scale = H / (x2 - x1),
     * x = floor((x - x1) * scale); a keypoint exactly on the right/bottom
     * edge maps to the last cell */
    float sx = (float)H / (roi[2] - roi[0]);
    float sy = (float)H / (roi[3] - roi[1]);
    for (int k = 0; k < NK; k++) {
        float kx = kps[3 * k], ky = kps[3 * k + 1], v = kps[3 * k + 2];
        double fx = floorf((kx - roi[0]) * sx), fy = floorf((ky - roi[1]) * sy);
        long x = (fx > 1e9 || fx < -1e9) ? -1 : (long)fx;
        long y = (fy > 1e9 || fy < -1e9) ? -1 : (long)fy;
        if (kx == roi[2]) x = H - 1;
        if (ky == roi[3]) y = H - 1;
        int ok = x >= 0 && y >= 0 && x < H && y < H && v > 0;
        target[k] = ok ? (int)(y * H + x) : -1;
    }
}

double mr_kp_loss_forward(int N, int P, const float *logits, const int *target, float *probs,
                          int *nvalid)
{
    double sum = 0.0;
    int nv = 0;
    for (int r = 0; r < N; r++) {
        if (target[r] < 0) continue;
        const float *z = logits + (size_t)r * P;
        float *p = probs + (size_t)r * P;
        float mx = z[0];
        for (int i = 1; i < P; i++) mx = z[i] > mx ? z[i] : mx;
        double s = 0.0;
        for (int i = 0; i < P; i++) {
            p[i] = expf(z[i] - mx);
            s += p[i];
        }
        float inv = (float)(1.0 / s);
        for (int i = 0; i < P; i++) p[i] *= inv;
        sum += log(s) + (double)mx - (double)z[target[r]];
        nv++;
    }
    if (nvalid) *nvalid = nv;
    return nv ? sum / nv : 0.0;
}

void mr_kp_loss_backward(int N, int P, const float *probs, const int *target, float dloss,
                         float *dlogits)
{
    int nv = 0;
    for (int r = 0; r < N; r++) nv += target[r] >= 0;
    if (!nv) return;
    float s = dloss / (float)nv;
    for (int r = 0; r < N; r++) {
        if (target[r] < 0) continue;
        const float *p = probs + (size_t)r * P;
        float *d = dlogits + (size_t)r * P;
        for (int i = 0; i < P; i++) d[i] += s * p[i];
        d[target[r]] -= s;
    }
}
