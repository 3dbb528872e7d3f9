/*
 * conv2d.c — 2-d convolution (groups = 1), forward and backward.
 *
 * Shapes (PyTorch's): inp (N, cin, H, W), w (cout, cin, kh, kw), b (cout),
 * out (N, cout, OH, OW). Per image, with K = cin*kh*kw and P = OH*OW:
 *   forward   out (cout x P)  = w (cout x K) . col (K x P)        [+ b]
 *   backward  dw  (cout x K) += dout (cout x P) . col^T
 *             dcol (K x P)    = w^T . dout,  dinp += col2im(dcol)
 *             db  (cout)     += row sums of dout
 * where col = im2col(inp). The column matrix is built for a band of output
 * rows at a time (see chunk_rows) so that it stays in cache next to the
 * matrix product instead of streaming K*P floats through memory. A 1x1
 * stride-1 unpadded conv needs no columns: the image itself is the (cin x P)
 * matrix, and it uses no workspace. The output is initialised with the bias
 * (or 0) band by band and the product accumulates into it (beta = 1).
 * Profile of the ResNet stem at 1 thread (perf): ~75% in OpenBLAS's kernel,
 * the rest im2col, OpenBLAS packing and the first write of the output.
 * 3x3 stride-1 "same" convs with enough channels go to winograd.c instead
 * (F(2x2, 3x3): 2.25x fewer multiplies, all images of the batch in one
 * matrix product per transform point).
 * Promises: no allocation; backward ADDS into dinp/dw/db (any may be NULL);
 * bitwise reproducible for a given OpenBLAS thread count.
 */
#include "core/layers.h"
#include "core/im2col.h"
#include "core/winograd.h"

#include <cblas.h>
#include <string.h>

/* Column-buffer budget per band, in floats (2 MB). A band holds whole output
 * rows, at least MIN_COLS columns when the image has that many (so the
 * matrix product stays wide enough to run at full speed). A sweep of 2^15 to
 * 2^20 floats on the benchmark shapes moved the speed by less than the noise
 * of the shared machine (+-5%); the band size does not depend on the thread
 * count, so neither do the results. */
#ifndef CHUNK_FLOATS
#define CHUNK_FLOATS (1L << 19)
#endif
#ifndef MIN_COLS
#define MIN_COLS 512
#endif

static int is_pointwise(const mr_conv2d *c)
{
    return c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 && c->pw == 0;
}

static int use_wino(const mr_conv2d *c)
{
    return mr_wino_eligible(c->cin, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw);
}

static mr_cgeom geom_of(const mr_conv2d *c, int H, int W)
{
    mr_cgeom g = {c->cin, H, W, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw,
                  mr_conv_out_size(H, c->kh, c->sh, c->ph, c->dh),
                  mr_conv_out_size(W, c->kw, c->sw, c->pw, c->dw)};
    return g;
}

/* output rows per column band */
static int chunk_rows(const mr_cgeom *g)
{
    const long K = (long)g->C * g->kh * g->kw;
    long rows = CHUNK_FLOATS / (K * g->OW);
    long min_rows = (MIN_COLS + g->OW - 1) / g->OW;
    if (rows < min_rows) rows = min_rows;
    if (rows < 1) rows = 1;
    if (rows > g->OH) rows = g->OH;
    return (int)rows;
}

size_t mr_conv2d_workspace(const mr_conv2d *c, int H, int W)
{
    if (is_pointwise(c)) return 0;
    if (use_wino(c)) return mr_wino_workspace(c->cin, c->cout);
    mr_cgeom g = geom_of(c, H, W);
    if (g.OH <= 0 || g.OW <= 0) return 0;
    return (size_t)g.C * g.kh * g.kw * (size_t)chunk_rows(&g) * g.OW;
}

/* o[co][col0, col0 + ncol) = b[co] (0 without bias), for every output
 * channel: the product then accumulates into it (beta = 1), which spares
 * OpenBLAS's separate pass that clears C and a later pass that adds bias. */
