/* Lists of strings given as one argument ("en,de,fr"). */
#ifndef XGD_BASE_STRLIST_H
#define XGD_BASE_STRLIST_H
#include <stddef.h>

/* s split at any byte of seps (e.g. "," or ", ") into new strings, empty items dropped: *n items
 * and a NULL after them. Free with xgd_free_list. */
char **xgd_split_list(const char *s, const char *seps, int *n);
/* Free a NULL-terminated list of strings (NULL is fine). */
void xgd_free_list(char **v);

#endif
