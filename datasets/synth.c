/*
 * synth.c — the synthetic dataset generator (see synth.h, docs/synthetic.md).
 *
 * One image: a textured background, non-object clutter (rectangles,
 * triangles, line segments, some striped), then objects in draw order. Each
 * object is a set of polygons (clipped to the image, coordinates rounded to
 * 1/100 px) rasterised with pycocotools' rasteriser (coco/rle.h), so the
 * pixels drawn are exactly the annotation's polygon mask; an owner map keeps
 * which object is on top at each pixel, and an annotation's mask is the set
 * of pixels it owns at the end. Unoccluded instances are written as
 * polygons, occluded ones (and crowd regions) as compressed RLE.
 *
 * Randomness: image i of split s draws from mr_pcg32 seeded with
 * (seed, 0x5359_4e54_0000_0000 + s * 2^32 + i): independent of the other
 * images and of the split sizes.
 */
#include "datasets/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <stb_image_write.h>

#include "core/fileio.h"
#include "core/pcg32.h"
#include "coco/rle.h"

const char *const mr_synth_cat_names[MR_SYNTH_NCAT] = {
    "ring", "cross", "crescent", "striped_ellipse", "checkered_ellipse", "worm", "figure"};

const char *const mr_synth_kp_names[MR_SYNTH_NKP] = {
    "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle"};

/* COCO's sigmas for the same joints (pycocotools' values / 10); the head is
 * the mean of COCO's five face sigmas (.26 .25 .25 .35 .35) / 10. */
const double mr_synth_kp_sigmas[MR_SYNTH_NKP] = {
    0.0292, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089};

const int mr_synth_skeleton[MR_SYNTH_NSKEL][2] = {
    {1, 2}, {1, 3}, {2, 3}, {2, 4}, {4, 6}, {3, 5}, {5, 7},
    {2, 8}, {3, 9}, {8, 9}, {8, 10}, {10, 12}, {9, 11}};

enum { CAT_RING = 1, CAT_CROSS, CAT_CRESCENT, CAT_STRIPED, CAT_CHECKER, CAT_WORM, CAT_FIGURE };
enum { TEX_SOLID, TEX_STRIPES, TEX_CHECKER };

#define MAXPOLY 24
#define MAXV 256

void mr_synth_defaults(mr_synth_params *p)
{
    memset(p, 0, sizeof *p);
    p->size = 128;
    p->n_train = 2000;
    p->n_val = 300;
    p->seed = 1;
    p->min_objects = 2;
    p->max_objects = 7;
    p->min_obj_size = 6;
    p->max_obj_frac = 0.8;
    p->max_aspect = 4;
    p->min_visible_frac = 0.35;
    p->max_outside_frac = 0.2;
    p->figure_prob = 0.22;
    p->min_figure_size = 14;
    p->worm_width_min = 1.6;
    p->worm_width_max = 4;
    p->crowd_prob = 0.06;
    p->min_distractors = 2;
    p->max_distractors = 8;
    p->bg_noise = 10;
    p->obj_noise = 8;
    p->bg_texture = 0.5;
    p->min_contrast = 40;
}

int mr_synth_preset(const char *name, mr_synth_params *p, mr_err *e)
{
    mr_synth_defaults(p);
    if (!strcmp(name, "bench")) return MR_OK;
    if (!strcmp(name, "tiny")) {
        p->size = 64;
        p->n_train = 300;
        p->n_val = 60;
        p->min_objects = 1;
        p->max_objects = 4;
        p->min_figure_size = 12;
        p->max_distractors = 4;
        return MR_OK;
    }
    if (!strcmp(name, "ci")) {
        /* the regression gate's preset (harness/regress.c): 64x64, few large,
         * high-contrast objects, so that a model trained for a few hundred
         * iterations reaches an AP far from zero and a regression shows */
        p->size = 64;
        p->n_train = 400;
        p->n_val = 100;
        p->min_objects = 1;
        p->max_objects = 3;
        p->min_obj_size = 22;
        p->max_obj_frac = 0.85;
        p->max_aspect = 2.5;
        p->min_visible_frac = 0.6;
        p->max_outside_frac = 0.05;
        p->figure_prob = 0;
        p->worm_width_min = 3;
        p->worm_width_max = 5;
        p->crowd_prob = 0;
        p->min_distractors = 0;
        p->max_distractors = 2;
        p->bg_noise = 6;
        p->obj_noise = 4;
        p->bg_texture = 0.3;
        p->min_contrast = 60;
        p->shape_cats = 1u << CAT_RING | 1u << CAT_CROSS | 1u << CAT_STRIPED | 1u << CAT_CHECKER;
        return MR_OK;
    }
    return mr_errf(e, MR_EUSAGE, "unknown preset '%s' (expected tiny, ci or bench)", name);
}

