#include "base/log.h"
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int xgd_verbosity = 1;

static void vlog(int level, const char *tag, const char *fmt, va_list ap) {
    if (xgd_verbosity < level) return;
    fprintf(stderr, "xgd: %s", tag);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void xgd_info(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog(1, "", fmt, ap); va_end(ap); }
void xgd_warn(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog(0, "warning: ", fmt, ap); va_end(ap); }
void xgd_debug(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vlog(2, "", fmt, ap); va_end(ap); }

double xgd_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int xgd_num_threads(void) {
    const char *s = getenv("XGD_NUM_THREADS");
    if (s && atoi(s) > 0) return atoi(s);
    return omp_get_max_threads();
}

static void draw(xgd_progress *p, int final) {
    double el = xgd_now() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    fprintf(stderr, "\r%s ", p->label);
    if (p->total > 0) {
        int w = 30, fill = (int)((double)w * (double)p->done / (double)p->total);
        fputc('[', stderr);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        double eta = rate > 0 ? (double)(p->total - p->done) / rate : 0;
        fprintf(stderr, "] %lld/%lld %.2f %s/s ETA %.0fs ", (long long)p->done, (long long)p->total, rate, p->unit, eta);
    } else {
        fprintf(stderr, "%lld %.2f %s/s ", (long long)p->done, rate, p->unit);
    }
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

void xgd_progress_start(xgd_progress *p, const char *label, int64_t total, const char *unit) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t0 = p->last_draw = xgd_now();
    p->tty = isatty(2) && xgd_verbosity > 0;
    p->unit = unit ? unit : "it";
}

void xgd_progress_add(xgd_progress *p, int64_t n) {
    p->done += n;
    if (!p->tty) return;
    double t = xgd_now();
    if (t - p->last_draw >= 0.2) { p->last_draw = t; draw(p, 0); }
}

void xgd_progress_end(xgd_progress *p) {
    if (p->tty) draw(p, 1);
}
