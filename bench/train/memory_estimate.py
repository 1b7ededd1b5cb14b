"""Expected peak memory of `xgd dpo` full fine-tuning, from the buffers the code allocates:

  trainable weights  p->data  4 P bytes   (train/params.c: every tensor converted to f32)
  gradients          p->grad  4 P
  optimizer state    RMSprop: v, 4 P; AdamW: m and v, 8 P   (train/optim.c)
  training graph     4 * G bytes, G floats (train/graph.c, xgd_tgraph_new), with N = R T tokens
                     (R = 2 * max(batch, eval batch) rows of T = max_length):
      (n_layer + 1) N H            every block's input
      A = one block's intermediates  3 N H + 2 N QD + 2 N KVD + 2 N F (+ N F gated) + R n_head T^2
                                   (+ 3 N H fused qkv, + 2 N H attention/MLP outputs)
      their gradients              9 N H + 3 N F + 3 N QD + 3 N KVD
      8 N H                        final norm output, scratch, the head's rows and their gradient
      2 min(N V, 16 Mi)            one chunk of logits and its gradient (64 MB each at most)
    kept activations, when L * A' fits the activation budget (XGD_TRAIN_ACT_MB, default 3072 MiB;
    A' = A without the shared fused qkv and outputs): L * A' floats, and then the logits of the
    rows with a target and their gradient (2 NT V floats, NT <= N) if the rest of the budget
    holds them; the estimate counts them at NT = N (an upper bound) when they fit.
  the checkpoint's mapping: closed once params.c has copied it, so it does not add to the peak
  (the conversion briefly holds data + grad + the mapped file: 12 P bytes, below the steady state)

  peak = (12 P (RMSprop) or 16 P (AdamW)) + 4 G, plus a few tens of MB (libraries, thread stacks,
  token buffers). --save_dtype bf16/f16 adds 2 P bytes while the final checkpoint is written.

Reference log-probs are computed once with the same graph before training (no second model).

  /usr/bin/python3 bench/train/memory_estimate.py MODEL_DIR [--batch 4] [--max_length 256]
      [--eval_batch 1] [--optimizer rmsprop|adamw] [--act_mb 3072]
"""
import argparse
import json
import os


def params_of(c):
    """Parameter count of a gpt2- or llama-family config (tied head counted once)."""
    if c.get("model_type") == "gpt2":
        H, L, V, Pn = c["n_embd"], c["n_layer"], c["vocab_size"], c["n_positions"]
        F = c.get("n_inner") or 4 * H
        per = 2 * H + (H * 3 * H + 3 * H) + (H * H + H) + 2 * H + (H * F + F) + (F * H + H)
        return V * H + Pn * H + L * per + 2 * H, dict(H=H, L=L, V=V, F=F, nH=c["n_head"], nKV=c["n_head"], hd=H // c["n_head"],
                                                      gated=False, fused=True)
    H, L, V, F = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
    nH = c["num_attention_heads"]
    nKV = c.get("num_key_value_heads") or nH
    hd = H // nH
    per = 2 * H + H * nH * hd + 2 * H * nKV * hd + nH * hd * H + 3 * H * F
    head = 0 if c.get("tie_word_embeddings", False) else V * H
    return V * H + head + L * per + H, dict(H=H, L=L, V=V, F=F, nH=nH, nKV=nKV, hd=hd, gated=True, fused=False)


def graph_floats(s, R, T, budget_bytes):
    """Floats of the training graph: the fixed part, plus what it keeps within the budget."""
    N = R * T
    H, F, V, L = s["H"], s["F"], s["V"], s["L"]
    QD, KVD = s["nH"] * s["hd"], s["nKV"] * s["hd"]
    kept_block = 3 * N * H + 2 * N * QD + 2 * N * KVD + (3 if s["gated"] else 2) * N * F + R * s["nH"] * T * T
    block = kept_block + (3 * N * H if s["fused"] else 0) + 2 * N * H
    grads = 9 * N * H + 3 * N * F + 3 * N * QD + 3 * N * KVD
    fixed = (L + 1) * N * H + block + grads + 8 * N * H + 2 * min(N * V, 16 << 20)
    kept = 0
    if 4 * L * kept_block <= budget_bytes:
        kept = L * kept_block
        if 4 * (kept + 2 * N * V) <= budget_bytes:
            kept += 2 * N * V
    return fixed + kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--eval_batch", type=int, default=1)
    ap.add_argument("--max_length", type=int, default=256)
    ap.add_argument("--optimizer", default="rmsprop", choices=["rmsprop", "adamw"])
    ap.add_argument("--act_mb", type=int, default=int(os.environ.get("XGD_TRAIN_ACT_MB", "3072")),
                    help="the training graph's activation budget (XGD_TRAIN_ACT_MB)")
    a = ap.parse_args()
    with open(os.path.join(a.model, "config.json")) as f:
        c = json.load(f)
    P, s = params_of(c)
    G = graph_floats(s, 2 * max(a.batch, a.eval_batch), a.max_length, a.act_mb << 20)
    per_param = 12 if a.optimizer == "rmsprop" else 16
    total = per_param * P + 4 * G
    gib = 1024.0 ** 3
    print(json.dumps({"params": P, "weights_grads_optimizer_gib": round(per_param * P / gib, 2),
                      "graph_gib": round(4 * G / gib, 2), "expected_peak_gib": round(total / gib, 2)}))


if __name__ == "__main__":
    main()
