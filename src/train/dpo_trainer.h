/* The DPO trainer: HF Trainer mechanics as the seed script uses them (pipeline-spec §1.1, §1.9):
 * optimiser steps over shuffled batches for some epochs, evaluation every eval_steps with early
 * stopping on eval_loss, the best weights kept, resumable checkpoints every save_steps, TRL's
 * metrics logged as JSON lines. Full fine-tuning: the reference log-probs are computed once,
 * before training, with the initial weights (no second copy of the model is held). */
#ifndef XGD_TRAIN_DPO_TRAINER_H
#define XGD_TRAIN_DPO_TRAINER_H
#include <stdint.h>
#include <stdio.h>
#include "train/dpo.h"
#include "train/optim.h"

typedef struct {
    const char *data_dir, *model, *output_dir, *tokenizer, *run_name;
    int batch, eval_batch, grad_accum, epochs, max_prompt_length, max_length;
    int64_t warmup_steps, eval_steps, save_steps, logging_steps, max_steps, patience;
    double lr, weight_decay, max_grad_norm, beta, label_smoothing, eval_frac;
    xgd_opt_kind optimizer;
    xgd_sched_kind schedule;
    xgd_dpo_loss loss;
    uint64_t seed;
    int max_chars, skip_bad, keep_start, resume;
    xgd_dtype save_dtype;
    /* LoRA: base weights frozen in their dtype, adapters trained; the reference is the base
     * (adapters detached, as PEFT's disable_adapter) */
    int use_lora, lora_r, lora_rslora;
    double lora_alpha;
    const char *lora_targets;   /* NULL: the paper's targets for the family */
    FILE *summary_out;          /* where the final JSON line goes (NULL: nowhere) */
} xgd_dpo_args;

/* Runs the whole training; prints a JSON summary line on stdout. */
int xgd_dpo_train(const xgd_dpo_args *a);

#endif
