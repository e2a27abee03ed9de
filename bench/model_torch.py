# PyTorch eager reference for bench/model.ts: the identical Llama-family model (tied embeddings, GQA, RoPE,
# RMSNorm, SwiGLU), the same batch and the same step (token-mean NLL, backward, global-norm clipping, AdamW),
# timed on CPU with the same thread count. Reads a JSON job from argv[1], prints a JSON result.
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

job = json.loads(sys.argv[1])
c = job["config"]
torch.set_num_threads(job["threads"])
torch.manual_seed(0)
D, H, K, hd, I, V, L = c["hiddenSize"], c["numHeads"], c["numKvHeads"], c["headDim"], c["intermediateSize"], c["vocabSize"], c["numLayers"]
eps, theta = c["rmsNormEps"], c["ropeTheta"]


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))
        self.q, self.k, self.v = (torch.nn.Linear(D, n * hd, bias=False) for n in (H, K, K))
        self.o = torch.nn.Linear(H * hd, D, bias=False)
        self.gate, self.up = torch.nn.Linear(D, I, bias=False), torch.nn.Linear(D, I, bias=False)
        self.down = torch.nn.Linear(I, D, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = rms(x, self.ln1)
        q = self.q(h).view(B, T, H, hd).transpose(1, 2)
        k = self.k(h).view(B, T, K, hd).transpose(1, 2)
        v = self.v(h).view(B, T, K, hd).transpose(1, 2)
        rot = lambda t: torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), -1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(H // K, 1), v.repeat_interleave(H // K, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + self.o(y)
        h = rms(x, self.ln2)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = torch.nn.Parameter(torch.ones(D))

    def forward(self, ids):
        B, T = ids.shape
        pos = torch.arange(T, dtype=torch.float32)
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        f = torch.outer(pos, inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = self.emb(ids)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return rms(x, self.norm) @ self.emb.weight.T


model = Model()
n_params = sum(p.numel() for p in model.parameters())
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
B, T = job["batch"], job["seq"]
ids = torch.randint(2, V, (B, T))


def step():
    logits = model(ids)[:, :-1]
    loss = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


step()  # warm-up
times = []
for _ in range(job["steps"]):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
best = min(times)
print(json.dumps({"params": n_params, "best_step_s": best, "mean_step_s": sum(times) / len(times), "tokens_per_s": B * T / best, "torch": torch.__version__}))
