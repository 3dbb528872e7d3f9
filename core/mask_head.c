/*
 * mask_head.c — the FCN and MLP mask heads (see mask_head.h): parameter
 * listing and binding, torchvision's initialisation, forward and backward
 * over a batch of RoIs on top of core/layers.h.
 */
#include "core/mask_head.h"
#include "core/conv_tower.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/layers.h"

mr_mask_head_cfg mr_mask_head_cfg_fpn(int in_ch, int num_classes, int width)
{
    mr_mask_head_cfg c = {0};
    c.kind = MR_MASK_HEAD_FCN;
    c.in_ch = in_ch;
    c.in_size = 14;
    c.num_classes = num_classes;
    c.nconv = 4;
    c.conv_ch = width;
    c.dilation = 1;
    c.deconv_ch = width;
    c.out_size = 28;
    return c;
}

mr_mask_head_cfg mr_mask_head_cfg_c4(int in_ch, int num_classes, int width)
{
    mr_mask_head_cfg c = {0};
    c.kind = MR_MASK_HEAD_FCN;
    c.in_ch = in_ch;
    c.in_size = 7;
    c.num_classes = num_classes;
    c.nconv = 0;
    c.conv_ch = width;
    c.dilation = 1;
    c.deconv_ch = width;
    c.out_size = 14;
    return c;
}

mr_mask_head_cfg mr_mask_head_cfg_mlp(int in_ch, int in_size, int num_classes, int fc_dim)
{
    mr_mask_head_cfg c = {0};
    c.kind = MR_MASK_HEAD_MLP;
    c.in_ch = in_ch;
    c.in_size = in_size;
    c.num_classes = num_classes;
    c.fc_dim = fc_dim;
    c.nfc = 2;
    c.out_size = 28;
    return c;
}

static int bad(mr_err *e, const char *field, int v, const char *want)
{
    return mr_errf(e, MR_EUSER, "mask head: %s = %d, expected %s", field, v, want);
}

int mr_mask_head_check(const mr_mask_head_cfg *c, mr_err *e)
{
    if (c->kind != MR_MASK_HEAD_FCN && c->kind != MR_MASK_HEAD_MLP)
        return bad(e, "kind", (int)c->kind, "fcn (0) or mlp (1)");
    if (c->in_ch < 1 || c->in_ch > 65536) return bad(e, "in_ch", c->in_ch, "1..65536");
    if (c->in_size < 1 || c->in_size > 256) return bad(e, "in_size", c->in_size, "1..256");
    if (c->num_classes < 2 || c->num_classes > 10000)
        return bad(e, "num_classes", c->num_classes, "2..10000 (background included)");
    if (c->kind == MR_MASK_HEAD_FCN) {
        if (c->nconv < 0 || c->nconv > MR_MASK_MAX_CONV) return bad(e, "nconv", c->nconv, "0..8");
        if (c->nconv > 0 && (c->conv_ch < 1 || c->conv_ch > 65536))
            return bad(e, "conv_ch", c->conv_ch, "1..65536");
        if (c->nconv > 0 && (c->dilation < 1 || c->dilation > 16))
            return bad(e, "dilation", c->dilation, "1..16");
        if (c->deconv_ch < 1 || c->deconv_ch > 65536)
            return bad(e, "deconv_ch", c->deconv_ch, "1..65536");
    } else {
        if (c->fc_dim < 1 || c->fc_dim > 65536) return bad(e, "fc_dim", c->fc_dim, "1..65536");
        if (c->nfc < 1 || c->nfc > MR_MASK_MAX_FC) return bad(e, "nfc", c->nfc, "1..4 hidden fc layers");
        if (c->out_size < 1 || c->out_size > 256) return bad(e, "out_size", c->out_size, "1..256");
    }
    return MR_OK;
}

int mr_mask_head_out_size(const mr_mask_head_cfg *c)
{
    return c->kind == MR_MASK_HEAD_FCN ? 2 * c->in_size : c->out_size;
}

/* channels entering the deconv */
static int fcn_top_ch(const mr_mask_head_cfg *c) { return c->nconv > 0 ? c->conv_ch : c->in_ch; }

typedef struct lister {
    mr_param_desc *out;
    int max, n;
    size_t off;
    const char *prefix;
} lister;

static void add(lister *l, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                int64_t d3)
{
    int64_t d[4] = {d0, d1, d2, d3};
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= (size_t)d[i];
    if (l->out && l->n < l->max) {
        mr_param_desc *p = &l->out[l->n];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s%s", l->prefix, name);
        p->ndim = ndim;
        for (int i = 0; i < ndim; i++) p->shape[i] = d[i];
        p->numel = numel;
        p->offset = l->off;
    }
    l->n++;
    l->off += mr_param_align(numel);
}

