# PyTorch eager peer on the GPU for bench/gpu/gpu-bench.ts: runs bench/model_torch.py unchanged (same model,
# batch, loss, clipping and AdamW as our learner) with CUDA as the default device and a clock that waits for the
# GPU first, so each timed step includes its kernels and not only their launch.
# Usage: python3 bench/gpu/torch_cuda.py bench/model_torch.py '<job json>'
import runpy
import sys
import time

import torch

if not torch.cuda.is_available():
    sys.exit("torch_cuda.py: torch.cuda.is_available() is False")
torch.set_default_device("cuda")
_clock = time.perf_counter


def synced_clock():
    torch.cuda.synchronize()
    return _clock()


time.perf_counter = synced_clock
script, job = sys.argv[1], sys.argv[2]
sys.argv = [script, job]
runpy.run_path(script, run_name="__main__")
