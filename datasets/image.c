/*
 * image.c — image decoding (JPEG: libjpeg-turbo with PIL's settings; PNG and
 * the rest: stb_image) and bilinear resizing (mrcnn's 8-bit one and
 * torchvision's float one); see image.h.
 */
#include "datasets/image.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>
#include <jpeglib.h>

#include "core/fileio.h"
#include "core/postprocess.h"

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

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The size a PNG (IHDR) or JPEG (SOFn) header declares, read here rather
 * than by stb_image, which refuses some large sizes as "unknown image type"
 * and allocates for others before looking further. 1 when found. */
static int header_size(const uint8_t *p, size_t n, long *w, long *h)
{
    if (n >= 24 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8) && !memcmp(p + 12, "IHDR", 4)) {
        *w = (long)be32(p + 16);
        *h = (long)be32(p + 20);
        return 1;
    }
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return 0;
    size_t i = 2;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) return 0;
        int m = p[i + 1];
        if (m == 0xFF) { i++; continue; }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
        size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (i + 9 > n) return 0;
            *h = (long)((size_t)p[i + 5] << 8 | p[i + 6]);
            *w = (long)((size_t)p[i + 7] << 8 | p[i + 8]);
            return 1;
        }
        if (m == 0xDA || seg < 2) return 0;
        i += 2 + seg;
    }
    return 0;
}

int mr_image_max_pixels(long *out, mr_err *e)
{
    const char *v = getenv("MRCNN_MAX_IMAGE_PIXELS");
    *out = MR_IMAGE_MAX_PIXELS;
    if (!v) return MR_OK;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || x < 1)
        return mr_errf(e, MR_EUSER, "environment MRCNN_MAX_IMAGE_PIXELS: '%s' is not an integer >= 1", v);
    *out = x;
    return MR_OK;
}

int mr_image_check_size(long w, long h, const char *name, mr_err *e)
{
    long max;
    int rc = mr_image_max_pixels(&max, e);
    if (rc) return rc;
    if (w < 1 || h < 1) return mr_errf(e, MR_EUSER, "%s: the header declares a %ldx%ld image", name, w, h);
    if ((double)w * (double)h > (double)max)
        return mr_errf(e, MR_EUSER, "%s: image is %ldx%ld (%.0f pixels), over the limit of %ld pixels "
                       "(MRCNN_MAX_IMAGE_PIXELS)", name, w, h, (double)w * (double)h, max);
    return MR_OK;
}

int mr_image_info(const char *path, int *w, int *h, mr_err *e)
{
    FILE *f = mr_open_regular(path, "", e);
    if (!f) return e ? e->code : MR_EIO;
    uint8_t head[65536];
    size_t n = fread(head, 1, sizeof head, f);
    long hw = 0, hh = 0;
    int rc = MR_OK;
    if (header_size(head, n, &hw, &hh)) {
        rc = mr_image_check_size(hw, hh, path, e);
    }
    if (!rc) {
        int x, y, ch;
        rewind(f);
        if (!stbi_info_from_file(f, &x, &y, &ch)) {
            const char *why = stbi_failure_reason();
            rc = mr_errf(e, MR_EUSER, "%s: cannot read image (not a readable JPEG or PNG: %s)", path,
                         why ? why : "unknown reason");
        } else if (!(rc = mr_image_check_size(x, y, path, e))) {
            *w = x;
            *h = y;
        }
    }
    fclose(f);
    return rc;
}

/* libjpeg's error manager: error_exit longjmps back to decode_jpeg with
 * the message kept (the default one calls exit()); warnings (corrupt data
 * that libjpeg decodes through, as PIL does) are not printed. */
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr c)
{
    jpeg_err *je = (jpeg_err *)c->err;
    c->err->format_message(c, je->msg);
    longjmp(je->jb, 1);
}

static void jpeg_output_message(j_common_ptr c) { (void)c; }

/* A JPEG decoded as PIL 9 (Image.open(f).convert("RGB")) and torchvision's
 * decode_jpeg decode it, with the same library: libjpeg-turbo's defaults
 * (ISLOW integer IDCT, fancy upsampling, no block smoothing change) and RGB
 * output (grayscale replicated by libjpeg). 1 when the file is CMYK / YCCK,
 * left to stb_image (PIL inverts Adobe CMYK; not reproduced here). */
