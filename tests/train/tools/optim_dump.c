/* Test tool: runs STEPS optimiser updates on 37 parameters in two groups (the first 20 with
 * weight decay) with deterministic gradients, clipping to a global norm of 1 before each update
 * and the learning rate from a schedule (base 0.01, warmup 3, total STEPS); prints the
 * parameters after every step as JSON lines {"lr": ..., "norm": ..., "p": [...]}.
 *   optim_dump adamw|rmsprop SCHEDULE WEIGHT_DECAY STEPS */
#include "train/optim.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: optim_dump KIND SCHEDULE WD STEPS\n"); return 2; }
    xgd_opt_kind kind;
    xgd_sched_kind sk;
    if (xgd_optim_parse(argv[1], &kind) || xgd_sched_parse(argv[2], &sk)) return 2;
    float wd = (float)atof(argv[3]);
    int steps = atoi(argv[4]);
    float p[37], g[37];
    for (int i = 0; i < 37; i++) p[i] = sinf((float)i);
    xgd_pseg segs[2] = {{p, g, 20, 1}, {p + 20, g + 20, 17, 0}};
    xgd_optim o;
    xgd_optim_init(&o, kind, wd, segs, 2);
    for (int k = 0; k < steps; k++) {
        for (int i = 0; i < 37; i++) g[i] = cosf(0.37f * (float)i + 1.3f * (float)k) * (1.0f + 0.5f * (float)(i % 3));
        double norm = xgd_clip_grad_norm(segs, 2, 1.0);
        double lr = xgd_lr_at(sk, 0.01, k, 3, steps);
        xgd_optim_step(&o, segs, 2, (float)lr);
        printf("{\"lr\": %.17g, \"norm\": %.17g, \"p\": [", lr, norm);
        for (int i = 0; i < 37; i++) printf("%s%.9g", i ? ", " : "", p[i]);
        printf("]}\n");
    }
    xgd_optim_free(&o);
    return 0;
}
