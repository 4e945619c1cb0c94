"""Data-parallel training over the processes that `torchrun` or `accelerate launch` start: every
process follows the same batch plan and takes its share of each batch, and PyTorch's
DistributedDataParallel averages the gradients during backward (overlapping communication with
computation), so N processes train exactly the single-process recipe (same global batch, same
steps), faster."""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """This process's place among the training processes; the default is a lone process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that reports, tracks and writes files."""
        return self.rank == 0

    @property
    def device(self) -> str:
        import torch

        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"

    def shard(self, items: Sequence) -> list:
        """This process's share of ITEMS: every size-th one, starting at its rank."""
        return list(items[self.rank :: self.size])

    def sum(self, *values: float) -> list[float]:
        """VALUES summed over all processes (every process must call it, in the same order)."""
        if self.size == 1:
            return [float(value) for value in values]
        import torch
        import torch.distributed as dist

        total = torch.tensor([float(value) for value in values], dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return total.tolist()

    def data_parallel(self, model):
        """MODEL as the training steps call it: wrapped in DistributedDataParallel, which starts
        every process from the main one's weights (e.g. randomly initialised adapters) and makes
        each backward average the gradients over the processes; MODEL itself in a lone process.
        Every process must then run each step's forward and backward."""
        if self.size == 1:
            return model
        import torch
        from torch.nn.parallel import DistributedDataParallel

        # Buffers (rotary frequencies, masks) are constants: no broadcast before every forward.
        device_ids = [self.local_rank] if torch.cuda.is_available() else None
        return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block in the main process first, then in the others: for work that writes
        shared files (a dataset version, the cached base model) that the others then read."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()


SINGLE = World()


@functools.cache
def world() -> World:
    """This process's world: a lone process, or one of WORLD_SIZE started by a launcher
    (which sets RANK, LOCAL_RANK and the rendezvous address); joins the process group once."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return SINGLE
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        atexit.register(dist.destroy_process_group)
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=local_rank)