static int decode_jpeg(const uint8_t *p, size_t len, const char *name, mr_image *im, mr_err *e, int *rc)
{
    struct jpeg_decompress_struct d;
    jpeg_err je;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_error_exit;
    je.pub.output_message = jpeg_output_message;
    je.msg[0] = 0;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&d);
        free(px);
        *rc = mr_errf(e, MR_EUSER, "%s: cannot decode JPEG (%s)", name, je.msg);
        return 0;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, p, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&d);
        return 1;
    }
    if ((*rc = mr_image_check_size(d.image_width, d.image_height, name, e))) {
        jpeg_destroy_decompress(&d);
        return 0;
    }
    d.out_color_space = JCS_RGB;
    d.dct_method = JDCT_ISLOW;
    d.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&d);
    size_t w = d.output_width, h = d.output_height, stride = w * 3;
    px = malloc(stride * h);
    if (!px) {
        jpeg_destroy_decompress(&d);
        *rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", name);
        return 0;
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + (size_t)d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    im->rgb = px;
    im->width = (int)w;
    im->height = (int)h;
    *rc = MR_OK;
    return 0;
}

int mr_image_decode(const void *data, size_t len, const char *name, mr_image *im, mr_err *e)
{
    memset(im, 0, sizeof *im);
    const uint8_t *p = data;
    if (len < 8) return mr_errf(e, MR_EUSER, "%s: not an image (%zu bytes)", name, len);
    if (len > 0x7fffffff) return mr_errf(e, MR_EUSER, "%s: file too large to decode", name);
    int is_jpeg = p[0] == 0xFF && p[1] == 0xD8;
    if (is_jpeg && !jpeg_has_eoi(p, len))
        return mr_errf(e, MR_EUSER, "%s: truncated JPEG (no end-of-image marker)", name);
    int w, h, ch, rc;
    long hw, hh;
    /* the size first: an absurd header is refused before any allocation */
    if (header_size(p, len, &hw, &hh) && (rc = mr_image_check_size(hw, hh, name, e))) return rc;
    if (is_jpeg && !decode_jpeg(p, len, name, im, e, &rc)) return rc;
    if (stbi_info_from_memory(p, (int)len, &w, &h, &ch) && (rc = mr_image_check_size(w, h, name, e))) return rc;
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

void mr_resized_size_kind(mr_resize_kind kind, int w, int h, float min_size, float max_size, int *rw, int *rh,
                          float *scale)
{
    if (kind != MR_RESIZE_TORCHVISION) {
        mr_resized_size(w, h, min_size, max_size, rw, rh, scale);
        return;
    }
    /* torch.min(min_size / min(shape), max_size / max(shape)) in float32,
     * where a Python number divided by a tensor is the tensor's reciprocal
     * times the number (Tensor.__rdiv__): 800 / 426 gives 1.87793434, not
     * the correctly rounded 1.87793422, and a 426-pixel side becomes 800,
     * not 799. F.interpolate's recompute_scale_factor: floor(float(side) *
     * s.item()) in double. */
    float mn = (float)(w < h ? w : h), mx = (float)(w > h ? w : h);
    float a = (1.0f / mn) * min_size, b = (1.0f / mx) * max_size;
    float s = a < b ? a : b;
    double fw = floor((double)w * (double)s), fh = floor((double)h * (double)s);
    *rw = fw < 1 ? 1 : fw > 1e6 ? 1000000 : (int)fw;
    *rh = fh < 1 ? 1 : fh > 1e6 ? 1000000 : (int)fh;
    *scale = s;
}

void mr_image_normalize_resize_tv(const uint8_t *src, int sw, int sh, const float mean[3], const float std[3],
                                  float *dst, int dw, int dh, size_t row, size_t plane, int flip)
{
    for (int c = 0; c < 3; c++) {
        float lut[256];
        for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean[c]) / std[c];
        for (int y = 0; y < dh; y++) {
            int y0, y1;
            float ly0, ly1;
            mr_aten_linear(sh, dh, y, &y0, &y1, &ly0, &ly1);
            const uint8_t *r0 = src + (size_t)y0 * sw * 3 + c, *r1 = src + (size_t)y1 * sw * 3 + c;
            float *o = dst + (size_t)c * plane + (size_t)y * row;
            for (int x = 0; x < dw; x++) {
                int x0, x1;
                float lx0, lx1;
                mr_aten_linear(sw, dw, x, &x0, &x1, &lx0, &lx1);
                float t0 = lut[r0[3 * x0]] * lx0 + lut[r0[3 * x1]] * lx1;
                float t1 = lut[r1[3 * x0]] * lx0 + lut[r1[3 * x1]] * lx1;
                o[flip ? dw - 1 - x : x] = t0 * ly0 + t1 * ly1;
            }
        }
    }
}
