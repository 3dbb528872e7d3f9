/*
 * roi_bilinear.c — the one bilinear-sampling RoI kernel, shared by the
 * RoIAlign (variants/roi_align.c) and RoIWarp (variants/roi_warp.c)
 * extractors, which differ only in the RoI's box (see roi_geom).
 *
 * Geometry per RoI (float arithmetic, as torchvision):
 *   RoIAlign: off = aligned ? 0.5 : 0; x1' = x1 * scale - off,
 *             x2' = x2 * scale - off, w = x2' - x1' (not aligned: >= 1)
 *   RoIWarp:  x1' = round(x1 * scale), x2' = round(x2 * scale) (half away
 *             from zero, as RoIPool), w = max(x2' - x1', 1); aligned ignored
 *   bin_w = w / pooled_w
 *   grid_w = sampling_ratio > 0 ? sampling_ratio : ceil(w / pooled_w)
 *   sample (pw, ix) at x = x1' + pw * bin_w + (ix + 0.5) * bin_w / grid_w
 *   likewise for y; a bin's value is over grid_h * grid_w samples: avg
 *   divides their sum by max(count, 1); max takes the largest sample value
 *   (0 for an empty bin), its gradient going to the four neighbours of the
 *   winning sample (aux holds the winner's index in the bin's grid, -1 none).
 * Bilinear (torchvision's rule): a sample with y < -1, y > H, x < -1 or
 * x > W is 0; otherwise coordinates are clamped to >= 0, and a sample at or
 * past the last row/column reads that row/column.
 * The interpolation is separable, so per RoI the x and y halves (corner
 * indices and weights) are computed once per sample column/row and reused
 * across channels and bins.
 */
#include "variants/roi_bilinear.h"

#include <float.h>
#include <math.h>

/* one axis of a bilinear sample: the two neighbours and their weights
 * (both weights 0 for a sample outside the map) */
typedef struct { int lo, hi; float wlo, whi; } axis_s;

/* the sampling geometry of one RoI */
typedef struct { float y0, x0, bin_h, bin_w; int grid_h, grid_w; } geom_s;

#define CACHE 2048  /* samples per axis kept on the stack; beyond, recomputed */

/* The RoI's start corner, size, bins and sampling grid. quantise = 0:
 * RoIAlign's box (shifted by -0.5 when aligned; size at least 1 when not);
 * quantise = 1: RoIWarp's box, corners rounded half away from zero and size
 * at least 1 (`aligned` ignored). The grid clamp to >= 0 only ever acts on
 * an aligned RoIAlign box of negative size (RoIWarp's size is >= 1). */
static geom_s roi_geom(const mr_roi_params *p, const float *roi, int quantise)
{
    float s = p->spatial_scale, x0, y0, w, h;
    if (quantise) {
        x0 = roundf(roi[1] * s); y0 = roundf(roi[2] * s);
        w = fmaxf(roundf(roi[3] * s) - x0, 1.0f); h = fmaxf(roundf(roi[4] * s) - y0, 1.0f);
    } else {
        float off = p->aligned ? 0.5f : 0.0f;
        x0 = roi[1] * s - off; y0 = roi[2] * s - off;
        w = roi[3] * s - off - x0; h = roi[4] * s - off - y0;
        if (!p->aligned) { w = fmaxf(w, 1.0f); h = fmaxf(h, 1.0f); }
    }
    geom_s g;
    g.x0 = x0; g.y0 = y0;
    g.bin_w = w / (float)p->pooled_w;
    g.bin_h = h / (float)p->pooled_h;
    g.grid_w = p->sampling_ratio > 0 ? p->sampling_ratio : (int)ceilf(w / (float)p->pooled_w);
    g.grid_h = p->sampling_ratio > 0 ? p->sampling_ratio : (int)ceilf(h / (float)p->pooled_h);
    if (g.grid_w < 0) g.grid_w = 0;
    if (g.grid_h < 0) g.grid_h = 0;
    return g;
}

/* sample i (= bin * grid + k) along an axis starting at a0 with bins of
 * size bin, on a map of n cells */
