/*
 * boxes.c — box coding, IoU, NMS, matching, sampling and FPN level mapping
 * with torchvision's semantics (see boxes.h). Nothing allocates; everything
 * is single-threaded and deterministic.
 */
#include "core/boxes.h"

#include <math.h>
#include <string.h>

mr_box_coder mr_box_coder_make(float wx, float wy, float ww, float wh)
{
    mr_box_coder c = {wx, wy, ww, wh, MR_BBOX_XFORM_CLIP};
    return c;
}

void mr_box_encode(const mr_box_coder *c, int n, const float *gt, const float *ref,
                   float *deltas)
{
    for (int i = 0; i < n; i++) {
        const float *g = gt + 4 * (size_t)i, *r = ref + 4 * (size_t)i;
        float rw = r[2] - r[0], rh = r[3] - r[1];
        float rx = r[0] + 0.5f * rw, ry = r[1] + 0.5f * rh;
        float gw = g[2] - g[0], gh = g[3] - g[1];
        float gx = g[0] + 0.5f * gw, gy = g[1] + 0.5f * gh;
        float *d = deltas + 4 * (size_t)i;
        d[0] = c->wx * (gx - rx) / rw;
        d[1] = c->wy * (gy - ry) / rh;
        d[2] = c->ww * logf(gw / rw);
        d[3] = c->wh * logf(gh / rh);
    }
}

void mr_box_decode(const mr_box_coder *c, int n, int k, const float *deltas,
                   const float *ref, float *out)
{
    for (int i = 0; i < n; i++) {
        const float *r = ref + 4 * (size_t)i;
        float w = r[2] - r[0], h = r[3] - r[1];
        float cx = r[0] + 0.5f * w, cy = r[1] + 0.5f * h;
        for (int j = 0; j < k; j++) {
            const float *d = deltas + 4 * ((size_t)i * k + j);
            float *o = out + 4 * ((size_t)i * k + j);
            float dx = d[0] / c->wx, dy = d[1] / c->wy;
            float dw = fminf(d[2] / c->ww, c->clip), dh = fminf(d[3] / c->wh, c->clip);
            float px = dx * w + cx, py = dy * h + cy;
            float pw = expf(dw) * w, ph = expf(dh) * h;
            o[0] = px - 0.5f * pw;
            o[1] = py - 0.5f * ph;
            o[2] = px + 0.5f * pw;
            o[3] = py + 0.5f * ph;
        }
    }
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void mr_boxes_clip(int n, float *boxes, int height, int width)
{
    for (size_t i = 0; i < 4 * (size_t)n; i += 4) {
        boxes[i] = clampf(boxes[i], 0.0f, (float)width);
        boxes[i + 1] = clampf(boxes[i + 1], 0.0f, (float)height);
        boxes[i + 2] = clampf(boxes[i + 2], 0.0f, (float)width);
        boxes[i + 3] = clampf(boxes[i + 3], 0.0f, (float)height);
    }
}

int mr_boxes_remove_small(int n, const float *boxes, float min_size, int *keep)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const float *b = boxes + 4 * (size_t)i;
        if (b[2] - b[0] >= min_size && b[3] - b[1] >= min_size) keep[k++] = i;
    }
    return k;
}

/* min / max as plain comparisons the compiler inlines (fminf/fmaxf are
 * library calls at -O3 for their NaN rules); equal to them for the finite
 * coordinates boxes have here */
static inline float mn(float a, float b) { return b < a ? b : a; }
static inline float mx(float a, float b) { return b > a ? b : a; }

/* IoU of two boxes given by their coordinates and areas, torchvision's
 * arithmetic */
