/*
 * postprocess.c — mask pasting and keypoint decoding as torchvision 0.14
 * computes them on the CPU (see postprocess.h). The interpolation weights
 * follow ATen's upsample kernels: scale = (float)in / out, source index
 * computed in double as scale * (i + 0.5) - 0.5 (bilinear keeps it in
 * double: mr_aten_linear; bicubic rounds it to float), bilinear clamps it
 * at 0 and truncates, bicubic floors it and clamps the
 * four taps to the border; sums are taken rows-of-columns, in tap order.
 */
#include "core/postprocess.h"

#include <math.h>
#include <string.h>

void mr_expand_box(const float box[4], float scale, float out[4])
{
    float w_half = (box[2] - box[0]) * 0.5f;
    float h_half = (box[3] - box[1]) * 0.5f;
    float x_c = (box[2] + box[0]) * 0.5f;
    float y_c = (box[3] + box[1]) * 0.5f;
    w_half *= scale;
    h_half *= scale;
    out[0] = x_c - w_half;
    out[2] = x_c + w_half;
    out[1] = y_c - h_half;
    out[3] = y_c + h_half;
}

void mr_aten_linear(int in, int out, int i, int *i0, int *i1, float *l0, float *l1)
{
    if (in == out) {
        *i0 = *i1 = i;
        *l0 = 1.0f;
        *l1 = 0.0f;
        return;
    }
    float scale = (float)in / (float)out;
    /* in double, not rounded to float: a float index at r ~ 600 keeps only
     * 6e-5 of the fraction, and the weights then differ from ATen's by that */
    double r = (double)scale * (i + 0.5) - 0.5;
    if (r < 0) r = 0;
    int x0 = (int)r;
    *i0 = x0;
    *i1 = x0 + (x0 < in - 1 ? 1 : 0);
    double lam = r - (double)x0;
    float l = (float)(lam < 0 ? 0 : lam > 1 ? 1 : lam);
    *l1 = l;
    *l0 = 1.0f - l;
}

/* value of the zero-padded (M+2) x (M+2) map at (y, x) */
static inline float padded(const float *p, int M, int y, int x)
{
    y -= 1;
    x -= 1;
    return (y < 0 || x < 0 || y >= M || x >= M) ? 0.0f : p[y * M + x];
}

/* the paste geometry: integer box and resize size */
typedef struct paste_geom {
    long bx0, by0, bx1, by1;  /* truncated expanded box */
    int w, h;                 /* resized mask size */
    int x0, x1, y0, y1;       /* image region written: [x0, x1) x [y0, y1) */
} paste_geom;

static long trunc_l(float v)
{
    /* .to(torch.int64): truncation toward zero; guard absurd values */
    if (!(v > -1e15f && v < 1e15f)) return 0;
    return (long)v;
}

static void geometry(int M, const float box[4], int H, int W, paste_geom *g)
{
    float scale = (float)((double)(M + 2) / M);
    float eb[4];
    mr_expand_box(box, scale, eb);
    g->bx0 = trunc_l(eb[0]);
    g->by0 = trunc_l(eb[1]);
    g->bx1 = trunc_l(eb[2]);
    g->by1 = trunc_l(eb[3]);
    long w = g->bx1 - g->bx0 + 1, h = g->by1 - g->by0 + 1;
    g->w = (int)(w < 1 ? 1 : w > 1000000 ? 1000000 : w);
    g->h = (int)(h < 1 ? 1 : h > 1000000 ? 1000000 : h);
    long x0 = g->bx0 > 0 ? g->bx0 : 0, x1 = g->bx1 + 1 < W ? g->bx1 + 1 : W;
    long y0 = g->by0 > 0 ? g->by0 : 0, y1 = g->by1 + 1 < H ? g->by1 + 1 : H;
    /* python slicing: the source slice mask[y0-by0 : y1-by0] is clipped to
     * the resized mask too (only matters for a box of width < 1) */
    if (x1 > g->bx0 + g->w) x1 = g->bx0 + g->w;
    if (y1 > g->by0 + g->h) y1 = g->by0 + g->h;
    g->x0 = (int)x0;
    g->x1 = (int)(x1 > x0 ? x1 : x0);
    g->y0 = (int)y0;
    g->y1 = (int)(y1 > y0 ? y1 : y0);
}

/* the resized padded mask at resized-mask pixel (yy, xx) */
static inline float resized_at(const float *prob, int M, const paste_geom *g, int yy, int xx)
{
    int y0, y1, x0, x1;
    float ly0, ly1, lx0, lx1;
    mr_aten_linear(M + 2, g->h, yy, &y0, &y1, &ly0, &ly1);
    mr_aten_linear(M + 2, g->w, xx, &x0, &x1, &lx0, &lx1);
    float t0 = padded(prob, M, y0, x0) * lx0 + padded(prob, M, y0, x1) * lx1;
    float t1 = padded(prob, M, y1, x0) * lx0 + padded(prob, M, y1, x1) * lx1;
    return t0 * ly0 + t1 * ly1;
}

