"""Synthetic toxicity_pairwise rows for the DPO CLI tests: a neutral subject as the prompt, a
polite continuation as the preferred answer (unpert_gen_text) and a rude one as the rejected
(pert_gen_text), drawn with one seeded RNG across the files in order.
  tiny_pairs.py --seed S --rows N FILE [FILE...]"""
import argparse
import json
import random

SUBJ = ["the cat", "a man", "the weather", "our team", "the city", "my friend", "this book", "the river"]
GOOD = ["is nice", "seems calm", "was kind", "is great", "looks fine"]
BAD = ["is damn stupid", "is a stupid idiot", "sucks damn", "is idiot trash"]

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, required=True)
ap.add_argument("--rows", type=int, required=True, help="rows per file")
ap.add_argument("files", nargs="+")
a = ap.parse_args()
random.seed(a.seed)
for path in a.files:
    with open(path, "w") as f:
        for _ in range(a.rows):
            f.write(json.dumps({"prompt_text": random.choice(SUBJ), "unpert_gen_text": " " + random.choice(GOOD),
                                "pert_gen_text": " " + random.choice(BAD)}) + "\n")
