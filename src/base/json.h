/* JSON helpers over jansson: load with file:line:column errors, typed getters with defaults and
 * key aliases (config.json files spell the same field several ways). */
#ifndef XGD_BASE_JSON_H
#define XGD_BASE_JSON_H
#include <jansson.h>
#include <stdint.h>

/* Load a JSON file; on error the message names path, line and column. */
json_t *xgd_json_load(const char *path);
/* Parse a JSON text from one JSONL line; on error the message names path and line number. */
json_t *xgd_json_parse_line(const char *text, size_t len, const char *path, long line);

/* The first present, non-null key among a NULL-terminated list, or NULL. */
json_t *xgd_json_get_any(const json_t *obj, const char *key, ...) __attribute__((sentinel));
/* Number/bool/string getters: the value of key, or def when absent or null. */
int64_t xgd_json_int(const json_t *obj, const char *key, int64_t def);
double xgd_json_num(const json_t *obj, const char *key, double def);
int xgd_json_bool(const json_t *obj, const char *key, int def);
const char *xgd_json_str(const json_t *obj, const char *key, const char *def);

#endif