static axis_s axis_at(float a0, float bin, int grid, int i, int n)
{
    axis_s r = {0, 0, 0.0f, 0.0f};
    int b = i / grid, k = i % grid;
    float a = a0 + (float)b * bin + ((float)k + 0.5f) * bin / (float)grid;
    if (a < -1.0f || a > (float)n) return r;
    if (a <= 0.0f) a = 0.0f;
    int lo = (int)a, hi;
    if (lo >= n - 1) { hi = lo = n - 1; a = (float)lo; } else hi = lo + 1;
    float l = a - (float)lo;
    r.lo = lo; r.hi = hi; r.wlo = 1.0f - l; r.whi = l;
    return r;
}

/* the x and y samples of one RoI: from the cache when they fit, else computed */
typedef struct {
    geom_s g;
    int H, W, ph, pw, cached;
    axis_s ys[CACHE], xs[CACHE];
} samples_s;

static void samples_init(samples_s *s, const mr_roi_params *p, const float *roi, int quantise,
                         int H, int W)
{
    s->g = roi_geom(p, roi, quantise);
    s->H = H; s->W = W; s->ph = p->pooled_h; s->pw = p->pooled_w;
    long ny = (long)s->ph * s->g.grid_h, nx = (long)s->pw * s->g.grid_w;
    s->cached = ny <= CACHE && nx <= CACHE;
    if (!s->cached) return;
    for (long i = 0; i < ny; i++) s->ys[i] = axis_at(s->g.y0, s->g.bin_h, s->g.grid_h, (int)i, H);
    for (long i = 0; i < nx; i++) s->xs[i] = axis_at(s->g.x0, s->g.bin_w, s->g.grid_w, (int)i, W);
}
/* sample i of the y (x) axis; `cached` is a compile-time constant at every
 * call site below, so the specialised loops carry no branch for it */
static inline __attribute__((always_inline)) axis_s sample_y(const samples_s *s, int cached, int i)
{
    return cached ? s->ys[i] : axis_at(s->g.y0, s->g.bin_h, s->g.grid_h, i, s->H);
}
static inline __attribute__((always_inline)) axis_s sample_x(const samples_s *s, int cached, int i)
{
    return cached ? s->xs[i] : axis_at(s->g.x0, s->g.bin_w, s->g.grid_w, i, s->W);
}

static inline float bilinear(const float *plane, int W, axis_s y, axis_s x)
{
    return y.wlo * x.wlo * plane[y.lo * W + x.lo] + y.wlo * x.whi * plane[y.lo * W + x.hi] +
           y.whi * x.wlo * plane[y.hi * W + x.lo] + y.whi * x.whi * plane[y.hi * W + x.hi];
}

static inline void bilinear_add(float *plane, int W, axis_s y, axis_s x, float g)
{
    plane[y.lo * W + x.lo] += g * (y.wlo * x.wlo);
    plane[y.lo * W + x.hi] += g * (y.wlo * x.whi);
    plane[y.hi * W + x.lo] += g * (y.whi * x.wlo);
    plane[y.hi * W + x.hi] += g * (y.whi * x.whi);
}

/* One channel plane of one RoI: o (PH x PW) and, for max, am. Samples are
 * visited row by row (iy, then ix) within each bin. */
static inline __attribute__((always_inline)) void forward_plane(
    const samples_s *s, const int cached, const int maxagg, const float *plane, float *o,
    int32_t *am)
{
    const int PH = s->ph, PW = s->pw, W = s->W, gh = s->g.grid_h, gw = s->g.grid_w;
    const float count = (float)(gh * gw > 0 ? gh * gw : 1);
    for (int ph = 0; ph < PH; ph++)
        for (int pw = 0; pw < PW; pw++) {
            float acc = 0.0f, best = -FLT_MAX;
            int32_t arg = -1;
            for (int iy = 0; iy < gh; iy++) {
                axis_s ya = sample_y(s, cached, ph * gh + iy);
                for (int ix = 0; ix < gw; ix++) {
                    float v = bilinear(plane, W, ya, sample_x(s, cached, pw * gw + ix));
                    if (maxagg) {
                        if (v > best) { best = v; arg = iy * gw + ix; }
                    } else {
                        acc += v;
                    }
                }
            }
            if (maxagg) {
                o[ph * PW + pw] = arg < 0 ? 0.0f : best;
                am[ph * PW + pw] = arg;
            } else {
                o[ph * PW + pw] = acc / count;
            }
        }
}

