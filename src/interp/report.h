/* Output helpers shared by the explanation commands: JSON numbers that may be NaN (written as
 * null), atomic JSON files, and paths inside an output folder. */
#ifndef XGD_INTERP_REPORT_H
#define XGD_INTERP_REPORT_H
#include <jansson.h>

/* A JSON real, or null when v is not finite (JSON has no NaN). */
json_t *xgd_jreal(double v);
/* Write root (indented, keys in insertion order) to path atomically. */
int xgd_json_write(const char *path, const json_t *root);
/* dir/name as a new string. */
char *xgd_out_path(const char *dir, const char *name);

/* pattern with {lang} replaced by lang and {LANG} by its upper case, as a new string. */
char *xgd_expand_lang(const char *pattern, const char *lang);
/* "a,b,c" as a NULL-terminated list of new strings (empty items dropped); free with xgd_free_list. */
char **xgd_split_list(const char *s, int *n);
void xgd_free_list(char **v);

#endif
