/*
 * linear.c — fully connected layer, forward and backward (PyTorch layout).
 *   inp (N, IN), w (OUT, IN), b (OUT) or NULL, out (N, OUT)
 *   forward   out = inp . w^T + b
 *   backward  dinp += dout . w;  dw += dout^T . inp;  db += column sums of dout
 * No allocation; backward ADDS (any gradient may be NULL).
 */
#include "core/layers.h"

#include <cblas.h>

void mr_linear_forward(int N, int IN, int OUT, const float *inp, const float *w,
                       const float *b, float *out)
{
    if (N <= 0 || OUT <= 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN,
                1.0f, inp, IN, w, IN, 0.0f, out, OUT);
    if (b)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++) out[(long)n * OUT + o] += b[o];
}

void mr_linear_backward(int N, int IN, int OUT, const float *inp, const float *w,
                        const float *dout, float *dinp, float *dw, float *db)
{
    if (N <= 0 || OUT <= 0) return;
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT,
                    1.0f, dout, OUT, w, IN, 1.0f, dinp, IN);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N,
                    1.0f, dout, OUT, inp, IN, 1.0f, dw, IN);
    if (db)
        for (int o = 0; o < OUT; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += dout[(long)n * OUT + o];
            db[o] += (float)s;
        }
}
