"""Running under ``torchrun``: process group, sharding, gathering, rank-0-only output.

``torchrun --nproc-per-node N -m gibench run ...`` (or multi-node with torchrun's rendezvous
flags) starts N copies of the command with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set. The engine
then joins the process group (NCCL on CUDA, gloo on the CPU), trains with
DistributedDataParallel on disjoint parts of each epoch's shuffled order, evaluates disjoint
shards of every index and gathers the scores to rank 0, which alone writes the run directory.
Without those variables (a plain ``gibench run``) everything here is a no-op for one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from gibench.errors import GibenchError


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: ``rank`` of ``world`` (``local_rank`` on its node)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    #: started by torchrun (a process group is joined, even for one process)
    launched: bool = False

    @property
    def enabled(self) -> bool:
        return self.launched

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, shows progress bars and writes outputs."""
        return self.rank == 0


SINGLE = Dist()


def from_env() -> Dist:
    """The job torchrun describes in the environment (one process when it describes none).

    A job of one process started by torchrun (``--nproc-per-node 1``) is a job too: it joins a
    process group of one and runs the sharded, gathered path, so that the NCCL path can be
    exercised on a machine with one GPU. Without torchrun's variables (``WORLD_SIZE`` above 1,
    or ``RANK``, ``WORLD_SIZE`` and ``MASTER_ADDR`` all set) there is no job."""
    env = os.environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise GibenchError(f"RANK/WORLD_SIZE/LOCAL_RANK are not integers: {exc}") from exc
    launched = world > 1 or all(k in env for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))
    return Dist(rank, world, local, True) if launched else SINGLE


def backend(job: Dist) -> str | None:
    """The process group's backend (``nccl``, ``gloo``), ``None`` without torchrun."""
    if job.enabled and dist.is_initialized():
        return str(dist.get_backend())
    return None


def init(device_type: str) -> Dist:
    """Join the process group when torchrun started us; pick the backend for the device."""
    job = from_env()
    if job.enabled and not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(job.local_rank)
        dist.init_process_group(backend=backend)
    return job


def device_for(job: Dist, device: torch.device) -> torch.device:
    """Each process of a CUDA job uses the GPU of its local rank."""
    if job.enabled and device.type == "cuda":
        return torch.device("cuda", job.local_rank)
    return device


def shard(n: int, job: Dist) -> np.ndarray:
    """The positions ``rank, rank + world, …`` of ``0..n-1``: disjoint, covering every position
    once, no padding (unlike DistributedSampler, which repeats samples to even the shards)."""
    return np.arange(job.rank, n, job.world, dtype=np.int64)


def shard_index(index, job: Dist):
    """This rank's disjoint part of an :class:`~gibench.data.layout.ImageIndex` (all of it
    without torchrun)."""
    if not job.enabled:
        return index
    return index.subsample(shard(len(index), job))


def gather_scores(index, scores, job: Dist):
    """Every rank's :class:`~gibench.engine.evaluate.Scores` of its part of ``index``
    (:func:`shard_index`), as one ``Scores`` in index order on every rank — the same as one
    process scoring all of it. ``timings`` stay this rank's breakdown."""
    if not job.enabled:
        return scores
    from gibench.engine.evaluate import Scores

    positions = shard(len(index), job)[scores.positions]
    parts = gather_objects((positions, scores.logits, scores.bad, scores.seconds), job)
    pos = np.concatenate([p[0] for p in parts])
    order = np.argsort(pos, kind="stable")
    logits = np.concatenate([p[1] for p in parts])[order]
    bad = sorted(b for p in parts for b in p[2])
    return Scores(index, pos[order], logits, bad, max(p[3] for p in parts), scores.timings)


def epoch_order(n: int, seed: int, epoch: int, job: Dist, shuffle: bool = True) -> list[int]:
    """This rank's part of epoch ``epoch``'s order: one permutation seeded by (seed, epoch),
    shared by all ranks, padded by wrapping to a multiple of ``world`` (training only: every
    rank must take the same number of steps), then dealt out ``rank::world``."""
    if shuffle:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    if job.enabled and n % job.world:
        order += order[:job.world - n % job.world]
    return order[job.rank::job.world]


def gather_objects(obj, job: Dist) -> list:
    """Every rank's ``obj``, in rank order, on every rank (gloo and NCCL alike)."""
    if not job.enabled:
        return [obj]
    out: list = [None] * job.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, job: Dist):
    """Rank 0's ``obj`` on every rank."""
    if not job.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(job: Dist) -> None:
    if job.enabled:
        dist.barrier()


def per_process_batch(batch_size: int, job: Dist) -> int:
    """The per-process batch that keeps the global batch of one process: ``batch / world``."""
    if batch_size % job.world:
        raise GibenchError(f"batch size {batch_size} is not divisible by the {job.world} "
                           f"processes: pass {{batch_size}} with a multiple of {job.world} so "
                           "that the global batch (and so the recipe's lr) stays the same",
                           params=["batch_size"])
    return batch_size // job.world


def shutdown(job: Dist) -> None:
    if job.enabled and dist.is_initialized():
        dist.destroy_process_group()
