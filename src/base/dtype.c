#include "base/dtype.h"
#include <strings.h>

static const struct { const char *st, *torch; size_t size; } g_types[XGD_DTYPE_COUNT] = {
    [XGD_F32] = {"F32", "float32", 4},  [XGD_F16] = {"F16", "float16", 2},
    [XGD_BF16] = {"BF16", "bfloat16", 2}, [XGD_F64] = {"F64", "float64", 8},
    [XGD_I64] = {"I64", "int64", 8},    [XGD_I32] = {"I32", "int32", 4},
    [XGD_I16] = {"I16", "int16", 2},    [XGD_I8] = {"I8", "int8", 1},
    [XGD_U8] = {"U8", "uint8", 1},      [XGD_BOOL] = {"BOOL", "bool", 1},
    [XGD_U16] = {"U16", "uint16", 2},   [XGD_U32] = {"U32", "uint32", 4},
    [XGD_U64] = {"U64", "uint64", 8},
};

size_t xgd_dtype_size(xgd_dtype t) { return (unsigned)t < XGD_DTYPE_COUNT ? g_types[t].size : 0; }
const char *xgd_dtype_st_name(xgd_dtype t) { return (unsigned)t < XGD_DTYPE_COUNT ? g_types[t].st : "?"; }
const char *xgd_dtype_torch_name(xgd_dtype t) { return (unsigned)t < XGD_DTYPE_COUNT ? g_types[t].torch : "?"; }

int xgd_dtype_from_st_name(const char *s, xgd_dtype *out) {
    for (int i = 0; i < XGD_DTYPE_COUNT; i++)
        if (strcmp(s, g_types[i].st) == 0) { *out = (xgd_dtype)i; return 0; }
    return -1;
}

int xgd_dtype_parse(const char *s, xgd_dtype *out) {
    static const struct { const char *name; xgd_dtype t; } alias[] = {
        {"f32", XGD_F32}, {"float32", XGD_F32}, {"float", XGD_F32}, {"fp32", XGD_F32},
        {"bf16", XGD_BF16}, {"bfloat16", XGD_BF16},
        {"f16", XGD_F16}, {"float16", XGD_F16}, {"half", XGD_F16}, {"fp16", XGD_F16},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcasecmp(s, alias[i].name) == 0) { *out = alias[i].t; return 0; }
    return -1;
}

float xgd_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) u = sign | 0x7F800000u | (man << 13);
    else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t xgd_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int32_t exp = (int32_t)((u >> 23) & 0xFF) - 127 + 15;
    uint32_t man = u & 0x7FFFFFu;
    if (((u >> 23) & 0xFF) == 0xFF) /* inf / nan */
        return (uint16_t)(sign | 0x7C00u | (man ? 0x200u | (man >> 13) : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7C00u);
    if (exp <= 0) { /* subnormal or zero, round to nearest even */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
        uint32_t r = man >> shift;
        if (rest > half || (rest == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((uint32_t)exp << 10) | (man >> 13), rest = man & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) r++; /* may carry into exponent: correct */
    return (uint16_t)(sign | r);
}

void xgd_convert_to_f32(float *dst, const void *src, xgd_dtype t, size_t n) {
    switch (t) {
    case XGD_F32: memcpy(dst, src, n * 4); break;
    case XGD_BF16: for (size_t i = 0; i < n; i++) dst[i] = xgd_bf16_to_f32(((const uint16_t *)src)[i]); break;
    case XGD_F16: for (size_t i = 0; i < n; i++) dst[i] = xgd_f16_to_f32(((const uint16_t *)src)[i]); break;
    case XGD_F64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i]; break;
    case XGD_I64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i]; break;
    case XGD_I32: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i]; break;
    case XGD_I16: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int16_t *)src)[i]; break;
    case XGD_I8: for (size_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i]; break;
    case XGD_U8: case XGD_BOOL: for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint8_t *)src)[i]; break;
    case XGD_U16: for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint16_t *)src)[i]; break;
    case XGD_U32: for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint32_t *)src)[i]; break;
    case XGD_U64: for (size_t i = 0; i < n; i++) dst[i] = (float)((const uint64_t *)src)[i]; break;
    default: memset(dst, 0, n * 4); break;
    }
}

void xgd_convert_from_f32(void *dst, xgd_dtype t, const float *src, size_t n) {
    switch (t) {
    case XGD_F32: memcpy(dst, src, n * 4); break;
    case XGD_BF16: for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = xgd_f32_to_bf16(src[i]); break;
    case XGD_F16: for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = xgd_f32_to_f16(src[i]); break;
    case XGD_F64: for (size_t i = 0; i < n; i++) ((double *)dst)[i] = src[i]; break;
    default: break;
    }
}
