/* JSON text exactly as Python's json.dumps writes it with its defaults (ensure_ascii=True,
 * separators ", " and ": "), so files read by the seed pipeline's scripts compare byte for byte:
 * non-ASCII as \uXXXX (lowercase hex, surrogate pairs above U+FFFF), \n \r \t \b \f and \" \\
 * escaped, other control characters as \u00XX. */
#ifndef XGD_BASE_PYJSON_H
#define XGD_BASE_PYJSON_H
#include <stdio.h>

/* Write s (UTF-8; invalid bytes become U+FFFD as Python's errors="replace" would) as a JSON string. */
void xgd_pyjson_str(FILE *fp, const char *s);

#endif