static void list_all(const mr_mask_head_cfg *c, lister *l)
{
    char nm[MR_PARAM_NAME_MAX];
    int K = c->num_classes;
    if (c->kind == MR_MASK_HEAD_FCN) {
        int cin = c->in_ch;
        for (int i = 0; i < c->nconv; i++) {
            snprintf(nm, sizeof nm, "mask_head.%d.0.weight", i);
            add(l, nm, 4, c->conv_ch, cin, 3, 3);
            snprintf(nm, sizeof nm, "mask_head.%d.0.bias", i);
            add(l, nm, 1, c->conv_ch, 0, 0, 0);
            cin = c->conv_ch;
        }
        add(l, "mask_predictor.conv5_mask.weight", 4, cin, c->deconv_ch, 2, 2);
        add(l, "mask_predictor.conv5_mask.bias", 1, c->deconv_ch, 0, 0, 0);
        add(l, "mask_predictor.mask_fcn_logits.weight", 4, K, c->deconv_ch, 1, 1);
        add(l, "mask_predictor.mask_fcn_logits.bias", 1, K, 0, 0, 0);
    } else {
        int64_t in = (int64_t)c->in_ch * c->in_size * c->in_size;
        int64_t out = (int64_t)K * c->out_size * c->out_size;
        for (int i = 0; i < c->nfc; i++) {
            snprintf(nm, sizeof nm, "mask_head.fc%d.weight", i + 1);
            add(l, nm, 2, c->fc_dim, i ? c->fc_dim : in, 0, 0);
            snprintf(nm, sizeof nm, "mask_head.fc%d.bias", i + 1);
            add(l, nm, 1, c->fc_dim, 0, 0, 0);
        }
        add(l, "mask_predictor.mask_fc_logits.weight", 2, out, c->fc_dim, 0, 0);
        add(l, "mask_predictor.mask_fc_logits.bias", 1, out, 0, 0, 0);
    }
}

int mr_mask_head_params(const mr_mask_head_cfg *cfg, const char *prefix, mr_param_desc *out,
                        int max)
{
    lister l = {out, max, 0, 0, prefix ? prefix : ""};
    list_all(cfg, &l);
    return l.n;
}

size_t mr_mask_head_numel(const mr_mask_head_cfg *cfg)
{
    lister l = {NULL, 0, 0, 0, ""};
    list_all(cfg, &l);
    return l.off;
}

/* set the named pointers of t from a block (NULL block -> all NULL) */
static void bind_tensors(const mr_mask_head_cfg *c, mr_mask_head_tensors *t, float *block)
{
    memset(t, 0, sizeof *t);
    if (!block) return;
    mr_param_desc d[2 * MR_MASK_MAX_CONV + 6];
    int n = mr_mask_head_params(c, NULL, d, (int)(sizeof d / sizeof d[0]));
    int k = 0;
    if (c->kind == MR_MASK_HEAD_FCN) {
        for (int i = 0; i < c->nconv; i++) {
            t->conv_w[i] = block + d[k++].offset;
            t->conv_b[i] = block + d[k++].offset;
        }
        t->deconv_w = block + d[k++].offset;
        t->deconv_b = block + d[k++].offset;
    } else {
        for (int i = 0; i < c->nfc; i++) {
            t->fc_w[i] = block + d[k++].offset;
            t->fc_b[i] = block + d[k++].offset;
        }
    }
    t->logits_w = block + d[k++].offset;
    t->logits_b = block + d[k++].offset;
    (void)n;
}

void mr_mask_head_bind(mr_mask_head *h, const mr_mask_head_cfg *cfg, float *params, float *grads)
{
    h->cfg = *cfg;
    bind_tensors(cfg, &h->w, params);
    bind_tensors(cfg, &h->g, grads);
}

static void fill_normal(mr_pcg32 *rng, float *p, size_t n, double std)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(std * mr_pcg32_normal(rng));
}

