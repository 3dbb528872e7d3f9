/*
 * winograd.h — 3x3 stride-1 "same" convolution by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016), forward and backward.
 *
 * Each output 2x2 tile is A^T [ (G g G^T) . (B^T d B) ] A for the 4x4 input
 * patch d around it: the 16 element-wise products, summed over input
 * channels, become 16 matrix products (one per point of the 4x4 transform
 * domain) of (cout x cin) by (cin x tiles) with the tiles of every image of
 * the batch side by side. That is 16 multiplies per 4 outputs instead of 36
 * (2.25x fewer FLOPs) and, for the RoI heads, matrix products as wide as the
 * batch of RoIs instead of one 14x14 RoI at a time. The backward pass is the
 * exact gradient of that computation: dM = A dY A^T, dU = dM V^T (weights),
 * dV = U^T dM (input), then dd = B dV B^T scattered back onto the input and
 * dg = G^T dU G.
 *
 * Used by conv2d.c for every 3x3, stride 1, padding 1, dilation 1 conv with
 * at least MR_WINO_MIN_CH input and output channels (below that the
 * transforms cost more than the products they save) and at most
 * MR_WINO_MAX_CH2 channel pairs; results differ from
 * im2col's by rounding only (tests/test_layers.c compares both with naive
 * loops and checks the gradients by finite differences).
 * Tiles are processed in chunks of a fixed size that depends on the channel
 * counts only, so the summation order, and the result, do not depend on the
 * batch size split or on the thread count beyond OpenBLAS's own.
 *
 * defines: MR_WINO_MIN_CH, mr_wino_eligible, mr_wino_workspace,
 *          mr_wino_forward, mr_wino_backward
 */
#ifndef MR_WINOGRAD_H
#define MR_WINOGRAD_H

#include <stddef.h>

#define MR_WINO_MIN_CH 16
/* cin * cout at most this: the transformed weights and their gradient take
 * 32 * cin * cout floats of workspace (the 512-channel convs of res5 would
 * need 34 MB for a layer that runs on a 25x34 map) */
#define MR_WINO_MAX_CH2 (256L * 256L)

/* is a conv with these parameters computed by Winograd? */
int mr_wino_eligible(int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                     int dw);
/* floats of scratch for forward or backward (independent of N, H, W) */
size_t mr_wino_workspace(int cin, int cout);
/* out (N, cout, H, W) = conv3x3(inp (N, cin, H, W), w (cout, cin, 3, 3)) + b
 * (b may be NULL); overwrites out */
void mr_wino_forward(int cin, int cout, int N, int H, int W, const float *inp, const float *w,
                     const float *b, float *out, float *ws);
/* ADDS the gradients into dinp, dw, db (any may be NULL) */
void mr_wino_backward(int cin, int cout, int N, int H, int W, const float *inp, const float *w,
                      const float *dout, float *dinp, float *dw, float *db, float *ws);

#endif