/* ---- geometry ---- */

typedef struct shape {
    int np;
    int n[MAXPOLY];               /* points per polygon */
    double xy[MAXPOLY][2 * MAXV];
} shape;

typedef struct xform { double cx, cy, c, s, sx, sy; } xform;

static void xf_apply(const xform *t, double u, double v, double *x, double *y)
{
    u *= t->sx;
    v *= t->sy;
    *x = t->cx + t->c * u - t->s * v;
    *y = t->cy + t->s * u + t->c * v;
}

static double *poly_begin(shape *sh)
{
    if (sh->np >= MAXPOLY) return NULL;
    sh->n[sh->np] = 0;
    return sh->xy[sh->np];
}
static void poly_pt(shape *sh, const xform *t, double u, double v)
{
    int k = sh->n[sh->np];
    if (k >= MAXV) return;
    xf_apply(t, u, v, &sh->xy[sh->np][2 * k], &sh->xy[sh->np][2 * k + 1]);
    sh->n[sh->np] = k + 1;
}
static void poly_end(shape *sh) { if (sh->np < MAXPOLY) sh->np++; }

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void add_ellipse(shape *sh, const xform *t, double a, double b, int nv)
{
    if (!poly_begin(sh)) return;
    for (int i = 0; i < nv; i++) {
        double th = 2 * M_PI * i / nv;
        poly_pt(sh, t, a * cos(th), b * sin(th));
    }
    poly_end(sh);
}

/* a capsule (segment p-q with round ends of radius r), in local coords */
static void add_capsule(shape *sh, const xform *t, double px, double py, double qx, double qy,
                        double r)
{
    if (!poly_begin(sh)) return;
    double dx = qx - px, dy = qy - py, L = sqrt(dx * dx + dy * dy);
    double a0 = L > 1e-9 ? atan2(dy, dx) : 0;
    const int k = 6;
    for (int i = 0; i <= k; i++) {   /* around q: from a0 - pi/2 to a0 + pi/2 */
        double a = a0 - M_PI / 2 + M_PI * i / k;
        poly_pt(sh, t, qx + r * cos(a), qy + r * sin(a));
    }
    for (int i = 0; i <= k; i++) {   /* around p: a0 + pi/2 .. a0 + 3pi/2 */
        double a = a0 + M_PI / 2 + M_PI * i / k;
        poly_pt(sh, t, px + r * cos(a), py + r * sin(a));
    }
    poly_end(sh);
}

/* Sutherland-Hodgman against one half-plane of the box [0,S]^2: edge 0..3
 * = x >= 0, x <= S, y >= 0, y <= S. */
static int clip_edge(const double *in, int n, double *out, int edge, double S)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        const double *a = in + 2 * i, *b = in + 2 * ((i + 1) % n);
        int ax = edge < 2 ? 0 : 1;
        double va = a[ax], vb = b[ax];
        int ina = (edge & 1) ? va <= S : va >= 0;
        int inb = (edge & 1) ? vb <= S : vb >= 0;
        double lim = (edge & 1) ? S : 0;
        if (ina && m < MAXV) { out[2 * m] = a[0]; out[2 * m + 1] = a[1]; m++; }
        if (ina != inb && m < MAXV) {
            double f = (lim - va) / (vb - va);
            double x = a[0] + f * (b[0] - a[0]), y = a[1] + f * (b[1] - a[1]);
            if (ax == 0) x = lim; else y = lim;
            out[2 * m] = x; out[2 * m + 1] = y; m++;
        }
    }
    return m;
}

/* clip every polygon to the image, round to 1/100 px, drop those with < 3
 * points */
