/*
 * json_fast.c — the pull-style JSON reader of json_fast.h. Syntax errors
 * leave j->failed = 1 with "malformed JSON at line L, column C: ..." in the
 * error; the caller then adds file, record and field (mr_jr_fail with
 * where != NULL wraps an existing syntax message).
 */
#include "coco/json_fast.h"

#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>   /* SSE2: every x86-64 CPU */
#endif
#include <unistd.h>

void mr_jr_init(mr_jr *j, const char *buf, size_t len, const char *file, mr_err *e)
{
    j->buf = j->p = buf;
    j->end = buf + len;
    j->file = file;
    j->e = e;
    j->failed = 0;
    j->padded = 0;
    j->base = 0;
    j->fd = -1;
}

void mr_jr_init_padded(mr_jr *j, const char *buf, size_t len, const char *file, mr_err *e)
{
    mr_jr_init(j, buf, len, file, e);
    j->padded = 1;
}

void mr_jr_window(mr_jr *j, const char *buf, size_t len, const char *p, size_t base, int fd)
{
    j->buf = buf;
    j->p = p;
    j->end = buf + len;
    j->base = base;
    j->fd = fd;
    j->padded = 1;
}

static void pos_of(const mr_jr *j, int *line, int *col)
{
    int l = 1, c = 1;
    /* a window of a file: first the lines before it (errors only) */
    char b[16384];
    for (size_t off = 0; off < j->base && j->fd >= 0;) {
        size_t n = j->base - off < sizeof b ? j->base - off : sizeof b;
        ssize_t k = pread(j->fd, b, n, (off_t)off);
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++) {
            if (b[i] == '\n') { l++; c = 1; } else c++;
        }
        off += (size_t)k;
    }
    for (const char *q = j->buf; q < j->p && q < j->end; q++) {
        if (*q == '\n') { l++; c = 1; } else c++;
    }
    *line = l; *col = c;
}

/* a syntax error at the current position */
static int syntax(mr_jr *j, const char *what)
{
    if (j->failed) return -1;
    int l, c;
    pos_of(j, &l, &c);
    char got[16];
    if (j->p >= j->end) snprintf(got, sizeof got, "end of file");
    else if ((unsigned char)*j->p >= 32 && (unsigned char)*j->p < 127) snprintf(got, sizeof got, "'%c'", *j->p);
    else snprintf(got, sizeof got, "byte 0x%02x", (unsigned char)*j->p);
    mr_errf(j->e, MR_EUSER, "malformed JSON at line %d, column %d: expected %s, found %s", l, c, what, got);
    j->failed = 1;
    return -1;
}

int mr_jr_fail(mr_jr *j, const char *where, const char *fmt, ...)
{
    if (j->failed == 2) return MR_EUSER;
    char what[1024];
    if (j->failed == 1 && j->e) {
        snprintf(what, sizeof what, "%s", j->e->msg);
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
    }
    if (where && *where) mr_errf(j->e, MR_EUSER, "%s: %s: %s", j->file, where, what);
    else mr_errf(j->e, MR_EUSER, "%s: %s", j->file, what);
    j->failed = 2;
    return MR_EUSER;
}

static inline void ws(mr_jr *j)
{
    const char *p = j->p, *end = j->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    j->p = p;
}

int mr_jr_peek(mr_jr *j)
{
    ws(j);
    if (j->p >= j->end) return MR_JT_END;
    switch (*j->p) {
    case '{': return MR_JT_OBJ;
    case '[': return MR_JT_ARR;
    case '"': return MR_JT_STR;
    case 't': return MR_JT_TRUE;
    case 'f': return MR_JT_FALSE;
    case 'n': return MR_JT_NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': return MR_JT_NUM;
    default: return MR_JT_BAD;
    }
}

int mr_jr_eat(mr_jr *j, char c)
{
    ws(j);
    if (j->p < j->end && *j->p == c) { j->p++; return 1; }
    return 0;
}