void mr_paste_mask_prob(const float *prob, int M, const float box[4], int H, int W, float *out)
{
    paste_geom g;
    geometry(M, box, H, W, &g);
    memset(out, 0, sizeof(float) * (size_t)H * W);
    for (int y = g.y0; y < g.y1; y++)
        for (int x = g.x0; x < g.x1; x++)
            out[(size_t)y * W + x] = resized_at(prob, M, &g, (int)(y - g.by0), (int)(x - g.bx0));
}

void mr_paste_mask(const float *prob, int M, const float box[4], int H, int W, float thresh,
                   uint8_t *out)
{
    paste_geom g;
    geometry(M, box, H, W, &g);
    memset(out, 0, (size_t)H * W);
    for (int y = g.y0; y < g.y1; y++)
        for (int x = g.x0; x < g.x1; x++)
            out[(size_t)y * W + x] =
                resized_at(prob, M, &g, (int)(y - g.by0), (int)(x - g.bx0)) > thresh;
}

void mr_sigmoid_map(size_t n, const float *logits, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-logits[i]));
}

/* ATen's cubic convolution coefficients (A = -0.75) for fraction t */
static void cubic_coeffs(float t, float c[4])
{
    const float A = -0.75f;
    float x1 = t;
    float a = (float)(x1 + 1.0);
    c[0] = ((A * a - 5 * A) * a + 8 * A) * a - 4 * A;
    c[1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1;
    float x2 = (float)(1.0 - t);
    c[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    float b = (float)(x2 + 1.0);
    c[3] = ((A * b - 5 * A) * b + 8 * A) * b - 4 * A;
}

/* source base index (floor) and weights of output index i */
static int cubic_index(float scale, int i, float c[4])
{
    float r = (float)((double)scale * (i + 0.5) - 0.5);
    float f = floorf(r);
    cubic_coeffs(r - f, c);
    return (int)f;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* roi map size: ceil of the clamped width/height */
static void roi_dims(const float roi[4], float *w, float *h, int *wc, int *hc)
{
    *w = roi[2] - roi[0];
    *h = roi[3] - roi[1];
    if (!(*w >= 1.0f)) *w = 1.0f;
    if (!(*h >= 1.0f)) *h = 1.0f;
    float cw = ceilf(*w), ch = ceilf(*h);
    *wc = cw > 100000.0f ? 100000 : (int)cw;
    *hc = ch > 100000.0f ? 100000 : (int)ch;
}

size_t mr_kp_decode_workspace(int S, const float roi[4])
{
    float w, h;
    int wc, hc;
    roi_dims(roi, &w, &h, &wc, &hc);
    return (size_t)S * wc + 5 * (size_t)wc + 5 * (size_t)hc;
}

void mr_heatmaps_to_keypoints(const float *maps, int NK, int S, const float roi[4], float *xy,
                              float *scores, float *ws)
{
    float w, h;
    int wc, hc;
    roi_dims(roi, &w, &h, &wc, &hc);
    float *rows = ws;                         /* S x wc: x-interpolated rows */
    float *cx = ws + (size_t)S * wc;          /* per x: 4 weights and the base index */
    float *cy = cx + 5 * (size_t)wc;          /* per y: likewise */
    float sx = (float)S / (float)wc, sy = (float)S / (float)hc;
    float wcorr = w / (float)wc, hcorr = h / (float)hc;
    for (int x = 0; x < wc; x++) cx[5 * x + 4] = (float)cubic_index(sx, x, cx + 5 * x);
    for (int y = 0; y < hc; y++) cy[5 * y + 4] = (float)cubic_index(sy, y, cy + 5 * y);
    for (int k = 0; k < NK; k++) {
        const float *m = maps + (size_t)k * S * S;
        for (int r = 0; r < S; r++)
            for (int x = 0; x < wc; x++) {
                const float *c = cx + 5 * x;
                int b = (int)c[4];
                const float *row = m + (size_t)r * S;
                float o = row[clampi(b - 1, 0, S - 1)] * c[0];
                o += row[clampi(b, 0, S - 1)] * c[1];
                o += row[clampi(b + 1, 0, S - 1)] * c[2];
                o += row[clampi(b + 2, 0, S - 1)] * c[3];
                rows[(size_t)r * wc + x] = o;
            }
        float best = -INFINITY;
        int bx = 0, by = 0, any = 0;
        for (int y = 0; y < hc; y++) {
            const float *c = cy + 5 * y;
            int b = (int)c[4];
            const float *r0 = rows + (size_t)clampi(b - 1, 0, S - 1) * wc;
            const float *r1 = rows + (size_t)clampi(b, 0, S - 1) * wc;
            const float *r2 = rows + (size_t)clampi(b + 1, 0, S - 1) * wc;
            const float *r3 = rows + (size_t)clampi(b + 2, 0, S - 1) * wc;
            for (int x = 0; x < wc; x++) {
                float o = r0[x] * c[0];
                o += r1[x] * c[1];
                o += r2[x] * c[2];
                o += r3[x] * c[3];
                if (!any || o > best) {
                    best = o;
                    bx = x;
                    by = y;
                    any = 1;
                }
            }
        }
        xy[3 * k] = ((float)bx + 0.5f) * wcorr + roi[0];
        xy[3 * k + 1] = ((float)by + 0.5f) * hcorr + roi[1];
        xy[3 * k + 2] = 1.0f;
        scores[k] = best;
    }
}
