/*
 * rle.c — RLE masks, see rle.h. Each function reproduces the arithmetic
 * of pycocotools' common/maskApi.c (same integer casts, same rounding, same
 * order of floating-point operations) so that areas, boxes and IoUs are
 * identical to its numbers; the code is our own.
 */
#include "coco/rle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t umin32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t umax32(uint32_t a, uint32_t b) { return a > b ? a : b; }

void mr_rle_free(mr_rle *r)
{
    if (!r) return;
    free(r->cnts);
    r->cnts = NULL;
    r->m = 0;
}

/* take ownership of cnts (malloc'd) */
static void rle_adopt(mr_rle *r, uint32_t h, uint32_t w, uint32_t *cnts, size_t m)
{
    free(r->cnts);
    r->h = h; r->w = w; r->m = m; r->cnts = cnts;
}

static uint32_t *alloc_cnts(size_t m)
{
    return malloc(sizeof(uint32_t) * (m ? m : 1));
}

int mr_rle_set(mr_rle *r, uint32_t h, uint32_t w, const uint32_t *cnts, size_t m, mr_err *e)
{
    uint32_t *c = alloc_cnts(m);
    if (!c) return mr_errf(e, MR_ENOMEM, "rle: out of memory (%zu counts)", m);
    if (m) memcpy(c, cnts, m * sizeof *c);
    rle_adopt(r, h, w, c, m);
    return MR_OK;
}

int mr_rle_copy(mr_rle *dst, const mr_rle *src, mr_err *e)
{
    if (dst == src) return MR_OK;
    return mr_rle_set(dst, src->h, src->w, src->cnts, src->m, e);
}

/* shared encoder: pixel j of the column-major order is at mask[idx(j)] */
static int encode(mr_rle *r, const uint8_t *mask, uint32_t h, uint32_t w, int rowmajor, mr_err *e)
{
    size_t a = (size_t)h * w;
    uint32_t *c = alloc_cnts(a + 1);
    if (!c) return mr_errf(e, MR_ENOMEM, "rle encode: out of memory (%ux%u)", h, w);
    size_t k = 0;
    uint8_t p = 0;
    uint32_t run = 0;
    for (size_t x = 0; x < w; x++)
        for (size_t y = 0; y < h; y++) {
            uint8_t v = (rowmajor ? mask[y * w + x] : mask[x * h + y]) != 0;
            if (v != p) { c[k++] = run; run = 0; p = v; }
            run++;
        }
    c[k++] = run;
    uint32_t *s = realloc(c, k * sizeof *c);
    rle_adopt(r, h, w, s ? s : c, k);
    return MR_OK;
}

int mr_rle_encode(mr_rle *r, const uint8_t *mask, uint32_t h, uint32_t w, mr_err *e)
{
    return encode(r, mask, h, w, 0, e);
}

int mr_rle_encode_rowmajor(mr_rle *r, const uint8_t *mask, uint32_t h, uint32_t w, mr_err *e)
{
    return encode(r, mask, h, w, 1, e);
}

void mr_rle_decode(const mr_rle *r, uint8_t *mask)
{
    uint8_t v = 0;
    for (size_t j = 0; j < r->m; j++) {
        memset(mask, v, r->cnts[j]);
        mask += r->cnts[j];
        v = !v;
    }
}

void mr_rle_decode_rowmajor(const mr_rle *r, uint8_t *mask)
{
    uint8_t v = 0;
    size_t pos = 0, h = r->h, w = r->w;
    for (size_t j = 0; j < r->m; j++) {
        for (uint32_t k = 0; k < r->cnts[j]; k++, pos++) {
            size_t x = pos / h, y = pos % h;
            mask[y * w + x] = v;
        }
        v = !v;
    }
}

int mr_rle_to_string(const mr_rle *r, char **out, mr_err *e)
{
    char *s = malloc(r->m * 7 + 1);
    if (!s) return mr_errf(e, MR_ENOMEM, "rle: out of memory");
    size_t p = 0;
    for (size_t i = 0; i < r->m; i++) {
        long x = (long)r->cnts[i];
        if (i > 2) x -= (long)r->cnts[i - 2];
        int more = 1;
        while (more) {
            char c = (char)(x & 0x1f);
            x >>= 5;
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = 0;
    *out = s;
    return MR_OK;
}

int mr_rle_counts_from_string(const char *s, size_t len, uint32_t *c, size_t *pm, mr_err *e)
{
    size_t m = 0, p = 0;
    while (p < len) {
        int64_t x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len)
                return mr_errf(e, MR_EUSER, "compressed RLE string ends inside a count (char %zu)", p);
            int ch = (unsigned char)s[p] - 48;
            if (ch < 0 || ch > 63 || k > 12)
                return mr_errf(e, MR_EUSER, "compressed RLE string has an invalid char at %zu", p);
            x |= (int64_t)(ch & 0x1f) << (5 * k);
            more = ch & 0x20;
            p++; k++;
            if (!more && (ch & 0x10)) x |= (int64_t)(-1) * ((int64_t)1 << (5 * k));
        }
        if (m > 2) x += (int64_t)c[m - 2];
        c[m++] = (uint32_t)x;
    }
    *pm = m;
    return MR_OK;
}

int mr_rle_from_string(mr_rle *r, const char *s, size_t len, uint32_t h, uint32_t w, mr_err *e)
{
    uint32_t *c = alloc_cnts(len);
    if (!c) return mr_errf(e, MR_ENOMEM, "rle: out of memory");
    size_t m;
    int rc = mr_rle_counts_from_string(s, len, c, &m, e);
    if (rc) { free(c); return rc; }
    rle_adopt(r, h, w, c, m);
    return MR_OK;
}

int mr_rle_check(const mr_rle *r, mr_err *e)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < r->m; i++) sum += r->cnts[i];
    if (sum != (uint64_t)r->h * r->w)
        return mr_errf(e, MR_EUSER, "RLE counts sum to %llu, expected h*w = %u*%u = %llu",
                       (unsigned long long)sum, r->h, r->w, (unsigned long long)r->h * r->w);
    return MR_OK;
}