static inline float iou_xyxy(float ax1, float ay1, float ax2, float ay2, float area_a, float bx1, float by1,
                             float bx2, float by2, float area_b)
{
    float w = mn(ax2, bx2) - mx(ax1, bx1);
    float h = mn(ay2, by2) - mx(ay1, by1);
    if (w < 0.0f) w = 0.0f;
    if (h < 0.0f) h = 0.0f;
    float inter = w * h, uni = area_a + area_b - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

static inline float iou_pair(const float *a, float area_a, const float *b, float area_b)
{
    return iou_xyxy(a[0], a[1], a[2], a[3], area_a, b[0], b[1], b[2], b[3], area_b);
}

void mr_box_iou(int M, const float *a, int N, const float *b, float *iou)
{
    for (int i = 0; i < M; i++) {
        const float *ai = a + 4 * (size_t)i;
        float aa = mr_box_area(ai);
        for (int j = 0; j < N; j++) {
            const float *bj = b + 4 * (size_t)j;
            iou[(size_t)i * N + j] = iou_pair(ai, aa, bj, mr_box_area(bj));
        }
    }
}

/* a comes before b: higher score first, NaN last, then lower index */
static inline int before(const float *s, int a, int b)
{
    float sa = s[a], sb = s[b];
    int na = sa != sa, nb = sb != sb;
    if (na != nb) return nb;
    if (!na && sa != sb) return sa > sb;
    return a < b;
}

/* Bottom-up merge sort of indices (stable by construction, and the
 * comparison is a total order anyway). */
void mr_argsort_desc(int n, const float *scores, int *order, int *tmp)
{
    for (int i = 0; i < n; i++) order[i] = i;
    int *src = order, *dst = tmp;
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = before(scores, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int *t = src; src = dst; dst = t;
    }
    if (src != order) memcpy(order, src, (size_t)n * sizeof *order);
}

size_t mr_nms_workspace(int n)
{
    size_t m = n > 0 ? (size_t)n : 0;
    return m * (3 * sizeof(int) + 5 * sizeof(float) + 1) + sizeof(int) + 64;
}


/* Greedy NMS. Boxes are ranked by mr_argsort_desc; with classes, the ranks
 * are grouped by class (a counting sort keeps score order inside a class)
 * and each class runs on its own, so boxes of different classes are never
 * compared; kept boxes are then listed in rank order. Class labels spread
 * over more than n values fall back to one pass that skips other classes. */
static int nms_impl(int n, const float *boxes, const float *scores, const int *classes,
                    float thr, int max_keep, int *keep, void *ws)
{
    if (n <= 0) return 0;
    int *order = ws, *grp = order + n, *cnt = grp + n;   /* cnt: n + 1 ints */
    float *area = (float *)(cnt + n + 1);
    /* the boxes in rank order, one array per coordinate: the inner loop
     * reads them contiguously */
    float *x1 = area + n, *y1 = x1 + n, *x2 = y1 + n, *y2 = x2 + n;
    unsigned char *state = (unsigned char *)(y2 + n);  /* 0 open, 1 suppressed, 2 kept */
    mr_argsort_desc(n, scores, order, grp);
    for (int i = 0; i < n; i++) {
        const float *b = boxes + 4 * (size_t)order[i];
        area[i] = mr_box_area(b);
        x1[i] = b[0]; y1[i] = b[1]; x2[i] = b[2]; y2[i] = b[3];
        state[i] = 0;
    }
    int lo = 0, hi = 0;
    if (classes) {
        lo = hi = classes[0];
        for (int i = 1; i < n; i++) {
            if (classes[i] < lo) lo = classes[i];
            if (classes[i] > hi) hi = classes[i];
        }
    }
    if (!classes || (long)hi - lo < n) {
        /* grp = ranks grouped by class, cnt = class segment starts */
        int nc = classes ? hi - lo + 1 : 1;
        memset(cnt, 0, (size_t)(nc + 1) * sizeof *cnt);
        for (int i = 0; i < n; i++) cnt[(classes ? classes[order[i]] - lo : 0) + 1]++;
        for (int c = 0; c < nc; c++) cnt[c + 1] += cnt[c];
        for (int i = 0; i < n; i++) grp[cnt[classes ? classes[order[i]] - lo : 0]++] = i;
        int kept = 0;
        for (int a = 0; a < n; a++) {
            int i = grp[a];
            int end = cnt[classes ? classes[order[i]] - lo : 0];  /* now its segment's end */
            if (state[i]) continue;
            state[i] = 2;
            /* one class: ranks are visited in order, so max_keep can stop early */
            if (nc == 1 && max_keep > 0 && ++kept >= max_keep) break;
            const float bx1 = x1[i], by1 = y1[i], bx2 = x2[i], by2 = y2[i], ba = area[i];
            for (int bpos = a + 1; bpos < end; bpos++) {
                int j = grp[bpos];
                if (!state[j] && iou_xyxy(bx1, by1, bx2, by2, ba, x1[j], y1[j], x2[j], y2[j], area[j]) > thr)
                    state[j] = 1;
            }
        }
    } else {
        for (int i = 0; i < n; i++) {
            if (state[i]) continue;
            state[i] = 2;
            int bi = order[i];
            const float *b = boxes + 4 * (size_t)bi;
            for (int j = i + 1; j < n; j++) {
                if (state[j] || classes[order[j]] != classes[bi]) continue;
                if (iou_pair(b, area[i], boxes + 4 * (size_t)order[j], area[j]) > thr) state[j] = 1;
            }
        }
    }
    int k = 0;
    for (int i = 0; i < n && (max_keep <= 0 || k < max_keep); i++)
        if (state[i] == 2) keep[k++] = order[i];
    return k;
}

int mr_nms(int n, const float *boxes, const float *scores, float iou_threshold,
           int max_keep, int *keep, void *ws)
{
    return nms_impl(n, boxes, scores, NULL, iou_threshold, max_keep, keep, ws);
}

int mr_batched_nms(int n, const float *boxes, const float *scores, const int *classes,
                   float iou_threshold, int max_keep, int *keep, void *ws)
{
    return nms_impl(n, boxes, scores, classes, iou_threshold, max_keep, keep, ws);
}

void mr_match(int M, int N, const float *q, float high, float low, int allow_low_quality,
              int *matches, float *ws)
{
    if (M <= 0) {
        for (int n = 0; n < N; n++) matches[n] = MR_MATCH_BELOW_LOW;
        return;
    }
    if (allow_low_quality)
        for (int m = 0; m < M; m++) {
            float best = q[(size_t)m * N];
            for (int n = 1; n < N; n++)
                if (q[(size_t)m * N + n] > best) best = q[(size_t)m * N + n];
            ws[m] = best;
        }
    for (int n = 0; n < N; n++) {
        int arg = 0;
        float best = q[n];
        for (int m = 1; m < M; m++)
            if (q[(size_t)m * N + n] > best) { best = q[(size_t)m * N + n]; arg = m; }
        int out = arg;
        if (best < low) out = MR_MATCH_BELOW_LOW;
        else if (best < high) out = MR_MATCH_BETWEEN;
        if (out < 0 && allow_low_quality)
            for (int m = 0; m < M; m++)
                if (q[(size_t)m * N + n] == ws[m]) { out = arg; break; }
        matches[n] = out;
    }
}

/* Selection sampling (Knuth's algorithm S): each of the `avail` candidates
 * satisfying want(label) is taken with probability needed / remaining, so
 * every subset of size k is equally likely and the picks come out in
 * ascending index order. */
static int select_k(int n, const int *labels, int positive, int avail, int k, mr_pcg32 *rng,
                    int *out)
{
    int got = 0, seen = 0;
    for (int i = 0; i < n && got < k; i++) {
        int is = positive ? labels[i] >= 1 : labels[i] == 0;
        if (!is) continue;
        if ((int)mr_pcg32_bounded(rng, (uint32_t)(avail - seen)) < k - got) out[got++] = i;
        seen++;
    }
    return got;
}

/* select_k's draws without the labels: the same mr_pcg32_bounded calls for
 * `avail` candidates of which k are taken */
static int replay_k(int avail, int k, mr_pcg32 *rng)
{
    int got = 0;
    for (int seen = 0; seen < avail && got < k; seen++)
        if ((int)mr_pcg32_bounded(rng, (uint32_t)(avail - seen)) < k - got) got++;
    return got;
}

void mr_sample_balanced_counts(int P, int Q, int batch, float positive_fraction, mr_pcg32 *rng, int *npos,
                               int *nneg)
{
    int want_pos = (int)((float)batch * positive_fraction);
    if (want_pos > P) want_pos = P;
    int want_neg = batch - want_pos;
    if (want_neg > Q) want_neg = Q;
    if (want_neg < 0) want_neg = 0;
    *npos = replay_k(P, want_pos, rng);
    *nneg = replay_k(Q, want_neg, rng);
}

void mr_sample_balanced(int n, const int *labels, int batch, float positive_fraction,
                        mr_pcg32 *rng, int *pos_idx, int *npos, int *neg_idx, int *nneg)
{
    int P = 0, Q = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] >= 1) P++;
        else if (labels[i] == 0) Q++;
    }
    int want_pos = (int)((float)batch * positive_fraction);
    if (want_pos > P) want_pos = P;
    int want_neg = batch - want_pos;
    if (want_neg > Q) want_neg = Q;
    if (want_neg < 0) want_neg = 0;
    *npos = select_k(n, labels, 1, P, want_pos, rng, pos_idx);
    *nneg = select_k(n, labels, 0, Q, want_neg, rng, neg_idx);
}

void mr_fpn_levels(int n, const float *boxes, int stride, int k_min, int k_max,
                   int canonical_scale, int canonical_level, int *level)
{
    for (int i = 0; i < n; i++) {
        const float *b = boxes + (size_t)i * stride;
        float s = sqrtf((b[2] - b[0]) * (b[3] - b[1]));
        float l = floorf((float)canonical_level + log2f(s / (float)canonical_scale) + 1e-6f);
        /* clamp in float first: a degenerate box gives -inf (torch clamps it too) */
        if (!(l >= (float)k_min)) l = (float)k_min;
        if (l > (float)k_max) l = (float)k_max;
        level[i] = (int)l;
    }
}

void mr_fpn_partition(int n, const int *level, int k_min, int k_max, int *order, int *count)
{
    int k = 0;
    for (int lv = k_min; lv <= k_max; lv++) {
        int c = 0;
        for (int i = 0; i < n; i++)
            if (level[i] == lv) { order[k++] = i; c++; }
        count[lv - k_min] = c;
    }
}
