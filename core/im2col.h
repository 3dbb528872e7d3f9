/*
 * im2col.h — the column transforms behind conv2d and deconv2d (internal to
 * core/; only the layer files include it).
 *
 * A conv geometry maps an image (C, H, W) to an output grid (OH, OW). The
 * column matrix has K = C*kh*kw rows (row r = (c*kh + i)*kw + j) and one
 * column per output position; these functions work on a band of output rows
 * [oh0, oh1), so the column buffer is K x ((oh1-oh0)*OW), row-major, and can
 * be kept small enough to stay in cache (conv2d chunks over output rows).
 * Zero padding reads as zero; col2im ADDS into the image and owns each
 * channel's plane in one thread, so its summation order is fixed.
 *
 * defines: mr_cgeom, mr_im2col_rows, mr_col2im_rows
 */
#ifndef MR_IM2COL_H
#define MR_IM2COL_H

typedef struct mr_cgeom {
    int C, H, W;      /* image */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int OH, OW;       /* output grid */
} mr_cgeom;

/* col (K x (oh1-oh0)*OW) <- patches of img (C, H, W) for output rows [oh0, oh1) */
void mr_im2col_rows(const mr_cgeom *g, const float *img, int oh0, int oh1, float *col);
/* img (C, H, W) += the patches in col (layout as mr_im2col_rows) */
void mr_col2im_rows(const mr_cgeom *g, const float *col, int oh0, int oh1, float *img);

#endif