uint64_t mr_rle_area(const mr_rle *r)
{
    uint64_t a = 0;
    for (size_t j = 1; j < r->m; j += 2) a += r->cnts[j];
    return a;
}

void mr_rle_bbox(const mr_rle *r, double bb[4])
{
    uint32_t h = r->h, w = r->w;
    size_t m = (r->m / 2) * 2;
    uint32_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
    if (m == 0 || h == 0) { bb[0] = bb[1] = bb[2] = bb[3] = 0; return; }
    const double inv = 1.0 / h;
    for (size_t j = 0; j < m; j++) {
        cc += r->cnts[j];
        uint32_t t = cc - (uint32_t)(j % 2);
        /* x = t / h, y = t % h without a division per count */
        uint32_t x = (uint32_t)((double)t * inv);
        if ((uint64_t)x * h > t) x--;
        else if ((uint64_t)(x + 1) * h <= t) x++;
        uint32_t y = t - x * h;
        if (j % 2 == 0) xp = x;
        else if (xp < x) { ys = 0; ye = h - 1; }
        xs = umin32(xs, x); xe = umax32(xe, x);
        ys = umin32(ys, y); ye = umax32(ye, y);
    }
    bb[0] = xs; bb[2] = (double)(xe - xs + 1);
    bb[1] = ys; bb[3] = (double)(ye - ys + 1);
}

/* sort ascending. Boundary points come in contour order, so the array is
 * a few ascending and descending runs: a natural merge sort (descending
 * runs reversed, then adjacent runs merged) is close to linear. */
static int sort_u32(uint32_t *a, size_t n)
{
    if (n < 2) return 0;
    size_t cap = 64, nr = 0;
    size_t *st = malloc(cap * sizeof *st);
    uint32_t *tmp = malloc(n * sizeof *tmp);
    if (!st || !tmp) { free(st); free(tmp); return -1; }
    /* find runs; st[] holds run starts */
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        if (j < n && a[j] < a[i]) {
            while (j < n && a[j] <= a[j - 1]) j++;
            for (size_t lo = i, hi = j - 1; lo < hi; lo++, hi--) { uint32_t t = a[lo]; a[lo] = a[hi]; a[hi] = t; }
        } else {
            while (j < n && a[j] >= a[j - 1]) j++;
        }
        if (nr + 2 > cap) {
            size_t *ns = realloc(st, cap * 2 * sizeof *st);
            if (!ns) { free(st); free(tmp); return -1; }
            st = ns; cap *= 2;
        }
        st[nr++] = i;
        i = j;
    }
    st[nr] = n;
    /* merge adjacent runs until one is left */
    while (nr > 1) {
        size_t w = 0;
        for (size_t r = 0; r < nr; r += 2) {
            if (r + 1 >= nr) { st[w++] = st[r]; break; }
            size_t lo = st[r], mid = st[r + 1], hi = st[r + 2];   /* st[nr] = n */
            size_t p = lo, q = mid, k = 0;
            while (p < mid && q < hi) tmp[k++] = a[q] < a[p] ? a[q++] : a[p++];
            while (p < mid) tmp[k++] = a[p++];
            while (q < hi) tmp[k++] = a[q++];
            memcpy(a + lo, tmp, k * sizeof *a);
            st[w++] = lo;
        }
        st[w] = n;
        nr = w;
    }
    free(st);
    free(tmp);
    return 0;
}

/* *p holds at least n elements of size sz: the embedded buffer emb (of
 * ecap) or one on the heap (what it held is not kept); -1 when out of
 * memory (*p is emb again) */
static int scratch_grow(void **p, size_t *cap, size_t n, size_t sz, void *emb, size_t ecap)
{
    if (n <= *cap) return 0;
    if (*p != emb) free(*p);
    *p = malloc(n * sz);
    if (*p) { *cap = n; return 0; }
    *p = emb; *cap = ecap;
    return -1;
}

void mr_poly_scratch_init(mr_poly_scratch *s)
{
    s->x = s->xb; s->y = s->yb; s->cap_x = s->cap_y = 256;
    s->a = s->ab; s->col = s->cb; s->cap_a = s->cap_col = 2048;
    s->tmp = s->tb; s->cap_tmp = 1024;
    s->cnt = s->nb; s->cap_cnt = 1024;
    s->runs = s->runs2 = NULL; s->cap_runs = s->cap_runs2 = 0;
}

void mr_poly_scratch_free(mr_poly_scratch *s)
{
    if (s->x != s->xb) free(s->x);
    if (s->y != s->yb) free(s->y);
    if (s->a != s->ab) free(s->a);
    if (s->col != s->cb) free(s->col);
    if (s->tmp != s->tb) free(s->tmp);
    if (s->cnt != s->nb) free(s->cnt);
    free(s->runs); free(s->runs2);
    mr_poly_scratch_init(s);
}

/* sort n boundary points a = x*h + y (x = col[i]) ascending: by column with a counting
 * sort when the columns are few for the points (a polygon's outline
 * crosses each column a few times), then within each column (insertion);
 * else sort_u32 */