int mr_jr_expect(mr_jr *j, char c)
{
    if (mr_jr_eat(j, c)) return 0;
    char what[8];
    snprintf(what, sizeof what, "'%c'", c);
    return syntax(j, what);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int mr_jr_string(mr_jr *j, const char **s, size_t *n, int *esc)
{
    ws(j);
    if (j->p >= j->end || *j->p != '"') return syntax(j, "a string");
    const char *q = ++j->p, *end = j->end;
    int has_esc = 0;
    /* to the next '"', '\\' or control char many bytes at a time (long
     * strings: compressed RLE masks, whose alphabet holds the backslash:
     * an escape is stepped over and the fast scan goes on) */
    for (;;) {
        for (;;) {
#if defined(__SSE2__)
            if (end - q >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
                __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
                __m128i ct = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));   /* < 0x20 */
                unsigned mk = (unsigned)_mm_movemask_epi8(_mm_or_si128(sp, ct));
                if (!mk) { q += 16; continue; }
                q += __builtin_ctz(mk);
                break;
            }
#endif
            if (end - q >= 8) {
                uint64_t w;
                memcpy(&w, q, 8);
                const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
                uint64_t a = w ^ (ones * '"'), b = w ^ (ones * '\\');
                uint64_t hit = ((a - ones) & ~a) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
                if (!(hit & high)) { q += 8; continue; }
            }
            break;
        }
        /* at a special char (or near the end: byte by byte) */
        if (q >= end || *q == '"') break;
        if (*q == '\\') { has_esc = 1; q += 2; continue; }
        if ((unsigned char)*q < 32) { j->p = q; return syntax(j, "a closing '\"'"); }
        q++;
    }
    if (q > end) q = end;
    if (q >= end) { j->p = end; return syntax(j, "a closing '\"'"); }
    if (!has_esc) {
        *s = j->p; *n = (size_t)(q - j->p); *esc = 0;
        j->p = q + 1;
        return 0;
    }
    char *o = malloc((size_t)(q - j->p) + 1);
    if (!o) { mr_errf(j->e, MR_ENOMEM, "%s: out of memory", j->file); j->failed = 2; return -1; }
    size_t k = 0;
    const char *r = j->p;
    while (r < q) {
        /* the run up to the next backslash at once */
        const char *bs = memchr(r, '\\', (size_t)(q - r));
        size_t run = (size_t)((bs ? bs : q) - r);
        memcpy(o + k, r, run);
        k += run; r += run;
        if (r >= q) break;
        r++;
        char c = *r++;
        switch (c) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = r < q ? hexval(*r) : -1;
                if (h < 0) { free(o); j->p = r; return syntax(j, "4 hex digits after \\u"); }
                cp = cp * 16 + (unsigned)h; r++;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && r + 6 <= q && r[0] == '\\' && r[1] == 'u') {
                unsigned lo = 0; int ok = 1;
                for (int i = 0; i < 4; i++) { int h = hexval(r[2 + i]); if (h < 0) ok = 0; else lo = lo * 16 + (unsigned)h; }
                if (ok && lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); r += 6; }
            }
            k += (size_t)put_utf8(o + k, cp);   /* \uXXXX is 6 chars, UTF-8 at most 4 */
            break;
        }
        default: free(o); j->p = r - 1; return syntax(j, "a valid escape");
        }
    }
    o[k] = 0;
    *s = o; *n = k; *esc = 1;
    j->p = q + 1;
    return 0;
}

static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const uint64_t pow5_u64[23] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL, 1953125ULL, 9765625ULL,
    48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL,
    762939453125ULL, 3814697265625ULL, 19073486328125ULL, 95367431640625ULL, 476837158203125ULL,
    2384185791015625ULL};

/* m / 10^k correctly rounded (round half to even), for 0 < m < 2^64 and
 * 0 <= k <= 22: the mantissas of 16 to 19 digits (scores printed from
 * float32, areas) that the one-rounding path cannot take. m / 10^k =
 * (m 2^s / 5^k) 2^(-s-k): the quotient Q of m 2^s by 5^k (< 2^52) in
 * 128-bit integers, with s chosen so that Q has at least 55 bits, is
 * rounded to 53 bits from its dropped bits and the remainder (the exact
 * rest of the division); the power of two is exact */