static void shape_clip(shape *sh, double S)
{
    static const int dummy = 0; (void)dummy;
    double buf[2][2 * MAXV];
    int out = 0;
    for (int p = 0; p < sh->np; p++) {
        int n = sh->n[p];
        memcpy(buf[0], sh->xy[p], sizeof(double) * 2 * n);
        int cur = 0;
        for (int e = 0; e < 4 && n > 0; e++) {
            n = clip_edge(buf[cur], n, buf[1 - cur], e, S);
            cur = 1 - cur;
        }
        if (n < 3) continue;
        for (int i = 0; i < 2 * n; i++) {
            double v = round(buf[cur][i] * 100.0) / 100.0;
            if (v < 0) v = 0;
            if (v > S) v = S;
            sh->xy[out][i] = v;
        }
        sh->n[out++] = n;
    }
    sh->np = out;
}

/* rasterise the shape into an S x S row-major 0/1 mask; returns area */
static long shape_raster(const shape *sh, int S, uint8_t *mask, mr_err *e, int *rc)
{
    const double *xy[MAXPOLY];
    size_t k[MAXPOLY];
    for (int p = 0; p < sh->np; p++) { xy[p] = sh->xy[p]; k[p] = (size_t)sh->n[p]; }
    mr_rle r = MR_RLE_INIT;
    *rc = mr_rle_from_polys(&r, xy, k, (size_t)sh->np, (uint32_t)S, (uint32_t)S, e);
    if (*rc) { mr_rle_free(&r); return 0; }
    mr_rle_decode_rowmajor(&r, mask);
    long a = (long)mr_rle_area(&r);
    mr_rle_free(&r);
    return a;
}

/* ---- random helpers ---- */

static double U(mr_pcg32 *r, double lo, double hi) { return lo + (hi - lo) * mr_pcg32_uniform_double(r); }
static int I(mr_pcg32 *r, int lo, int hi) { return lo + (int)mr_pcg32_bounded(r, (uint32_t)(hi - lo + 1)); }

/* a non-figure category: any of 1..CAT_WORM, or one of those in
 * P->shape_cats (a bit per category id) when it names some */
static int shape_cat(mr_pcg32 *r, const mr_synth_params *P)
{
    int allowed[CAT_WORM], n = 0;
    for (int c = 1; c <= CAT_WORM; c++)
        if (P->shape_cats >> c & 1) allowed[n++] = c;
    if (!n) return I(r, 1, CAT_WORM);
    return allowed[I(r, 0, n - 1)];
}
static double noise(mr_pcg32 *r, double amp)
{
    /* triangular on [-amp, amp]: cheap and bounded */
    uint32_t v = mr_pcg32_next(r);
    return amp * (((v & 0xffff) + (v >> 16)) / 65535.0 - 1.0);
}
static uint8_t sat(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5)); }

/* ---- textures ---- */

typedef struct texture {
    int kind;
    double c1[3], c2[3];
    double period, ca, sa;       /* stripes / checker cell and direction */
    double gx, gy, cx, cy;       /* linear shading */
} texture;

static void tex_color(const texture *t, double x, double y, double out[3])
{
    double u = t->ca * x + t->sa * y, v = -t->sa * x + t->ca * y;
    int second = 0;
    if (t->kind == TEX_STRIPES) second = ((long)floor(u / t->period)) & 1;
    else if (t->kind == TEX_CHECKER) second = ((long)floor(u / t->period) + (long)floor(v / t->period)) & 1;
    const double *c = second ? t->c2 : t->c1;
    double sh = t->gx * (x - t->cx) + t->gy * (y - t->cy);
    for (int k = 0; k < 3; k++) out[k] = c[k] + sh;
}

static void rand_color(mr_pcg32 *r, double c[3])
{
    for (int k = 0; k < 3; k++) c[k] = U(r, 0, 255);
}

static double color_dist(const double a[3], const double b[3])
{
    return (fabs(a[0] - b[0]) + fabs(a[1] - b[1]) + fabs(a[2] - b[2])) / 3;
}

/* a texture of the given kind whose colours differ from ref by at least
 * min_contrast (bounded retries); the two colours of a pattern differ too */
static void make_texture(mr_pcg32 *r, int kind, const double ref[3], double min_contrast,
                         double cx, double cy, double ext, texture *t)
{
    memset(t, 0, sizeof *t);
    t->kind = kind;
    for (int tries = 0; tries < 12; tries++) {
        rand_color(r, t->c1);
        if (color_dist(t->c1, ref) >= min_contrast) break;
    }
    for (int tries = 0; tries < 12; tries++) {
        rand_color(r, t->c2);
        if (color_dist(t->c2, t->c1) >= 50 && color_dist(t->c2, ref) >= 0.5 * min_contrast) break;
    }
    double a = U(r, 0, M_PI);
    t->ca = cos(a);
    t->sa = sin(a);
    t->period = U(r, 1.5, 3.5) + (ext > 40 ? U(r, 0, 2) : 0);
    double g = U(r, 0, 30) / (ext > 1 ? ext : 1), ga = U(r, 0, 2 * M_PI);
    t->gx = g * cos(ga);
    t->gy = g * sin(ga);
    t->cx = cx;
    t->cy = cy;
}

