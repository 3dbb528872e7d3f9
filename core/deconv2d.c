/*
 * deconv2d.c — transposed 2-d convolution (the mask head's 2x2 stride-2
 * upsampling), forward and backward.
 *
 * Shapes (PyTorch's ConvTranspose2d): inp (N, cin, H, W), w (cin, cout, kh,
 * kw), b (cout), out (N, cout, OH, OW) with OH = (H-1)*sh - 2*ph + kh. It is
 * the adjoint of the conv that maps (cout, OH, OW) to (cin, H, W), so per
 * image, with KK = cout*kh*kw and P = H*W:
 *   forward   col (KK x P) = w^T (KK x cin) . inp (cin x P);  out = col2im(col) [+ b]
 *   backward  dcol = im2col(dout);  dinp (cin x P) += w . dcol
 *             dw (cin x KK) += inp . dcol^T;  db += sums of dout per channel
 * Promises: no allocation (workspace KK*P floats); backward ADDS; bitwise
 * reproducible for a given thread count.
 */
#include "core/layers.h"
#include "core/im2col.h"

#include <cblas.h>
#include <string.h>

/* geometry of the adjoint conv: image = the deconv output, grid = its input */
static mr_cgeom adj_geom(const mr_deconv2d *c, int H, int W)
{
    mr_cgeom g = {c->cout, (H - 1) * c->sh - 2 * c->ph + c->kh, (W - 1) * c->sw - 2 * c->pw + c->kw,
                  c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, 1, 1, H, W};
    return g;
}

size_t mr_deconv2d_workspace(const mr_deconv2d *c, int H, int W)
{
    return (size_t)c->cout * c->kh * c->kw * (size_t)H * W;
}

void mr_deconv2d_forward(const mr_deconv2d *c, int N, int H, int W, const float *inp,
                         const float *w, const float *b, float *out, float *ws)
{
    const mr_cgeom g = adj_geom(c, H, W);
    const int KK = c->cout * c->kh * c->kw, P = H * W;
    const long OP = (long)g.H * g.W;
    for (int n = 0; n < N; n++) {
        const float *img = inp + (long)n * c->cin * P;
        float *o = out + (long)n * c->cout * OP;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KK, P, c->cin,
                    1.0f, w, KK, img, P, 0.0f, ws, P);
        memset(o, 0, sizeof(float) * c->cout * OP);
        mr_col2im_rows(&g, ws, 0, H, o);
        if (b) {
#pragma omp parallel for schedule(static) if ((long)c->cout * OP >= 32768)
            for (int co = 0; co < c->cout; co++) {
                float *oc = o + (long)co * OP;
                for (long p = 0; p < OP; p++) oc[p] += b[co];
            }
        }
    }
}

void mr_deconv2d_backward(const mr_deconv2d *c, int N, int H, int W, const float *inp,
                          const float *w, const float *dout, float *dinp, float *dw,
                          float *db, float *ws)
{
    const mr_cgeom g = adj_geom(c, H, W);
    const int KK = c->cout * c->kh * c->kw, P = H * W;
    const long OP = (long)g.H * g.W;
    for (int n = 0; n < N; n++) {
        const float *d = dout + (long)n * c->cout * OP;
        if (db) {
#pragma omp parallel for schedule(static) if ((long)c->cout * OP >= 32768)
            for (int co = 0; co < c->cout; co++) {
                double s = 0.0;
                for (long p = 0; p < OP; p++) s += d[co * OP + p];
                db[co] += (float)s;
            }
        }
        if (!dinp && !dw) continue;
        mr_im2col_rows(&g, d, 0, H, ws);
        if (dinp)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->cin, P, KK,
                        1.0f, w, KK, ws, P, 1.0f, dinp + (long)n * c->cin * P, P);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->cin, KK, P,
                        1.0f, inp + (long)n * c->cin * P, P, ws, P, 1.0f, dw, KK);
    }
}
