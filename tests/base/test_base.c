/* base layer: dtype conversions, RNG streams, .npy round trip, atomic files, JSON errors. */
#include "test.h"
#include "base/dtype.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/npy.h"
#include "base/rng.h"
#include <stdint.h>

static void test_half(void) {
    /* bf16: round to nearest even at the tie, NaN canonical. */
    CHECK(xgd_f32_to_bf16(1.0f) == 0x3F80);
    float tie; uint32_t u = 0x3F808000u; memcpy(&tie, &u, 4);   /* exactly halfway, even below */
    CHECK(xgd_f32_to_bf16(tie) == 0x3F80);
    u = 0x3F818000u; memcpy(&tie, &u, 4);                        /* halfway, odd below: round up */
    CHECK(xgd_f32_to_bf16(tie) == 0x3F82);
    CHECK(xgd_f32_to_bf16(NAN) == 0x7FC0);
    CHECK(xgd_bf16_to_f32(0xC000) == -2.0f);
    /* f16: exact values, subnormals, overflow, rounding. */
    CHECK(xgd_f32_to_f16(1.0f) == 0x3C00);
    CHECK(xgd_f32_to_f16(65504.0f) == 0x7BFF);
    CHECK(xgd_f32_to_f16(1e6f) == 0x7C00);
    CHECK(xgd_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(xgd_f32_to_f16(ldexpf(1.0f, -24)) == 0x0001);
    CHECK(xgd_f16_to_f32(0xC500) == -5.0f);
    int bad = 0;
    for (uint32_t h = 0; h < 0x7C00; h++) /* every finite positive half survives a round trip */
        if (xgd_f32_to_f16(xgd_f16_to_f32((uint16_t)h)) != h) bad++;
    CHECK(bad == 0);
    CHECK(xgd_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3C00);  /* tie to even */
    CHECK(xgd_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3C02);
}

static void test_rng(void) {
    xgd_rng a, b, c;
    xgd_rng_init(&a, 42, 7);
    xgd_rng_init(&b, 42, 7);
    xgd_rng_init(&c, 42, 8);
    int same = 1, diff = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = xgd_rng_u32(&a), y = xgd_rng_u32(&b), z = xgd_rng_u32(&c);
        same &= x == y;
        diff += x != z;
    }
    CHECK(same);
    CHECK(diff > 95);
    /* uniform mean and normal variance within 4 sigma for 1e5 draws */
    xgd_rng_init(&a, 1, 0);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) { s += xgd_rng_uniform(&a); float n = xgd_rng_normal(&a); s2 += n * n; }
    CHECK_NEAR(s / 1e5, 0.5, 4 * 0.2887 / sqrt(1e5));
    CHECK_NEAR(s2 / 1e5, 1.0, 4 * sqrt(2.0 / 1e5));
}

static void test_npy(const char *dir) {
    char *p = xgd_path_join(dir, "a.npy");
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3};
    CHECK(xgd_npy_write(p, XGD_F32, v, 2, shape) == 0);
    xgd_npy a;
    CHECK(xgd_npy_read(p, &a) == 0);
    CHECK(a.dtype == XGD_F32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    CHECK(a.data && memcmp(a.data, v, sizeof v) == 0);
    xgd_npy_free(&a);
    free(p);
}

static void test_files(const char *dir) {
    char *p = xgd_path_join(dir, "x/y/z.txt");
    char *d = xgd_path_join(dir, "x/y");
    CHECK(xgd_mkdir_p(d) == 0);
    CHECK(xgd_write_file_atomic(p, "hello", 5) == 0);
    char *buf; size_t n;
    CHECK(xgd_read_file(p, &buf, &n) == 0 && n == 5 && memcmp(buf, "hello", 5) == 0);
    free(buf);
    CHECK(xgd_read_file("/nonexistent/file", &buf, &n) == -1);
    CHECK(strstr(xgd_errmsg(), "/nonexistent/file") != NULL);
    char *j = xgd_path_join(dir, "bad.json");
    CHECK(xgd_write_file_atomic(j, "{\n \"a\": 1,\n}", 13) == 0);
    CHECK(xgd_json_load(j) == NULL);
    CHECK(strstr(xgd_errmsg(), "bad.json:3") != NULL);
    free(p); free(d); free(j);
}

int main(void) {
    const char *dir = test_tmpdir("base");
    test_half();
    test_rng();
    test_npy(dir);
    test_files(dir);
    return test_done("base");
}