/* ---- shapes per category ---- */

typedef struct figure_kp { double x[MR_SYNTH_NKP], y[MR_SYNTH_NKP]; } figure_kp;

/* Build category cat centred at (cx, cy) with extent ext (px). Figures also
 * give their keypoints in image coordinates (before clipping). */
static void make_shape(mr_pcg32 *r, const mr_synth_params *P, int cat, double cx, double cy,
                       double ext, shape *sh, figure_kp *kp)
{
    xform t;
    double th = U(r, 0, 2 * M_PI);
    t.cx = cx; t.cy = cy; t.c = cos(th); t.s = sin(th); t.sx = 1; t.sy = 1;
    double A = P->max_aspect > 1 ? P->max_aspect : 1;
    double asp = exp(U(r, 0, log(A)));   /* >= 1; orientation random */
    double half = ext / 2;
    int nv = clampi((int)(M_PI * ext / 1.5), 12, 64);
    switch (cat) {
    case CAT_STRIPED:
    case CAT_CHECKER:
        add_ellipse(sh, &t, half, fmax(half / asp, 1.0), nv);
        break;
    case CAT_RING: {
        double a = half, b = fmax(half / fmin(asp, 2.5), 1.5), k = U(r, 0.45, 0.72);
        for (int h = 0; h < 2; h++) {
            if (!poly_begin(sh)) break;
            int m = nv / 2;
            for (int i = 0; i <= m; i++) {
                double q = M_PI * h + M_PI * i / m;
                poly_pt(sh, &t, a * cos(q), b * sin(q));
            }
            for (int i = m; i >= 0; i--) {
                double q = M_PI * h + M_PI * i / m;
                poly_pt(sh, &t, k * a * cos(q), k * b * sin(q));
            }
            poly_end(sh);
        }
        break;
    }
    case CAT_CROSS: {
        double lx = half, ly = fmax(half / fmin(asp, 2.5), 1.5);
        double hw = fmax(fmin(lx, ly) * U(r, 0.18, 0.32), 0.8);
        double pts[12][2] = {{lx, -hw}, {lx, hw}, {hw, hw}, {hw, ly}, {-hw, ly}, {-hw, hw},
                             {-lx, hw}, {-lx, -hw}, {-hw, -hw}, {-hw, -ly}, {hw, -ly}, {hw, -hw}};
        if (!poly_begin(sh)) break;
        for (int i = 0; i < 12; i++) poly_pt(sh, &t, pts[i][0], pts[i][1]);
        poly_end(sh);
        break;
    }
    case CAT_CRESCENT: {
        double al = U(r, 0.55, 0.85) * M_PI, hr = U(r, 0.22, 0.42);
        double R = half / (1 + hr), h0 = hr * R;
        t.sy = 1.0 / fmin(asp, 2.0);
        int m = clampi(nv / 2, 8, 40);
        if (!poly_begin(sh)) break;
        for (int i = 0; i <= m; i++) {
            double u = -1 + 2.0 * i / m, q = u * al, hh = h0 * cos(M_PI * u / 2);
            poly_pt(sh, &t, (R + hh) * cos(q), (R + hh) * sin(q));
        }
        for (int i = m - 1; i >= 1; i--) {
            double u = -1 + 2.0 * i / m, q = u * al, hh = h0 * cos(M_PI * u / 2);
            poly_pt(sh, &t, (R - hh) * cos(q), (R - hh) * sin(q));
        }
        poly_end(sh);
        break;
    }
    case CAT_WORM: {
        double L = ext, amp = L * U(r, 0.06, 0.22), k = U(r, 0.5, 1.5), ph = U(r, 0, 2 * M_PI);
        double hw = U(r, P->worm_width_min, P->worm_width_max) / 2;
        if (hw > L / 6) hw = L / 6;
        if (hw < 0.5) hw = 0.5;
        int m = clampi((int)(L / 2), 12, 100);
        if (!poly_begin(sh)) break;
        double side[2] = {1, -1};
        for (int s = 0; s < 2; s++)
            for (int ii = 0; ii <= m; ii++) {
                int i = s == 0 ? ii : m - ii;
                double u = (double)i / m;
                double x = L * (u - 0.5), y = amp * sin(2 * M_PI * k * u + ph);
                double dx = L, dy = amp * 2 * M_PI * k * cos(2 * M_PI * k * u + ph);
                double nl = sqrt(dx * dx + dy * dy);
                poly_pt(sh, &t, x - side[s] * hw * dy / nl, y + side[s] * hw * dx / nl);
            }
        poly_end(sh);
        break;
    }
    case CAT_FIGURE: {
        /* local frame: y down, the figure's left on +x; T = torso length */
        double T = ext / 3.4;
        th = U(r, -0.6, 0.6);
        t.c = cos(th); t.s = sin(th);
        double hx = 0, hy = -T * 0.5 - T * 0.5, hr = 0.28 * T;
        double ls[2] = {0.32 * T, -0.45 * T}, rs[2] = {-0.32 * T, -0.45 * T};
        double lh[2] = {0.2 * T, 0.5 * T}, rh[2] = {-0.2 * T, 0.5 * T};
        double ar = fmax(0.085 * T, 0.6), lr = fmax(0.11 * T, 0.7);
        double p[MR_SYNTH_NKP][2];
        p[0][0] = hx; p[0][1] = hy;
        p[1][0] = ls[0]; p[1][1] = ls[1];
        p[2][0] = rs[0]; p[2][1] = rs[1];
        p[7][0] = lh[0]; p[7][1] = lh[1];
        p[8][0] = rh[0]; p[8][1] = rh[1];
        for (int side = 0; side < 2; side++) {  /* 0 = left (+x) */
            double sg = side == 0 ? 1 : -1;
            /* arm: angle from straight down, positive = outward */
            double a1 = sg * U(r, -0.3, 2.8), a2 = a1 + (mr_pcg32_next(r) & 1 ? 1 : -1) * U(r, 0, 2.2);
            const double *sp = side == 0 ? ls : rs;
            double ex = sp[0] + 0.55 * T * sin(a1), ey = sp[1] + 0.55 * T * cos(a1);
            double wx = ex + 0.5 * T * sin(a2), wy = ey + 0.5 * T * cos(a2);
            p[3 + side][0] = ex; p[3 + side][1] = ey;
            p[5 + side][0] = wx; p[5 + side][1] = wy;
            double l1 = sg * U(r, -0.2, 0.7), l2 = l1 + (mr_pcg32_next(r) & 1 ? 1 : -1) * U(r, 0, 1.4);
            const double *hp = side == 0 ? lh : rh;
            double kx = hp[0] + 0.65 * T * sin(l1), ky = hp[1] + 0.65 * T * cos(l1);
            double ax = kx + 0.62 * T * sin(l2), ay = ky + 0.62 * T * cos(l2);
            p[9 + side][0] = kx; p[9 + side][1] = ky;
            p[11 + side][0] = ax; p[11 + side][1] = ay;
        }
        add_ellipse(sh, &t, hr, hr * 1.1, clampi((int)(hr * 4), 10, 24));
        add_capsule(sh, &t, 0, hy + hr * 0.8, 0, -0.45 * T, fmax(0.09 * T, 0.6)); /* neck */
        if (poly_begin(sh)) {                               /* torso */
            poly_pt(sh, &t, ls[0] + ar, ls[1] - 0.05 * T);
            poly_pt(sh, &t, rs[0] - ar, rs[1] - 0.05 * T);
            poly_pt(sh, &t, rh[0] - lr, rh[1] + 0.05 * T);
            poly_pt(sh, &t, lh[0] + lr, lh[1] + 0.05 * T);
            poly_end(sh);
        }
        for (int side = 0; side < 2; side++) {
            add_capsule(sh, &t, p[1 + side][0], p[1 + side][1], p[3 + side][0], p[3 + side][1], ar);
            add_capsule(sh, &t, p[3 + side][0], p[3 + side][1], p[5 + side][0], p[5 + side][1], ar * 0.9);
            add_capsule(sh, &t, p[7 + side][0], p[7 + side][1], p[9 + side][0], p[9 + side][1], lr);
            add_capsule(sh, &t, p[9 + side][0], p[9 + side][1], p[11 + side][0], p[11 + side][1], lr * 0.85);
        }
        for (int k = 0; k < MR_SYNTH_NKP; k++) xf_apply(&t, p[k][0], p[k][1], &kp->x[k], &kp->y[k]);
        break;
    }
    default:
        break;
    }
}