static int sort_points(mr_poly_scratch *sc, uint32_t *a, const uint32_t *col, size_t n)
{
    if (n < 2) return 0;
    uint32_t xmin = UINT32_MAX, xmax = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = col[i];
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
    }
    size_t nb = (size_t)(xmax - xmin) + 1;
    if (nb > 4 * n + 64) return sort_u32(a, n);
    if (scratch_grow((void **)&sc->cnt, &sc->cap_cnt, nb + 1, sizeof *sc->cnt, sc->nb, 1024) ||
        scratch_grow((void **)&sc->tmp, &sc->cap_tmp, n, sizeof *sc->tmp, sc->tb, 1024))
        return -1;
    uint32_t *cnt = sc->cnt, *tmp = sc->tmp;
    memset(cnt, 0, (nb + 1) * sizeof *cnt);
    for (size_t i = 0; i < n; i++) cnt[col[i] - xmin + 1]++;
    for (size_t b = 0; b < nb; b++) cnt[b + 1] += cnt[b];
    for (size_t i = 0; i < n; i++) tmp[cnt[col[i] - xmin]++] = a[i];
    /* cnt[b] is now the end of column b */
    size_t s0 = 0;
    for (size_t b = 0; b < nb; b++) {
        size_t e0 = cnt[b];
        if (e0 - s0 == 2) {
            /* the usual column: the outline crosses it twice */
            uint32_t u = tmp[s0], v = tmp[s0 + 1];
            tmp[s0] = u < v ? u : v;
            tmp[s0 + 1] = u < v ? v : u;
            s0 = e0;
            continue;
        }
        for (size_t i = s0 + 1; i < e0; i++) {
            uint32_t v = tmp[i];
            size_t j = i;
            while (j > s0 && tmp[j - 1] > v) { tmp[j] = tmp[j - 1]; j--; }
            tmp[j] = v;
        }
        s0 = e0;
    }
    memcpy(a, tmp, n * sizeof *a);
    return 0;
}

/* one y-boundary point of rleFrPoly: the pair of consecutive outline points
 * (u0, v0), (u1, v1) at 5x resolution gives a point where u changes and
 * the downsampled x is a pixel column */
static inline void boundary_pair(int u0, int v0, int u1, int v1, uint32_t h, uint32_t w,
                                 uint32_t *a, uint32_t *col, size_t *na)
{
    if (u1 == u0) return;
    int xu = u1 < u0 ? u1 : u1 - 1;
    /* rleFrPoly: xd = (xu + .5) / 5 - .5 is kept when it is an integer in
     * [0, w - 1]. It is one exactly when xu = 2 mod 5 (otherwise it is at
     * least .2 from one), and then it is (xu - 2) / 5 exactly (5q + 2.5
     * and q + .5 are exact doubles) */
    if ((xu - 2) % 5 != 0) return;
    int64_t q = (xu - 2) / 5;
    if (q < 0 || (uint64_t)q > (uint64_t)((size_t)w - 1)) return;
    /* yd = ceil(clamp((v + .5) / 5 - .5, 0, h)) for v the lower of the two:
     * the value is (v - 2) / 5, exact when it is an integer and at least
     * .2 from one otherwise, so its ceiling is the integer ceiling */
    int v = v1 < v0 ? v1 : v0, n = v - 2;
    int64_t yc = n >= 0 ? (n + 4) / 5 : n / 5;
    if (yc < 0) yc = 0; else if (yc > (int64_t)h) yc = h;
    col[*na] = (uint32_t)q;
    a[(*na)++] = (uint32_t)((int)q * (int)h + (int)yc);
}

/* boundary_pair for a pair known to have xu = 2 mod 5 and lower v */
static inline void boundary_at(int xu, int v, uint32_t h, uint32_t w, uint32_t *a, uint32_t *col, size_t *na)
{
    int64_t q = (xu - 2) / 5;
    if (q < 0 || (uint64_t)q > (uint64_t)((size_t)w - 1)) return;
    int n = v - 2;
    int64_t yc = n >= 0 ? (n + 4) / 5 : n / 5;
    if (yc < 0) yc = 0; else if (yc > (int64_t)h) yc = h;
    col[*na] = (uint32_t)q;
    a[(*na)++] = (uint32_t)((int)q * (int)h + (int)yc);
}

/* an estimate of t clamped to [lo, hi] */
static inline int step_to(int lo, int hi, double t)
{
    if (!(t > lo)) return lo;
    if (!(t < hi)) return hi;
    return (int)t;
}

/* rleFrPoly traces the outline at 5x resolution point by point, then keeps
 * the pairs of consecutive points where the column changes onto a pixel
 * column (1 in 5). The same points here without storing the outline: on a
 * segment that advances one column per step (dx >= dy) the pairs are
 * visited 5 columns at a time, and only their rows computed; steep
 * segments are walked point by point; the pair across two segments is
 * tested as any other. Each point is computed by rleFrPoly's own
 * expression, so the boundary points (a set: they are sorted next) are
 * the same. */
/* the sorted boundary points of a polygon of k >= 1 points into sc->a
 * (*pna of them, with room for one more), or MR_EUSER for one beyond the
 * limits, MR_ENOMEM */
static int poly_trace(size_t k, uint32_t h, uint32_t w, mr_poly_scratch *sc, size_t *pna, mr_err *e);

/* every one of the n coordinates finite and within +-MR_POLY_MAX_COORD */
static int poly_check(const double *xy, size_t n, mr_err *e)
{
    for (size_t j = 0; j < n; j++)
        if (!(fabs(xy[j]) <= MR_POLY_MAX_COORD))
            return mr_errf(e, MR_EUSER, "polygon point %zu: %s %.10g is not a coordinate within +-%g pixels",
                           j / 2, j % 2 ? "y" : "x", xy[j], MR_POLY_MAX_COORD);
    return MR_OK;
}

/* rleFrPoly's first step: the points at 5x resolution, (int)(5 v + .5) */
int mr_poly_quantise(const double *xy, size_t n, int32_t *q, mr_err *e)
{
    int rc = poly_check(xy, n, e);
    if (rc) return rc;
    for (size_t j = 0; j < n; j++) q[j] = (int32_t)(5.0 * xy[j] + .5);
    return MR_OK;
}

static int poly_xy_grow(mr_poly_scratch *sc, size_t k)
{
    return scratch_grow((void **)&sc->x, &sc->cap_x, k + 1, sizeof(int), sc->xb, 256) ||
           scratch_grow((void **)&sc->y, &sc->cap_y, k + 1, sizeof(int), sc->yb, 256);
}

