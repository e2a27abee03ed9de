# PyTorch CPU eager peer of bench/model-scale.ts's training run, on the same shapes in the same bench run: a
# Qwen2 model (RMSNorm, RoPE, GQA attention with q/k/v biases, SwiGLU MLP, tied LM head; random init, fp32)
# built from the run's config.json, timed doing what the run's rollout actor and learner did:
#  - generation: `gen_rows` rows from a `prompt_len`-token prompt, `new_tokens` sampled tokens each (T = 1)
#    with a KV cache, prefill included (the rollout actor's generateSeconds counts its prefill too);
#  - an update: log-probs recomputed with no gradient (the learner's old log-probs), then `rows / mini_rows`
#    optimizer steps, each over micro-batches of `micro_rows` rows (forward + backward, gradients summed),
#    global-norm clipping and AdamW; the loss is DAPO's clipped token-level surrogate over the response tokens
#    (the LM head runs on those positions only, as the learner's does).
# Reads a JSON job from argv[1]; prints one JSON line: tokens/s of each, seconds, peak RSS after each.
import json
import math
import re
import resource
import sys
import time

import torch
import torch.nn.functional as F

job = json.loads(sys.argv[1])
c = job["config"]
torch.set_num_threads(job["threads"])
torch.manual_seed(job.get("seed", 1))
D, L, H, K, I, V = c["hidden_size"], c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"], c["vocab_size"]
hd, eps, theta = D // H, c["rms_norm_eps"], c["rope_theta"]


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rot(t):
    return torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
        self.q, self.k, self.v = (torch.nn.Linear(D, n * hd, bias=True) for n in (H, K, K))
        self.o = torch.nn.Linear(H * hd, D, bias=False)
        self.gate, self.up = torch.nn.Linear(D, I, bias=False), torch.nn.Linear(D, I, bias=False)
        self.down = torch.nn.Linear(I, D, bias=False)

    def forward(self, x, cos, sin, mask, cache=None, pos=0):
        B, T, _ = x.shape
        h = rms(x, self.ln1)
        q = self.q(h).view(B, T, H, hd).transpose(1, 2)
        k = self.k(h).view(B, T, K, hd).transpose(1, 2)
        v = self.v(h).view(B, T, K, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if cache is not None:  # preallocated [B, K, P + N, hd]: write this step's keys, attend to all so far
            cache[0][:, :, pos:pos + T], cache[1][:, :, pos:pos + T] = k, v
            k, v = cache[0][:, :, : pos + T], cache[1][:, :, : pos + T]
        k, v = k.repeat_interleave(H // K, 1), v.repeat_interleave(H // K, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        if mask is not None:
            att = att + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + self.o(y)
        h = rms(x, self.ln2)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        torch.nn.init.normal_(self.emb.weight, std=0.02)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))

    def forward(self, ids, caches=None, pos=0, scored_from=0):
        B, T = ids.shape
        f = torch.outer(torch.arange(pos, pos + T, dtype=torch.float32), self.inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1) if T > 1 else None
        if mask is not None and pos > 0:
            mask = torch.cat((torch.zeros(T, pos), mask), -1)
        x = self.emb(ids)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, mask, caches[i] if caches else None, pos)
        # The LM head over the scored positions only (as our learner does: TokenBatch.scoreMask).
        return rms(x[:, scored_from:], self.norm) @ self.emb.weight.T


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


model = Model()
n_params = sum(p.numel() for p in model.parameters())
P, N, G = job["prompt_len"], job["new_tokens"], job["gen_rows"]
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "params": n_params}

# Generation: one batch of G rows sharing a prompt, as a rollout group of G responses does.
with torch.no_grad():
    prompt = torch.randint(2, V, (1, P)).expand(G, P)
    caches = [(torch.zeros(G, K, P + N, hd), torch.zeros(G, K, P + N, hd)) for _ in range(L)]
    t0 = time.perf_counter()
    logits = model(prompt, caches, 0)[:, -1]
    for n in range(N):
        # Inverse-CDF sampling at T = 1 (torch.multinomial over 151,936 ids takes ~15x longer).
        cdf = logits.softmax(-1).cumsum(-1)
        tok = torch.searchsorted(cdf, torch.rand(G, 1) * cdf[:, -1:]).clamp_(max=V - 1)
        if n == N - 1:
            break
        logits = model(tok, caches, P + n)[:, -1]
    gen_s = time.perf_counter() - t0
    del caches
out["generation"] = {"rows": G, "prompt_len": P, "new_tokens": N, "seconds": gen_s, "tokens_per_s": G * N / gen_s}
out["peak_rss_after_generation_bytes"] = peak_rss_bytes()

# Updates: rows of prompt + response tokens, the loss over the response positions.
R, T, mb, mini = job["rows"], job["seq"], job["micro_rows"], job["mini_rows"]
ids = torch.randint(2, V, (R, T))
resp = torch.ones(R, T - P)  # the response tokens' loss weights
adv = torch.randn(R, 1).expand(R, T - P)
opt = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=job["weight_decay"])


def logprobs(rows):
    # Positions P-1 .. T-2 predict the response tokens P .. T-1.
    logits = model(ids[rows], scored_from=P - 1)[:, :-1]
    return logits.log_softmax(-1).gather(-1, ids[rows, P:].unsqueeze(-1)).squeeze(-1)


def update():
    with torch.no_grad():
        old = torch.cat([logprobs(slice(r, min(R, r + mb))) for r in range(0, R, mb)])
    for m0 in range(0, R, mini):
        m1 = min(R, m0 + mini)
        n_tok = resp[m0:m1].sum()
        opt.zero_grad(set_to_none=True)
        for r in range(m0, m1, mb):
            s = slice(r, min(m1, r + mb))
            ratio = (logprobs(s) - old[s]).exp()
            a, w = adv[s], resp[s]
            loss = -(torch.min(ratio * a, ratio.clamp(1 - 0.2, 1 + 0.28) * a) * w).sum() / n_tok
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


steps = []
for _ in range(job["steps"]):
    t0 = time.perf_counter()
    update()
    steps.append(time.perf_counter() - t0)
best = min(steps)
out["training"] = {
    "rows": R, "seq": T, "micro_rows": mb, "mini_rows": mini, "optimizer_steps": math.ceil(R / mini), "step_seconds": steps,
    "best_step_s": best, "tokens": R * T, "tokens_per_s": R * T / best,
}
out["peak_rss_bytes"] = peak_rss_bytes()
# The BLAS the matmuls ran on: the shared libraries this process mapped, and the one torch's build names (pip's
# wheels link MKL into libtorch itself, so nothing named blas is mapped there).
with open("/proc/self/maps") as maps:
    out["blas"] = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1]})
out["blas_build"] = (re.findall(r"BLAS_INFO=([^,\s]+)", torch.__config__.show()) or [None])[0]
print(json.dumps(out))
