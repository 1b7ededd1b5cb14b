#include "interp/report.h"
#include "base/err.h"
#include "base/fs.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *xgd_jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

int xgd_json_write(const char *path, const json_t *root) {
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s) return xgd_fail("%s: cannot serialise the report", path);
    size_t n = strlen(s);
    s = xgd_realloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = 0;
    int rc = xgd_write_file_atomic(path, s, n + 1);
    free(s);
    return rc;
}

/* Replace {lang} and {LANG} (upper case) in pattern. */
char *xgd_expand_lang(const char *pattern, const char *lang) {
    size_t cap = strlen(pattern) * (strlen(lang) + 1) + 1, n = 0; /* each byte at most one lang */
    char *s = xgd_malloc(cap);
    for (const char *p = pattern; *p;) {
        int up = !strncmp(p, "{LANG}", 6);
        if (up || !strncmp(p, "{lang}", 6)) {
            for (const char *q = lang; *q; q++) s[n++] = up ? (char)toupper((unsigned char)*q) : *q;
            p += 6;
        } else s[n++] = *p++;
    }
    s[n] = 0;
    return s;
}