/* poly_trace of a polygon given as doubles (rleFrPoly's input) */
static int poly_points(const double *xy, size_t k, uint32_t h, uint32_t w, mr_poly_scratch *sc,
                       size_t *pna, mr_err *e)
{
    const double scale = 5;
    int rc = poly_check(xy, 2 * k, e);
    if (rc) return rc;
    if (poly_xy_grow(sc, k)) return mr_errf(e, MR_ENOMEM, "polygon to RLE: out of memory");
    int *x = sc->x, *y = sc->y;
    for (size_t j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2 + 0] + .5);
    x[k] = x[0];
    for (size_t j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
    y[k] = y[0];
    return poly_trace(k, h, w, sc, pna, e);
}

/* the same from the quantised points (mr_poly_quantise's) */
static int poly_points_q(const int32_t *q, size_t k, uint32_t h, uint32_t w, mr_poly_scratch *sc,
                         size_t *pna, mr_err *e)
{
    if (poly_xy_grow(sc, k)) return mr_errf(e, MR_ENOMEM, "polygon to RLE: out of memory");
    int *x = sc->x, *y = sc->y;
    for (size_t j = 0; j < k; j++) { x[j] = q[2 * j]; y[j] = q[2 * j + 1]; }
    x[k] = x[0];
    y[k] = y[0];
    return poly_trace(k, h, w, sc, pna, e);
}

/* the boundary points of the polygon in sc->x, sc->y (k points and the
 * first again) */
static int poly_trace(size_t k, uint32_t h, uint32_t w, mr_poly_scratch *sc, size_t *pna, mr_err *e)
{
    const int *x = sc->x, *y = sc->y;
    size_t m = 0;
    for (size_t j = 0; j < k; j++)
        m += umax32((uint32_t)abs(x[j] - x[j + 1]), (uint32_t)abs(y[j] - y[j + 1])) + 1;
    if (m > MR_POLY_MAX_TRACE)
        return mr_errf(e, MR_EUSER, "polygon of %zu points: its outline is %zu points at 5x resolution, more than "
                       "the %zu allowed", k, m, MR_POLY_MAX_TRACE);
    /* at most one boundary point per pair of outline points, and the end */
    if (scratch_grow((void **)&sc->a, &sc->cap_a, m + 2, sizeof(uint32_t), sc->ab, 2048) ||
        scratch_grow((void **)&sc->col, &sc->cap_col, m + 2, sizeof(uint32_t), sc->cb, 2048))
        goto oom;
    uint32_t *a = sc->a, *col = sc->col;
    size_t na = 0;
    int pu = 0, pv = 0, have = 0;
    for (size_t j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], t;
        int dx = abs(xe - xs), dy = abs(ys - ye);
        int flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) { t = xs; xs = xe; xe = t; t = ys; ys = ye; ye = t; }
        double s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
        if (dx >= dy) {
            /* points d = 0..dx at t = flip ? dx - d : d: u = t + xs */
            t = flip ? dx : 0;
            int fu = t + xs, fv = (int)(ys + s * t + .5);
            if (have) boundary_pair(pu, pv, fu, fv, h, w, a, col, &na);
            /* the pairs inside: columns t, t + 1 for t in [0, dx); the
             * pair's xu is t + xs, kept when xu = 2 mod 5 and its column
             * q = (xu - 2) / 5 is in [0, w - 1]: boundary_pair with those
             * tests made on the range of t (q is one more per pair) */
            int t0 = ((2 - xs) % 5 + 5) % 5;
            if (t0 < 2 - xs) t0 = 2 - xs;               /* xu >= 2: q >= 0 */
            int64_t tend = dx, lim = 5 * ((int64_t)w - 1) + 2 - xs;   /* xu <= 5(w - 1) + 2 */
            if (lim + 1 < tend) tend = lim + 1;
            uint32_t q = (uint32_t)((t0 + xs - 2) / 5);
            /* the lower of the pair's v at t and t + 1 is at t for s >= 0
             * (v is monotone in t), else at t + 1 */
            const int off = s < 0;
            for (int tl = t0; tl < tend; tl += 5, q++) {
                int n = (int)(ys + s * (tl + off) + .5) - 2;
                uint32_t yc = n <= 0 ? 0 : (uint32_t)(n + 4) / 5;
                if (yc > h) yc = h;
                col[na] = q;
                a[na++] = q * h + yc;
            }
            t = flip ? 0 : dx;
            pu = t + xs; pv = (int)(ys + s * t + .5);
        } else {
            /* points d = 0..dy at t = flip ? dy - d : d: v = t + ys, u =
             * U(t) below, monotone in t and changing by at most one per
             * step (|s| < 1): the pairs that count are the changes
             * between columns c and c + 1 with c = 2 mod 5, each found by
             * bisection. At the change found, U(l - 1) and U(l) are c and
             * c + 1 (or c + 1 and c going down: U moves by one at most),
             * so the pair's xu is c and its lower v is l - 1 + ys,
             * whichever way it is walked: boundary_at, not boundary_pair */
#define U_AT(tt) ((int)(xs + s * (tt) + .5))
            t = flip ? dy : 0;
            int fu = U_AT(t), fv = t + ys;
            if (have) boundary_pair(pu, pv, fu, fv, h, w, a, col, &na);
            int ua = U_AT(0), ub = U_AT(dy), lo = 1, last = -1;
            /* the estimates by 1 / s, where the line crosses c + .5
             * (only estimates: the steps after find the exact t) */
            const double is = ub != ua ? 1 / s : 0;
            if (ub > ua) {
                for (int c = ua + ((2 - ua) % 5 + 5) % 5; c < ub; c += 5) {
                    /* first t in [lo, dy] with U(t) > c (true at dy):
                     * from the line's own estimate, then step */
                    int l = step_to(lo, dy, ceil((c + .5 - xs) * is));
                    while (l > lo && U_AT(l - 1) > c) l--;
                    while (!(U_AT(l) > c)) l++;
                    if (l != last) {
                        int t1 = l - 1;
                        boundary_at(c, t1 + ys, h, w, a, col, &na);
                        last = l;
                    }
                    lo = l;
                }
            } else if (ub < ua) {
                int c0 = ua - 1;
                for (int c = c0 - ((c0 - 2) % 5 + 5) % 5; c >= ub; c -= 5) {
                    /* first t in [lo, dy] with U(t) <= c (true at dy) */
                    int l = step_to(lo, dy, floor((c + .5 - xs) * is) + 1);
                    while (l > lo && U_AT(l - 1) <= c) l--;
                    while (!(U_AT(l) <= c)) l++;
                    if (l != last) {
                        int t1 = l - 1;
                        boundary_at(c, t1 + ys, h, w, a, col, &na);
                        last = l;
                    }
                    lo = l;
                }
            }
            t = flip ? 0 : dy;
            pu = U_AT(t); pv = t + ys;
#undef U_AT
        }
        have = 1;
    }
    if (sort_points(sc, a, col, na)) goto oom;
    *pna = na;
    return MR_OK;
