/* Positions: RoPE inverse frequencies (default, linear, llama3 with the hf-spec §2.c test values,
 * dynamic NTK), the rotation in both conventions (forward against the formula, backward by
 * finite differences and as the inverse rotation), ALiBi slopes (hf-spec §2.b vectors, incl.
 * non-power-of-two head counts) and T5 relative-position buckets (hf-spec §2.e thresholds). */
#include "ops_check.h"
#include "ops/ops.h"

static void test_inv_freq(void) {
    float inv[64], sc[64];
    xgd_rope_inv_freq(inv, 128, 500000.0, NULL);
    for (int i = 0; i < 64; i++) CHECK_NEAR(inv[i], 1.0 / pow(500000.0, 2.0 * i / 128), 2e-7 * inv[i]);
    CHECK_NEAR(inv[29], 2.6160993e-3, 1e-9);
    CHECK_NEAR(inv[63], 2.4551408e-6, 1e-12);
    xgd_rope_scaling l3 = {.type = XGD_ROPE_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4,
                           .original_max_position = 8192};
    xgd_rope_inv_freq(sc, 128, 500000.0, &l3);
    for (int i = 0; i <= 28; i++) CHECK(sc[i] == inv[i]);
    for (int i = 29; i <= 34; i++) CHECK_MSG(sc[i] < inv[i] && sc[i] > inv[i] / 8, "llama3 i=%d smoothed", i);
    for (int i = 35; i < 64; i++) CHECK_NEAR(sc[i], inv[i] / 8, 1e-7 * inv[i]);
    CHECK_NEAR(sc[29], 2.1665708e-3, 1e-9);
    CHECK_NEAR(sc[63], 3.0689260e-7, 1e-13);
    xgd_rope_scaling lin = {.type = XGD_ROPE_LINEAR, .factor = 4};
    xgd_rope_inv_freq(sc, 128, 500000.0, &lin);
    CHECK_NEAR(sc[10], inv[10] / 4, 1e-7 * inv[10]);
    xgd_rope_scaling dyn = {.type = XGD_ROPE_DYNAMIC, .factor = 2, .original_max_position = 2048};
    xgd_rope_inv_freq(sc, 64, 10000.0, &dyn);
    float d2[32];
    xgd_rope_inv_freq(d2, 64, 10000.0, NULL);
    CHECK(memcmp(sc, d2, sizeof d2) == 0);
    xgd_rope_inv_freq_dynamic(sc, 64, 10000.0, &dyn, 1000);  /* below max positions: unchanged */
    CHECK(memcmp(sc, d2, sizeof d2) == 0);
    xgd_rope_inv_freq_dynamic(sc, 64, 10000.0, &dyn, 4096);  /* theta' = theta*(2*2-1)^(64/62) */
    double th = 10000.0 * pow(3.0, 64.0 / 62.0);
    CHECK_NEAR(sc[5], 1.0 / pow(th, 10.0 / 64), 2e-7 * sc[5]);
    CHECK(sc[0] == 1.0f);
}

typedef struct { float *x, *y, *w, *inv; int32_t *pos; int64_t N; int nh, hd, il; } rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    memcpy(c->y, c->x, (size_t)(c->N * c->nh * c->hd) * sizeof(float));
    xgd_rope(c->y, c->pos, c->N, c->nh, c->hd, c->inv, c->il);
    return t_wsum(c->w, c->y, c->N * c->nh * c->hd);
}

static void test_rope(void) {
    /* convention check on a unit vector: hd=4, position 1 */
    float inv[2] = {0.5f, 0.25f}, v[4] = {1, 0, 0, 0};
    int32_t p1 = 1;
    xgd_rope(v, &p1, 1, 1, 4, inv, 0);
    CHECK_NEAR(v[0], cos(0.5), 1e-7); CHECK_NEAR(v[2], sin(0.5), 1e-7); CHECK(v[1] == 0 && v[3] == 0);
    float u[4] = {1, 0, 0, 0};
    xgd_rope(u, &p1, 1, 1, 4, inv, 1);
    CHECK_NEAR(u[0], cos(0.5), 1e-7); CHECK_NEAR(u[1], sin(0.5), 1e-7); CHECK(u[2] == 0 && u[3] == 0);

    const int64_t N = 5;
    const int nh = 3, hd = 16;
    for (int il = 0; il < 2; il++) {
        rope_ctx c = {t_randn(N * nh * hd, 1.0f), t_zeros(N * nh * hd), t_randn(N * nh * hd, 1.0f), t_zeros(hd / 2),
                      malloc(N * sizeof(int32_t)), N, nh, hd, il};
        xgd_rope_inv_freq(c.inv, hd, 10000.0, NULL);
        int32_t posv[5] = {0, 1, 7, 100, 4095};
        memcpy(c.pos, posv, sizeof posv);
        rope_loss(&c);
        double worst = 0;
        for (int64_t n = 0; n < N; n++)
            for (int h = 0; h < nh; h++)
                for (int i = 0; i < hd / 2; i++) {
                    const float *x = c.x + (n * nh + h) * hd;
                    const float *y = c.y + (n * nh + h) * hd;
                    int i1 = il ? 2 * i : i, i2 = il ? 2 * i + 1 : i + hd / 2;
                    double a = (double)((float)c.pos[n] * c.inv[i]);   /* angle is fp32 as in HF */
                    double r1 = x[i1] * cos(a) - x[i2] * sin(a), r2 = x[i2] * cos(a) + x[i1] * sin(a);
                    worst = fmax(worst, fmax(fabs(r1 - y[i1]), fabs(r2 - y[i2])));
                }
        CHECK_MSG(worst <= 2e-6, "rope interleaved=%d forward max diff %.3g", il, worst);
        /* backward: dx = R(-a)·dy, accumulate-free in place; FD of L = sum(w·rope(x)) */
        float *g = malloc((size_t)(N * nh * hd) * sizeof(float));
        memcpy(g, c.w, (size_t)(N * nh * hd) * sizeof(float));
        xgd_rope_backward(g, c.pos, N, nh, hd, c.inv, il);
        CHECK_GRAD(il ? "rope interleaved dx" : "rope dx", rope_loss, &c, c.x, g, N * nh * hd, 1e-2f);
        /* inverse: backward(forward(x)) == x (fresh forward: FD left y at a perturbed x) */
        rope_loss(&c);
        memcpy(g, c.y, (size_t)(N * nh * hd) * sizeof(float));
        xgd_rope_backward(g, c.pos, N, nh, hd, c.inv, il);
        CHECK_MSG(t_maxdiff(g, c.x, N * nh * hd) < 1e-5, "rope round trip %.3g", t_maxdiff(g, c.x, N * nh * hd));
        free(g); free(c.x); free(c.y); free(c.w); free(c.inv); free(c.pos);
    }
}

