# PyTorch CPU eager peer of bench/decode.ts (issue 22): greedy generation with a KV cache on the same
# Llama-family model as ours (RMSNorm, RoPE, grouped-query attention, SwiGLU, tied embeddings, q/k/v bias when
# the config has attentionBias, fp32), from the same weights and prompts, on the same thread count.
#
# What makes it the fair peer (bench/gpu/torch_decode.py is not: it concatenates the cache and copies K/V
# with repeat_interleave every step, so its step time grows with the context for reasons of its own):
#  - the KV cache is preallocated per generation, [B, Hkv, maxLen, hd] per layer (maxLen = prompt + new
#    tokens), and each step writes its keys and values into it in place (slice assignment); attention reads
#    a view of the filled part, so no step copies the cache;
#  - grouped-query attention without copying K/V: each kv head's G query heads are folded into the query's
#    row dimension, scores K [B, Hkv, P, hd] @ q^T [B, Hkv, hd, G*T] (then softmax(scores^T) @ V), batch
#    dimensions equal, so bmm reads the cache view as it is. (The broadcasting form q [B, Hkv, G, T, hd] @ K [B, Hkv, 1, P, hd]
#    is NOT copy-free: torch.matmul expands and reshapes the batch dimensions, which clones the whole cache
#    slice every call; measured ~50x slower at P = 1024 with torch 1.13. torch 1.13 has no
#    scaled_dot_product_attention.)
#  - torch.inference_mode(), torch.set_num_threads(threads), contiguous weights, F.linear (BLAS reads the
#    [out, in] weight transposed, no copy), RoPE cos/sin tables computed once for maxLen, the LM head on the
#    last position only, greedy argmax in torch.
# Timed as ours is: the wall clock of the whole generation (prefill + new_tokens - 1 decode steps, the
# cache allocated inside it), and each step (forward + argmax) on its own.
#
# Usage: python3 bench/lib/torch_decode_cpu.py '<job json>'; prints one JSON line.
# job: {"config": LlamaConfig (ours, camelCase), "threads": n,
#       "weights": {"path": raw float32 file, "index": [[name, shape, offset in floats], ...]} | null (seeded random),
#       "warmup": true,
#       "generations": [{"prompts": [[ids], ...] (equal lengths), "new_tokens": n, "steps": bool, "tokens": bool}]}
# out: {"torch", "threads", "blas", "blas_build", "load_seconds",
#       "generations": [{"batch", "prompt", "new_tokens", "seconds", "tokens_per_s", "prefill_seconds",
#                        "steps": [[P, seconds], ...] (when asked; P = cache positions before the step),
#                        "tokens": [[ids], ...] (when asked)}]}
import json
import math
import re
import sys
import time

import torch
import torch.nn.functional as F

job = json.loads(sys.argv[1])
c = job["config"]
torch.set_num_threads(job["threads"])
D, H, K, hd, I, V, L = c["hiddenSize"], c["numHeads"], c["numKvHeads"], c["headDim"], c["intermediateSize"], c["vocabSize"], c["numLayers"]
G = H // K
eps, theta, bias = c["rmsNormEps"], c["ropeTheta"], c["attentionBias"]
if not c["tieWordEmbeddings"] or c.get("qkNorm"):
    raise SystemExit("torch_decode_cpu.py: only tied embeddings without qk-norm (the bench's models)")


def load_weights():
    """Name -> tensor: views into one float32 file written by the bench (ours' exact weights), or seeded N(0, 0.02)."""
    spec = job.get("weights")
    if spec is None:
        torch.manual_seed(0)
        w = {}
        for l in range(L):
            a, m = f"model.layers.{l}.self_attn", f"model.layers.{l}.mlp"
            for n, out_dim in (("q", H * hd), ("k", K * hd), ("v", K * hd)):
                w[f"{a}.{n}_proj.weight"] = torch.randn(out_dim, D) * 0.02
                if bias:
                    w[f"{a}.{n}_proj.bias"] = torch.zeros(out_dim)
            w[f"{a}.o_proj.weight"] = torch.randn(D, H * hd) * 0.02
            w[f"{m}.gate_proj.weight"], w[f"{m}.up_proj.weight"] = torch.randn(I, D) * 0.02, torch.randn(I, D) * 0.02
            w[f"{m}.down_proj.weight"] = torch.randn(D, I) * 0.02
            w[f"model.layers.{l}.input_layernorm.weight"] = torch.ones(D)
            w[f"model.layers.{l}.post_attention_layernorm.weight"] = torch.ones(D)
        w["model.embed_tokens.weight"] = torch.randn(V, D) * 0.02
        w["model.norm.weight"] = torch.ones(D)
        return w
    total = max(off + math.prod(shape) for _, shape, off in spec["index"])
    flat = torch.from_file(spec["path"], shared=False, size=total, dtype=torch.float32)
    return {name: flat[off:off + math.prod(shape)].view(shape) for name, shape, off in spec["index"]}


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(t):
    return torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)


