/*
 * winograd.c — F(2x2, 3x3) Winograd convolution, forward and backward (see
 * winograd.h for the algebra).
 *
 * Workspace layout (floats):
 * (each [16] stride padded, see pstride)
 *   U  [16][cout][cin]  transformed weights G g G^T
 *   dU [16][cout][cin]  their gradient (backward only)
 *   V  [16][cin][TC]    transformed input tiles B^T d B of one chunk
 *                       (backward: reused for dV)
 *   M  [16][cout][TC]   products U V of one chunk (backward: dM)
 * A tile index t runs over (image n, tile row ty, tile column tx) of the
 * whole batch; TC tiles form a chunk. Transforms are parallel over channels
 * (each thread owns whole channel planes, so the overlapping scatter of the
 * input gradient needs no atomics and has a fixed order).
 */
#include "core/winograd.h"

#include <cblas.h>
#include <string.h>

/* tiles per chunk: CHUNK_FLOATS / (16 * max channels) floats per V or M
 * buffer, at most MAX_TILES (products 1024 columns wide already run at full
 * speed) */
#define CHUNK_FLOATS (1L << 21)
#define MAX_TILES 1024L

int mr_wino_eligible(int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                     int dw)
{
    return kh == 3 && kw == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1 && dh == 1 && dw == 1 &&
           cin >= MR_WINO_MIN_CH && cout >= MR_WINO_MIN_CH && (long)cin * cout <= MR_WINO_MAX_CH2;
}

static long chunk_tiles(int cin, int cout)
{
    long c = cin > cout ? cin : cout;
    long tc = CHUNK_FLOATS / (16 * c);
    tc &= ~15L;
    if (tc > MAX_TILES) tc = MAX_TILES;
    return tc < 16 ? 16 : tc;
}

/* Stride between the 16 transform points' matrices: padded by 32 floats so
 * that the 16 streams a transform reads or writes do not start at the same
 * offset modulo 4 KB (power-of-two plane sizes made every stream alias the
 * same cache sets, costing ~2x in the transforms). */
static long pstride(long n) { return n + 32; }

size_t mr_wino_workspace(int cin, int cout)
{
    long tc = chunk_tiles(cin, cout);
    return (size_t)(16 * (2 * pstride((long)cin * cout) + pstride(tc * cin) + pstride(tc * cout)));
}

typedef struct geo {
    int H, W, th, tw;
    long tpi; /* tiles per image */
} geo;

static geo geo_of(int H, int W)
{
    geo g = {H, W, (H + 1) / 2, (W + 1) / 2, 0};
    g.tpi = (long)g.th * g.tw;
    return g;
}

