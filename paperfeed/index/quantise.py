"""The ONNX files of the packaged model: the float graph, and its int8 quantisation, cached on
disk."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from paperfeed.core.errors import ConfigError
from paperfeed.core.util import atomic_file, write_atomic
from paperfeed.index.onnx_graph import GRAPH_VERSION, build_bert_onnx
from paperfeed.index.weights import MODEL_NAME, fingerprint, read_safetensors, verified_model_dir

PRECISIONS = ("fp32", "int8")


def export_onnx(cache_dir: Path, precision: str = "fp32") -> Path:
    """Build (once) the ONNX file for the packaged model and return its path in cache_dir."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    src = verified_model_dir()
    weights_path = src / "model.safetensors"
    stem = f"{MODEL_NAME}-g{GRAPH_VERSION}-{fingerprint(weights_path)}"
    fp32_path = cache_dir / f"{stem}-fp32.onnx"
    if not fp32_path.is_file():
        config = json.loads((src / "config.json").read_text(encoding="utf-8"))
        model = build_bert_onnx(
            read_safetensors(weights_path),
            num_heads=int(config["num_attention_heads"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
        )
        write_atomic(fp32_path, model.SerializeToString())
    if precision == "fp32":
        return fp32_path
    out = cache_dir / f"{stem}-{precision}.onnx"
    if not out.is_file():
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # quantize_dynamic writes to a path; write beside the target and swap in atomically.
        # It logs a "consider pre-processing" hint on the root logger each call; that advice
        # is for static quantisation, not for this graph.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            with atomic_file(out) as tmp:
                quantize_dynamic(
                    fp32_path, tmp, weight_type=QuantType.QInt8, per_channel=True,
                    op_types_to_quantize=["MatMul", "Attention"],
                    # Shape inference cannot type the outputs of contrib ops; they are all float.
                    extra_options={"DefaultTensorType": TensorProto.FLOAT},
                )
        finally:
            logging.disable(previous)
    return out
