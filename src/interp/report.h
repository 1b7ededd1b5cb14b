/* Output helpers shared by the explanation commands: JSON numbers that may be NaN (written as
 * null), atomic JSON files, and per-language path patterns. */
#ifndef XGD_INTERP_REPORT_H
#define XGD_INTERP_REPORT_H
#include <jansson.h>

/* A JSON real, or null when v is not finite (JSON has no NaN). */
json_t *xgd_jreal(double v);
/* Write root (indented, keys in insertion order) to path atomically. */
int xgd_json_write(const char *path, const json_t *root);

/* pattern with {lang} replaced by lang and {LANG} by its upper case, as a new string. */
char *xgd_expand_lang(const char *pattern, const char *lang);

#endif
