"""Pure-numpy access to the golden fixtures in tests/golden (made by tools/golden/make_golden.py with
the real transformers / peft / tokenizers / sentencepiece). Shared by the Python tests.

    import sys; sys.path.insert(0, "tests/golden"); import golden
    r = golden.ref("llama")            # {"meta": {...}, "logits_batch": ndarray, ...}
    w, dt = golden.weights("llama")    # {tensor name: float32 array}, {name: "F32"/"BF16"}
    fx = golden.tokenizer("llama2")    # the JSON fixture
    for text, rec in golden.tok_cases("llama2"):   # text None when ../shared is absent (RTP cases)
        ...

Only numpy and the standard library: the safetensors reader is tests/oracle/safetensors_np.py.
"""
import glob
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(ROOT))
sys.path.insert(0, os.path.join(_REPO, "tests", "oracle"))
import safetensors_np  # noqa: E402  (the oracle's numpy reader; no duplicate here)


def path(*parts):
    return os.path.join(ROOT, *parts)


def manifest():
    with open(path("manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def ref_names():
    return sorted(os.path.basename(os.path.dirname(m)) for m in glob.glob(path("ref", "*", "meta.json")))


def ref(name):
    """Arrays of ref/<name>/*.npy by stem, plus "meta" (ref/<name>/meta.json)."""
    d = path("ref", name)
    with open(os.path.join(d, "meta.json"), encoding="utf-8") as f:
        out = {"meta": json.load(f)}
    for npy in sorted(glob.glob(os.path.join(d, "*.npy"))):
        out[os.path.splitext(os.path.basename(npy))[0]] = np.load(npy)
    return out


def model_dir(name):
    """models/<name> (e.g. "llama", "llama_bf16", "llama_sharded") or "lora/<fam>/merged" style paths."""
    d = path(name) if "/" in name else path("models", name)
    if not os.path.isdir(d):
        raise FileNotFoundError(d)
    return d


def config(name):
    with open(os.path.join(model_dir(name), "config.json"), encoding="utf-8") as f:
        return json.load(f)


def weights(name, raw_bf16=False):
    """({name: array}, {name: dtype}) of a safetensors checkpoint folder (BF16 widened to float32)."""
    return safetensors_np.read_folder(model_dir(name), raw_bf16=raw_bf16)


def adapter(fam):
    """(adapter_config dict, {key: array}) of lora/<fam>/adapter."""
    d = path("lora", fam, "adapter")
    with open(os.path.join(d, "adapter_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    return cfg, safetensors_np.read_file(os.path.join(d, "adapter_model.safetensors"))


def tokenizer(name):
    """tokenizers/<name>.json ("gpt2", "llama2", "llama2_tf5", "llama3") or
    tokenizers/synthetic/<name>.results.json ("synthetic/unigram", "synthetic/bpe.tf4", ...)."""
    p = path("tokenizers", name + (".results.json" if name.startswith("synthetic/") else ".json"))
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def adversarial_texts():
    with open(path("tokenizers", "adversarial.json"), encoding="utf-8") as f:
        return json.load(f)["texts"]


def synthetic_lines():
    with open(path("tokenizers", "synthetic", "corpus.txt"), encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def shared_dir():
    """../shared (XGD_SHARED under ctest), or None when absent."""
    d = os.environ.get("XGD_SHARED") or os.path.join(_REPO, "..", "shared")
    return d if os.path.isdir(os.path.join(d, "data", "rtp-lx")) else None


_RTP = {}


def rtp_prompt(fname, line, shared=None):
    """Prompt of line `line` (0-based) of ../shared/data/rtp-lx/<fname>, or None without ../shared."""
    shared = shared or shared_dir()
    if shared is None:
        return None
    if fname not in _RTP:
        with open(os.path.join(shared, "data", "rtp-lx", fname), encoding="utf-8") as f:
            _RTP[fname] = [json.loads(next(f))["Prompt"] for _ in range(15)]
    return _RTP[fname][line]


def undiff(text, d):
    """A decode stored as [p, s, mid] relative to its input text -> the decoded string."""
    if isinstance(d, str):
        return d
    p, s, mid = d
    return text[:p] + mid + text[len(text) - s:]


def pairs(flat):
    """[s0, e0, s1, e1, ...] -> [(s0, e0), (s1, e1), ...] (character offsets into the text)."""
    return list(zip(flat[0::2], flat[1::2]))


def tok_cases(name):
    """Yield (text, record) for every case of a tokenizer fixture; records get their decodes undiffed.
    text is None for RTP-LX cases when ../shared is absent (ids and offsets are still there)."""
    fx = tokenizer(name)
    if name.startswith("synthetic/"):
        adv, lines = adversarial_texts(), synthetic_lines()
        for r in fx["adversarial"]:
            yield adv[r["i"]], r
        for r in fx["corpus_lines"]:
            yield lines[r["line"]], r
        return
    adv = adversarial_texts()
    for r in fx["adversarial"]:
        yield adv[r["i"]], r
    for r in fx["rtp"]:
        text = rtp_prompt(r["file"], r["line"])
        if text is not None:
            r = dict(r)
            for k in ("dec", "dec_skip", "dec_sp", "dec_sp_skip"):
                if k in r:
                    r[k] = undiff(text, r[k])
        yield text, r
