"""pytorch_model.bin loading equals safetensors loading of the same weights, checked against torch.

torch.save writes state dicts (f32/f16/bf16/f64/int64/int32/uint8/bool, a transposed view, views
sharing one storage with offsets, a scalar, an empty tensor, an nn.Parameter, an OrderedDict with
_metadata); a tiny pure-Python writer stores the same tensors as safetensors. The C dumper
(tests/io/tools/ckpt_dump.c, path in XGD_CKPT_DUMP) must print exactly the bytes torch holds for
both. Malicious or unsupported archives must be refused with a message and nothing executed.
"""
import collections
import json
import os
import pickle
import random
import struct
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import xgdtest as xt  # noqa: E402
from xgdtest import check  # noqa: E402

try:
    import torch
except ImportError:
    xt.skip("torch is not installed for /usr/bin/python3")

DUMP = os.environ.get("XGD_CKPT_DUMP")
if not DUMP or not os.path.exists(DUMP):
    print("XGD_CKPT_DUMP is not set to the ckpt_dump binary (run through ctest)")
    sys.exit(1)
TMP = xt.tmpdir("io_torchbin")

ST_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
           torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def raw_bytes(t):
    """The little-endian C-order bytes of a tensor, as torch holds them."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.numpy().tobytes()


def expected_dump(sd):
    lines = []
    for name in sorted(sd):
        t = sd[name]
        shape = ",".join(str(d) for d in t.shape)
        lines.append(f"{name}\t{ST_NAME[t.dtype]}\t[{shape}]\t{raw_bytes(t).hex()}")
    return lines


def st_write(path, sd):
    """Minimal safetensors writer (independent of the C one): any order is valid for readers."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in sd.items():
        b = raw_bytes(t)
        header[name] = {"dtype": ST_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def dump(path):
    r = subprocess.run([DUMP, path], capture_output=True, text=True, errors="replace")
    return r.returncode, r.stdout.splitlines(), r.stderr.strip()


def state_dict():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, generator=g)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = collections.OrderedDict()
    sd["w.f32"] = w
    sd["w.f16"] = torch.randn(5, 2, generator=g).half()
    sd["w.bf16"] = torch.randn(2, 3, 2, generator=g).bfloat16()
    sd["w.f64"] = torch.randn(3, generator=g).double()
    sd["ids.i64"] = torch.tensor([-1, 2**62, 7])
    sd["ids.i32"] = torch.tensor([[-5, 6]], dtype=torch.int32)
    sd["bytes.u8"] = torch.tensor([0, 255, 9], dtype=torch.uint8)
    sd["mask.bool"] = torch.tril(torch.ones(3, 3, dtype=torch.bool)).view(1, 1, 3, 3)
    sd["transposed"] = w.t()                   # non-contiguous view of w's storage
    sd["shared.full"] = base                   # the next two share this storage
    sd["shared.row"] = base[2]                 # storage offset 12, contiguous
    sd["shared.col"] = base[1:, 3]             # offset 9, stride 6
    sd["shared.block"] = base[1:3, 2:5]        # 2-d strided block
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))  # pickled via _rebuild_parameter
    sd["tied"] = w                             # the same tensor object twice (memo BINGET)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("layer", {"version": 2})])
    return sd


def test_equal_to_safetensors():
    sd = state_dict()
    bin_dir, st_dir = os.path.join(TMP, "bin"), os.path.join(TMP, "st")
    os.makedirs(bin_dir)
    os.makedirs(st_dir)
    torch.save(sd, os.path.join(bin_dir, "pytorch_model.bin"))
    st_write(os.path.join(st_dir, "model.safetensors"), sd)
    want = expected_dump(sd)
    rc, out_bin, err = dump(bin_dir)
    check(rc == 0, f".bin folder loads ({err})")
    check(out_bin[:1] == ["# pytorch .bin"], f"format line {out_bin[:1]}")
    check(out_bin[1:] == want, ".bin tensors equal torch's bytes")
    rc, out_st, err = dump(st_dir)
    check(rc == 0, f"safetensors folder loads ({err})")
    check(out_st[1:] == want, "safetensors tensors equal torch's bytes")
    check(out_bin[1:] == out_st[1:], ".bin loading equals safetensors loading")
    rc, out_file, _ = dump(os.path.join(bin_dir, "pytorch_model.bin"))
    check(rc == 0 and out_file[1:] == want, "a .bin file path works too")
    p4 = os.path.join(TMP, "protocol4.bin")
    torch.save(sd, p4, pickle_protocol=4)
    rc, out_p4, err = dump(p4)
    check(rc == 0 and out_p4[1:] == want, f"pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) loads ({err})")
    return sd, want


def test_sharded_bin(sd, want):
    d = os.path.join(TMP, "bin_sharded")
    os.makedirs(d)
    names = list(sd)
    parts = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(parts):
        fn = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save(collections.OrderedDict((k, sd[k]) for k in part), os.path.join(d, fn))
        weight_map.update({k: fn for k in part})
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    rc, out, err = dump(d)
    check(rc == 0, f"sharded .bin loads ({err})")
    check(out[:1] == ["# pytorch .bin (sharded, 2 files)"], f"sharded format line {out[:1]}")
    check(out[1:] == want, "sharded .bin equals single-file loading")