static inline double div_pow10_rounded(uint64_t m, int k)
{
    uint64_t D = pow5_u64[k];
    int bm = 64 - __builtin_clzll(m), bd = 64 - __builtin_clzll(D);
    int s = 55 + bd - bm;
    if (s < 0) s = 0;
    unsigned __int128 N = (unsigned __int128)m << s;
    unsigned __int128 Qw = N / D;
    uint64_t R = (uint64_t)(N - Qw * D);
    uint64_t q = (uint64_t)Qw;   /* at most bm + s - bd + 1 <= 64 bits */
    int drop = (64 - __builtin_clzll(q)) - 53;   /* at least 2 */
    uint64_t mant = q >> drop, rem = q & ((1ULL << drop) - 1), half = 1ULL << (drop - 1);
    if (rem > half || (rem == half && (R != 0 || (mant & 1)))) {
        mant++;
        if (mant >> 53) { mant >>= 1; drop++; }
    }
    return ldexp((double)mant, drop - s - k);
}

/* the number at p (end bounds it): 0 and *out past it, or 1 not a number,
 * 2 no digit after '.', 3 no digit in the exponent (*out at the fault) */
static inline int num_core(const char *p, const char *end, double *d, int64_t *iv, int *is_int,
                           const char **out)
{
    const char *start = p;
    int neg = 0;
    if (p < end && *p == '-') { neg = 1; p++; }
    if (p >= end || (unsigned)(*p - '0') > 9) { *out = p; return 1; }
    uint64_t m = 0;
    int digits = 0, exp10 = 0, frac = 0, ex = 0, dropped = 0;
    if (*p == '0') p++;
    else
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); digits++; }
            else { exp10++; dropped = 1; }
            p++;
        }
    if (p < end && *p == '.') {
        frac = 1; p++;
        if (p >= end || (unsigned)(*p - '0') > 9) { *out = p; return 2; }
        while (p < end && (unsigned)(*p - '0') <= 9) {
            if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); digits += m != 0; exp10--; }
            else dropped = 1;
            p++;
        }
    }
    if (p < end && (*p | 0x20) == 'e') {
        ex = 1; p++;
        int eneg = 0, ev = 0;
        if (p < end && (*p == '+' || *p == '-')) { eneg = *p == '-'; p++; }
        if (p >= end || (unsigned)(*p - '0') > 9) { *out = p; return 3; }
        while (p < end && (unsigned)(*p - '0') <= 9) { if (ev < 100000) ev = ev * 10 + (*p - '0'); p++; }
        exp10 += eneg ? -ev : ev;
    }
    *out = p;
    *is_int = 0;
    if (!frac && !ex && digits < 19) {
        *is_int = 1;
        *iv = neg ? -(int64_t)m : (int64_t)m;
    }
    if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
        /* exact operands, one rounding: the correctly rounded value */
        double v = (double)m;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        *d = neg ? -v : v;
        return 0;
    }
    if (!dropped && m && exp10 <= 0 && exp10 >= -22) {
        /* every digit in m (at most 19), a power of ten divided */
        double v = div_pow10_rounded(m, -exp10);
        *d = neg ? -v : v;
        return 0;
    }
    char tmp[128];
    size_t len = (size_t)(p - start);
    if (len < sizeof tmp) {
        memcpy(tmp, start, len);
        tmp[len] = 0;
        *d = strtod(tmp, NULL);
        if (isinf(*d)) return 4;   /* 1e999: beyond double's range */
    } else {
        char *t = malloc(len + 1);
        if (!t) { *d = 0; return 0; }
        memcpy(t, start, len);
        t[len] = 0;
        *d = strtod(t, NULL);
        free(t);
        if (isinf(*d)) return 4;
    }
    return 0;
}

/* the leading run of ASCII digits of the 8 bytes w (little endian: the
 * first byte lowest): its length 0..8; *x gets each byte less '0' */