static void init_band(float *o, int cout, long P, long col0, int ncol, const float *b)
{
#pragma omp parallel for schedule(static) if ((long)cout * ncol >= 32768)
    for (int co = 0; co < cout; co++) {
        float *oc = o + (long)co * P + col0;
        const float v = b ? b[co] : 0.0f;
        if (v == 0.0f) memset(oc, 0, sizeof(float) * (size_t)ncol);
        else for (int p = 0; p < ncol; p++) oc[p] = v;
    }
}

void mr_conv2d_forward(const mr_conv2d *c, int N, int H, int W, const float *inp,
                       const float *w, const float *b, float *out, float *ws)
{
    const mr_cgeom g = geom_of(c, H, W);
    const int K = c->cin * c->kh * c->kw, P = g.OH * g.OW;
    if (g.OH <= 0 || g.OW <= 0) return;
    if (use_wino(c)) {
        mr_wino_forward(c->cin, c->cout, N, H, W, inp, w, b, out, ws);
        return;
    }
    const int band = chunk_rows(&g);
    for (int n = 0; n < N; n++) {
        const float *img = inp + (long)n * c->cin * H * W;
        float *o = out + (long)n * c->cout * P;
        if (is_pointwise(c)) {
            init_band(o, c->cout, P, 0, P, b);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, P, c->cin,
                        1.0f, w, c->cin, img, P, 1.0f, o, P);
            continue;
        }
        for (int oh0 = 0; oh0 < g.OH; oh0 += band) {
            const int oh1 = oh0 + band < g.OH ? oh0 + band : g.OH;
            const int ncol = (oh1 - oh0) * g.OW;
            mr_im2col_rows(&g, img, oh0, oh1, ws);
            init_band(o, c->cout, P, (long)oh0 * g.OW, ncol, b);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cout, ncol, K,
                        1.0f, w, K, ws, ncol, 1.0f, o + (long)oh0 * g.OW, P);
        }
    }
}

void mr_conv2d_backward(const mr_conv2d *c, int N, int H, int W, const float *inp,
                        const float *w, const float *dout, float *dinp, float *dw,
                        float *db, float *ws)
{
    const mr_cgeom g = geom_of(c, H, W);
    const int K = c->cin * c->kh * c->kw, P = g.OH * g.OW;
    if (g.OH <= 0 || g.OW <= 0) return;
    if (use_wino(c)) {
        mr_wino_backward(c->cin, c->cout, N, H, W, inp, w, dout, dinp, dw, db, ws);
        return;
    }
    const int band = chunk_rows(&g);
    for (int n = 0; n < N; n++) {
        const float *img = inp + (long)n * c->cin * H * W;
        const float *d = dout + (long)n * c->cout * P;
        float *di = dinp ? dinp + (long)n * c->cin * H * W : NULL;
        if (db) {
#pragma omp parallel for schedule(static) if ((long)c->cout * P >= 32768)
            for (int co = 0; co < c->cout; co++) {
                const float *dc = d + (long)co * P;
                double s = 0.0;
                for (int p = 0; p < P; p++) s += dc[p];
                db[co] += (float)s;
            }
        }
        if (is_pointwise(c)) {
            if (dw)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, c->cin, P,
                            1.0f, d, P, img, P, 1.0f, dw, c->cin);
            if (di)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->cin, P, c->cout,
                            1.0f, w, c->cin, d, P, 1.0f, di, P);
            continue;
        }
        for (int oh0 = 0; oh0 < g.OH; oh0 += band) {
            const int oh1 = oh0 + band < g.OH ? oh0 + band : g.OH;
            const int ncol = (oh1 - oh0) * g.OW;
            const float *dband = d + (long)oh0 * g.OW;
            if (dw) {
                mr_im2col_rows(&g, img, oh0, oh1, ws);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cout, K, ncol,
                            1.0f, dband, P, ws, ncol, 1.0f, dw, K);
            }
            if (di) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, ncol, c->cout,
                            1.0f, w, K, dband, P, 0.0f, ws, ncol);
                mr_col2im_rows(&g, ws, oh0, oh1, di);
            }
        }
    }
}