class Model:
    def __init__(self, w):
        self.emb, self.norm = w["model.embed_tokens.weight"], w["model.norm.weight"]
        get = lambda name: w.get(name)
        self.layers = []
        for l in range(L):
            a, m = f"model.layers.{l}.self_attn", f"model.layers.{l}.mlp"
            self.layers.append(dict(
                q=(w[f"{a}.q_proj.weight"], get(f"{a}.q_proj.bias")), k=(w[f"{a}.k_proj.weight"], get(f"{a}.k_proj.bias")),
                v=(w[f"{a}.v_proj.weight"], get(f"{a}.v_proj.bias")), o=w[f"{a}.o_proj.weight"],
                gate=w[f"{m}.gate_proj.weight"], up=w[f"{m}.up_proj.weight"], down=w[f"{m}.down_proj.weight"],
                ln1=w[f"model.layers.{l}.input_layernorm.weight"], ln2=w[f"model.layers.{l}.post_attention_layernorm.weight"],
            ))

    def rope_tables(self, n):
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        f = torch.outer(torch.arange(n, dtype=torch.float32), inv)
        e = torch.cat((f, f), -1)
        return e.cos(), e.sin()

    def step(self, ids, P, cache, cos, sin):
        """ids [B, T] at positions P..P+T-1; cache: per layer (k, v) [B, K, maxLen, hd], written at P..P+T-1.
        Returns the last position's logits [B, V]."""
        B, T = ids.shape
        S = P + T
        c_, s_ = cos[P:S].view(1, T, 1, hd), sin[P:S].view(1, T, 1, hd)
        # Prefill (P = 0): causal over the prompt, one row per (query head in the group, position).
        mask = torch.full((T, T), float("-inf")).triu(1).repeat(G, 1) if T > 1 else None
        x = F.embedding(ids, self.emb)
        for lw, (kc, vc) in zip(self.layers, cache):
            h = rms(x, lw["ln1"])
            q = F.linear(h, *lw["q"]).view(B, T, H, hd)
            k = F.linear(h, *lw["k"]).view(B, T, K, hd)
            v = F.linear(h, *lw["v"]).view(B, T, K, hd)
            q, k = q * c_ + rotate_half(q) * s_, k * c_ + rotate_half(k) * s_
            # In place: this step's keys and values into the preallocated cache; attention reads views of it.
            kc[:, :, P:S] = k.transpose(1, 2)
            vc[:, :, P:S] = v.transpose(1, 2)
            keys, values = kc[:, :, :S], vc[:, :, :S]  # [B, K, S, hd], no copy
            # GQA: query head j*G + g uses kv head j; fold g into the rows (a view when T = 1).
            qf = q.view(B, T, K, G, hd).permute(0, 2, 3, 1, 4).reshape(B, K, G * T, hd)
            # Scores as K q^T, transposed back as a view: the cache is the GEMM's tall left operand (rows =
            # positions), which OpenBLAS runs ~2x faster at P = 1024 than q K^T (few rows against a transposed
            # cache view); the same elsewhere.
            att = torch.matmul(keys, qf.transpose(-1, -2)).transpose(-1, -2).mul_(1.0 / math.sqrt(hd))  # [B, K, G*T, S]
            if mask is not None:
                att = att + mask
            y = torch.matmul(att.softmax(-1), values)  # [B, K, G*T, hd]
            y = y.view(B, K, G, T, hd).permute(0, 3, 1, 2, 4).reshape(B, T, H * hd)
            x = x + F.linear(y, lw["o"])
            h = rms(x, lw["ln2"])
            x = x + F.linear(F.silu(F.linear(h, lw["gate"])) * F.linear(h, lw["up"]), lw["down"])
        return F.linear(rms(x[:, -1], self.norm), self.emb)


def generate(model, prompts, new_tokens, keep_steps, keep_tokens):
    ids = torch.tensor(prompts, dtype=torch.long)
    B, T0 = ids.shape
    max_len = T0 + new_tokens
    cos, sin = model.rope_tables(max_len)
    steps, out = [], []
    t_start = time.perf_counter()
    cache = [(torch.empty(B, K, max_len, hd), torch.empty(B, K, max_len, hd)) for _ in range(L)]
    P = 0
    for n in range(new_tokens):
        t0 = time.perf_counter()
        nxt = model.step(ids, P, cache, cos, sin).argmax(-1)
        steps.append([P, time.perf_counter() - t0])
        out.append(nxt)
        P += ids.shape[1]
        ids = nxt.view(B, 1)
    seconds = time.perf_counter() - t_start
    r = {"batch": B, "prompt": T0, "new_tokens": new_tokens, "seconds": seconds, "tokens_per_s": B * new_tokens / seconds, "prefill_seconds": steps[0][1]}
    if keep_steps:
        r["steps"] = steps
    if keep_tokens:
        r["tokens"] = torch.stack(out, 1).tolist()
    return r


with torch.inference_mode():
    t0 = time.perf_counter()
    model = Model(load_weights())
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "load_seconds": time.perf_counter() - t0}
    if job.get("warmup", True):  # thread pool, allocator and first-call costs, outside the timings
        first = job["generations"][0]
        generate(model, [p[:8] for p in first["prompts"]], 4, False, False)
    result["generations"] = [generate(model, g["prompts"], g["new_tokens"], g.get("steps", False), g.get("tokens", False)) for g in job["generations"]]
# The BLAS the matmuls ran on: the shared libraries this process mapped, and the one torch's build names (pip's
# wheels link MKL into libtorch itself, so nothing named blas is mapped there).
with open("/proc/self/maps") as maps:
    result["blas"] = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
result["blas_build"] = (re.findall(r"BLAS_INFO=([^,\s]+)", torch.__config__.show()) or [None])[0]
print(json.dumps(result))