/* plane += the gradient of one channel of one RoI, bins and samples in order */
static inline __attribute__((always_inline)) void backward_plane(
    const samples_s *s, const int cached, const int maxagg, const float *d, const int32_t *am,
    float *plane)
{
    const int PH = s->ph, PW = s->pw, W = s->W, gh = s->g.grid_h, gw = s->g.grid_w;
    const float count = (float)(gh * gw > 0 ? gh * gw : 1);
    for (int ph = 0; ph < PH; ph++)
        for (int pw = 0; pw < PW; pw++) {
            float g = d[ph * PW + pw];
            if (maxagg) {
                int32_t a = am[ph * PW + pw];
                if (a >= 0)
                    bilinear_add(plane, W, sample_y(s, cached, ph * gh + a / gw),
                                 sample_x(s, cached, pw * gw + a % gw), g);
                continue;
            }
            g /= count;
            for (int iy = 0; iy < gh; iy++) {
                axis_s ya = sample_y(s, cached, ph * gh + iy);
                for (int ix = 0; ix < gw; ix++)
                    bilinear_add(plane, W, ya, sample_x(s, cached, pw * gw + ix), g);
            }
        }
}

/* The average over a bin as a short list of (offset, weight) taps: the four
 * neighbours of each of the bin's samples, weights wy * wx / count, taps on
 * the same cell merged. Built once per RoI and reused for every channel, so
 * the channel loops do no index or weight arithmetic (RoIAlign's avg with
 * sampling_ratio <= 2, the FPN and C4 set-ups, spend most of the RoI stage
 * there). Only for grids of at most MAX_TAP_SAMPLES samples per bin and at
 * most MAX_TAP_BINS bins; others take the general loops above. */
#define MAX_TAP_SAMPLES 4
#define MAX_TAP_BINS 256
typedef struct {
    int n[MAX_TAP_BINS];                        /* taps per bin */
    int32_t off[MAX_TAP_BINS][4 * MAX_TAP_SAMPLES];
    float w[MAX_TAP_BINS][4 * MAX_TAP_SAMPLES];
} taps_s;

static int taps_usable(const samples_s *s)
{
    return s->cached && s->g.grid_h * s->g.grid_w <= MAX_TAP_SAMPLES && s->ph * s->pw <= MAX_TAP_BINS;
}

static void tap_add(taps_s *t, int bin, int32_t off, float w)
{
    if (w == 0.0f) return;
    for (int k = 0; k < t->n[bin]; k++)
        if (t->off[bin][k] == off) { t->w[bin][k] += w; return; }
    t->off[bin][t->n[bin]] = off;
    t->w[bin][t->n[bin]++] = w;
}

static void taps_init(taps_s *t, const samples_s *s)
{
    const int PH = s->ph, PW = s->pw, W = s->W, gh = s->g.grid_h, gw = s->g.grid_w;
    const float inv = 1.0f / (float)(gh * gw > 0 ? gh * gw : 1);
    for (int ph = 0; ph < PH; ph++)
        for (int pw = 0; pw < PW; pw++) {
            const int bin = ph * PW + pw;
            t->n[bin] = 0;
            for (int iy = 0; iy < gh; iy++) {
                const axis_s y = s->ys[ph * gh + iy];
                for (int ix = 0; ix < gw; ix++) {
                    const axis_s x = s->xs[pw * gw + ix];
                    tap_add(t, bin, y.lo * W + x.lo, y.wlo * x.wlo * inv);
                    tap_add(t, bin, y.lo * W + x.hi, y.wlo * x.whi * inv);
                    tap_add(t, bin, y.hi * W + x.lo, y.whi * x.wlo * inv);
                    tap_add(t, bin, y.hi * W + x.hi, y.whi * x.whi * inv);
                }
            }
        }
}

