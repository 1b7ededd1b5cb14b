/* Input side of the metrics: the folder's files, their language, their JSONL lines. */
#include "eval/metrics.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <stdlib.h>
#include <string.h>

/* The seed's glob("*.json") in a folder, sorted; an empty folder is an error (nothing to measure). */
int xgd_metrics_list_files(const char *dir, char ***files, size_t *n) {
    static const char *const sfx[] = {".json", NULL};
    if (xgd_list_files(dir, sfx, files, n) != 0) return -1;
    if (!*n) return xgd_fail("%s: no *.json files in this folder", dir);
    return 0;
}

/* pathlib's stem drops the last suffix only: "a.b.json" -> "a.b"; then str.split("_")[-1]. */
char *xgd_metrics_language(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t stem_len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    const char *start = base;
    for (const char *p = base; p < base + stem_len; p++)
        if (*p == '_') start = p + 1;
    size_t n = (size_t)(base + stem_len - start);
    char *s = xgd_malloc(n + 1);
    memcpy(s, start, n);
    s[n] = 0;
    return s;
}