static int cat_texture(int cat)
{
    return cat == CAT_STRIPED ? TEX_STRIPES : cat == CAT_CHECKER ? TEX_CHECKER : TEX_SOLID;
}

/* ---- one image ---- */

typedef struct obj {
    int cat, crowd;
    shape sh;
    long full_area;
    int is_fig;
    figure_kp kp;
} obj;

void mr_synth_image_free(mr_synth_image_t *im)
{
    if (!im) return;
    for (int i = 0; i < im->ninst; i++) {
        mr_synth_inst *s = &im->inst[i];
        for (int p = 0; p < s->npoly; p++) free(s->poly[p]);
        free(s->poly);
        free(s->poly_len);
        free(s->mask);
    }
    free(im->inst);
    free(im->rgb);
    memset(im, 0, sizeof *im);
}

static void paint_mask(uint8_t *rgb, int S, const uint8_t *m, const texture *t, mr_pcg32 *r,
                       double amp)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            if (!m[y * S + x]) continue;
            double c[3];
            tex_color(t, x + 0.5, y + 0.5, c);
            uint8_t *px = rgb + 3 * (y * S + x);
            for (int k = 0; k < 3; k++) px[k] = sat(c[k] + noise(r, amp));
        }
}

static void background(mr_pcg32 *r, const mr_synth_params *P, uint8_t *rgb, int S)
{
    double b1[3], b2[3], rc[3];
    rand_color(r, b1);
    rand_color(r, rc);
    for (int k = 0; k < 3; k++) b2[k] = b1[k] + P->bg_texture * (rc[k] - b1[k]);
    int kind = I(r, 0, 3);
    double a = U(r, 0, M_PI), ca = cos(a), sa = sin(a);
    double f1 = U(r, 1.5, 5) * 2 * M_PI / S, f2 = U(r, 1.5, 5) * 2 * M_PI / S;
    double ph1 = U(r, 0, 6.3), ph2 = U(r, 0, 6.3), per = U(r, 6, 16);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double u = ca * x + sa * y, v = -sa * x + ca * y, w;
            switch (kind) {
            case 0: w = u / (S * 1.5) + 0.3; break;
            case 1: w = 0.5 + 0.25 * sin(f1 * u + ph1) + 0.25 * sin(f2 * v + ph2); break;
            case 2: w = (((long)floor(u / per)) & 1) ? 1 : 0; break;
            default: w = ((((long)floor(u / per)) + (long)floor(v / per)) & 1) ? 1 : 0; break;
            }
            if (w < 0) w = 0;
            if (w > 1) w = 1;
            uint8_t *px = rgb + 3 * (y * S + x);
            for (int k = 0; k < 3; k++) px[k] = sat(b1[k] * (1 - w) + b2[k] * w + noise(r, P->bg_noise));
        }
}