oom:
    return mr_errf(e, MR_ENOMEM, "polygon to RLE: out of memory");
}

/* mr_rle_from_poly of doubles (xy) or quantised points (q) */
static int rle_from_poly(mr_rle *r, const double *xy, const int32_t *q, size_t k, uint32_t h, uint32_t w, mr_err *e)
{
    if (k == 0) {
        uint32_t a = h * w;
        return mr_rle_set(r, h, w, &a, 1, e);
    }
    mr_poly_scratch sc;
    mr_poly_scratch_init(&sc);
    size_t na;
    int rc = q ? poly_points_q(q, k, h, w, &sc, &na, e) : poly_points(xy, k, h, w, &sc, &na, e);
    if (rc) { mr_poly_scratch_free(&sc); return rc; }
    /* the RLE from the boundary points, sorted (the end h*w is the largest) */
    uint32_t *a = sc.a, *b;
    k = na;
    a[k++] = (uint32_t)((size_t)h * w);
    uint32_t p = 0;
    for (size_t j = 0; j < k; j++) { uint32_t t = a[j]; a[j] -= p; p = t; }
    b = malloc(sizeof(uint32_t) * k);
    if (!b) { mr_poly_scratch_free(&sc); return mr_errf(e, MR_ENOMEM, "polygon to RLE: out of memory"); }
    size_t j = 0, m = 0;
    b[m++] = a[j++];
    while (j < k) {
        if (a[j] > 0) b[m++] = a[j++];
        else { j++; if (j < k) b[m - 1] += a[j++]; }
    }
    mr_poly_scratch_free(&sc);
    rle_adopt(r, h, w, b, m);
    return MR_OK;
}

int mr_rle_from_poly(mr_rle *r, const double *xy, size_t k, uint32_t h, uint32_t w, mr_err *e)
{
    return rle_from_poly(r, xy, NULL, k, h, w, e);
}

int mr_rle_from_bbox(mr_rle *r, const double bb[4], uint32_t h, uint32_t w, mr_err *e)
{
    double xs = bb[0], xe = xs + bb[2], ys = bb[1], ye = ys + bb[3];
    double xy[8] = {xs, ys, xs, ye, xe, ye, xe, ys};
    return mr_rle_from_poly(r, xy, 4, h, w, e);
}

/* merge two RLEs of one size (the inner step of rleMerge) into out counts */
static size_t merge2(const uint32_t *ac, size_t am, const uint32_t *bc, size_t bm,
                     int intersect, uint32_t *cnts)
{
    uint32_t ca = am ? ac[0] : 0, cb = bm ? bc[0] : 0, cc = 0, ct = 1, c;
    int v = 0, va = 0, vb = 0, vp;
    size_t a = 1, b = 1, m = 0;
    while (ct > 0) {
        c = umin32(ca, cb); cc += c; ct = 0;
        ca -= c; if (!ca && a < am) { ca = ac[a++]; va = !va; } ct += ca;
        cb -= c; if (!cb && b < bm) { cb = bc[b++]; vb = !vb; } ct += cb;
        vp = v;
        if (intersect) v = va && vb; else v = va || vb;
        if (v != vp || ct == 0) { cnts[m++] = cc; cc = 0; }
    }
    return m;
}

int mr_rle_merge(mr_rle *out, const mr_rle *rs, size_t n, int intersect, mr_err *e)
{
    if (n == 0) { rle_adopt(out, 0, 0, NULL, 0); return MR_OK; }
    if (n == 1) return mr_rle_copy(out, &rs[0], e);
    uint32_t h = rs[0].h, w = rs[0].w;
    for (size_t i = 1; i < n; i++)
        if (rs[i].h != h || rs[i].w != w)
            return mr_errf(e, MR_EUSER, "RLE merge: mask %zu is %ux%u, mask 0 is %ux%u",
                           i, rs[i].h, rs[i].w, h, w);
    /* a merged RLE has at most sum of the counts + 1 runs */
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) cap += rs[i].m;
    uint32_t *A = alloc_cnts(cap), *B = alloc_cnts(cap);
    if (!A || !B) { free(A); free(B); return mr_errf(e, MR_ENOMEM, "RLE merge: out of memory"); }
    memcpy(A, rs[0].cnts, rs[0].m * sizeof *A);
    size_t m = rs[0].m;
    for (size_t i = 1; i < n; i++) {
        m = merge2(A, m, rs[i].cnts, rs[i].m, intersect, B);
        uint32_t *t = A; A = B; B = t;
    }
    free(B);
    rle_adopt(out, h, w, A, m);
    return MR_OK;
}

void mr_bbox_iou(const double *dt, size_t m, const double *gt, size_t n,
                 const uint8_t *iscrowd, double *o)
{
    for (size_t g = 0; g < n; g++) {
        const double *G = gt + g * 4;
        double ga = G[2] * G[3];
        int crowd = iscrowd != NULL && iscrowd[g];
        for (size_t d = 0; d < m; d++) {
            const double *D = dt + d * 4;
            double da = D[2] * D[3];
            o[d * n + g] = 0;
            double w = fmin(D[2] + D[0], G[2] + G[0]) - fmax(D[0], G[0]);
            if (w <= 0) continue;
            double h = fmin(D[3] + D[1], G[3] + G[1]) - fmax(D[1], G[1]);
            if (h <= 0) continue;
            double i = w * h, u = crowd ? da : da + ga - i;
            o[d * n + g] = i / u;
        }
    }
}

