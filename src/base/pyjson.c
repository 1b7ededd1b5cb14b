#include "base/pyjson.h"
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void xgd_pyjson_double(char buf[32], double x) {
    if (isnan(x)) { strcpy(buf, "NaN"); return; }
    if (isinf(x)) { strcpy(buf, x < 0 ? "-Infinity" : "Infinity"); return; }
    /* shortest %.{p}e that reads back equal: its digits and decimal exponent */
    char e[40];
    for (int p = 0; p <= 16; p++) {
        snprintf(e, sizeof e, "%.*e", p, x);
        if (strtod(e, NULL) == x) break;
    }
    char digits[24];
    int nd = 0, neg = e[0] == '-';
    const char *s = e + neg;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') digits[nd++] = *s;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int decpt = exp10 + 1;   /* value = 0.digits * 10^decpt */
    char *o = buf;
    if (neg) *o++ = '-';
    if (decpt > -4 && decpt <= 16) {   /* Python's float_repr_style 'short' switch points */
        if (decpt <= 0) {
            o += sprintf(o, "0.");
            for (int i = 0; i < -decpt; i++) *o++ = '0';
            o += sprintf(o, "%s", digits);
        } else if (decpt >= nd) {
            o += sprintf(o, "%s", digits);
            for (int i = nd; i < decpt; i++) *o++ = '0';
            o += sprintf(o, ".0");
        } else {
            o += sprintf(o, "%.*s.%s", decpt, digits, digits + decpt);
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) o += sprintf(o, ".%s", digits + 1);
        sprintf(o, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    }
}

void xgd_pyjson_value(FILE *fp, const json_t *v) {
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        fputc('{', fp);
        json_object_foreach((json_t *)v, k, x) {
            if (!first) fputs(", ", fp);
            first = 0;
            xgd_pyjson_str(fp, k);
            fputs(": ", fp);
            xgd_pyjson_value(fp, x);
        }
        fputc('}', fp);
        break;
    }
    case JSON_ARRAY:
        fputc('[', fp);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) fputs(", ", fp);
            xgd_pyjson_value(fp, json_array_get(v, i));
        }
        fputc(']', fp);
        break;
    case JSON_STRING: xgd_pyjson_str(fp, json_string_value(v)); break;
    case JSON_INTEGER: fprintf(fp, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: xgd_pyjson_double(num, json_real_value(v)); fputs(num, fp); break;
    case JSON_TRUE: fputs("true", fp); break;
    case JSON_FALSE: fputs("false", fp); break;
    default: fputs("null", fp); break;
    }
}