def write_archive(path, pkl, extra=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
        for k, v in (extra or {}).items():
            z.writestr(k, v)


class Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def expect_refused(path, want, what):
    rc, out, err = dump(path)
    check(rc == 1, f"{what}: refused (rc={rc})")
    check(want in err, f"{what}: message {err!r} should contain {want!r}")
    check("\n" not in err, f"{what}: one-line message")


def test_refusals():
    marker = os.path.join(TMP, "pwned")
    # GLOBAL os system + REDUCE, written by hand and by pickle itself
    hand = b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len("touch " + marker)) + ("touch " + marker).encode() + b"\x85R."
    write_archive(os.path.join(TMP, "evil1.bin"), hand)
    expect_refused(os.path.join(TMP, "evil1.bin"), "GLOBAL 'os.system' is not allowed", "hand-written os.system")
    write_archive(os.path.join(TMP, "evil2.bin"), pickle.dumps({"w": Evil("touch " + marker)}, protocol=2))
    expect_refused(os.path.join(TMP, "evil2.bin"), "GLOBAL 'posix.system' is not allowed", "pickled os.system")
    # protocol 4 names globals with STACK_GLOBAL: the same allow-list applies
    write_archive(os.path.join(TMP, "evil3.bin"), pickle.dumps({"w": Evil("touch " + marker)}, protocol=4))
    expect_refused(os.path.join(TMP, "evil3.bin"), "GLOBAL 'posix.system' is not allowed", "STACK_GLOBAL")
    # opcodes outside the set (INST builds an object from an inline class name)
    write_archive(os.path.join(TMP, "evil5.bin"), b"\x80\x02(ios\nsystem\n.")
    expect_refused(os.path.join(TMP, "evil5.bin"), "opcode 0x69 ('i') is not allowed", "INST opcode")
    write_archive(os.path.join(TMP, "evil4.bin"), b"\x80\x02cbuiltins\neval\n.")
    expect_refused(os.path.join(TMP, "evil4.bin"), "GLOBAL 'builtins.eval' is not allowed", "builtins.eval")
    check(not os.path.exists(marker), "nothing was executed")

    t = torch.arange(4.0)
    legacy = os.path.join(TMP, "legacy.bin")
    torch.save({"t": t}, legacy, _use_new_zipfile_serialization=False)
    expect_refused(legacy, "legacy (pre-1.6, non-zip) torch.save format", "legacy format")

    good = os.path.join(TMP, "good.bin")
    torch.save({"t": t}, good)
    data = open(good, "rb").read()
    cut = os.path.join(TMP, "cut.bin")
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    expect_refused(cut, "cut.bin", "truncated archive")
    with zipfile.ZipFile(good) as zin:
        items = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    with zipfile.ZipFile(os.path.join(TMP, "deflated.bin"), "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, v in items.items():
            z.writestr(k, v)
    expect_refused(os.path.join(TMP, "deflated.bin"), "is compressed", "compressed entries")
    # storage smaller than the view needs
    pkl_name = [k for k in items if k.endswith("/data.pkl")][0]
    root = pkl_name.split("/")[0]
    short = dict(items)
    short[f"{root}/data/0"] = items[f"{root}/data/0"][:8]
    with zipfile.ZipFile(os.path.join(TMP, "short.bin"), "w") as z:
        for k, v in short.items():
            z.writestr(k, v)
    expect_refused(os.path.join(TMP, "short.bin"), "tensor 't': view needs 16 bytes", "short storage")
    missing = {k: v for k, v in items.items() if not k.startswith(f"{root}/data/")}
    with zipfile.ZipFile(os.path.join(TMP, "missing.bin"), "w") as z:
        for k, v in missing.items():
            z.writestr(k, v)
    expect_refused(os.path.join(TMP, "missing.bin"), "storage 'archive/data/0' is missing".replace("archive", root),
                   "missing storage")
    lst = os.path.join(TMP, "list.bin")
    torch.save([t], lst)
    expect_refused(lst, "not a dict of tensors", "a list instead of a state dict")
    nested = os.path.join(TMP, "nested.bin")
    torch.save({"model": {"t": t}}, nested)
    expect_refused(nested, "entry 0 'model' is not a tensor", "nested dict")


def test_fuzz():
    """Random byte flips in a valid archive: a clean load or a message, never a crash."""
    sd = state_dict()
    path = os.path.join(TMP, "fz_src.bin")
    torch.save(sd, path)
    data = bytearray(open(path, "rb").read())
    rnd = random.Random(7)
    crashes = 0
    n = 60 if xt.SANITIZED else 150
    for i in range(n):
        m = bytearray(data)
        for _ in range(1 + i % 4):
            m[rnd.randrange(len(m))] = rnd.randrange(256)
        p = os.path.join(TMP, "fz.bin")
        with open(p, "wb") as f:
            f.write(m)
        rc, _, err = dump(p)
        if rc not in (0, 1) or (rc == 1 and not err.startswith("error: ")):
            crashes += 1
            print("fuzz case", i, "rc", rc, err[-300:])
    check(crashes == 0, "fuzzed archives never crash")


sd, want = test_equal_to_safetensors()
test_sharded_bin(sd, want)
test_refusals()
test_fuzz()
xt.done("io/test_torchbin.py")