static void taps_forward(const taps_s *t, int bins, const float *plane, float *o)
{
    for (int b = 0; b < bins; b++) {
        float acc = 0.0f;
        for (int k = 0; k < t->n[b]; k++) acc += t->w[b][k] * plane[t->off[b][k]];
        o[b] = acc;
    }
}

static void taps_backward(const taps_s *t, int bins, const float *d, float *plane)
{
    for (int b = 0; b < bins; b++) {
        const float g = d[b];
        for (int k = 0; k < t->n[b]; k++) plane[t->off[b][k]] += g * t->w[b][k];
    }
}

size_t mr_roi_bilinear_aux_size(const mr_roi_params *p, int R, int C)
{
    return p->agg == MR_ROI_MAX ? (size_t)R * C * p->pooled_h * p->pooled_w : 0;
}

int mr_roi_bilinear_forward(const char *name, int quantise, const mr_roi_params *p, int N, int C,
                            int H, int W, const float *feat, int R, const float *rois, float *out,
                            int32_t *aux, mr_err *e)
{
    int rc = mr_roi_check_rois(name, N, R, rois, e);
    if (rc) return rc;
    const int maxagg = p->agg == MR_ROI_MAX;
    const size_t HW = (size_t)H * W, bins = (size_t)p->pooled_h * p->pooled_w;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < R; r++) {
        samples_s s;
        taps_s taps; /* ~33 KB, on the stack like samples_s */
        const float *q = rois + 5 * (size_t)r;
        samples_init(&s, p, q, quantise, H, W);
        const float *img = feat + (size_t)q[0] * C * HW;
        if (!maxagg && taps_usable(&s)) {
            taps_init(&taps, &s);
            for (int c = 0; c < C; c++)
                taps_forward(&taps, (int)bins, img + c * HW, out + ((size_t)r * C + c) * bins);
            continue;
        }
        for (int c = 0; c < C; c++) {
            const float *plane = img + c * HW;
            float *o = out + ((size_t)r * C + c) * bins;
            int32_t *am = maxagg ? aux + ((size_t)r * C + c) * bins : NULL;
            if (s.cached && maxagg) forward_plane(&s, 1, 1, plane, o, am);
            else if (s.cached) forward_plane(&s, 1, 0, plane, o, am);
            else forward_plane(&s, 0, maxagg, plane, o, am);
        }
    }
    return MR_OK;
}

/* Channels are split statically between threads; each thread walks every
 * RoI, bin and sample in order for its channels, so the sum into each dfeat
 * element has one fixed order whatever the thread count. */
void mr_roi_bilinear_backward(int quantise, const mr_roi_params *p, int N, int C, int H, int W,
                              int R, const float *rois, const float *dout, const int32_t *aux,
                              float *dfeat)
{
    (void)N;
    const int maxagg = p->agg == MR_ROI_MAX;
    const size_t HW = (size_t)H * W, bins = (size_t)p->pooled_h * p->pooled_w;
#pragma omp parallel
    {
        samples_s s;
        taps_s taps; /* ~33 KB, on the stack like samples_s */
        int c0, c1;
        mr_roi_channel_range(C, &c0, &c1);
        for (int r = 0; r < R && c0 < c1; r++) {
            const float *q = rois + 5 * (size_t)r;
            samples_init(&s, p, q, quantise, H, W);
            if (!maxagg && taps_usable(&s)) {
                taps_init(&taps, &s);
                for (int c = c0; c < c1; c++)
                    taps_backward(&taps, (int)bins, dout + ((size_t)r * C + c) * bins,
                                  dfeat + ((size_t)q[0] * C + c) * HW);
                continue;
            }
            for (int c = c0; c < c1; c++) {
                float *plane = dfeat + ((size_t)q[0] * C + c) * HW;
                const float *d = dout + ((size_t)r * C + c) * bins;
                const int32_t *am = maxagg ? aux + ((size_t)r * C + c) * bins : NULL;
                if (s.cached && maxagg) backward_plane(&s, 1, 1, d, am, plane);
                else if (s.cached) backward_plane(&s, 1, 0, d, am, plane);
                else backward_plane(&s, 0, maxagg, d, am, plane);
            }
        }
    }
}