static inline int digit_run8(uint64_t w, uint64_t *x)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7fULL, high = 0x8080808080808080ULL;
    uint64_t v = w ^ 0x3030303030303030ULL;          /* a digit byte becomes 0..9 */
    uint64_t nd = (((v & lo7) + 0x7676767676767676ULL) | v) & high;   /* high bit: byte >= 10 */
    *x = v;
    return nd ? __builtin_ctzll(nd) >> 3 : 8;
}

/* the value of the first n (1..7) digits of x (bytes 0..9, first byte most
 * significant): the 8-digit multiply-and-shift conversion of the bytes
 * moved up so that the missing ones are leading zeros */
static inline uint64_t digits_value(uint64_t x, int n)
{
    x <<= 8 * (8 - n);
    x = x * 10 + (x >> 8);
    x = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
         (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    return x;
}

/* num_core's common case in a padded buffer: [-]D{1,7}[.D{1,7}] with no
 * exponent and no leading zero before more digits; 0 done (*out past it),
 * -1 not this case (the caller runs num_core, which gives the same value
 * or the error). The digits are read 8 bytes at a time, which may look past
 * end into the padding: a number that would reach past end is left to
 * num_core. */
static inline int num_fast(const char *p, const char *end, double *d, int64_t *iv, int *is_int,
                           const char **out)
{
    const char *q = p;
    int neg = *q == '-';
    q += neg;
    uint64_t w, x, y;
    memcpy(&w, q, 8);
    int n1 = digit_run8(w, &x);
    if (n1 == 0 || n1 == 8 || (n1 > 1 && *q == '0')) return -1;
    uint64_t m = digits_value(x, n1);
    q += n1;
    int n2 = 0;
    if (*q == '.') {
        memcpy(&w, q + 1, 8);
        n2 = digit_run8(w, &y);
        if (n2 == 0 || n2 == 8) return -1;
        static const uint64_t p10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
        m = m * p10[n2] + digits_value(y, n2);   /* below 10^14: exact */
        q += 1 + n2;
    }
    if ((*q | 0x20) == 'e' || q > end) return -1;
    double v = (double)m;
    if (n2) v /= pow10_exact[n2];
    *d = neg ? -v : v;
    *is_int = !n2;
    if (!n2) *iv = neg ? -(int64_t)m : (int64_t)m;
    *out = q;
    return 0;
}

static const char *const NUM_ERR[4] = {"", "a number", "a digit after '.'", "a digit in the exponent"};

/* a number literal that strtod reads as +-inf (1e999): refused like the
 * literals NaN and Infinity, at the number's position */
static int overflow(mr_jr *j, const char *at)
{
    if (j->failed) return -1;
    j->p = at;
    int l, c;
    pos_of(j, &l, &c);
    mr_errf(j->e, MR_EUSER, "line %d, column %d: expected a finite number, found one beyond the range of a double",
            l, c);
    j->failed = 1;
    return -1;
}

int mr_jr_number(mr_jr *j, double *d, int64_t *iv, int *is_int)
{
    ws(j);
    const char *q, *at = j->p;
    if (j->padded && num_fast(j->p, j->end, d, iv, is_int, &q) == 0) { j->p = q; return 0; }
    int r = num_core(j->p, j->end, d, iv, is_int, &q);
    j->p = q;
    if (r == 4) return overflow(j, at);
    if (r) return syntax(j, NUM_ERR[r]);
    return 0;
}

/* the array reader; fixed: *buf is the caller's and cannot grow (-3 when
 * it is full, nothing reported) */
static inline int num_array(mr_jr *j, double **buf, size_t *cap, size_t *n, int fixed)
{
    ws(j);
    if (j->p >= j->end || *j->p != '[') return syntax(j, "'['");
    j->p++;
    size_t k = 0;
    const char *p = j->p, *end = j->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p < end && *p == ']') { j->p = p + 1; *n = 0; return 0; }
#if defined(__SSE2__)
    if (j->padded) {
        /* the common layout ("430.41, 85.6, 1, ...") 16 bytes at a time:
         * the separator after a number is found from a vector compare, so
         * the next number's start does not wait for this one's digits;
         * each number is still read by num_fast, which must end exactly at
         * the separator. Anything else (another layout, a long number,
         * the end near, an error) goes on below from the same number,
         * which then reads it and says what is wrong. */
        const __m128i comma = _mm_set1_epi8(','), close = _mm_set1_epi8(']'), space = _mm_set1_epi8(' ');
        while (end - p >= 16) {
            if (k == *cap) {
                if (fixed) return -3;
                size_t nc = *cap ? *cap * 2 : 64;
                double *nb = realloc(*buf, nc * sizeof(double));
                if (!nb) { mr_errf(j->e, MR_ENOMEM, "%s: out of memory", j->file); j->failed = 2; return -1; }
                *buf = nb; *cap = nc;
            }
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            unsigned cm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
            unsigned cl = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, close));
            unsigned sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space));
            unsigned sep = cm | cl;
            if (!sep) break;
            int at = __builtin_ctz(sep);
            int64_t iv; int ii;
            const char *q;
            if (num_fast(p, end, &(*buf)[k], &iv, &ii, &q) != 0 || q != p + at) break;
            k++;
            if ((cl >> at) & 1) { j->p = p + at + 1; *n = k; return 0; }
            p += at + 1 + ((sp >> (at + 1)) & 1);   /* one space after the comma */
        }
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    }
#endif
    for (;;) {
        if (k == *cap) {
            if (fixed) return -3;
            size_t nc = *cap ? *cap * 2 : 64;
            double *nb = realloc(*buf, nc * sizeof(double));
            if (!nb) { mr_errf(j->e, MR_ENOMEM, "%s: out of memory", j->file); j->failed = 2; return -1; }
            *buf = nb; *cap = nc;
        }
        int64_t iv; int ii;
        const char *q;
        int r = j->padded && num_fast(p, end, &(*buf)[k], &iv, &ii, &q) == 0 ? 0
              : num_core(p, end, &(*buf)[k], &iv, &ii, &q);
        if (r) {
            j->p = q;
            *n = k;
            /* not a number: the caller's message names the element */
            return r == 1 ? -2 : r == 4 ? overflow(j, p) : syntax(j, NUM_ERR[r]);
        }
        k++;
        p = q;
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p < end && *p == ',') {
            p++;
            while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
            continue;
        }
        if (p < end && *p == ']') { j->p = p + 1; *n = k; return 0; }
        j->p = p;
        return syntax(j, "',' or ']'");
    }
}

