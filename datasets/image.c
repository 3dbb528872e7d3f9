/*
 * image.c — image decoding (stb_image) and bilinear resizing; see image.h.
 */
#include "datasets/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>

#include "core/fileio.h"

void mr_image_free(mr_image *im)
{
    if (!im) return;
    free(im->rgb);
    memset(im, 0, sizeof *im);
}

/* A baseline or progressive JPEG ends with the EOI marker (FF D9), perhaps
 * followed by some padding; inside entropy-coded data FF is always followed
 * by 00 or a restart marker, so a file cut short has no FF D9 near its end. */
static int jpeg_has_eoi(const uint8_t *p, size_t n)
{
    size_t from = n > 4096 ? n - 4096 : 0;
    for (size_t i = n; i-- > from + 1;)
        if (p[i - 1] == 0xFF && p[i] == 0xD9) return 1;
    return 0;
}

int mr_image_decode(const void *data, size_t len, const char *name, mr_image *im, mr_err *e)
{
    memset(im, 0, sizeof *im);
    const uint8_t *p = data;
    if (len < 8) return mr_errf(e, MR_EUSER, "%s: not an image (%zu bytes)", name, len);
    if (len > 0x7fffffff) return mr_errf(e, MR_EUSER, "%s: file too large to decode", name);
    if (p[0] == 0xFF && p[1] == 0xD8 && !jpeg_has_eoi(p, len))
        return mr_errf(e, MR_EUSER, "%s: truncated JPEG (no end-of-image marker)", name);
    int w, h, ch;
    uint8_t *px = stbi_load_from_memory(p, (int)len, &w, &h, &ch, 3);
    if (!px) {
        const char *why = stbi_failure_reason();
        return mr_errf(e, MR_EUSER, "%s: cannot decode image (%s)", name, why ? why : "unknown reason");
    }
    size_t n = (size_t)w * h * 3;
    im->rgb = malloc(n);
    if (!im->rgb) { stbi_image_free(px); return mr_errf(e, MR_ENOMEM, "%s: out of memory", name); }
    memcpy(im->rgb, px, n);
    stbi_image_free(px);
    im->width = w;
    im->height = h;
    return MR_OK;
}

int mr_image_load(const char *path, mr_image *im, mr_err *e)
{
    memset(im, 0, sizeof *im);
    char *buf;
    size_t len;
    int rc = mr_read_file(path, &buf, &len, e);
    if (rc) return rc;
    rc = mr_image_decode(buf, len, path, im, e);
    free(buf);
    return rc;
}

void mr_image_resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    float fx = (float)sw / dw, fy = (float)sh / dh;
    for (int y = 0; y < dh; y++) {
        float sy = (y + 0.5f) * fy - 0.5f;
        if (sy < 0) sy = 0;
        int y0 = (int)sy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float ly = sy - y0;
        for (int x = 0; x < dw; x++) {
            float sx = (x + 0.5f) * fx - 0.5f;
            if (sx < 0) sx = 0;
            int x0 = (int)sx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float lx = sx - x0;
            for (int c = 0; c < 3; c++) {
                float v = (1 - ly) * ((1 - lx) * src[(y0 * sw + x0) * 3 + c] + lx * src[(y0 * sw + x1) * 3 + c]) +
                          ly * ((1 - lx) * src[(y1 * sw + x0) * 3 + c] + lx * src[(y1 * sw + x1) * 3 + c]);
                int iv = (int)(v + 0.5f);
                dst[(y * dw + x) * 3 + c] = (uint8_t)(iv < 0 ? 0 : iv > 255 ? 255 : iv);
            }
        }
    }
}

void mr_resized_size(int w, int h, float min_size, float max_size, int *rw, int *rh, float *scale)
{
    float mn = (float)(w < h ? w : h), mx = (float)(w > h ? w : h);
    float s = min_size / mn;
    if (mx * s > max_size) s = max_size / mx;
    *rw = (int)floorf(w * s + 0.5f);
    *rh = (int)floorf(h * s + 0.5f);
    if (*rw < 1) *rw = 1;
    if (*rh < 1) *rh = 1;
    *scale = s;
}
