"""Device helpers: pick the best available device and move (nested) batches onto it."""
from collections.abc import Mapping

import torch
from torch.utils.data import default_collate

__all__ = ['def_device', 'to_device', 'collate_device']

# Prefer a GPU, then Apple silicon, then the CPU, so the same notebook runs anywhere.
def_device = ('cuda' if torch.cuda.is_available()
              else 'mps' if torch.backends.mps.is_available()
              else 'cpu')


def to_device(x, device=def_device):
    "Move a tensor, or every tensor inside a dict/list/tuple, to `device` (other values pass through)."
    if isinstance(x, torch.Tensor): return x.to(device)
    if isinstance(x, Mapping): return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, list): return [to_device(o, device) for o in x]
    if isinstance(x, tuple):
        res = [to_device(o, device) for o in x]
        return type(x)(*res) if hasattr(x, '_fields') else type(x)(res)  # namedtuples take fields positionally
    return x


def collate_device(b):
    "A DataLoader `collate_fn` that builds the batch and puts it on `def_device` in one go."
    return to_device(default_collate(b))
