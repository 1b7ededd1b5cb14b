#include "base/json.h"
#include "base/err.h"
#include "base/fs.h"
#include <stdlib.h>
#include <stdarg.h>

json_t *xgd_json_load(const char *path) {
    /* read the whole file first: jansson's own file reader takes one getc() per byte, a third of
     * the time of loading a 9 MB tokenizer.json */
    char *buf;
    size_t len;
    if (xgd_read_file(path, &buf, &len) != 0) return NULL;
    json_error_t e;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &e);
    free(buf);
    if (!j) xgd_fail("%s:%d:%d: invalid JSON: %s", path, e.line, e.column, e.text);
    return j;
}

json_t *xgd_json_parse_line(const char *text, size_t len, const char *path, long line) {
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) xgd_fail("%s:%ld: invalid JSON (column %d): %s", path, line, e.column, e.text);
    return j;
}

json_t *xgd_json_get_any(const json_t *obj, const char *key, ...) {
    if (!json_is_object(obj)) return NULL;
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        json_t *v = json_object_get(obj, k);
        if (v && !json_is_null(v)) { va_end(ap); return v; }
    }
    va_end(ap);
    return NULL;
}

int64_t xgd_json_int(const json_t *obj, const char *key, int64_t def) {
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    return def;
}

double xgd_json_num(const json_t *obj, const char *key, double def) {
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

int xgd_json_bool(const json_t *obj, const char *key, int def) {
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

const char *xgd_json_str(const json_t *obj, const char *key, const char *def) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : def;
}
