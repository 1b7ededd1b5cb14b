#include "base/strlist.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

char **xgd_split_list(const char *s, const char *seps, int *n) {
    char *dup = xgd_strdup(s), *save = NULL;
    char **v = xgd_malloc(sizeof(char *) * (strlen(s) + 2));   /* at most one item per two bytes, plus NULL */
    *n = 0;
    for (char *t = strtok_r(dup, seps, &save); t; t = strtok_r(NULL, seps, &save)) v[(*n)++] = xgd_strdup(t);
    v[*n] = NULL;
    free(dup);
    return v;
}

void xgd_free_list(char **v) {
    for (int i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}
