/*
 * im2col.c — image <-> column transforms for a band of output rows (see
 * im2col.h). For each kernel tap (i, j) the valid output columns form one
 * contiguous range [lo, hi], computed once per column-matrix row, so the inner
 * loops have no bounds tests; with stride 1 the copy is a memcpy.
 */
#include "core/im2col.h"

#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* dst[i] = src[2 * i] for i < n (the stride-2 gather of the ResNet stem and
 * the stride-2 3x3 convs); reads src[0 .. 2n-2] only. */
static void gather_stride2(float *dst, const float *src, int n)
{
    int i = 0;
#ifdef __AVX512F__
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (; i + 17 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(src + 2 * i), b = _mm512_loadu_ps(src + 2 * i + 16);
        _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(a, even, b));
    }
#endif
    for (; i < n; i++) dst[i] = src[2 * i];
}

/* dst[2 * i] += src[i] for i < n (col2im's stride-2 scatter); touches
 * dst[0 .. 2n-2] only, and only the even elements change (masked adds, so
 * an odd element keeps even the sign of a zero). */
static void scatter_add_stride2(float *dst, const float *src, int n)
{
    int i = 0;
#ifdef __AVX512F__
    /* spread 16 values over the even lanes of two 16-lane vectors */
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
    const __m512i hi = _mm512_setr_epi32(8, 0, 9, 0, 10, 0, 11, 0, 12, 0, 13, 0, 14, 0, 15, 0);
    const __mmask16 even = 0x5555;
    for (; i + 17 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(src + i);
        float *d = dst + 2 * i;
        const __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
        _mm512_storeu_ps(d, _mm512_mask_add_ps(d0, even, d0, _mm512_permutexvar_ps(lo, v)));
        _mm512_storeu_ps(d + 16, _mm512_mask_add_ps(d1, even, d1, _mm512_permutexvar_ps(hi, v)));
    }
#endif
    for (; i < n; i++) dst[2 * i] += src[i];
}

/* The output columns ow whose input column ow*sw + off lies in [0, W):
 * [*lo, *hi] (empty when *lo > *hi). */
static void valid_range(int OW, int W, int sw, int off, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int h = (W - 1 - off) < 0 ? -1 : (W - 1 - off) / sw;
    if (h > OW - 1) h = OW - 1;
    *lo = l;
    *hi = h;
}

void mr_im2col_rows(const mr_cgeom *g, const float *img, int oh0, int oh1, float *col)
{
    const int kk = g->kh * g->kw, K = g->C * kk, OW = g->OW;
    const long ncol = (long)(oh1 - oh0) * OW;
#pragma omp parallel for schedule(static) if ((long)K * ncol >= 32768)
    for (int r = 0; r < K; r++) {
        const int c = r / kk, i = (r / g->kw) % g->kh, j = r % g->kw;
        const int off = j * g->dw - g->pw;
        int lo, hi;
        valid_range(OW, g->W, g->sw, off, &lo, &hi);
        const float *plane = img + (long)c * g->H * g->W;
        float *dst = col + (long)r * ncol;
        for (int oh = oh0; oh < oh1; oh++, dst += OW) {
            const int ih = oh * g->sh - g->ph + i * g->dh;
            if (ih < 0 || ih >= g->H || lo > hi) {
                memset(dst, 0, sizeof(float) * OW);
                continue;
            }
            const float *row = plane + (long)ih * g->W;
            for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
            if (g->sw == 1) {
                memcpy(dst + lo, row + lo + off, sizeof(float) * (hi - lo + 1));
            } else if (g->sw == 2) {
                gather_stride2(dst + lo, row + 2 * lo + off, hi - lo + 1);
            } else {
                const int sw = g->sw;
                for (int ow = lo; ow <= hi; ow++) dst[ow] = row[(long)ow * sw + off];
            }
            for (int ow = hi + 1; ow < OW; ow++) dst[ow] = 0.0f;
        }
    }
}

void mr_col2im_rows(const mr_cgeom *g, const float *col, int oh0, int oh1, float *img)
{
    const int kk = g->kh * g->kw, OW = g->OW;
    const long ncol = (long)(oh1 - oh0) * OW;
#pragma omp parallel for schedule(static) if ((long)g->C * kk * ncol >= 32768)
    for (int c = 0; c < g->C; c++) {
        float *plane = img + (long)c * g->H * g->W;
        for (int i = 0; i < g->kh; i++) {
            for (int j = 0; j < g->kw; j++) {
                const int off = j * g->dw - g->pw;
                int lo, hi;
                valid_range(OW, g->W, g->sw, off, &lo, &hi);
                if (lo > hi) continue;
                const float *src = col + ((long)c * kk + i * g->kw + j) * ncol;
                for (int oh = oh0; oh < oh1; oh++, src += OW) {
                    const int ih = oh * g->sh - g->ph + i * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    float *row = plane + (long)ih * g->W;
                    const int sw = g->sw;
                    if (sw == 2) {
                        scatter_add_stride2(row + 2 * lo + off, src + lo, hi - lo + 1);
                        continue;
                    }
                    for (int ow = lo; ow <= hi; ow++) row[(long)ow * sw + off] += src[ow];
                }
            }
        }
    }
}
