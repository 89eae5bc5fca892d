"""The ONNX graph of a BERT encoder with masked mean pooling, written from its weight tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from paperfeed.core.errors import ConfigError

# Bump when the graph written by build_bert_onnx changes, so cached files are rebuilt.
GRAPH_VERSION = 1


def build_bert_onnx(
    weights: dict[str, np.ndarray], *, num_heads: int, eps: float
) -> Any:  # onnx.ModelProto; Any because onnx is an optional import
    """An ONNX graph for a BERT encoder + masked mean pooling, built from its weight tensors.

    Inputs `input_ids` and `attention_mask` (int64, batch x seq); output `embedding` (float32, batch
    x hidden), not normalised. Uses ONNX Runtime's fused contrib ops (Attention,
    SkipLayerNormalization, BiasGelu), available on CPU and CUDA.
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
    pos = (
        w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    )
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
