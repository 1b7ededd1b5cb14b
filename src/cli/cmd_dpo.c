/* xgd dpo: DPO preference tuning with TRL 0.8.6 / HF Trainer semantics and the seed's flags. */
#include "cli/args.h"
#include "train/dpo_trainer.h"
#include <stdio.h>
#include <string.h>

int cmd_dpo(int argc, char **argv) {
    const char *data_dir = NULL, *model = NULL, *output_dir = NULL, *tokenizer = NULL, *run_name = NULL;
    const char *sched = "constant_with_warmup", *opt = "rmsprop", *loss = "sigmoid", *save_dtype = "f32";
    long batch = 4, eval_batch = 1, accum = 1, epochs = 5, max_prompt = 64, max_len = 256, warmup = 150;
    long eval_steps = 25, save_steps = 25, logging_steps = 10, max_steps = -1, patience = 10, seed = 0;
    long lora_r = 64, max_chars = 256;
    double lr = 1e-5, wd = 0.0, max_grad = 10.0, beta = 0.1, smooth = 0.0, lora_alpha = 16, lora_dropout = 0.05, eval_frac = 0.05;
    int use_lora = 0, skip_bad = 0, keep_start = 0, no_resume = 0, rslora = 0;
    const char *lora_targets = NULL;
    const opt_spec opts[] = {
        {"data_dir", OPT_STR, &data_dir, "DIR", "folder of *.jsonl preference pairs (prompt_text/unpert_gen_text/pert_gen_text, or prompt/chosen/rejected)"},
        {"model_name_or_path", OPT_STR, &model, "MODEL", "base checkpoint folder or hub id in the local HF cache"},
        {"output_dir", OPT_STR, &output_dir, "DIR", "writes DIR/final_checkpoint/ (a HF checkpoint), DIR/log.jsonl, DIR/checkpoint-last/, DIR/best/"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer (default: the model folder)"},
        {"per_device_train_batch_size", OPT_INT, &batch, "4", "pairs per micro-batch"},
        {"per_device_eval_batch_size", OPT_INT, &eval_batch, "1", "pairs per evaluation batch"},
        {"gradient_accumulation_steps", OPT_INT, &accum, "1", "micro-batches per optimizer step"},
        {"use_lora", OPT_FLAG, &use_lora, NULL, "train LoRA adapters (base frozen in its dtype); final_checkpoint is a PEFT adapter folder"},
        {"lora_target_modules", OPT_STR, &lora_targets, "a,b,c", "module-name suffixes to adapt (default: the paper's per family)"},
        {"use_rslora", OPT_FLAG, &rslora, NULL, "scale alpha/sqrt(r) instead of alpha/r"},
        {"beta", OPT_FLOAT, &beta, "0.1", "DPO temperature"},
        {"loss_type", OPT_STR, &loss, "sigmoid", "sigmoid | hinge | ipo"},
        {"label_smoothing", OPT_FLOAT, &smooth, "0", "cDPO label smoothing (sigmoid loss)"},
        {"learning_rate", OPT_FLOAT, &lr, "1e-5", "peak learning rate"},
        {"lr_scheduler_type", OPT_STR, &sched, "constant_with_warmup", "constant | constant_with_warmup | linear | cosine"},
        {"warmup_steps", OPT_INT, &warmup, "150", "linear warm-up steps"},
        {"weight_decay", OPT_FLOAT, &wd, "0", "weight decay on matrices (the seed's 0.05 never reached the Trainer: 0 is its real value)"},
        {"optimizer_type", OPT_STR, &opt, "rmsprop", "rmsprop (torch defaults) | adamw"},
        {"max_grad_norm", OPT_FLOAT, &max_grad, "10", "global gradient-norm clip"},
        {"num_train_epochs", OPT_INT, &epochs, "5", "epochs over the training pairs"},
        {"max_steps", OPT_INT, &max_steps, "-1", "stop after this many optimizer steps (-1: from the epochs)"},
        {"max_prompt_length", OPT_INT, &max_prompt, "64", "prompt tokens kept (keep_end truncation)"},
        {"max_length", OPT_INT, &max_len, "256", "prompt + answer tokens"},
        {"truncation_keep_start", OPT_FLAG, &keep_start, NULL, "truncate prompts keeping their start (TRL keep_start) instead of their end"},
        {"max_chars", OPT_INT, &max_chars, "256", "the seed's filter: drop pairs with len(prompt)+len(answer) > this many characters (0: off)"},
        {"eval_fraction", OPT_FLOAT, &eval_frac, "0.05", "share of pairs held out for evaluation"},
        {"lora_r", OPT_INT, &lora_r, "64", "LoRA rank"},
        {"lora_alpha", OPT_FLOAT, &lora_alpha, "16", "LoRA alpha (scaling alpha/r)"},
        {"lora_dropout", OPT_FLOAT, &lora_dropout, "0.05", "LoRA dropout (TRL disables dropout: 0 in effect)"},
        {"eval_steps", OPT_INT, &eval_steps, "25", "evaluate every this many steps"},
        {"save_steps", OPT_INT, &save_steps, "25", "write a resumable checkpoint every this many steps"},
        {"logging_steps", OPT_INT, &logging_steps, "10", "log averaged metrics every this many steps"},
        {"early_stopping_patience", OPT_INT, &patience, "10", "stop after this many evaluations without a lower eval_loss (0: never)"},
        {"seed", OPT_INT, &seed, "0", "seed of the eval split and the data order"},
        {"wandb_run_name", OPT_STR, &run_name, "NAME", "name of the run (recorded locally; nothing is sent anywhere)"},
        {"save_dtype", OPT_STR, &save_dtype, "f32", "dtype of the final checkpoint: f32 | bf16 | f16"},
        {"skip_bad_lines", OPT_FLAG, &skip_bad, NULL, "skip malformed data rows with a warning (default: stop at file:line)"},
        {"no_resume", OPT_FLAG, &no_resume, NULL, "start afresh even if DIR/checkpoint-last exists"},
        {0},
    };
    const cmd_spec spec = {"dpo",
        "xgd dpo --data_dir DIR --model_name_or_path MODEL --output_dir DIR [options]",
        "Direct preference optimisation with TRL 0.8.6's semantics (tokenisation, label masks, losses, metrics)\n"
        "and the HF Trainer's (optimizer, schedule, clipping, evaluation, early stopping, best checkpoint).\n"
        "Full fine-tuning keeps f32 weights; the reference log-probs are computed once before training.\n"
        "With --use_lora the base stays frozen in its dtype and the reference is the base (adapters off); a bf16\n"
        "base computes in xgd's bf16 math mode: fast by default where the CPU has AMX-BF16 (bf16 activations, as\n"
        "PyTorch's bf16 step; 2-3x faster than exact), `xgd --bf16-math exact dpo ...` for f32 math.\n"
        "Backward reuses the forward pass's activations when they fit XGD_TRAIN_ACT_MB (default 3072 MiB),\n"
        "else recomputes each block (less memory, ~25% more work).\n"
        "Interrupted runs resume from DIR/checkpoint-last.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "data_dir", data_dir) || args_require(&spec, "model_name_or_path", model) ||
        args_require(&spec, "output_dir", output_dir)) return 2;
    if (batch < 1 || eval_batch < 1 || accum < 1 || max_len < 2 || max_prompt < 1 || max_prompt >= max_len || beta <= 0 ||
        eval_steps < 1 || save_steps < 1 || logging_steps < 1) {
        fprintf(stderr, "xgd dpo: error: batch sizes, accumulation and step intervals must be >= 1, 1 <= max_prompt_length < max_length, beta > 0\n");
        return 2;
    }
    xgd_dpo_args a = {
        .data_dir = data_dir, .model = model, .output_dir = output_dir, .tokenizer = tokenizer, .run_name = run_name,
        .batch = (int)batch, .eval_batch = (int)eval_batch, .grad_accum = (int)accum, .epochs = (int)epochs,
        .max_prompt_length = (int)max_prompt, .max_length = (int)max_len, .warmup_steps = warmup, .eval_steps = eval_steps,
        .save_steps = save_steps, .logging_steps = logging_steps, .max_steps = max_steps, .patience = patience,
        .lr = lr, .weight_decay = wd, .max_grad_norm = max_grad, .beta = beta, .label_smoothing = smooth, .eval_frac = eval_frac,
        .seed = (uint64_t)seed, .max_chars = (int)max_chars, .skip_bad = skip_bad, .keep_start = keep_start, .resume = !no_resume,
        .summary_out = stdout, .use_lora = use_lora, .lora_r = (int)lora_r, .lora_alpha = lora_alpha, .lora_rslora = rslora, .lora_targets = lora_targets,
    };
    if (xgd_optim_parse(opt, &a.optimizer) || xgd_sched_parse(sched, &a.schedule) || xgd_dpo_loss_parse(loss, &a.loss) ||
        xgd_dtype_parse(save_dtype, &a.save_dtype))
        return cli_error();
    return xgd_dpo_train(&a) == 0 ? 0 : cli_error();
}