/* intersection and union pixel counts of two same-size RLEs */
static void rle_inter_union(const mr_rle *A, const mr_rle *B, uint32_t *pi, uint32_t *pu)
{
    uint32_t ca = A->m ? A->cnts[0] : 0, cb = B->m ? B->cnts[0] : 0;
    size_t ka = A->m, kb = B->m, a = 1, b = 1;
    uint32_t i = 0, u = 0, ct = 1, c;
    int va = 0, vb = 0;
    while (ct > 0) {
        c = umin32(ca, cb);
        if (va || vb) { u += c; if (va && vb) i += c; }
        ct = 0;
        ca -= c; if (!ca && a < ka) { ca = A->cnts[a++]; va = !va; } ct += ca;
        cb -= c; if (!cb && b < kb) { cb = B->cnts[b++]; vb = !vb; } ct += cb;
    }
    *pi = i; *pu = u;
}

void mr_rle_iou_bb(const mr_rle *dt, size_t m, const double *dtbb, const mr_rle *gt, size_t n,
                   const double *gtbb, const uint8_t *iscrowd, double *o)
{
    mr_bbox_iou(dtbb, m, gtbb, n, iscrowd, o);
    for (size_t g = 0; g < n; g++)
        for (size_t d = 0; d < m; d++) {
            double *od = &o[d * n + g];
            if (!(*od > 0)) continue;
            int crowd = iscrowd != NULL && iscrowd[g];
            if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) { *od = -1; continue; }
            uint32_t i, u;
            rle_inter_union(&dt[d], &gt[g], &i, &u);
            if (i == 0) u = 1;
            else if (crowd) u = (uint32_t)mr_rle_area(&dt[d]);
            *od = (double)i / (double)u;
        }
}

void mr_rle_iou(const mr_rle *dt, size_t m, const mr_rle *gt, size_t n,
                const uint8_t *iscrowd, double *o)
{
    double dbs[4 * 64], gbs[4 * 64];
    double *db = m <= 64 ? dbs : malloc(sizeof(double) * 4 * m);
    double *gb = n <= 64 ? gbs : malloc(sizeof(double) * 4 * n);
    if (!db || !gb) {
        /* no memory for the prefilter: exact IoU of every pair (same values:
         * the prefilter only skips pairs whose intersection is empty) */
        for (size_t g = 0; g < n; g++)
            for (size_t d = 0; d < m; d++) {
                double *od = &o[d * n + g];
                if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) { *od = -1; continue; }
                uint32_t i, u;
                rle_inter_union(&dt[d], &gt[g], &i, &u);
                if (i == 0) { *od = 0; continue; }
                if (iscrowd && iscrowd[g]) u = (uint32_t)mr_rle_area(&dt[d]);
                *od = (double)i / (double)u;
            }
    } else {
        for (size_t d = 0; d < m; d++) mr_rle_bbox(&dt[d], db + 4 * d);
        for (size_t g = 0; g < n; g++) mr_rle_bbox(&gt[g], gb + 4 * g);
        mr_rle_iou_bb(dt, m, db, gt, n, gb, iscrowd, o);
    }
    if (db != dbs) free(db);
    if (gb != gbs) free(gb);
}

/* mr_rle_from_polys of doubles (xy) or quantised points (q) */
static int rle_from_polys(mr_rle *r, const double *const *xy, const int32_t *const *q, const size_t *k, size_t n,
                          uint32_t h, uint32_t w, mr_err *e)
{
    if (n == 0) return rle_from_poly(r, NULL, NULL, 0, h, w, e);
    if (n == 1) return rle_from_poly(r, q ? NULL : xy[0], q ? q[0] : NULL, k[0], h, w, e);
    mr_rle stack[8] = {0}, *parts = n <= 8 ? stack : calloc(n, sizeof *parts);
    if (!parts) return mr_errf(e, MR_ENOMEM, "polygons to RLE: out of memory");
    int rc = MR_OK;
    for (size_t i = 0; i < n && rc == MR_OK; i++)
        rc = rle_from_poly(&parts[i], q ? NULL : xy[i], q ? q[i] : NULL, k[i], h, w, e);
    if (rc == MR_OK) rc = mr_rle_merge(r, parts, n, 0, e);
    for (size_t i = 0; i < n; i++) mr_rle_free(&parts[i]);
    if (parts != stack) free(parts);
    return rc;
}

int mr_rle_from_polys(mr_rle *r, const double *const *xy, const size_t *k, size_t n,
                      uint32_t h, uint32_t w, mr_err *e)
{
    return rle_from_polys(r, xy, NULL, k, n, h, w, e);
}

int mr_rle_from_polys_q(mr_rle *r, const int32_t *const *q, const size_t *k, size_t n,
                        uint32_t h, uint32_t w, mr_err *e)
{
    return rle_from_polys(r, NULL, q, k, n, h, w, e);
}

/* ---- runs form ---- */

/* In place, the runs of mr_rle_from_poly's mask from its n sorted
 * boundary points a[] (a has room for n + 1): its counts are the gaps
 * between the points and the end, a zero gap (a point twice) dropped
 * with the gap after it merged into the count before, so the 1s are the
 * pixels after an odd number of points: points in equal pairs are
 * skipped, the others open and close runs in turn, the last open one
 * closed at end (none empty, none touching: two toggles at one place
 * cancel). The run ending at point i is written at 2r, 2r + 1 <= i. */
static size_t points_runs(uint32_t *a, size_t n, uint32_t end)
{
    size_t i = 0, r = 0;
    uint32_t st = 0;
    int on = 0;
    while (i < n) {
        uint32_t p = a[i];
        if (i + 1 < n && a[i + 1] == p) { i += 2; continue; }
        i++;
        if (!on) { st = p; on = 1; }
        else { a[2 * r] = st; a[2 * r + 1] = p; r++; on = 0; }
    }
    if (on && end > st) { a[2 * r] = st; a[2 * r + 1] = end; r++; }
    return r;
}

