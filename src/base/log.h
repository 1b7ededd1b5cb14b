/* Logging to stderr and a progress bar that draws only on a terminal (quiet in pipes). */
#ifndef XGD_BASE_LOG_H
#define XGD_BASE_LOG_H
#include <stdint.h>

extern int xgd_verbosity; /* 0 quiet, 1 normal (default), 2 verbose */
void xgd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xgd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xgd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct {
    const char *label;
    int64_t total, done;
    double t0, last_draw;
    int tty;
    const char *unit;
} xgd_progress;
void xgd_progress_start(xgd_progress *p, const char *label, int64_t total, const char *unit);
void xgd_progress_add(xgd_progress *p, int64_t n);
void xgd_progress_end(xgd_progress *p);

/* Monotonic seconds. */
double xgd_now(void);
/* Worker threads for hot loops: XGD_NUM_THREADS, else OpenMP's default. */
int xgd_num_threads(void);

#endif
