"""Peak GPU memory of actor updates and log-prob passes on the Qwen2.5-Math-1.5B shape.

Plain path (default): packed (1, T) sequence, bf16 logits, verl's logprobs_from_logits_v2
bf16 branch (log_softmax + gather) and entropy_from_logits (full softmax) or the fp32
chunked entropy under checkpoint. fp32 masters + AdamW resident, bf16 autocast, gradient
checkpointing, sdpa. Results: MEMORY.md beside this file.

FUSED=1: verl's own fused path, as the run script configures it (use_fused_kernels=True,
torch backend): verl's apply_monkey_patch replaces the model's forward, which returns
log-probs and entropy computed from the hidden states in chunks, without the logits.
Needs verl (pip install -e '.[trainer]').

SMOKE=1 runs either tiny on a CPU. From the repository root (benchmarks/MEMORY.md):

    .venv/bin/python benchmarks/h100_actor_memory.py
    FUSED=1 .venv/bin/python benchmarks/h100_actor_memory.py
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from transformers import Qwen2Config, Qwen2ForCausalLM

argparse.ArgumentParser(
    description=__doc__.split("\n\n")[0],
    epilog="Settings are environment variables: FUSED=1 (verl's fused path), SMOKE=1 (tiny, CPU).",
).parse_args()
SMOKE = os.environ.get("SMOKE") == "1"
FUSED = os.environ.get("FUSED") == "1"
dev = "cpu" if SMOKE else "cuda"
if SMOKE:
    cfg = Qwen2Config(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
else:
    cfg = Qwen2Config(
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=65536,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
GiB = 2**30
cuda = torch.cuda.is_available() and not SMOKE


def peak():
    return torch.cuda.max_memory_allocated() / GiB if cuda else 0.0


def reset():
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()


torch.manual_seed(0)
if FUSED:
    from verl.models.transformers.monkey_patch import patch_forward_with_backends

    # what verl's model build does with use_fused_kernels=True (class-wide: actor and ref)
    patch_forward_with_backends(
        Qwen2ForCausalLM(cfg), use_fused_kernels=True, fused_kernels_backend="torch"
    )
actor = Qwen2ForCausalLM(cfg).to(dev)
actor.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
actor.config.use_cache = False
opt = torch.optim.AdamW(actor.parameters(), lr=1e-6, fused=cuda)


def lp_v2_bf16(logits, labels):
    return torch.stack(
        [
            F.log_softmax(row, -1).gather(-1, label.unsqueeze(-1)).squeeze(-1)
            for row, label in zip(logits, labels, strict=True)
        ]
    )


def ent_full(logits):
    pd = F.softmax(logits, -1)
    return torch.logsumexp(logits, -1) - (pd * logits).sum(-1)


def ent_chunked(logits2d, chunk=2048):
    out = []
    for i in range(0, logits2d.shape[0], chunk):
        c = logits2d[i : i + chunk].float()
        pd = F.softmax(c, -1)
        out.append(torch.logsumexp(c, -1) - (pd * c).sum(-1))
    return torch.cat(out)


def log_probs_and_entropy(ids, mode):
    if mode == "fused":  # verl's patched forward: no logits are materialised
        output = actor(input_ids=ids, return_dict=True)
        return output.log_probs, output.entropy
    logits = actor(input_ids=ids).logits  # bf16 (1, T, V)
    if mode == "full":
        return lp_v2_bf16(logits, ids), ent_full(logits)
    return lp_v2_bf16(logits, ids), checkpoint(ent_chunked, logits[0], use_reentrant=False)


def step(T, mode):
    ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
    reset()
    t = time.perf_counter()
    with torch.autocast(dev, dtype=torch.bfloat16):
        lp, ent = log_probs_and_entropy(ids, mode)
    loss = -lp.float().mean() - 0.001 * ent.float().mean()
    loss.backward()
    del lp, ent, loss
    opt.step()
    opt.zero_grad(set_to_none=False)
    if cuda:
        torch.cuda.synchronize()
    return round(time.perf_counter() - t, 2), round(peak(), 1)


@torch.no_grad()
def fwd(model, T, autocast=True):
    ids = torch.randint(0, cfg.vocab_size, (1, T), device=dev)
    reset()
    t = time.perf_counter()
    with torch.autocast(dev, dtype=torch.bfloat16, enabled=autocast):
        if FUSED:
            lp = model(input_ids=ids, return_dict=True).log_probs
        else:
            lp = lp_v2_bf16(model(input_ids=ids).logits, ids)
    del lp
    if cuda:
        torch.cuda.synchronize()
    return round(time.perf_counter() - t, 2), round(peak(), 1)


out = {
    "gpu": torch.cuda.get_device_name() if cuda else "cpu",
    "path": "fused" if FUSED else "plain",
}
S = (lambda n: n // 256) if SMOKE else (lambda n: n)
MODES = ("fused",) if FUSED else ("full", "chunked")
step(S(4096), MODES[-1])  # allocate Adam state
for T in (8192, 16384, 24576):
    for mode in MODES:
        try:
            out[f"update_{T}_{mode}"] = step(S(T), mode)
        except torch.cuda.OutOfMemoryError:
            out[f"update_{T}_{mode}"] = "OOM"
        reset()
    print(json.dumps(out), flush=True)
for T in (24576, 49152):
    try:
        out[f"actor_logprob_{T}"] = fwd(actor, S(T))
    except torch.cuda.OutOfMemoryError:
        out[f"actor_logprob_{T}"] = "OOM"
    reset()
ref = Qwen2ForCausalLM(cfg).to(dev, dtype=torch.bfloat16).eval()
for T in (24576, 49152):
    try:
        out[f"ref_logprob_{T}"] = fwd(ref, S(T), autocast=False)
    except torch.cuda.OutOfMemoryError:
        out[f"ref_logprob_{T}"] = "OOM"
    reset()
out["resident_GiB"] = round(torch.cuda.memory_allocated() / GiB, 1) if cuda else 0
print(json.dumps(out), flush=True)
