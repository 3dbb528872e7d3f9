/*
 * image.h — image decoding and resizing for the data side, always returned
 * as 8-bit RGB (grayscale is replicated, an alpha channel is dropped, 16-bit
 * is reduced to 8). JPEG is decoded by libjpeg-turbo (Debian's
 * libjpeg62-turbo) with PIL's settings (ISLOW IDCT, fancy upsampling, RGB
 * output), so the pixels are bitwise those of PIL's
 * Image.open(f).convert("RGB") and torchvision's decode_jpeg (the same
 * library): stb_image's IDCT and upsampling differ by up to 3 grey levels
 * on 0.4-5.7% of the pixels of COCO photos (docs/reference.md). PNG, CMYK
 * JPEG and the other formats go through stb_image (Debian's libstb). EXIF
 * orientation is not applied, as COCO's own tools do not apply it.
 *
 * Errors name the file: a missing or unreadable file is MR_EIO; a file that
 * is not an image, a corrupt JPEG (libjpeg's message; its error_exit is
 * replaced by a longjmp, so nothing exits) or a truncated one (JPEGs cut
 * short are refused from the missing end marker, not decoded with grey
 * fill) is MR_EUSER with the decoder's reason.
 *
 * Size limit: an image of more than MR_IMAGE_MAX_PIXELS pixels (or the
 * environment's MRCNN_MAX_IMAGE_PIXELS) is refused from its header, before
 * anything is allocated, with its size in the message. Files are opened as
 * regular files first (a FIFO is an error, not a hang).
 *
 * defines: mr_image, mr_image_load, mr_image_decode, mr_image_free,
 *          mr_image_resize_bilinear, mr_resized_size, mr_image_info,
 *          mr_image_check_size, mr_image_max_pixels, MR_IMAGE_MAX_PIXELS,
 *          mr_resized_size_kind, mr_image_normalize_resize_tv (the two
 *          resize kinds of core/batch.h's mr_resize_kind)
 */
#ifndef MR_IMAGE_H
#define MR_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "core/batch.h"
#include "core/err.h"

typedef struct mr_image {
    int width, height;
    uint8_t *rgb;        /* height x width x 3, row-major; malloc'd */
} mr_image;

/* default pixel limit: 40 megapixels (a decoded RGB image of 120 MB) */
#define MR_IMAGE_MAX_PIXELS 40000000L

/* The limit in force: MRCNN_MAX_IMAGE_PIXELS when set (an integer >= 1,
 * else MR_EUSER), else MR_IMAGE_MAX_PIXELS. */
int mr_image_max_pixels(long *out, mr_err *e);
/* w x h against the limit: "NAME: image is WxH (N pixels), over the limit
 * of M pixels" (MR_EUSER). */
int mr_image_check_size(long w, long h, const char *name, mr_err *e);
/* The width and height of the image file at path, from its header,
 * checked against the limit; the file must be a regular file. */
int mr_image_info(const char *path, int *w, int *h, mr_err *e);

/* Read and decode path into im (zeroed on error). */
int mr_image_load(const char *path, mr_image *im, mr_err *e);
/* Decode len bytes of an encoded image; name is used in messages. */
int mr_image_decode(const void *data, size_t len, const char *name, mr_image *im, mr_err *e);
void mr_image_free(mr_image *im);

/* Bilinear resize of an RGB image sw x sh into dst (dw x dh x 3): sample
 * centres at ((x + 0.5) * sw / dw - 0.5), clamped at the borders, rounded
 * to the nearest byte (the interim loader's arithmetic in
 * harness/train_run.c, kept bit for bit). */
void mr_image_resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* The training resize: scale so the shorter side is min_size, unless the
 * longer side would exceed max_size (then the longer side is max_size);
 * *rw, *rh = round(w * scale), round(h * scale), at least 1. */
void mr_resized_size(int w, int h, float min_size, float max_size, int *rw, int *rh, float *scale);

/* The resized size and scale of a w x h image under kind (MR_RESIZE_MRCNN:
 * mr_resized_size). */
void mr_resized_size_kind(mr_resize_kind kind, int w, int h, float min_size, float max_size, int *rw, int *rh,
                          float *scale);
/* MR_RESIZE_TORCHVISION's pixels: the RGB image sw x sh normalised
 * ((v / 255 - mean[c]) / std[c], float) and resized bilinearly to dw x dh as
 * ATen's upsample_bilinear2d computes it (scale sw / dw as float, source
 * index float(scale * (i + 0.5) - 0.5) clamped at 0 and truncated, the
 * neighbour clamped at the border, rows of interpolated columns); channel c,
 * row y, column x goes to dst[c * plane + y * row + (flip ? dw - 1 - x : x)]. */
void mr_image_normalize_resize_tv(const uint8_t *src, int sw, int sh, const float mean[3], const float std[3],
                                  float *dst, int dw, int dh, size_t row, size_t plane, int flip);

#endif
