/* Sampling N continuations per prompt, batched: a group of G prompts is prefilled once (left
 * padded), the cache of each prompt is copied into its N sample slots, and the G*N sequences
 * decode together, one GEMM per weight per step instead of G*N GEMVs.
 *
 * Sample k of prompt p draws from its own Philox stream (seed, p*N + k), so a prompt's samples do
 * not depend on the group size, the batch, or where a resumed run started. */
#ifndef XGD_GENERATE_GENERATE_H
#define XGD_GENERATE_GENERATE_H
#include "generate/sampler.h"
#include "model/runtime.h"

typedef struct {
    int N;                  /* samples per prompt */
    int max_tokens;         /* new tokens per sample */
    xgd_sampling sp;
    uint64_t seed;
    const int32_t *stop_ids;/* generation stops at any of these (not part of the output) */
    int n_stop;
    int group;              /* prompts decoded together (0: xgd_gen_group) */
    const xgd_hooks *hooks; /* interventions, applied at every forward (prefill and decode) */
} xgd_gen_opts;

/* One group's result: for prompt g (0..G) and sample k (0..N), ids[(g*N+k)*max_tokens ..] holds
 * len[g*N+k] generated ids. */
typedef struct {
    int32_t *ids;
    int *len;
} xgd_gen_out;

/* The default group: prompts whose N samples decode together. About 400 rows per decode step: the
 * weights are streamed and repacked by sgemm once per step, so fewer, larger steps cost less per
 * token (perf on the GPT-2-124M shape: sgemm's packing was 32% of the decode time at 50 rows, 17% at
 * 100; batched tokens/s on the busy 2-core machine, alternating runs: 218-269 at 100 rows, 289-327
 * at 200, 333-345 at 400), capped so the KV cache stays within ~4 GB at prompts of 64 tokens
 * (RTP-LX prompts are shorter; longer ones grow the cache in proportion: --group sets it).
 * mGPT-1.3B gets 4 prompts of 25 samples, the GPT-2-124M and TinyLlama shapes 16. */
int xgd_gen_group(const xgd_model *m, int N, int max_tokens);

/* Generate for prompts[first .. first+G): prompts[i] has lens[i] ids. index0 is the global index
 * of prompts[0] (for the RNG streams). out must hold G*N*max_tokens ids and G*N lengths. */
int xgd_generate_group(const xgd_model *m, const int32_t *const *prompts, const int *lens, int G, int64_t index0,
                       const xgd_gen_opts *o, xgd_gen_out *out);

#endif
