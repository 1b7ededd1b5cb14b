/* The own f32 GEMM (linear_gemm.c) directly, at the edges of its blocking: M around the 12-row tile
 * and the 576-row unit, N around the 32-column panel and the column blocks, K around the one-block
 * limit (768) and the 384-value K blocks, and the 16 MB limit on packed x (K in chunks), f32/bf16/f16 weights in both layouts, beta
 * 0 and 1, with and without bias, against a double-precision reference (per output |y - ref| <=
 * 1e-5 * sum|x*w| + 1e-6). And its promise that the result does not depend on the thread count or
 * schedule: one thread and two give the same bits, and two callers at once each get the product.
 * Skipped where the CPU lacks AVX-512 (the kernel's only target; linear.c falls back to sgemm). */
#include "ops_check.h"
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "ops/linear_internal.h"
#include <pthread.h>
#include <string.h>

/* weight stored in dtype dt and layout dot (1: (N,K), 0: (K,N)); wide = its logical (N,K) values */
static void *make_weight(xgd_dtype dt, int dot, int64_t N, int64_t K, float *wide) {
    void *w = malloc((size_t)(N * K) * xgd_dtype_size(dt));
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) {
            const int64_t s = dot ? o * K + k : k * N + o;
            float v = 2.0f * xgd_rng_uniform(&t_rng) - 1.0f;
            if (dt == XGD_BF16) { uint16_t h = xgd_f32_to_bf16(v); ((uint16_t *)w)[s] = h; v = xgd_bf16_to_f32(h); }
            else if (dt == XGD_F16) { uint16_t h = xgd_f32_to_f16(v); ((uint16_t *)w)[s] = h; v = xgd_f16_to_f32(h); }
            else ((float *)w)[s] = v;
            wide[o * K + k] = v;
        }
    return w;
}

static void check_case(xgd_dtype dt, int dot, int64_t M, int64_t N, int64_t K, float beta, int with_bias) {
    float *wide = malloc((size_t)(N * K) * sizeof(float));
    void *w = make_weight(dt, dot, N, K, wide);
    float *x = t_randu(M * K, 1.0f), *y0 = t_randu(M * N, 1.0f), *b = with_bias ? t_randu(N, 1.0f) : NULL;
    float *y = malloc((size_t)(M * N) * sizeof(float));
    memcpy(y, y0, (size_t)(M * N) * sizeof(float));
    xgd_matmul_gemm(y, x, M, w, dt, N, K, dot, beta, b);
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t o = 0; o < N; o++) {
            double s = beta * y0[m * N + o] + (b ? b[o] : 0), a = fabs(beta * y0[m * N + o]) + (b ? fabs(b[o]) : 0);
            for (int64_t k = 0; k < K; k++) {
                s += (double)x[m * K + k] * wide[o * K + k];
                a += fabs((double)x[m * K + k] * wide[o * K + k]);
            }
            const double e = fabs(y[m * N + o] - s) / (1e-5 * a + 1e-6);
            if (e > worst) worst = e;
        }
    CHECK_MSG(worst <= 1.0, "gemm %s %s M=%lld N=%lld K=%lld beta=%g bias=%d: error %.2f of tolerance",
              xgd_dtype_st_name(dt), dot ? "dot" : "axpy", (long long)M, (long long)N, (long long)K, beta, with_bias, worst);
    free(wide); free(w); free(x); free(y0); free(b); free(y);
}