/* clutter that is not an object: rotated rectangles (some striped),
 * triangles, line segments */
static int distractors(mr_pcg32 *r, const mr_synth_params *P, uint8_t *rgb, int S, uint8_t *m,
                       mr_err *e)
{
    int nd = I(r, P->min_distractors, P->max_distractors);
    for (int d = 0; d < nd; d++) {
        shape sh;
        sh.np = 0;
        xform t;
        double th = U(r, 0, 2 * M_PI);
        t.cx = U(r, 0, S); t.cy = U(r, 0, S); t.c = cos(th); t.s = sin(th); t.sx = t.sy = 1;
        int kind = I(r, 0, 2);
        double L = U(r, 3, 0.3 * S);
        if (poly_begin(&sh)) {
            if (kind == 0) {            /* rectangle */
                double w = L / U(r, 1, 3);
                poly_pt(&sh, &t, -L / 2, -w / 2); poly_pt(&sh, &t, L / 2, -w / 2);
                poly_pt(&sh, &t, L / 2, w / 2); poly_pt(&sh, &t, -L / 2, w / 2);
            } else if (kind == 1) {     /* triangle */
                for (int i = 0; i < 3; i++) {
                    double q = 2 * M_PI * i / 3 + U(r, -0.4, 0.4);
                    poly_pt(&sh, &t, L / 2 * cos(q), L / 2 * sin(q));
                }
            } else {                    /* line segment */
                double w = U(r, 0.6, 1.2), LL = U(r, 0.2, 0.8) * S;
                poly_pt(&sh, &t, -LL / 2, -w); poly_pt(&sh, &t, LL / 2, -w);
                poly_pt(&sh, &t, LL / 2, w); poly_pt(&sh, &t, -LL / 2, w);
            }
            poly_end(&sh);
        }
        shape_clip(&sh, S);
        if (sh.np == 0) continue;
        int rc;
        shape_raster(&sh, S, m, e, &rc);
        if (rc) return rc;
        texture tx;
        double ref[3] = {128, 128, 128};
        make_texture(r, (kind == 0 && (mr_pcg32_next(r) & 3) == 0) ? TEX_STRIPES : TEX_SOLID, ref, 0,
                     t.cx, t.cy, L, &tx);
        paint_mask(rgb, S, m, &tx, r, P->obj_noise);
    }
    return MR_OK;
}