int mr_jr_num_array(mr_jr *j, double **buf, size_t *cap, size_t *n)
{
    return num_array(j, buf, cap, n, 0);
}

int mr_jr_num_array_into(mr_jr *j, double *dst, size_t cap, size_t *n)
{
    return num_array(j, &dst, &cap, n, 1);
}

int mr_jr_lit(mr_jr *j, int *v)
{
    ws(j);
    size_t left = (size_t)(j->end - j->p);
    if (left >= 4 && !memcmp(j->p, "true", 4)) { j->p += 4; *v = 1; return 0; }
    if (left >= 5 && !memcmp(j->p, "false", 5)) { j->p += 5; *v = 0; return 0; }
    if (left >= 4 && !memcmp(j->p, "null", 4)) { j->p += 4; *v = -1; return 0; }
    return syntax(j, "a value");
}

int mr_jr_next_item(mr_jr *j, int first)
{
    ws(j);
    if (j->p < j->end && *j->p == ']') { j->p++; return 0; }
    if (!first) {
        if (j->p < j->end && *j->p == ',') { j->p++; return 1; }
        return syntax(j, "',' or ']'");
    }
    return 1;
}

int mr_jr_next_key(mr_jr *j, int first, const char **key, size_t *klen)
{
    ws(j);
    if (j->p < j->end && *j->p == '}') { j->p++; return 0; }
    if (!first) {
        if (j->p < j->end && *j->p == ',') j->p++;
        else return syntax(j, "',' or '}'");
    }
    ws(j);
    if (j->p >= j->end || *j->p != '"') return syntax(j, "a key string");
    const char *q = ++j->p;
#if defined(__SSE2__)
    /* a key of up to 15 bytes without a backslash: its closing quote
     * from one compare */
    if (j->end - q >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        unsigned mb = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        if (mq && !(mb & ((mq & -mq) - 1))) q += __builtin_ctz(mq);
        else while (q < j->end && *q != '"') { if (*q == '\\') q++; q++; }
    } else
#endif
    while (q < j->end && *q != '"') { if (*q == '\\') q++; q++; }
    if (q >= j->end) { j->p = j->end; return syntax(j, "a closing '\"'"); }
    *key = j->p; *klen = (size_t)(q - j->p);
    j->p = q + 1;
    if (mr_jr_expect(j, ':')) return -1;
    return 1;
}

