# PyTorch eager decode peer for bench/gpu/gpu-bench.ts: the same Llama-family model as bench/model_torch.py
# (tied embeddings, GQA, RoPE, RMSNorm, SwiGLU, float32), prefill `prompt` tokens then `steps` greedy one-token
# steps with a KV cache, at each batch size; the median step gives tokens/s, as our decode measurement does.
# Weights are random (timing only). Usage: python3 bench/gpu/torch_decode.py '<job json>'; prints one JSON line.
# job: {"config": LlamaConfig, "batches": [1, 16], "prompt": 32, "steps": 16, "device": "cuda" | "cpu"}
import json
import math
import statistics
import sys
import time

import torch

job = json.loads(sys.argv[1])
c, dev = job["config"], torch.device(job.get("device", "cuda"))
D, H, K, hd, I, V, L = c["hiddenSize"], c["numHeads"], c["numKvHeads"], c["headDim"], c["intermediateSize"], c["vocabSize"], c["numLayers"]
eps, theta = c["rmsNormEps"], c["ropeTheta"]
torch.manual_seed(0)
g = lambda *shape: torch.randn(*shape, device=dev) * 0.02
emb = g(V, D)
layers = [dict(q=g(H * hd, D), k=g(K * hd, D), v=g(K * hd, D), o=g(D, H * hd), gate=g(I, D), up=g(I, D), down=g(D, I)) for _ in range(L)]
inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32, device=dev) / hd))


def rms(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)  # norm weights are 1 at init


def rope(t, pos):  # t [B, n, T, hd], pos [T]
    f = torch.outer(pos.float(), inv)
    cos, sin = torch.cat((f, f), -1).cos(), torch.cat((f, f), -1).sin()
    rot = torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)
    return t * cos + rot * sin


@torch.no_grad()
def step(ids, cache, P):  # ids [B, T]; cache: per layer (k, v) [B, K, P, hd] or None
    B, T = ids.shape
    pos = torch.arange(P, P + T, device=dev)
    x = emb[ids]
    mask = torch.full((T, P + T), float("-inf"), device=dev).triu(P + 1)
    for l, w in enumerate(layers):
        h = rms(x)
        q = rope((h @ w["q"].T).view(B, T, H, hd).transpose(1, 2), pos)
        k = rope((h @ w["k"].T).view(B, T, K, hd).transpose(1, 2), pos)
        v = (h @ w["v"].T).view(B, T, K, hd).transpose(1, 2)
        if cache[l] is not None:
            k, v = torch.cat((cache[l][0], k), 2), torch.cat((cache[l][1], v), 2)
        cache[l] = (k, v)
        kk, vv = k.repeat_interleave(H // K, 1), v.repeat_interleave(H // K, 1)
        att = (q @ kk.transpose(-1, -2)) / math.sqrt(hd) + mask
        y = (att.softmax(-1) @ vv).transpose(1, 2).reshape(B, T, H * hd)
        x = x + y @ w["o"].T
        h = rms(x)
        x = x + (torch.nn.functional.silu(h @ w["gate"].T) * (h @ w["up"].T)) @ w["down"].T
    return rms(x[:, -1]) @ emb.T  # [B, V]


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"}
for B in job["batches"]:
    ids = torch.randint(2, V, (B, job["prompt"]), device=dev)
    cache, P, times, prefill = [None] * L, 0, [], 0.0
    for s in range(job["steps"] + 1):
        sync()
        t0 = time.perf_counter()
        logits = step(ids, cache, P)
        ids = logits.argmax(-1, keepdim=True)  # greedy, like our measurement
        ids.cpu()  # the next token reaches the host, as a sampler on the host needs it
        sync()
        dt = time.perf_counter() - t0
        P += job["prompt"] if s == 0 else 1
        if s == 0:
            prefill = dt
        else:
            times.append(dt)
    med = statistics.median(times)
    out[f"batch_{B}"] = {"tokensPerSecond": B / med, "stepSecondsMedian": med, "prefillSeconds": prefill}
print(json.dumps(out))