static void test_alibi(void) {
    float s[32];
    xgd_alibi_slopes(s, 16);
    /* torch raises the fp32-rounded base to integer powers in fp32, so slopes carry the base's
     * rounding (k=16: 0.00390624884, not 2^-8): 1e-6 relative to the exact powers of two */
    for (int k = 1; k <= 16; k++) CHECK_NEAR(s[k - 1], pow(2.0, -0.5 * k), 1e-6 * s[k - 1]);
    CHECK_NEAR(s[0], 0.70710678, 1e-7);
    CHECK_NEAR(s[15], 0.00390624884, 1e-11);   /* torch 1.13's value */
    xgd_alibi_slopes(s, 12);
    for (int k = 1; k <= 8; k++) CHECK_NEAR(s[k - 1], pow(2.0, -k), 1e-9);
    CHECK_NEAR(s[8], 0.70710678, 1e-7); CHECK_NEAR(s[9], 0.35355339, 1e-7);
    CHECK_NEAR(s[10], 0.1767767, 1e-7); CHECK_NEAR(s[11], 0.088388348, 1e-8);
    xgd_alibi_slopes(s, 32);
    CHECK_NEAR(s[0], 0.84089642, 1e-7);
    for (int k = 1; k <= 32; k++) CHECK_NEAR(s[k - 1], pow(2.0, -0.25 * k), 1e-6 * s[k - 1]);
    xgd_alibi_slopes(s, 6);   /* p = 4: 4^-k, then 2^-1, 2^-3 */
    const double want6[6] = {0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125};
    for (int h = 0; h < 6; h++) CHECK_NEAR(s[h], want6[h], 1e-12);
}

static void test_t5_bucket(void) {
    /* bidirectional, magnitude n: first n reaching buckets 8..15 */
    const int bi_n[8] = {8, 12, 16, 23, 32, 46, 64, 91};
    for (int b = 8; b <= 15; b++) {
        int n = bi_n[b - 8];
        CHECK_MSG(xgd_t5_bucket(-n, 1, 32, 128) == b, "bidir rel=-%d -> %d, want %d", n, xgd_t5_bucket(-n, 1, 32, 128), b);
        CHECK(xgd_t5_bucket(n, 1, 32, 128) == b + 16);
        CHECK_MSG(xgd_t5_bucket(-(n - 1), 1, 32, 128) == b - 1, "bidir rel=-%d", n - 1);
    }
    for (int n = 0; n < 8; n++) { CHECK(xgd_t5_bucket(-n, 1, 32, 128) == n); CHECK(xgd_t5_bucket(n, 1, 32, 128) == (n ? 16 + n : 0)); }
    CHECK(xgd_t5_bucket(-1000, 1, 32, 128) == 15);
    CHECK(xgd_t5_bucket(1000, 1, 32, 128) == 31);
    /* causal: future keys are bucket 0; past distance n */
    const int ca_n[16] = {16, 19, 21, 24, 27, 31, 35, 40, 46, 52, 59, 67, 77, 87, 99, 113};
    for (int b = 16; b <= 31; b++) {
        int n = ca_n[b - 16];
        CHECK_MSG(xgd_t5_bucket(-n, 0, 32, 128) == b, "causal rel=-%d -> %d, want %d", n, xgd_t5_bucket(-n, 0, 32, 128), b);
        CHECK_MSG(xgd_t5_bucket(-(n - 1), 0, 32, 128) == b - 1, "causal rel=-%d", n - 1);
    }
    for (int n = 0; n < 16; n++) CHECK(xgd_t5_bucket(-n, 0, 32, 128) == n);
    CHECK(xgd_t5_bucket(5, 0, 32, 128) == 0);
    CHECK(xgd_t5_bucket(-5000, 0, 32, 128) == 31);
}

int main(void) {
    xgd_rng_init(&t_rng, 7, 0);
    test_inv_freq();
    test_rope();
    test_alibi();
    test_t5_bucket();
    return test_done("ops/position");
}
