/*
 * layers.h — the neural-network layers of mrcnn, forward and backward.
 *
 * Every layer is a pair of plain functions over raw float arrays, in the
 * style of llm.c: X_forward writes its output (overwrites), X_backward ADDS
 * into the gradients it is given (+=), so branches that share an input sum
 * naturally; the caller zeroes gradient buffers once per step. Any gradient
 * pointer may be NULL, meaning "not needed" (e.g. a frozen weight, or the
 * image input). Layouts are PyTorch's, so torchvision state_dict tensors can
 * be used as they are:
 *   activations  NCHW contiguous
 *   conv weight  (Cout, Cin, kh, kw)      deconv weight (Cin, Cout, kh, kw)
 *   linear       weight (OUT, IN), input (N, IN), output (N, OUT)
 * Scratch memory ("workspace") is passed in by the caller, sized by the
 * matching *_workspace() function (in floats), so no layer allocates.
 * Threading: matrix products go through OpenBLAS (its thread count is set by
 * the caller); element-wise loops may use OpenMP with static schedules, and
 * every reduction has a fixed order, so results are bitwise reproducible for
 * a given thread count.
 *
 * defines: mr_conv2d, mr_conv_out_size, mr_conv2d_workspace,
 *   mr_conv2d_forward/backward, mr_deconv2d, mr_deconv2d_workspace,
 *   mr_deconv2d_forward/backward, mr_linear_forward/backward,
 *   mr_relu_forward/backward, mr_maxpool2d_forward/backward,
 *   mr_upsample_nearest_forward/backward, mr_upsample_bilinear_forward/backward,
 *   mr_avgpool_global_forward/backward, mr_add_forward,
 *   mr_groupnorm_forward/backward, mr_frozenbn_forward/backward,
 *   mr_softmax_xent_forward/backward, mr_bce_logits_forward/backward,
 *   mr_smooth_l1_forward/backward, mr_l1_forward/backward
 */
#ifndef MR_LAYERS_H
#define MR_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- conv2d: inp (N, cin, H, W) -> out (N, cout, OH, OW); groups = 1 ---- */
typedef struct mr_conv2d {
    int cin, cout, kh, kw;
    int sh, sw;   /* stride */
    int ph, pw;   /* zero padding */
    int dh, dw;   /* dilation (1 = none) */
} mr_conv2d;

static inline int mr_conv_out_size(int in, int k, int s, int p, int d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}
/* floats of scratch needed by forward and backward for one image of H x W */
size_t mr_conv2d_workspace(const mr_conv2d *c, int H, int W);
/* b may be NULL (no bias). 1x1 stride-1 unpadded convs skip im2col. */
void mr_conv2d_forward(const mr_conv2d *c, int N, int H, int W, const float *inp,
                       const float *w, const float *b, float *out, float *ws);
void mr_conv2d_backward(const mr_conv2d *c, int N, int H, int W, const float *inp,
                        const float *w, const float *dout, float *dinp, float *dw,
                        float *db, float *ws);

/* ---- transposed conv: inp (N, cin, H, W) -> out (N, cout, OH, OW),
 *      OH = (H - 1) * sh - 2 * ph + kh (the mask head's 2x2 stride-2 deconv) ---- */
typedef struct mr_deconv2d { int cin, cout, kh, kw, sh, sw, ph, pw; } mr_deconv2d;
size_t mr_deconv2d_workspace(const mr_deconv2d *c, int H, int W);
void mr_deconv2d_forward(const mr_deconv2d *c, int N, int H, int W, const float *inp,
                         const float *w, const float *b, float *out, float *ws);
void mr_deconv2d_backward(const mr_deconv2d *c, int N, int H, int W, const float *inp,
                          const float *w, const float *dout, float *dinp, float *dw,
                          float *db, float *ws);

/* ---- linear: inp (N, IN) -> out (N, OUT), w (OUT, IN), b (OUT) or NULL ---- */
void mr_linear_forward(int N, int IN, int OUT, const float *inp, const float *w,
                       const float *b, float *out);
void mr_linear_backward(int N, int IN, int OUT, const float *inp, const float *w,
                        const float *dout, float *dinp, float *dw, float *db);

/* ---- ReLU over n elements; in-place forward (out == inp) is allowed.
 *      backward reads the forward OUTPUT (zero where the unit was off). ---- */