/* skip one value; depth-limited to keep the stack bounded */
static int skip_depth(mr_jr *j, int depth)
{
    if (depth > 512) return syntax(j, "less deeply nested JSON");
    int t = mr_jr_peek(j);
    switch (t) {
    case MR_JT_OBJ: {
        j->p++;
        const char *k; size_t kl;
        int r, first = 1;
        while ((r = mr_jr_next_key(j, first, &k, &kl)) == 1) {
            first = 0;
            if (skip_depth(j, depth + 1)) return -1;
        }
        return r;
    }
    case MR_JT_ARR: {
        j->p++;
        int r, first = 1;
        while ((r = mr_jr_next_item(j, first)) == 1) {
            first = 0;
            if (skip_depth(j, depth + 1)) return -1;
        }
        return r;
    }
    case MR_JT_STR: {
        const char *s; size_t n; int esc;
        if (mr_jr_string(j, &s, &n, &esc)) return -1;
        if (esc) free((void *)s);
        return 0;
    }
    case MR_JT_NUM: { double d; int64_t i; int ii; return mr_jr_number(j, &d, &i, &ii); }
    case MR_JT_TRUE: case MR_JT_FALSE: case MR_JT_NULL: { int v; return mr_jr_lit(j, &v); }
    case MR_JT_END: return syntax(j, "a value");
    default: return syntax(j, "a value");
    }
}

int mr_jr_skip(mr_jr *j) { return skip_depth(j, 0); }

int mr_jr_skip_fast(mr_jr *j)
{
    int t = mr_jr_peek(j);
    if (t != MR_JT_ARR && t != MR_JT_OBJ) return mr_jr_skip(j);
    const char *p = j->p, *end = j->end;
    char stack[512];
    int depth = 0;
    while (p < end) {
#if defined(__SSE2__)
        /* 16 bytes at a time to the next bracket or quote (numbers,
         * commas and spaces are most of a skipped part) */
        if (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            /* '[' 0x5b, ']' 0x5d, '{' 0x7b, '}' 0x7d: (c | 0x20) & ~6 is
             * 0x79 for all four (and for 'Y', 'y', '_', 0x7f, which the
             * byte loop below passes over) */
            __m128i br = _mm_cmpeq_epi8(_mm_andnot_si128(_mm_set1_epi8(6), _mm_or_si128(v, _mm_set1_epi8(0x20))),
                                        _mm_set1_epi8(0x79));
            __m128i qu = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
            unsigned mk = (unsigned)_mm_movemask_epi8(_mm_or_si128(br, qu));
            if (!mk) { p += 16; continue; }
            p += __builtin_ctz(mk);
        }
#endif
        char ch = *p++;
        if (ch == '[' || ch == '{') {
            if (depth >= (int)sizeof stack) { j->p = p - 1; return syntax(j, "less deeply nested JSON"); }
            stack[depth++] = ch == '[' ? ']' : '}';
        } else if (ch == ']' || ch == '}') {
            if (!depth || stack[depth - 1] != ch) { j->p = p - 1; return syntax(j, depth ? (stack[depth - 1] == ']' ? "']'" : "'}'") : "a value"); }
            if (--depth == 0) { j->p = p; return 0; }
        } else if (ch == '"') {
            while (p < end && *p != '"') { if (*p == '\\') p++; p++; }
            if (p >= end) break;
            p++;
        }
    }
    j->p = end;
    return syntax(j, "a closing bracket");
}

void mr_jw_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 32) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}