/* one thread and two: identical bits */
static void check_threads(int dot, int64_t M, int64_t N, int64_t K) {
    float *wide = malloc((size_t)(N * K) * sizeof(float));
    void *w = make_weight(XGD_F32, dot, N, K, wide);
    float *x = t_randu(M * K, 1.0f), *b = t_randu(N, 1.0f);
    float *y1 = malloc((size_t)(M * N) * sizeof(float)), *y2 = malloc((size_t)(M * N) * sizeof(float));
    setenv("XGD_NUM_THREADS", "1", 1);
    xgd_matmul_gemm(y1, x, M, w, XGD_F32, N, K, dot, 0.0f, b);
    setenv("XGD_NUM_THREADS", "2", 1);
    xgd_matmul_gemm(y2, x, M, w, XGD_F32, N, K, dot, 0.0f, b);
    unsetenv("XGD_NUM_THREADS");
    CHECK_MSG(memcmp(y1, y2, (size_t)(M * N) * sizeof(float)) == 0, "gemm %s M=%lld N=%lld K=%lld: 1 and 2 threads differ",
              dot ? "dot" : "axpy", (long long)M, (long long)N, (long long)K);
    free(wide); free(w); free(x); free(b); free(y1); free(y2);
}

/* two products at once from two threads of the program (each with its own OpenMP team): the
 * scratch buffers and the team barrier are per caller, so both must equal the same product alone */
typedef struct { const float *x, *w, *b; float *y; int64_t M, N, K; } job;

static void *run_job(void *p) {
    job *j = p;
    for (int r = 0; r < 20; r++) xgd_matmul_gemm(j->y, j->x, j->M, j->w, XGD_F32, j->N, j->K, 1, 0.0f, j->b);
    return NULL;
}

static void check_concurrent(void) {
    const int64_t M = 40, N = 300, K = 500;
    float *wide = malloc((size_t)(N * K) * sizeof(float));
    void *w = make_weight(XGD_F32, 1, N, K, wide);
    float *x = t_randu(M * K, 1.0f), *b = t_randu(N, 1.0f), *ref = malloc((size_t)(M * N) * sizeof(float));
    xgd_matmul_gemm(ref, x, M, w, XGD_F32, N, K, 1, 0.0f, b);
    job jobs[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = (job){x, w, b, malloc((size_t)(M * N) * sizeof(float)), M, N, K};
        pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(memcmp(jobs[i].y, ref, (size_t)(M * N) * sizeof(float)) == 0, "gemm: concurrent caller %d differs", i);
        free(jobs[i].y);
    }
    free(wide); free(w); free(x); free(b); free(ref);
}

int main(void) {
    if (!xgd_cpu_avx512()) {
        printf("SKIP: the own GEMM needs AVX-512 (xgd_linear uses OpenBLAS sgemm here)\n");
        return 77;
    }
    xgd_rng_init(&t_rng, 7, 0);
    const xgd_dtype dts[3] = {XGD_F32, XGD_BF16, XGD_F16};
    /* tile and panel edges; K in one block up to 768, then in equal blocks of at most 384 (K = 769:
     * 272 + 272 + 225; 800: 272 + 272 + 256) */
    const int64_t shapes[8][3] = {{12, 32, 16}, {13, 33, 17}, {25, 17, 769}, {1, 1, 1},
                                  {24, 64, 768}, {37, 95, 800}, {11, 300, 5}, {40, 7, 100}};
    for (int d = 0; d < 3; d++)
        for (int dot = 0; dot < 2; dot++)
            for (int s = 0; s < 8; s++)
                check_case(dts[d], dot, shapes[s][0], shapes[s][1], shapes[s][2], (s & 1) ? 1.0f : 0.0f, s % 3 != 0);
    /* two row units (577 rows > 576), many column blocks (N = 3100 > 8 panels x 12 units) */
    for (int dot = 0; dot < 2; dot++) {
        check_case(XGD_F32, dot, 577, 40, 30, 0.0f, 1);
        check_case(XGD_BF16, dot, 14, 3100, 20, 1.0f, 1);
        check_threads(dot, 100, 1000, 500);
    }
    /* x larger than the 16 MB pack limit: two chunks of K (6912 + 88), the second accumulating */
    check_case(XGD_F32, 1, 600, 20, 7000, 0.0f, 1);
    check_concurrent();
    return test_done("ops/gemm");
}