int mr_synth_image(const mr_synth_params *P, int split, int index, mr_synth_image_t *out,
                   mr_err *e)
{
    memset(out, 0, sizeof *out);
    const int S = P->size;
    if (S < 16 || S > 4096) return mr_errf(e, MR_EUSAGE, "synth: size %d (expected 16..4096)", S);
    mr_pcg32 rng, *r = &rng;
    mr_pcg32_seed(r, P->seed, 0x53594e5400000000ull + ((uint64_t)split << 32) + (uint64_t)index);
    size_t np = (size_t)S * S;
    int maxo = P->max_objects + 1;
    obj *objs = calloc((size_t)maxo, sizeof *objs);
    uint8_t *rgb = malloc(np * 3), *m = malloc(np), *cand = malloc(np);
    int *owner = malloc(np * sizeof *owner);
    long *vis = calloc((size_t)maxo, sizeof *vis);
    int rc = MR_OK, no = 0;
    if (!objs || !rgb || !m || !cand || !owner || !vis) { rc = mr_errf(e, MR_ENOMEM, "synth: out of memory"); goto done; }
    for (size_t i = 0; i < np; i++) owner[i] = -1;
    background(r, P, rgb, S);
    if ((rc = distractors(r, P, rgb, S, m, e))) goto done;

    int nobj = I(r, P->min_objects, P->max_objects);
    int crowd = mr_pcg32_uniform_double(r) < P->crowd_prob;
    double maxext = P->max_obj_frac * S;
    for (int j = 0; j < nobj + crowd; j++) {
        int is_crowd = crowd && j == 0;
        obj *o = &objs[no];
        memset(o, 0, sizeof *o);
        int placed = 0;
        for (int tries = 0; tries < 8 && !placed; tries++) {
            o->sh.np = 0;
            o->crowd = is_crowd;
            o->cat = is_crowd ? shape_cat(r, P)
                              : (mr_pcg32_uniform_double(r) < P->figure_prob ? CAT_FIGURE : shape_cat(r, P));
            o->is_fig = o->cat == CAT_FIGURE;
            double lo = o->is_fig ? fmax(P->min_figure_size, P->min_obj_size) : P->min_obj_size;
            double hi = fmax(maxext, lo);
            double ext = exp(U(r, log(lo), log(hi)));
            double out_ = P->max_outside_frac * ext;
            double cmin = ext / 2 - out_, cmax = S - ext / 2 + out_;
            if (cmax < cmin) cmin = cmax = S / 2.0;
            double cx = U(r, cmin, cmax), cy = U(r, cmin, cmax);
            if (is_crowd) {
                int k = I(r, 4, 8);
                double rad = 0.18 * S, sub = fmax(P->min_obj_size, 0.06 * S);
                for (int q = 0; q < k; q++) {
                    double e2 = U(r, P->min_obj_size, sub * 1.6);
                    make_shape(r, P, o->cat, cx + U(r, -rad, rad), cy + U(r, -rad, rad), e2, &o->sh, NULL);
                }
            } else {
                make_shape(r, P, o->cat, cx, cy, ext, &o->sh, &o->kp);
            }
            shape_clip(&o->sh, S);
            if (o->sh.np == 0) continue;
            long area = shape_raster(&o->sh, S, cand, e, &rc);
            if (rc) goto done;
            if (area < 3) continue;
            /* would this placement bury an earlier instance? */
            int ok = 1;
            for (int i = 0; i < no && ok; i++) {
                long lost = 0;
                for (size_t q = 0; q < np; q++) lost += (owner[q] == i) & cand[q];
                if (vis[i] - lost < P->min_visible_frac * objs[i].full_area) ok = 0;
            }
            if (!ok) continue;
            placed = 1;
            o->full_area = area;
        }
        if (!placed) continue;
        /* texture: contrast against the image under the object's centre */
        double ref[3] = {0, 0, 0};
        long cnt = 0;
        for (size_t q = 0; q < np; q++)
            if (cand[q]) { for (int k = 0; k < 3; k++) ref[k] += rgb[3 * q + k]; cnt++; }
        for (int k = 0; k < 3; k++) ref[k] /= (double)(cnt ? cnt : 1);
        double bx = 0, by = 0;
        for (int y = 0; y < S; y++) for (int x = 0; x < S; x++) if (cand[y * S + x]) { bx += x; by += y; }
        texture tx;
        make_texture(r, cat_texture(o->cat), ref, P->min_contrast, bx / cnt, by / cnt, sqrt((double)cnt) * 2, &tx);
        paint_mask(rgb, S, cand, &tx, r, P->obj_noise);
        for (size_t q = 0; q < np; q++)
            if (cand[q]) {
                if (owner[q] >= 0) vis[owner[q]]--;
                owner[q] = no;
            }
        vis[no] = o->full_area;
        no++;
    }

    /* annotations from the owner map */
    out->S = S;
    out->rgb = rgb;
    rgb = NULL;
    out->inst = calloc((size_t)(no ? no : 1), sizeof *out->inst);
    if (!out->inst) { rc = mr_errf(e, MR_ENOMEM, "synth: out of memory"); goto done; }
    for (int i = 0; i < no; i++) {
        obj *o = &objs[i];
        if (vis[i] < 2) continue;
        mr_synth_inst *s = &out->inst[out->ninst];
        s->mask = malloc(np);
        if (!s->mask) { rc = mr_errf(e, MR_ENOMEM, "synth: out of memory"); goto done; }
        out->ninst++;
        int x0 = S, y0 = S, x1 = -1, y1 = -1;
        long area = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int v = owner[y * S + x] == i;
                s->mask[y * S + x] = (uint8_t)v;
                if (v) {
                    area++;
                    if (x < x0) x0 = x;
                    if (x > x1) x1 = x;
                    if (y < y0) y0 = y;
                    if (y > y1) y1 = y;
                }
            }
        s->category = o->cat;
        s->iscrowd = o->crowd;
        s->area = area;
        s->bbox[0] = x0; s->bbox[1] = y0; s->bbox[2] = x1 - x0 + 1; s->bbox[3] = y1 - y0 + 1;
        s->use_rle = o->crowd || area != o->full_area;
        if (!s->use_rle) {
            s->npoly = o->sh.np;
            s->poly_len = calloc((size_t)o->sh.np, sizeof *s->poly_len);
            s->poly = calloc((size_t)o->sh.np, sizeof *s->poly);
            if (!s->poly_len || !s->poly) { rc = mr_errf(e, MR_ENOMEM, "synth: out of memory"); goto done; }
            for (int p = 0; p < o->sh.np; p++) {
                s->poly_len[p] = 2 * o->sh.n[p];
                s->poly[p] = malloc(sizeof(double) * 2 * o->sh.n[p]);
                if (!s->poly[p]) { rc = mr_errf(e, MR_ENOMEM, "synth: out of memory"); goto done; }
                memcpy(s->poly[p], o->sh.xy[p], sizeof(double) * 2 * o->sh.n[p]);
            }
        }
        if (o->is_fig) {
            for (int k = 0; k < MR_SYNTH_NKP; k++) {
                double x = round(o->kp.x[k] * 100) / 100, y = round(o->kp.y[k] * 100) / 100;
                double v;
                if (x < 0 || y < 0 || x >= S || y >= S) { x = y = 0; v = 0; }
                else {
                    int ow = owner[(int)y * S + (int)x];
                    v = ow > i ? 1 : 2;
                }
                s->kp[3 * k] = x; s->kp[3 * k + 1] = y; s->kp[3 * k + 2] = v;
                if (v > 0) s->num_keypoints++;
            }
        }
    }
done:
    free(objs); free(rgb); free(m); free(cand); free(owner); free(vis);
    if (rc) mr_synth_image_free(out);
    return rc;
}
