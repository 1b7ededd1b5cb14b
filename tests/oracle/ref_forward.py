"""Reference forward pass from the command line, mirroring `xgd forward`.

  python3 tests/oracle/ref_forward.py --model DIR --ids 1,2,3 [--save-logits X.npy] [--save-hidden Y.npy]
        [--positions arange|cumsum] [--decoder-ids 0,5,6] [--save-acts DIR] [--f64]

Writes logits as float32 (T,V) (T5: decoder length; XLM-R: (num_labels,)) and hidden states as
float32 (L+1,T,C) with the transformers output_hidden_states convention (last entry after the final
norm; see hf_ref.py). T5 without --decoder-ids runs the decoder on shift_right(ids), as
`model(input_ids=ids, labels=ids)` does. --save-acts writes every hook as DIR/<name>.npy (batch dim dropped).
Prints the mean next-token loss (decoder-only) or the label loss (T5) when it applies.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_ref  # noqa: E402


def _ids(s):
    try:
        return [int(t) for t in s.split(",") if t.strip()]
    except ValueError:
        sys.exit(f"ref_forward: --ids must be comma-separated integers, got {s!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--decoder-ids")
    ap.add_argument("--positions", choices=["arange", "cumsum"])
    ap.add_argument("--save-logits")
    ap.add_argument("--save-hidden")
    ap.add_argument("--save-acts")
    ap.add_argument("--f64", action="store_true", help="compute in float64")
    a = ap.parse_args()
    m = hf_ref.load(a.model, dtype=torch.float64 if a.f64 else torch.float32)
    ids = torch.tensor([_ids(a.ids)])
    kw = {}
    if m.family == "t5":
        if a.decoder_ids:
            kw["decoder_input_ids"] = torch.tensor([_ids(a.decoder_ids)])
        else:
            kw["labels"] = ids
    elif m.family != "xlm-roberta":
        kw["labels"] = ids
    out = hf_ref.forward(m, ids, positions=a.positions, **kw)
    if a.save_logits:
        np.save(a.save_logits, out.logits[0].float().numpy())
    if a.save_hidden:
        np.save(a.save_hidden, torch.stack([h[0] for h in out.hidden]).float().numpy())
    if a.save_acts:
        os.makedirs(a.save_acts, exist_ok=True)
        for k, v in out.acts.items():
            np.save(os.path.join(a.save_acts, k + ".npy"), v[0].float().numpy())
    if out.loss is not None:
        print(f"loss {out.loss.item():.8f}")
    print("logits", tuple(out.logits[0].shape), "argmax", out.logits[0].argmax(-1).tolist())


if __name__ == "__main__":
    main()
