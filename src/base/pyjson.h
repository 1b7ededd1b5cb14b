/* JSON text exactly as Python's json.dumps writes it with its defaults (ensure_ascii=True,
 * separators ", " and ": "), so files read by the seed pipeline's scripts compare byte for byte:
 * non-ASCII as \uXXXX (lowercase hex, surrogate pairs above U+FFFF), \n \r \t \b \f and \" \\
 * escaped, other control characters as \u00XX. */
#ifndef XGD_BASE_PYJSON_H
#define XGD_BASE_PYJSON_H
#include <stdio.h>

/* Write s (UTF-8; invalid bytes become U+FFFD as Python's errors="replace" would) as a JSON string. */
void xgd_pyjson_str(FILE *fp, const char *s);

/* Python's repr of a float, which json.dumps uses: the shortest digits that read back to the same
 * double, fixed notation for exponents -4..15 ("0.5", "1.0", "0.0001"), else "1e-05", "1.5e+16";
 * "NaN", "Infinity", "-Infinity" as json.dumps writes them. buf needs 32 bytes. */
void xgd_pyjson_double(char buf[32], double x);

struct json_t;
/* Write a jansson value as json.dumps would after json.loads: objects in their (insertion) order,
 * strings as xgd_pyjson_str, integers in decimal, reals as xgd_pyjson_double. */
void xgd_pyjson_value(FILE *fp, const struct json_t *v);

#endif
