/* The command table. Each command lives in its own file cmd_<name>.c and defines
 * `int cmd_<name>(int argc, char **argv)` (argv[0] is the command name). */
#ifndef XGD_CLI_COMMANDS_H
#define XGD_CLI_COMMANDS_H

typedef int (*cmd_fn)(int argc, char **argv);
typedef struct { const char *name; cmd_fn fn; const char *summary; } cmd_entry;

/* Declared weak so that the table can list commands whose file is not built yet; such an entry
 * answers "not available in this build". */
#define XGD_COMMANDS(X) \
    X(demo,     "the study in miniature, offline: pretrain, English-only DPO, generate, score, compare languages") \
    X(run,      "the whole study from one STUDY.json: DPO, merge, generation, scoring, metrics, summary; resumable") \
    X(report,   "a self-contained HTML report (inline SVG) and a markdown summary of a study folder") \
    X(inspect,  "show a checkpoint's family, shapes, parameter count, dtypes and memory") \
    X(forward,  "run one forward pass over token ids or text; save logits / hidden states as .npy") \
    X(init,     "write a random checkpoint folder in Hugging Face format (tiny test models)") \
    X(tokenize, "encode JSONL text to token ids, or decode ids to text, with a HF tokenizer") \
    X(generate, "sample N continuations per prompt (vLLM semantics), resumable, the seed pipeline's files") \
    X(dpo,      "DPO preference tuning (TRL semantics), full fine-tuning or LoRA; resumable") \
    X(merge,    "merge a LoRA adapter into its base and write a HF checkpoint folder") \
    X(score,    "toxicity scores per continuation: Perspective API, or offline scorers (lexicon, ...)") \
    X(metrics,  "toxicity (EMT, probability, average), diversity (distinct-n), perplexity") \
    X(probe,    "train a linear toxicity probe on pooled hidden states of a frozen model (the seed's probe)") \
    X(vectors,  "MLP value vectors most similar to a probe, filtered by activation, projected onto the vocabulary") \
    X(activations, "mean activation of given neurons over greedy steps, per language, base vs DPO model (Figure 3)") \
    X(retrieval, "cross-lingual alignment per layer: paired cosine (the seed's metric) and top-1 retrieval accuracy")

#define X(n, s) int cmd_##n(int argc, char **argv) __attribute__((weak));
XGD_COMMANDS(X)
#undef X

#endif
