/*
 * progress.h — a progress display for long loops (training, evaluation,
 * benchmarks): iterations done / total, rate, elapsed time, ETA and a few
 * named current values such as losses, e.g.
 *   train 120/1000 12% | 3.45 it/s | 0:35 elapsed | ETA 4:15 | loss 0.8123 loss_mask 0.2301
 * On a terminal the line is redrawn in place with '\r' (at most every 0.1 s);
 * otherwise (a log file, a pipe) a plain line is printed every K seconds
 * and/or every K iterations, and always at the end. It writes only to the
 * FILE* the caller gives it (the command line passes stderr); all state is
 * in the struct and the clock is injectable, so tests can drive it.
 *
 * defines: mr_progress, mr_progress_clock, mr_progress_init,
 *          mr_progress_set_clock, mr_progress_set_mode, mr_progress_resume,
 *          mr_progress_set, mr_progress_update, mr_progress_finish,
 *          mr_progress_format, MR_PROGRESS_MAX_VALUES
 */
#ifndef MR_PROGRESS_H
#define MR_PROGRESS_H

#include <stdio.h>
#include <stddef.h>

#define MR_PROGRESS_MAX_VALUES 8

/* seconds on a monotonic clock */
typedef double (*mr_progress_clock)(void *ctx);

typedef struct mr_progress {
    FILE *out;
    char label[32];
    long total;            /* 0: unknown */
    long start;            /* iterations already done when timing began (resume) */
    int tty;               /* redraw in place */
    double every_sec;      /* plain mode: a line at least this often (0: off) */
    long every_iters;      /* plain mode: a line every this many iterations (0: off) */
    double redraw_sec;     /* tty mode: redraw at most this often */
    mr_progress_clock clock;
    void *clock_ctx;
    double t0, t_last;     /* start, and the last time a line was written */
    long done, i_last;     /* iterations done now, and at the last line (-1: none) */
    int drawn;             /* tty: length of the line on screen */
    int nvals;
    char names[MR_PROGRESS_MAX_VALUES][24];
    double vals[MR_PROGRESS_MAX_VALUES];
} mr_progress;

/* Start a display of total iterations (0 if unknown) on out. The mode follows
 * isatty(out): tty redraws every 0.1 s; plain prints every 10 s. */
void mr_progress_init(mr_progress *p, FILE *out, const char *label, long total);
/* Replace the clock (restarts the timing at the clock's current value). */
void mr_progress_set_clock(mr_progress *p, mr_progress_clock fn, void *ctx);
/* Force the mode: tty 1/0; plain-mode intervals (either may be 0 = off). */
void mr_progress_set_mode(mr_progress *p, int tty, double every_sec, long every_iters);
/* The loop starts at iteration start (resuming): the rate counts only the
 * iterations done since. */
void mr_progress_resume(mr_progress *p, long start);
/* Set a named current value shown on the line (first MR_PROGRESS_MAX_VALUES
 * names are kept; later new names are ignored). */
void mr_progress_set(mr_progress *p, const char *name, double value);
/* done iterations are complete; draws or prints when due. */
void mr_progress_update(mr_progress *p, long done);
/* The final line (tty: redrawn and ended with a newline). */
void mr_progress_finish(mr_progress *p);
/* The line for the current state at time now (no '\r' or newline), into buf;
 * returns its length (as snprintf). */
int mr_progress_format(const mr_progress *p, double now, char *buf, size_t n);

#endif
