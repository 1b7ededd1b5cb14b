"""Pure-numpy safetensors reader and writer (the test oracle's own, independent of the C loader).

Format (hf-spec.md §1.1): u64 LE header length N, N bytes of JSON (padded with spaces), then one
byte buffer that the header's `data_offsets` index completely, without holes or overlaps.

Only numpy is used so the oracle does not depend on the `safetensors` package (not installed here).
BF16 has no numpy dtype: the reader widens it to float32 by putting the 16 stored bits on top of a
zero low half (exact), the writer rounds float32 to nearest-even as torch does.
"""
import json
import os
import struct

import numpy as np

MAX_HEADER = 100_000_000

# dtype string -> (numpy dtype of the stored elements, bytes per element)
_NP = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
# The safetensors Dtype enum order; the writer sorts by it (descending) then by name, as
# safetensors.serialize does, so its files are byte-identical to the reference writer's.
_ENUM = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
         "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
_FROM_NP = {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
            np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
            np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("uint16"): "U16",
            np.dtype("uint32"): "U32", np.dtype("uint64"): "U64", np.dtype("bool"): "BOOL"}


class SafetensorsError(ValueError):
    pass


def bf16_bits_to_f32(bits):
    """uint16 bf16 bit patterns -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 -> uint16 bf16 bits, round to nearest even; NaN -> 0x7FC0 (torch's rule)."""
    x = np.array(x, dtype=np.float32, order="C")
    u = x.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(np.isnan(x), np.uint16(0x7FC0), r).astype(np.uint16)


class BF16:
    """Marks an array to be written as BF16: `save_file({"w": BF16(f32_array)}, path)`."""

    def __init__(self, values):
        self.bits = f32_to_bf16_bits(values)
        self.shape = self.bits.shape


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset); validates layout."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path}: file shorter than 8 bytes")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER:
            raise SafetensorsError(f"{path}: header too large ({n} bytes)")
        if 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} runs past the end of the file ({size} bytes)")
        raw = f.read(n)
    if not raw.startswith(b"{"):
        raise SafetensorsError(f"{path}: header does not start with '{{'")
    try:
        hdr = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    meta = hdr.pop("__metadata__", None) or {}
    entries = []
    for name, info in hdr.items():
        dt, shape, off = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dt not in _NP:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {dt}")
        if not isinstance(shape, list) or not isinstance(off, list) or len(off) != 2:
            raise SafetensorsError(f"{path}: tensor {name}: bad shape or data_offsets")
        nbytes = int(np.prod(shape, dtype=np.int64)) * _NP[dt].itemsize
        if off[1] - off[0] != nbytes:
            raise SafetensorsError(f"{path}: tensor {name}: data_offsets {off} hold {off[1]-off[0]} bytes, "
                                   f"shape {shape} {dt} needs {nbytes}")
        entries.append((off[0], off[1], name))
    entries.sort()
    pos = 0
    for b, e, name in entries:
        if b != pos:
            raise SafetensorsError(f"{path}: tensor {name}: starts at {b}, expected {pos} (hole or overlap)")
        pos = e
    if 8 + n + pos != size:
        raise SafetensorsError(f"{path}: buffer is {size - 8 - n} bytes but tensors cover {pos}")
    return hdr, meta, 8 + n


def read_file(path, names=None, raw_bf16=False):
    """Read a .safetensors file -> {name: np.ndarray}. BF16 becomes float32 unless raw_bf16 (then uint16)."""
    hdr, _, start = read_header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, info in hdr.items():
        if names is not None and name not in names:
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[start + b:start + e].tobytes(), dtype=_NP[info["dtype"]])
        arr = arr.reshape(tuple(info["shape"]))
        if info["dtype"] == "BF16" and not raw_bf16:
            arr = bf16_bits_to_f32(arr)
        out[name] = arr
    return out


def dtypes_of(path):
    """{name: dtype string} of one file."""
    hdr, _, _ = read_header(path)
    return {k: v["dtype"] for k, v in hdr.items()}


def save_file(tensors, path, metadata=None):
    """Write {name: np.ndarray | BF16} as safetensors, laid out exactly as safetensors.serialize does."""
    items = []
    for name, t in tensors.items():
        if isinstance(t, BF16):
            dt, buf, shape = "BF16", t.bits.astype("<u2").tobytes(), list(t.shape)
        else:
            a = np.asarray(t)  # (not ascontiguousarray: it turns 0-d scalars into shape (1,))
            if a.dtype not in _FROM_NP:
                raise SafetensorsError(f"tensor {name}: numpy dtype {a.dtype} has no safetensors dtype")
            dt = _FROM_NP[a.dtype]
            buf, shape = a.astype(_NP[dt]).tobytes(order="C"), list(a.shape)
        items.append((dt, name, shape, buf))
    items.sort(key=lambda it: (-_ENUM.index(it[0]), it[1]))
    meta = {"format": "pt"}
    meta.update(metadata or {})
    hdr, pos = {"__metadata__": meta}, 0
    for dt, name, shape, buf in items:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + len(buf)]}
        pos += len(buf)
    js = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for it in items:
            f.write(it[3])
    os.replace(tmp, path)


def read_folder(folder, raw_bf16=False):
    """Read all weights of a checkpoint folder: model.safetensors, else the sharded index's files.

    Returns ({name: array}, {name: dtype string})."""
    single = os.path.join(folder, "model.safetensors")
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(single):
        files = {single: None}
    elif os.path.exists(index):
        with open(index) as f:
            wmap = json.load(f)["weight_map"]
        files = {}
        for name, fn in wmap.items():
            files.setdefault(os.path.join(folder, fn), set()).add(name)
    else:
        raise SafetensorsError(f"{folder}: neither model.safetensors nor model.safetensors.index.json")
    tensors, dtypes = {}, {}
    for fn, names in files.items():
        part = read_file(fn, names, raw_bf16)
        if names is not None and set(part) != names:
            missing = sorted(names - set(part))
            raise SafetensorsError(f"{fn}: index lists tensors the shard lacks: {missing[:3]}")
        tensors.update(part)
        dtypes.update({k: v for k, v in dtypes_of(fn).items() if k in part})
    return tensors, dtypes


def save_sharded(tensors, folder, max_shard_bytes):
    """Write tensors as model-0000k-of-0000N.safetensors + model.safetensors.index.json (greedy packing)."""
    shards, cur, cur_bytes, total = [], {}, 0, 0
    for name in sorted(tensors):
        t = tensors[name]
        nb = t.bits.nbytes if isinstance(t, BF16) else np.asarray(t).nbytes
        if cur and cur_bytes + nb > max_shard_bytes:
            shards.append(cur)
            cur, cur_bytes = {}, 0
        cur[name] = t
        cur_bytes += nb
        total += nb
    if cur:
        shards.append(cur)
    wmap = {}
    for i, part in enumerate(shards):
        fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        save_file(part, os.path.join(folder, fn))
        wmap.update({k: fn for k in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2, sort_keys=True)