/* union of two runs lists (rleMerge's union, then mr_rle_runs: runs that
 * overlap or touch become one) into o (room for na + nb runs) */
static size_t runs_union(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *o)
{
    size_t i = 0, j = 0, n = 0;
    while (i < na || j < nb) {
        uint32_t st, en;
        if (j >= nb || (i < na && a[2 * i] <= b[2 * j])) { st = a[2 * i]; en = a[2 * i + 1]; i++; }
        else { st = b[2 * j]; en = b[2 * j + 1]; j++; }
        if (n && st <= o[2 * n - 1]) { if (en > o[2 * n - 1]) o[2 * n - 1] = en; }
        else { o[2 * n] = st; o[2 * n + 1] = en; n++; }
    }
    return n;
}

static int runs_from_polys(const double *const *xy, const int32_t *const *q, const size_t *k, size_t n, uint32_t h,
                           uint32_t w, mr_poly_scratch *s, const uint32_t **runs, size_t *nruns, mr_err *e)
{
    const uint32_t end = (uint32_t)((size_t)h * w);
    size_t nacc = 0;   /* the union so far, in s->runs */
    for (size_t i = 0; i < n; i++) {
        size_t np = 0, nr = 0;
        if (k[i]) {
            int rc = q ? poly_points_q(q[i], k[i], h, w, s, &np, e) : poly_points(xy[i], k[i], h, w, s, &np, e);
            if (rc) return rc;
            nr = points_runs(s->a, np, end);
        }
        if (n == 1) { *runs = s->a; *nruns = nr; return MR_OK; }
        if (scratch_grow((void **)&s->runs2, &s->cap_runs2, 2 * (nacc + nr) + 2, sizeof(uint32_t), NULL, 0))
            return mr_errf(e, MR_ENOMEM, "polygons to RLE: out of memory");
        nacc = runs_union(s->runs, nacc, s->a, nr, s->runs2);
        uint32_t *t = s->runs; s->runs = s->runs2; s->runs2 = t;
        size_t c = s->cap_runs; s->cap_runs = s->cap_runs2; s->cap_runs2 = c;
    }
    *runs = s->runs; *nruns = nacc;
    return MR_OK;
}

int mr_rle_runs_from_polys(const double *const *xy, const size_t *k, size_t n, uint32_t h, uint32_t w,
                           mr_poly_scratch *s, const uint32_t **runs, size_t *nruns, mr_err *e)
{
    return runs_from_polys(xy, NULL, k, n, h, w, s, runs, nruns, e);
}

int mr_rle_runs_from_polys_q(const int32_t *const *q, const size_t *k, size_t n, uint32_t h, uint32_t w,
                             mr_poly_scratch *s, const uint32_t **runs, size_t *nruns, mr_err *e)
{
    return runs_from_polys(NULL, q, k, n, h, w, s, runs, nruns, e);
}

size_t mr_rle_runs(const uint32_t *cnts, size_t m, uint32_t *runs)
{
    size_t n = 0;
    uint32_t pos = 0;
    for (size_t j = 0; j + 1 < m; j += 2) {
        pos += cnts[j];
        if (cnts[j + 1]) {
            runs[2 * n] = pos;
            pos += cnts[j + 1];
            runs[2 * n + 1] = pos;
            n++;
        }
    }
    return n;
}

/* the decoder of mr_rle_counts_from_string, one count at a time, before
 * the delta: the value of the count at s[*pp..len) (p < len); -1 when the
 * string ends inside it, -2 for a bad char (*pp at the char) */
static int raw_count_slow(const char *s, size_t len, size_t *pp, int64_t *out)
{
    size_t p = *pp;
    int64_t x = 0;
    int k = 0, more = 1;
    while (more) {
        if (p >= len) { *pp = p; return -1; }
        int ch = (unsigned char)s[p] - 48;
        if (ch < 0 || ch > 63 || k > 12) { *pp = p; return -2; }
        x |= (int64_t)(ch & 0x1f) << (5 * k);
        more = ch & 0x20;
        p++; k++;
        if (!more && (ch & 0x10)) x |= (int64_t)(-1) * ((int64_t)1 << (5 * k));
    }
    *out = x;
    *pp = p;
    return 0;
}

/* the next count: base (the count two before, from the fourth count on,
 * else 0) plus the value at s[*pp] (*pp < len), as uint32 (maskApi's
 * cnts[m] = (uint)(x + cnts[m-2])). Counts of one and two chars (all but a
 * few in masks: their deltas are small) are read here, others by
 * raw_count_slow. A one-char value is the char's 5 bits sign-extended;
 * two chars: the first's 5 bits plus the second's sign-extended times 32. */
static inline int next_count(const char *s, size_t len, size_t *pp, uint32_t base, uint32_t *out)
{
    size_t p = *pp;
    uint32_t c0 = (uint32_t)(unsigned char)s[p] - 48u;
    if (c0 < 32u) {
        *out = base + (uint32_t)((int32_t)(c0 ^ 16u) - 16);
        *pp = p + 1;
        return 0;
    }
    if (c0 < 64u && p + 1 < len) {
        uint32_t c1 = (uint32_t)(unsigned char)s[p + 1] - 48u;
        if (c1 < 32u) {
            *out = base + (c0 - 32u) + ((uint32_t)((int32_t)(c1 ^ 16u) - 16) << 5);
            *pp = p + 2;
            return 0;
        }
    }
    int64_t x;
    int why = raw_count_slow(s, len, pp, &x);
    if (why) return why;
    *out = (uint32_t)(x + (int64_t)base);
    return 0;
}

static int bad_string(mr_err *e, int why, size_t p)
{
    if (why == -1) return mr_errf(e, MR_EUSER, "compressed RLE string ends inside a count (char %zu)", p);
    return mr_errf(e, MR_EUSER, "compressed RLE string has an invalid char at %zu", p);
}