void mr_mask_head_init(mr_mask_head *h, mr_pcg32 *rng)
{
    const mr_mask_head_cfg *c = &h->cfg;
    int K = c->num_classes;
    if (c->kind == MR_MASK_HEAD_FCN) {
        int cin = c->in_ch;
        for (int i = 0; i < c->nconv; i++) {
            fill_normal(rng, h->w.conv_w[i], (size_t)c->conv_ch * cin * 9, sqrt(2.0 / (c->conv_ch * 9.0)));
            memset(h->w.conv_b[i], 0, sizeof(float) * c->conv_ch);
            cin = c->conv_ch;
        }
        /* deconv weight (Cin, Cout, 2, 2): PyTorch's fan_out is Cin * 4 */
        fill_normal(rng, h->w.deconv_w, (size_t)cin * c->deconv_ch * 4, sqrt(2.0 / (cin * 4.0)));
        memset(h->w.deconv_b, 0, sizeof(float) * c->deconv_ch);
        fill_normal(rng, h->w.logits_w, (size_t)K * c->deconv_ch, sqrt(2.0 / K));
        memset(h->w.logits_b, 0, sizeof(float) * K);
    } else {
        size_t in = (size_t)c->in_ch * c->in_size * c->in_size;
        size_t out = (size_t)K * c->out_size * c->out_size;
        for (int i = 0; i < c->nfc; i++) {
            size_t fin = i ? (size_t)c->fc_dim : in;
            fill_normal(rng, h->w.fc_w[i], (size_t)c->fc_dim * fin, sqrt(2.0 / (double)fin));
            memset(h->w.fc_b[i], 0, sizeof(float) * c->fc_dim);
        }
        fill_normal(rng, h->w.logits_w, out * c->fc_dim, 0.001);
        memset(h->w.logits_b, 0, sizeof(float) * out);
    }
}

static mr_conv_tower tower(const mr_mask_head_cfg *c)
{
    mr_conv_tower t = {c->nconv, c->in_ch, c->conv_ch, c->in_size, c->dilation};
    return t;
}

static mr_deconv2d deconv(const mr_mask_head_cfg *c)
{
    mr_deconv2d k = {fcn_top_ch(c), c->deconv_ch, 2, 2, 2, 2, 0, 0};
    return k;
}

static mr_conv2d conv1(const mr_mask_head_cfg *c)
{
    mr_conv2d k = {c->deconv_ch, c->num_classes, 1, 1, 1, 1, 0, 0, 1, 1};
    return k;
}

/* scratch floats for the convolutions of the FCN head */
static size_t fcn_workspace(const mr_mask_head_cfg *c)
{
    int S = c->in_size;
    mr_conv_tower t = tower(c);
    size_t ws = mr_conv_tower_workspace(&t), s;
    mr_deconv2d d = deconv(c);
    s = mr_deconv2d_workspace(&d, S, S);
    if (s > ws) ws = s;
    mr_conv2d k1 = conv1(c);
    s = mr_conv2d_workspace(&k1, 2 * S, 2 * S);
    if (s > ws) ws = s;
    return ws ? ws : 1;
}

static int oom(mr_err *e, const char *what, int R)
{
    return mr_errf(e, MR_ENOMEM, "mask head: out of memory for %s (%d RoIs)", what, R);
}

int mr_mask_head_forward(const mr_mask_head *h, int R, const float *x, mr_arena *a,
                         mr_mask_head_acts *st, mr_err *e)
{
    const mr_mask_head_cfg *c = &h->cfg;
    int S = c->in_size, M = mr_mask_head_out_size(c), K = c->num_classes;
    memset(st, 0, sizeof *st);
    st->R = R;
    st->logits = mr_arena_floats(a, (size_t)R * K * M * M + 1);
    if (!st->logits) return oom(e, "logits", R);
    if (R == 0) return MR_OK;
    if (c->kind == MR_MASK_HEAD_MLP) {
        int in = c->in_ch * S * S, out = K * M * M, L = c->nfc;
        for (int i = 0; i < L; i++) {
            st->fc[i] = mr_arena_floats(a, (size_t)R * c->fc_dim);
            if (!st->fc[i]) return oom(e, "fc activations", R);
        }
        for (int i = 0; i < L; i++) {
            mr_linear_forward(R, i ? c->fc_dim : in, c->fc_dim, i ? st->fc[i - 1] : x, h->w.fc_w[i],
                              h->w.fc_b[i], st->fc[i]);
            mr_relu_forward((size_t)R * c->fc_dim, st->fc[i], st->fc[i]);
        }
        mr_linear_forward(R, c->fc_dim, out, st->fc[L - 1], h->w.logits_w, h->w.logits_b, st->logits);
        return MR_OK;
    }
    for (int i = 0; i < c->nconv; i++) {
        st->act[i] = mr_arena_floats(a, (size_t)R * c->conv_ch * S * S);
        if (!st->act[i]) return oom(e, "conv activations", R);
    }
    st->up = mr_arena_floats(a, (size_t)R * c->deconv_ch * M * M);
    if (!st->up) return oom(e, "deconv activations", R);
    mr_arena_mark mk = mr_arena_get_mark(a);
    float *ws = mr_arena_floats(a, fcn_workspace(c));
    if (!ws) return oom(e, "workspace", R);
    mr_conv_tower t = tower(c);
    mr_conv_tower_forward(&t, R, x, h->w.conv_w, h->w.conv_b, st->act, ws);
    const float *in = c->nconv > 0 ? st->act[c->nconv - 1] : x;
    mr_deconv2d d = deconv(c);
    mr_deconv2d_forward(&d, R, S, S, in, h->w.deconv_w, h->w.deconv_b, st->up, ws);
    mr_relu_forward((size_t)R * c->deconv_ch * M * M, st->up, st->up);
    mr_conv2d k1 = conv1(c);
    mr_conv2d_forward(&k1, R, M, M, st->up, h->w.logits_w, h->w.logits_b, st->logits, ws);
    mr_arena_release(a, mk);
    return MR_OK;
}