/* U[xi][co][ci] = (G g G^T)[xi] for every (co, ci) */
static void weight_transform(int cin, int cout, const float *w, float *U)
{
    const long nk = (long)cout * cin, plane = pstride(nk);
#pragma omp parallel for schedule(static) if (nk >= 4096)
    for (long k = 0; k < nk; k++) {
        const float *g = w + 9 * k;
        float a[4][3];
        for (int j = 0; j < 3; j++) {
            a[0][j] = g[j];
            a[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
            a[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
            a[3][j] = g[6 + j];
        }
        for (int i = 0; i < 4; i++) {
            U[(i * 4 + 0) * plane + k] = a[i][0];
            U[(i * 4 + 1) * plane + k] = 0.5f * (a[i][0] + a[i][1] + a[i][2]);
            U[(i * 4 + 2) * plane + k] = 0.5f * (a[i][0] - a[i][1] + a[i][2]);
            U[(i * 4 + 3) * plane + k] = a[i][2];
        }
    }
}

/* dw[co][ci] += G^T dU G */
static void weight_grad(int cin, int cout, const float *dU, float *dw)
{
    const long nk = (long)cout * cin, plane = pstride(nk);
#pragma omp parallel for schedule(static) if (nk >= 4096)
    for (long k = 0; k < nk; k++) {
        float d[4][4], r[3][4];
        for (int x = 0; x < 16; x++) d[x / 4][x % 4] = dU[x * plane + k];
        for (int j = 0; j < 4; j++) {
            r[0][j] = d[0][j] + 0.5f * (d[1][j] + d[2][j]);
            r[1][j] = 0.5f * (d[1][j] - d[2][j]);
            r[2][j] = 0.5f * (d[1][j] + d[2][j]) + d[3][j];
        }
        float *g = dw + 9 * k;
        for (int i = 0; i < 3; i++) {
            g[3 * i + 0] += r[i][0] + 0.5f * (r[i][1] + r[i][2]);
            g[3 * i + 1] += 0.5f * (r[i][1] - r[i][2]);
            g[3 * i + 2] += 0.5f * (r[i][1] + r[i][2]) + r[i][3];
        }
    }
}

/* The four tile transforms walk a chunk's tiles one tile row at a time:
 * a run of consecutive tiles of one image row band, staged through a
 * zero-padded row buffer so the inner loop over the run has no bounds
 * checks and writes each transform point's column contiguously. */
typedef struct run { long n; int ty, tx0, len; } run;

static run next_run(const geo *g, long t, long left)
{
    run r;
    r.n = t / g->tpi;
    const long q = t % g->tpi;
    r.ty = (int)(q / g->tw);
    r.tx0 = (int)(q % g->tw);
    r.len = g->tw - r.tx0;
    if (r.len > left) r.len = (int)left;
    return r;
}

/* V[xi][c][k] = (B^T d B)[xi] for the tiles t0 .. t0+tc-1 */
static void input_transform(const geo *g, int cin, const float *x, long t0, long tc, long TC,
                            float *V)
{
    const long plane = pstride((long)cin * TC);
    const int Wp = 2 * g->tw + 2; /* padded row: column j holds x[.][j - 1] */
#pragma omp parallel for schedule(static) if ((long)cin * tc >= 2048)
    for (int c = 0; c < cin; c++) {
        float buf[4][Wp];
        for (long k = 0; k < tc;) {
            const run r = next_run(g, t0 + k, tc - k);
            const float *p = x + ((long)r.n * cin + c) * g->H * g->W;
            const int y0 = 2 * r.ty - 1;
            for (int i = 0; i < 4; i++) {
                const int yy = y0 + i;
                memset(buf[i], 0, sizeof(float) * (size_t)Wp);
                if (yy >= 0 && yy < g->H) memcpy(buf[i] + 1, p + (long)yy * g->W, sizeof(float) * (size_t)g->W);
            }
            float *v = V + (long)c * TC + k;
            for (int q = 0; q < r.len; q++) {
                const int x0 = 2 * (r.tx0 + q);
                float m[4][4];
                for (int j = 0; j < 4; j++) {
                    m[0][j] = buf[0][x0 + j] - buf[2][x0 + j];
                    m[1][j] = buf[1][x0 + j] + buf[2][x0 + j];
                    m[2][j] = buf[2][x0 + j] - buf[1][x0 + j];
                    m[3][j] = buf[1][x0 + j] - buf[3][x0 + j];
                }
                for (int i = 0; i < 4; i++) {
                    v[(i * 4 + 0) * plane + q] = m[i][0] - m[i][2];
                    v[(i * 4 + 1) * plane + q] = m[i][1] + m[i][2];
                    v[(i * 4 + 2) * plane + q] = m[i][2] - m[i][1];
                    v[(i * 4 + 3) * plane + q] = m[i][1] - m[i][3];
                }
            }
            k += r.len;
        }
    }
}

/* out tiles = A^T M A (+ bias), written where inside the image */
static void output_transform(const geo *g, int cout, const float *M, const float *b, long t0,
                             long tc, long TC, float *out)
{
    const long plane = pstride((long)cout * TC);
    const int Wp = 2 * g->tw;
#pragma omp parallel for schedule(static) if ((long)cout * tc >= 2048)
    for (int co = 0; co < cout; co++) {
        const float bias = b ? b[co] : 0.0f;
        float buf[2][Wp];
        for (long k = 0; k < tc;) {
            const run r = next_run(g, t0 + k, tc - k);
            const float *m = M + (long)co * TC + k;
            for (int q = 0; q < r.len; q++) {
                float a[2][4];
                for (int j = 0; j < 4; j++) {
                    const float m0 = m[(0 + j) * plane + q], m1 = m[(4 + j) * plane + q];
                    const float m2 = m[(8 + j) * plane + q], m3 = m[(12 + j) * plane + q];
                    a[0][j] = m0 + m1 + m2;
                    a[1][j] = m1 - m2 - m3;
                }
                const int x0 = 2 * (r.tx0 + q);
                for (int i = 0; i < 2; i++) {
                    buf[i][x0] = a[i][0] + a[i][1] + a[i][2] + bias;
                    buf[i][x0 + 1] = a[i][1] - a[i][2] - a[i][3] + bias;
                }
            }
            float *o = out + ((long)r.n * cout + co) * g->H * g->W;
            const int xa = 2 * r.tx0, xb = 2 * (r.tx0 + r.len) < g->W ? 2 * (r.tx0 + r.len) : g->W;
            for (int i = 0; i < 2 && 2 * r.ty + i < g->H; i++)
                memcpy(o + (long)(2 * r.ty + i) * g->W + xa, buf[i] + xa, sizeof(float) * (size_t)(xb - xa));
            k += r.len;
        }
    }
}

/* dM[xi][co][k] = (A dY A^T)[xi], dY's 2x2 tile (0 outside the image) */
static void dout_transform(const geo *g, int cout, const float *dout, long t0, long tc, long TC,
                           float *dM)
{
    const long plane = pstride((long)cout * TC);
    const int Wp = 2 * g->tw;
#pragma omp parallel for schedule(static) if ((long)cout * tc >= 2048)
    for (int co = 0; co < cout; co++) {
        float buf[2][Wp];
        for (long k = 0; k < tc;) {
            const run r = next_run(g, t0 + k, tc - k);
            const float *p = dout + ((long)r.n * cout + co) * g->H * g->W;
            for (int i = 0; i < 2; i++) {
                const int yy = 2 * r.ty + i;
                memset(buf[i], 0, sizeof(float) * (size_t)Wp);
                if (yy < g->H) memcpy(buf[i], p + (long)yy * g->W, sizeof(float) * (size_t)g->W);
            }
            float *m = dM + (long)co * TC + k;
            for (int q = 0; q < r.len; q++) {
                const int x0 = 2 * (r.tx0 + q);
                float e[4][2];
                for (int j = 0; j < 2; j++) {
                    const float d0 = buf[0][x0 + j], d1 = buf[1][x0 + j];
                    e[0][j] = d0;
                    e[1][j] = d0 + d1;
                    e[2][j] = d0 - d1;
                    e[3][j] = -d1;
                }
                for (int i = 0; i < 4; i++) {
                    m[(i * 4 + 0) * plane + q] = e[i][0];
                    m[(i * 4 + 1) * plane + q] = e[i][0] + e[i][1];
                    m[(i * 4 + 2) * plane + q] = e[i][0] - e[i][1];
                    m[(i * 4 + 3) * plane + q] = -e[i][1];
                }
            }
            k += r.len;
        }
    }
}

/* dinp += B dV B^T, scattered over the overlapping 4x4 patches */
static void input_grad(const geo *g, int cin, const float *dV, long t0, long tc, long TC, float *dx)
{
    const long plane = pstride((long)cin * TC);
    const int Wp = 2 * g->tw + 2;
#pragma omp parallel for schedule(static) if ((long)cin * tc >= 2048)
    for (int c = 0; c < cin; c++) {
        float buf[4][Wp];
        for (long k = 0; k < tc;) {
            const run r = next_run(g, t0 + k, tc - k);
            for (int i = 0; i < 4; i++) memset(buf[i], 0, sizeof(float) * (size_t)Wp);
            const float *v = dV + (long)c * TC + k;
            for (int q = 0; q < r.len; q++) {
                float u[4][4];
                for (int j = 0; j < 4; j++) {
                    const float v0 = v[(0 + j) * plane + q], v1 = v[(4 + j) * plane + q];
                    const float v2 = v[(8 + j) * plane + q], v3 = v[(12 + j) * plane + q];
                    u[0][j] = v0;
                    u[1][j] = v1 - v2 + v3;
                    u[2][j] = -v0 + v1 + v2;
                    u[3][j] = -v3;
                }
                const int x0 = 2 * (r.tx0 + q);
                for (int i = 0; i < 4; i++) {
                    buf[i][x0 + 0] += u[i][0];
                    buf[i][x0 + 1] += u[i][1] - u[i][2] + u[i][3];
                    buf[i][x0 + 2] += -u[i][0] + u[i][1] + u[i][2];
                    buf[i][x0 + 3] += -u[i][3];
                }
            }
            float *p = dx + ((long)r.n * cin + c) * g->H * g->W;
            const int y0 = 2 * r.ty - 1;
            const int xa = 2 * r.tx0 - 1 > 0 ? 2 * r.tx0 - 1 : 0;
            const int xb = 2 * (r.tx0 + r.len) + 1 < g->W ? 2 * (r.tx0 + r.len) + 1 : g->W;
            for (int i = 0; i < 4; i++) {
                const int yy = y0 + i;
                if (yy < 0 || yy >= g->H) continue;
                float *row = p + (long)yy * g->W;
                for (int xx = xa; xx < xb; xx++) row[xx] += buf[i][xx + 1];
            }
            k += r.len;
        }
    }
}

void mr_wino_forward(int cin, int cout, int N, int H, int W, const float *inp, const float *w,
                     const float *b, float *out, float *ws)
{
    if (N <= 0 || H <= 0 || W <= 0) return;
    const geo g = geo_of(H, W);
    const long TC = chunk_tiles(cin, cout), T = (long)N * g.tpi;
    const long su = pstride((long)cout * cin), sv = pstride((long)cin * TC), sm = pstride((long)cout * TC);
    float *U = ws, *V = U + 32 * su, *M = V + 16 * sv;
    weight_transform(cin, cout, w, U);
    for (long t0 = 0; t0 < T; t0 += TC) {
        const long tc = T - t0 < TC ? T - t0 : TC;
        input_transform(&g, cin, inp, t0, tc, TC, V);
        for (int xi = 0; xi < 16; xi++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, (int)tc, cin, 1.0f,
                        U + xi * su, cin, V + xi * sv, (int)TC, 0.0f,
                        M + xi * sm, (int)TC);
        output_transform(&g, cout, M, b, t0, tc, TC, out);
    }
}

void mr_wino_backward(int cin, int cout, int N, int H, int W, const float *inp, const float *w,
                      const float *dout, float *dinp, float *dw, float *db, float *ws)
{
    if (N <= 0 || H <= 0 || W <= 0) return;
    const geo g = geo_of(H, W);
    const long TC = chunk_tiles(cin, cout), T = (long)N * g.tpi;
    const long P = (long)H * W;
    const long su = pstride((long)cout * cin), sv = pstride((long)cin * TC), sm = pstride((long)cout * TC);
    float *U = ws, *dU = U + 16 * su, *V = dU + 16 * su, *M = V + 16 * sv;
    if (db) {
#pragma omp parallel for schedule(static) if ((long)cout * N * P >= 32768)
        for (int co = 0; co < cout; co++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) {
                const float *d = dout + ((long)n * cout + co) * P;
                for (long p = 0; p < P; p++) s += d[p];
            }
            db[co] += (float)s;
        }
    }
    if (!dinp && !dw) return;
    if (dinp) weight_transform(cin, cout, w, U);
    if (dw) memset(dU, 0, sizeof(float) * (size_t)(16 * su));
    for (long t0 = 0; t0 < T; t0 += TC) {
        const long tc = T - t0 < TC ? T - t0 : TC;
        dout_transform(&g, cout, dout, t0, tc, TC, M);
        if (dw) {
            input_transform(&g, cin, inp, t0, tc, TC, V);
            for (int xi = 0; xi < 16; xi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, cin, (int)tc, 1.0f,
                            M + xi * sm, (int)TC, V + xi * sv, (int)TC,
                            1.0f, dU + xi * su, cin);
        }
        if (dinp) {
            for (int xi = 0; xi < 16; xi++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cin, (int)tc, cout, 1.0f,
                            U + xi * su, cin, M + xi * sm, (int)TC, 0.0f,
                            V + xi * sv, (int)TC);
            input_grad(&g, cin, V, t0, tc, TC, dinp);
        }
    }
    if (dw) weight_grad(cin, cout, dU, dw);
}