/* The string is read a pair of counts (0s, then 1s) at a time. The delta
 * base of a count is the one of its own parity before it (the count two
 * before), except for counts 0, 1 and 2: be, the even counts' base, stays
 * 0 through the first two pairs' even counts (mask keep) */
int mr_rle_runs_from_string(const char *s, size_t len, uint32_t *runs, size_t *pn,
                            uint64_t *area, uint64_t *total, mr_err *e)
{
    size_t p = 0, n = 0;
    uint32_t be = 0, bo = 0, keep = 0, pos = 0, c;
    uint64_t a = 0, t = 0;
    int why;
    while (p < len) {
        if ((why = next_count(s, len, &p, be, &c))) return bad_string(e, why, p);
        be = c & keep;
        keep = UINT32_MAX;
        pos += c; t += c;
        if (p >= len) break;
        if ((why = next_count(s, len, &p, bo, &c))) return bad_string(e, why, p);
        bo = c;
        /* runs has room for one more run than the pairs so far: write,
         * and keep it only if it is not empty */
        runs[2 * n] = pos; runs[2 * n + 1] = pos + c;
        n += c != 0;
        a += c;
        pos += c; t += c;
    }
    *pn = n; *area = a; *total = t;
    return MR_OK;
}

int mr_rle_string_stats(const char *s, size_t len, uint32_t h, uint64_t *total, uint64_t *area,
                        double bb[4], mr_err *e)
{
    size_t p = 0, m = 0;
    uint32_t be = 0, bo = 0, keep = 0, c;
    uint64_t a = 0, t = 0;
    int why;
    if (!bb || !h) {
        while (p < len) {
            if ((why = next_count(s, len, &p, be, &c))) return bad_string(e, why, p);
            be = c & keep;
            keep = UINT32_MAX;
            t += c; m++;
            if (p >= len) break;
            if ((why = next_count(s, len, &p, bo, &c))) return bad_string(e, why, p);
            bo = c;
            a += c; t += c; m++;
        }
        *total = t; *area = a;
        if (bb) bb[0] = bb[1] = bb[2] = bb[3] = 0;
        return MR_OK;
    }
    /* rleToBbox over the pairs of counts (as mr_rle_bbox), with the
     * position t kept as column x and row y (no division per count; a
     * string whose counts pass 2^32 in all is refused by the caller's sum
     * check, so 64-bit positions give the same points as 32-bit ones).
     * A pair's points: its start (px, py) and the position t - 1 after
     * it, (ox, oy). */
    uint64_t x = 0, y = 0, xs = UINT64_MAX, xe = 0, ys = h, ye = 0, hh = h;
    int full = 0;    /* a run wrapped a column: rows are 0 .. h-1 */
    while (p < len) {
        if ((why = next_count(s, len, &p, be, &c))) return bad_string(e, why, p);
        be = c & keep;
        keep = UINT32_MAX;
        t += c; m++;
        y += c;
        if (y >= hh) {
            if (y < 2 * hh) { y -= hh; x++; }
            else { uint64_t q = y / hh; x += q; y -= q * hh; }
        }
        if (p >= len) break;
        uint64_t px = x, py = y;
        if ((why = next_count(s, len, &p, bo, &c))) return bad_string(e, why, p);
        bo = c;
        a += c; t += c; m++;
        y += c;
        if (c && y <= hh) {
            /* the common run, inside column px: its end (px, y - 1) is
             * the point after it (t > 0), at or below py */
            xs = px < xs ? px : xs;
            xe = px > xe ? px : xe;
            if (!full) {
                ys = py < ys ? py : ys;
                ye = y - 1 > ye ? y - 1 : ye;
            }
            if (y == hh) { y = 0; x++; }
            continue;
        }
        if (y >= hh) {
            if (y < 2 * hh) { y -= hh; x++; }
            else { uint64_t q = y / hh; x += q; y -= q * hh; }
        }
        uint64_t ox, oy;
        if (t == 0) { uint32_t tt = UINT32_MAX; ox = tt / h; oy = tt - (uint32_t)ox * h; }
        else if (y > 0) { ox = x; oy = y - 1; }
        else { ox = x - 1; oy = hh - 1; }
        xs = px < xs ? px : xs;
        xe = px > xe ? px : xe;
        xs = ox < xs ? ox : xs;
        xe = ox > xe ? ox : xe;
        if (!full) {
            if (px < ox) { full = 1; ys = 0; ye = hh - 1; }
            else {
                ys = py < ys ? py : ys;
                ye = py > ye ? py : ye;
                ys = oy < ys ? oy : ys;
                ye = oy > ye ? oy : ye;
            }
        }
    }
    *total = t; *area = a;
    if (m < 2) bb[0] = bb[1] = bb[2] = bb[3] = 0;
    else {
        bb[0] = (double)xs; bb[2] = (double)(uint32_t)(xe - xs + 1);
        bb[1] = (double)ys; bb[3] = (double)(uint32_t)(ye - ys + 1);
    }
    return MR_OK;
}

uint64_t mr_runs_inter(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    if (!na || !nb) return 0;
    if (a[2 * na - 1] <= b[0] || b[2 * nb - 1] <= a[0]) return 0;
    /* start each list at its first run ending after the other's start */
    size_t p = 0, q = 0;
    {
        size_t lo = 0, hi = na;
        while (lo < hi) { size_t mid = (lo + hi) / 2; if (a[2 * mid + 1] <= b[0]) lo = mid + 1; else hi = mid; }
        p = lo;
        lo = 0; hi = nb;
        while (lo < hi) { size_t mid = (lo + hi) / 2; if (b[2 * mid + 1] <= a[0]) lo = mid + 1; else hi = mid; }
        q = lo;
    }
    uint64_t in = 0;
    while (p < na && q < nb) {
        uint32_t as = a[2 * p], ae = a[2 * p + 1], bs = b[2 * q], be = b[2 * q + 1];
        uint32_t lo = as > bs ? as : bs, hi = ae < be ? ae : be;
        if (hi > lo) in += hi - lo;
        if (ae < be) p++; else q++;
    }
    return in;
}
