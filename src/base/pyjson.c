#include "base/pyjson.h"
#include <stdint.h>

/* Decode one UTF-8 sequence at s; returns its length, or 1 with *cp = U+FFFD if invalid. */
static int utf8_next(const unsigned char *s, uint32_t *cp) {
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 1) { *cp = c; return 1; }
    if (n == 0) { *cp = 0xFFFD; return 1; }
    uint32_t v = c & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) { *cp = 0xFFFD; return 1; }
    *cp = v;
    return n;
}

void xgd_pyjson_str(FILE *fp, const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', fp);
    while (*s) {
        uint32_t cp;
        s += utf8_next(s, &cp);
        switch (cp) {
        case '"': fputs("\\\"", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\r': fputs("\\r", fp); break;
        case '\t': fputs("\\t", fp); break;
        case '\b': fputs("\\b", fp); break;
        case '\f': fputs("\\f", fp); break;
        default:
            /* Python escapes everything outside ' '..'~' (DEL included) */
            if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) fprintf(fp, "\\u%04x", cp);
            else if (cp < 0x7F) fputc((int)cp, fp);
            else {
                uint32_t v = cp - 0x10000;
                fprintf(fp, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            }
        }
    }
    fputc('"', fp);
}