void mr_relu_forward(size_t n, const float *inp, float *out);
void mr_relu_backward(size_t n, const float *out, const float *dout, float *dinp);

/* ---- max-pool k x k, stride s, padding p (padding never wins the max).
 *      argmax (N*C*OH*OW int32, index into the input plane) is written by
 *      forward when non-NULL and read by backward. ---- */
void mr_maxpool2d_forward(int N, int C, int H, int W, int k, int s, int p,
                          const float *inp, float *out, int32_t *argmax);
void mr_maxpool2d_backward(int N, int C, int H, int W, int k, int s, int p,
                           const float *dout, const int32_t *argmax, float *dinp);

/* ---- nearest upsample to (OH, OW), PyTorch's rule: src = floor(dst * H / OH);
 *      OH = 2H, OW = 2W is FPN's top-down x2. ---- */
void mr_upsample_nearest_forward(int N, int C, int H, int W, int OH, int OW,
                                 const float *inp, float *out);
void mr_upsample_nearest_backward(int N, int C, int H, int W, int OH, int OW,
                                  const float *dout, float *dinp);

/* ---- bilinear resize to (OH, OW), align_corners = False (PyTorch's
 *      F.interpolate(mode="bilinear")), as the keypoint head's x2 upsample ---- */
void mr_upsample_bilinear_forward(int N, int C, int H, int W, int OH, int OW,
                                  const float *inp, float *out);
void mr_upsample_bilinear_backward(int N, int C, int H, int W, int OH, int OW,
                                   const float *dout, float *dinp);

/* ---- global average pool: (N, C, H, W) -> (N, C) ---- */
void mr_avgpool_global_forward(int N, int C, int H, int W, const float *inp, float *out);
void mr_avgpool_global_backward(int N, int C, int H, int W, const float *dout, float *dinp);

/* out[i] = a[i] + b[i] (residual connections; backward is a copy) */
void mr_add_forward(size_t n, const float *a, const float *b, float *out);

/* ---- GroupNorm over (N, C, H, W) with G groups, affine gamma/beta (C).
 *      forward saves mean and rstd (N*G each) for backward. ---- */
void mr_groupnorm_forward(int N, int C, int HW, int G, float eps, const float *inp,
                          const float *gamma, const float *beta, float *out,
                          float *mean, float *rstd);
void mr_groupnorm_backward(int N, int C, int HW, int G, const float *inp,
                           const float *gamma, const float *mean, const float *rstd,
                           const float *dout, float *dinp, float *dgamma, float *dbeta);

/* ---- frozen BatchNorm (torchvision FrozenBatchNorm2d): per channel
 *      y = x * scale + shift, scale = weight / sqrt(running_var + eps),
 *      shift = bias - running_mean * scale. No parameter gradients. ---- */
void mr_frozenbn_forward(int N, int C, int HW, float eps, const float *inp,
                         const float *weight, const float *bias, const float *rmean,
                         const float *rvar, float *out);
void mr_frozenbn_backward(int N, int C, int HW, float eps, const float *weight,
                          const float *rvar, const float *dout, float *dinp);

/* ---- losses. Each forward returns the SUM over its terms (as double, so the
 *      caller divides by the normaliser it wants); backward adds
 *      scale * d(sum)/d(input) into dinp, with scale = dloss / normaliser. ---- */

/* softmax cross-entropy over K classes per row; target < 0 ignores a row.
 * probs (N*K) is written by forward and read by backward. */
double mr_softmax_xent_forward(int N, int K, const float *logits, const int *target,
                               float *probs);
void mr_softmax_xent_backward(int N, int K, const float *probs, const int *target,
                              float scale, float *dlogits);

/* binary cross-entropy with logits (sigmoid cross-entropy), numerically
 * stable form; weight (n) may be NULL (all ones) */
double mr_bce_logits_forward(size_t n, const float *x, const float *t, const float *weight);
void mr_bce_logits_backward(size_t n, const float *x, const float *t, const float *weight,
                            float scale, float *dx);

/* smooth L1 with beta (beta = 0 is plain L1): |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta */
double mr_smooth_l1_forward(size_t n, const float *x, const float *t, float beta);
void mr_smooth_l1_backward(size_t n, const float *x, const float *t, float beta,
                           float scale, float *dx);
double mr_l1_forward(size_t n, const float *x, const float *t);
void mr_l1_backward(size_t n, const float *x, const float *t, float scale, float *dx);

#endif