/* d *= (out > 0): the ReLU's backward in place */
static void relu_mask(size_t n, const float *out, float *d)
{
    for (size_t i = 0; i < n; i++)
        if (!(out[i] > 0.0f)) d[i] = 0.0f;
}

int mr_mask_head_backward(const mr_mask_head *h, const float *x, const mr_mask_head_acts *st,
                          const float *dlogits, float *dx, mr_arena *a, mr_err *e)
{
    const mr_mask_head_cfg *c = &h->cfg;
    int R = st->R, S = c->in_size, M = mr_mask_head_out_size(c), K = c->num_classes;
    if (R == 0) return MR_OK;
    mr_arena_mark mk = mr_arena_get_mark(a);
    int rc = MR_OK;
    if (c->kind == MR_MASK_HEAD_MLP) {
        /* d[i]: the gradient w.r.t. hidden layer i's output, one buffer each
         * (mr_linear_backward adds into its dx) */
        int in = c->in_ch * S * S, out = K * M * M, L = c->nfc;
        float *d[MR_MASK_MAX_FC] = {0};
        for (int i = L - 1; i >= 0; i--) {
            d[i] = mr_arena_zeros(a, (size_t)R * c->fc_dim);
            if (!d[i]) { rc = oom(e, "backward scratch", R); goto done; }
        }
        mr_linear_backward(R, c->fc_dim, out, st->fc[L - 1], h->w.logits_w, dlogits, d[L - 1],
                           h->g.logits_w, h->g.logits_b);
        for (int i = L - 1; i >= 0; i--) {
            relu_mask((size_t)R * c->fc_dim, st->fc[i], d[i]);
            if (i > 0)
                mr_linear_backward(R, c->fc_dim, c->fc_dim, st->fc[i - 1], h->w.fc_w[i], d[i], d[i - 1],
                                   h->g.fc_w[i], h->g.fc_b[i]);
            else
                mr_linear_backward(R, in, c->fc_dim, x, h->w.fc_w[0], d[0], dx, h->g.fc_w[0], h->g.fc_b[0]);
        }
        goto done;
    }
    {
        size_t nup = (size_t)R * c->deconv_ch * M * M;
        size_t nact = (size_t)R * c->conv_ch * S * S;
        float *dup = mr_arena_zeros(a, nup);
        float *buf[2] = {NULL, NULL};
        if (c->nconv > 0) {
            buf[0] = mr_arena_floats(a, nact);
            buf[1] = c->nconv > 1 ? mr_arena_floats(a, nact) : NULL;
        }
        float *ws = mr_arena_floats(a, fcn_workspace(c));
        if (!dup || !ws || (c->nconv > 0 && !buf[0]) || (c->nconv > 1 && !buf[1])) {
            rc = oom(e, "backward scratch", R);
            goto done;
        }
        mr_conv2d k1 = conv1(c);
        mr_conv2d_backward(&k1, R, M, M, st->up, h->w.logits_w, dlogits, dup, h->g.logits_w,
                           h->g.logits_b, ws);
        relu_mask(nup, st->up, dup);
        /* gradient w.r.t. the deconv input: the last conv's output, or x */
        mr_conv_tower t = tower(c);
        float *dtop = mr_conv_tower_dtop(&t, buf, dx);
        if (dtop && c->nconv > 0) memset(dtop, 0, nact * sizeof(float));
        mr_deconv2d d = deconv(c);
        const float *top = c->nconv > 0 ? st->act[c->nconv - 1] : x;
        mr_deconv2d_backward(&d, R, S, S, top, h->w.deconv_w, dup, dtop, h->g.deconv_w,
                             h->g.deconv_b, ws);
        mr_conv_tower_backward(&t, R, x, h->w.conv_w, st->act, buf, dx, h->g.conv_w, h->g.conv_b,
                               ws);
    }
done:
    mr_arena_release(a, mk);
    return rc;
}
