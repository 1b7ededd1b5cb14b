/* The safetensors dtype names. Every name the reference accepts is listed so that a file holding
 * e.g. FP8 scales still validates; only the types with an xgd_dtype can be used as tensors. */
#include "io/io_internal.h"
#include <string.h>

/* In the reference enum's declaration order (the rank): BOOL < F4 < ... < U64. */
static const xgd_st_dtype_info g_st_dtypes[] = {
    {"BOOL", 8, 0, XGD_BOOL},       {"F4", 4, 1, -1},           {"F6_E2M3", 6, 2, -1},
    {"F6_E3M2", 6, 3, -1},          {"U8", 8, 4, XGD_U8},       {"I8", 8, 5, XGD_I8},
    {"F8_E5M2", 8, 6, -1},          {"F8_E4M3", 8, 7, -1},      {"F8_E8M0", 8, 8, -1},
    {"F8_E4M3FNUZ", 8, 9, -1},      {"F8_E5M2FNUZ", 8, 10, -1}, {"I16", 16, 11, XGD_I16},
    {"U16", 16, 12, XGD_U16},       {"F16", 16, 13, XGD_F16},   {"BF16", 16, 14, XGD_BF16},
    {"I32", 32, 15, XGD_I32},       {"U32", 32, 16, XGD_U32},   {"F32", 32, 17, XGD_F32},
    {"C64", 64, 18, -1},            {"F64", 64, 19, XGD_F64},   {"I64", 64, 20, XGD_I64},
    {"U64", 64, 21, XGD_U64},
};
#define N_ST_DTYPES (sizeof g_st_dtypes / sizeof g_st_dtypes[0])

const xgd_st_dtype_info *xgd_st_dtype_lookup(const char *name) {
    for (size_t i = 0; i < N_ST_DTYPES; i++)
        if (strcmp(name, g_st_dtypes[i].name) == 0) return &g_st_dtypes[i];
    return NULL;
}

int xgd_st_dtype_rank(xgd_dtype t) {
    for (size_t i = 0; i < N_ST_DTYPES; i++)
        if (g_st_dtypes[i].xgd == (int)t) return g_st_dtypes[i].rank;
    return -1;
}
