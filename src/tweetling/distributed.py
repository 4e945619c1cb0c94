"""Data-parallel training over the processes that `torchrun` or `accelerate launch` start: every
process follows the same batch plan, takes its share of each batch and the gradients are summed,
so N processes train exactly the single-process recipe (same global batch, same steps), faster."""

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

    def sum_gradients(self, params: list) -> None:
        """Replace each parameter's gradient by its sum over all processes, in one all-reduce;
        a process that had no examples in this step contributes zeros."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([grad.reshape(-1) for grad in grads])
        dist.all_reduce(flat)
        offset = 0
        for p in params:
            p.grad = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()

    def broadcast_from_main(self, params: list) -> None:
        """Give every process the main process's values of PARAMS (e.g. randomly initialised adapters)."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for p in params:
                dist.broadcast(p.data, src=0)

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
