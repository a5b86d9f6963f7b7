"""Updates/s of the PyTorch reference MADDPG update on a chosen device (CUDA on the GPU machine), one JSON
line per setting; bench_update_ref.py's CPU measurement, with the networks, batches and timing on --device.

  python3 bench/reference/bench_update_ref_device.py [--device cuda] [--threads 1] [--batch 256]
                                                     [--hidden 128,128] [--seconds 3] [--variant maddpg|matd3]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maddpg_ref import MADDPG, VARIANTS, random_batch  # noqa: E402

BATCH_POOL = 8  # distinct batches cycled through, as in native/bench/bench_update.cc
WARMUP_UPDATES = 10


def ints(text):
    return [int(x) for x in text.split(",")]


def to_device(agent, device):
    """Moves every network of the reference to `device`; the optimizers keep the same parameter objects."""
    for net in agent.nets:
        for _, module in net.named_networks():
            module.to(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=ints, default=[1])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=ints, default=[128, 128])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--variant", choices=["maddpg", "matd3"], default="maddpg")
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(123)
    pool = [{k: torch.from_numpy(v).to(device) for k, v in random_batch(rng, args.batch).items()}
            for _ in range(BATCH_POOL)]
    for threads in args.threads:
        torch.set_num_threads(threads)
        agent = MADDPG(seed=0, actor_hidden=args.hidden, critic_hidden=args.hidden, **VARIANTS[args.variant])
        to_device(agent, device)
        # MATD3 smoothing noise is drawn on the CPU by the reference; hand it over on the device instead.
        noise = torch.randn(args.batch, 2, 2, device=device) if args.variant == "matd3" else None
        for u in range(WARMUP_UPDATES):
            agent.update(**pool[u % BATCH_POOL], target_noise=noise)
        sync(device)
        updates, start = 0, time.perf_counter()
        elapsed = 0.0
        while elapsed < args.seconds:
            agent.update(**pool[updates % BATCH_POOL], target_noise=noise)
            updates += 1
            if updates % 10 == 0:
                sync(device)
                elapsed = time.perf_counter() - start
        sync(device)
        elapsed = time.perf_counter() - start
        print(json.dumps(dict(impl="reference", device=str(device), variant=args.variant, threads=threads,
                              batch=args.batch, hidden=args.hidden, updates=updates, seconds=elapsed,
                              updates_per_s=updates / elapsed, torch_version=torch.__version__,
                              device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu")),
              flush=True)


if __name__ == "__main__":
    main()
