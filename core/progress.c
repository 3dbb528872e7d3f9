/*
 * progress.c — the progress display (see progress.h).
 */
#include "core/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static double monotonic_seconds(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mr_progress_init(mr_progress *p, FILE *out, const char *label, long total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total > 0 ? total : 0;
    p->tty = out && isatty(fileno(out));
    p->every_sec = 10.0;
    p->redraw_sec = 0.1;
    p->clock = monotonic_seconds;
    p->t0 = p->t_last = p->clock(NULL);
    p->i_last = -1;
}

void mr_progress_set_clock(mr_progress *p, mr_progress_clock fn, void *ctx)
{
    p->clock = fn ? fn : monotonic_seconds;
    p->clock_ctx = ctx;
    p->t0 = p->t_last = p->clock(ctx);
}

void mr_progress_set_mode(mr_progress *p, int tty, double every_sec, long every_iters)
{
    p->tty = tty;
    p->every_sec = every_sec > 0 ? every_sec : 0;
    p->every_iters = every_iters > 0 ? every_iters : 0;
}

void mr_progress_resume(mr_progress *p, long start)
{
    p->start = p->done = start;
    p->t0 = p->t_last = p->clock(p->clock_ctx);
}

void mr_progress_set(mr_progress *p, const char *name, double value)
{
    for (int i = 0; i < p->nvals; i++)
        if (!strcmp(p->names[i], name)) { p->vals[i] = value; return; }
    if (p->nvals == MR_PROGRESS_MAX_VALUES) return;
    snprintf(p->names[p->nvals], sizeof p->names[0], "%s", name);
    p->vals[p->nvals++] = value;
}

/* m:ss, or h:mm:ss from an hour */
static void fmt_dur(char *buf, size_t n, double sec)
{
    if (!(sec >= 0)) sec = 0;
    if (sec > 359999999.0) sec = 359999999.0;
    long s = (long)(sec + 0.5);
    if (s >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

int mr_progress_format(const mr_progress *p, double now, char *buf, size_t n)
{
    char el[32], eta[32], rate[32];
    double dt = now - p->t0;
    long did = p->done - p->start;
    double r = dt > 0 && did > 0 ? (double)did / dt : 0;
    if (r <= 0) snprintf(rate, sizeof rate, "? it/s");
    else if (r >= 1) snprintf(rate, sizeof rate, "%.2f it/s", r);
    else snprintf(rate, sizeof rate, "%.2f s/it", 1.0 / r);
    fmt_dur(el, sizeof el, dt);
    size_t used = 0;
    int k;
#define ADD(...) do { k = snprintf(buf + used, used < n ? n - used : 0, __VA_ARGS__); used += (size_t)(k > 0 ? k : 0); } while (0)
    if (n) buf[0] = 0;
    ADD("%s%s", p->label, p->label[0] ? " " : "");
    if (p->total > 0) {
        ADD("%ld/%ld %d%%", p->done, p->total, (int)(100.0 * (double)p->done / (double)p->total));
        if (p->done >= p->total) snprintf(eta, sizeof eta, "done");
        else if (r > 0) {
            char left[24];
            fmt_dur(left, sizeof left, (double)(p->total - p->done) / r);
            snprintf(eta, sizeof eta, "ETA %s", left);
        } else snprintf(eta, sizeof eta, "ETA ?");
        ADD(" | %s | %s elapsed | %s", rate, el, eta);
    } else {
        ADD("%ld | %s | %s elapsed", p->done, rate, el);
    }
    for (int i = 0; i < p->nvals; i++) ADD("%s%s %.4g", i ? " " : " | ", p->names[i], p->vals[i]);
#undef ADD
    return (int)used;
}

/* Write the current line: in place on a terminal, as a new line otherwise. */
static void draw(mr_progress *p, double now)
{
    char line[512];
    int len = mr_progress_format(p, now, line, sizeof line);
    if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    if (p->tty) {
        int pad = p->drawn > len ? p->drawn - len : 0;
        fprintf(p->out, "\r%s%*s", line, pad, "");
        p->drawn = len;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->t_last = now;
    p->i_last = p->done;
}

void mr_progress_update(mr_progress *p, long done)
{
    p->done = done;
    if (!p->out) return;
    double now = p->clock(p->clock_ctx);
    int due;
    if (p->tty)
        due = p->i_last < 0 || now - p->t_last >= p->redraw_sec || (p->total > 0 && done >= p->total);
    else
        due = (p->every_iters > 0 && done - (p->i_last < 0 ? p->start : p->i_last) >= p->every_iters) ||
              (p->every_sec > 0 && now - p->t_last >= p->every_sec) ||
              (p->total > 0 && done >= p->total && p->i_last != done);
    if (due) draw(p, now);
}

void mr_progress_finish(mr_progress *p)
{
    if (!p->out) return;
    double now = p->clock(p->clock_ctx);
    if (p->tty) {
        draw(p, now);
        fputc('\n', p->out);
        fflush(p->out);
        p->drawn = 0;
    } else if (p->i_last != p->done) {
        draw(p, now);
    }
}
