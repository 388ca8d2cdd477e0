"""Which GPUs grading may use, and which one each running submission gets.

Every kernel picks `cuda` (device 0) when it sees a GPU, so without this all of a class's runs would
pile onto one GPU. Here each concurrently running submission holds one *slot* (a GPU, or the CPU)
for the whole of its run, and its kernel sees only that GPU (CUDA_VISIBLE_DEVICES). A GPU has one
slot unless `--per-gpu K` asks for K; its memory is then shared out by a cap on each kernel's
caching allocator (PYTORCH_CUDA_ALLOC_CONF's per_process_memory_fraction), so a kernel that runs
out of GPU memory fails on its own, not its neighbours. Everything here is plain data and pure
functions over an environment mapping, so it is tested with fake device lists on a CPU machine.

On a Dask cluster the same idea is one worker per GPU (dask-cuda's `LocalCUDACluster` or
`dask cuda worker`, which give each worker a CUDA_VISIBLE_DEVICES that starts with its own GPU):
a task gets `Slot(WORKER)` and `kernel_env` resolves it to that worker's GPU.
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

CPU = ""  # Slot.device of a kernel that must not see any GPU
WORKER = None  # Slot.device of a task on a Dask worker: the GPU that worker was given
CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for deterministic results (torch's reproducibility notes)
CONTEXT_RESERVE = 0.1  # share of each GPU's memory left outside the caps, for the kernels' CUDA contexts


class GpuChoiceError(ValueError):
    """--gpus / --per-gpu / --jobs that cannot be honoured on this machine."""


@dataclass(frozen=True)
class Slot:
    """Where one submission runs: `device` is a GPU as CUDA_VISIBLE_DEVICES names it ("0", "GPU-…"),
    CPU ("") for no GPU, or WORKER (None) for the GPU of the Dask worker the task lands on."""
    device: str | None = CPU
    memory_fraction: float = 1 - CONTEXT_RESERVE  # of the GPU's memory this kernel may allocate


@dataclass
class Plan:
    """What `autograde grade` will use: GPUs, submissions per GPU, how many run at once, their slots."""
    gpus: list[str]
    per_gpu: int
    jobs: int
    slots: list[Slot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # adjustments the user should hear about

    def describe(self) -> str:
        if not self.gpus:
            return f"grading on the CPU, {self.jobs} submission(s) at once"
        each = f", {self.per_gpu} per GPU" if self.per_gpu > 1 else ", one per GPU"
        return (f"grading on GPU(s) {','.join(self.gpus)}{each}: {self.jobs} submission(s) at once, each "
                f"kernel seeing only its GPU and capped at {self.slots[0].memory_fraction:.0%} of its memory")


# --------------------------------------------------------------------------- discovery

def parse_visible(value: str) -> list[str]:
    """CUDA_VISIBLE_DEVICES's entries, as CUDA reads them: indices or UUIDs, up to the first invalid one."""
    found = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry or entry.startswith("-"):
            break  # CUDA ignores this entry and every one after it ("-1" hides all GPUs)
        found.append(entry)
    return found


def torch_gpu_count() -> int:
    """How many GPUs torch sees. torch counts through NVML first, which does not start CUDA, so
    CUDA_VISIBLE_DEVICES can still be changed for this process afterwards (see pin_this_process)."""
    try:
        import torch
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch, or a broken driver: grading can still run on the CPU
        return 0


def visible_gpus(environ: Mapping[str, str] = os.environ, count: Callable[[], int] = torch_gpu_count) -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's when it is set, else all torch sees."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return parse_visible(environ["CUDA_VISIBLE_DEVICES"])
    return [str(i) for i in range(count())]


def choose(spec: str | None, available: list[str]) -> list[str]:
    """The GPUs `--gpus spec` names: None for all available, "none" for the CPU, or a list like "0,2"."""
    if spec is None:
        return list(available)
    spec = spec.strip()
    if spec.lower() in ("none", "cpu", ""):
        return []
    wanted = [s.strip() for s in spec.split(",")]
    if any(not s for s in wanted) or len(set(wanted)) != len(wanted):
        raise GpuChoiceError(f"--gpus {spec!r}: name each GPU once, separated by commas (e.g. --gpus 0,2), "
                             f"or --gpus none for the CPU")
    missing = [s for s in wanted if s not in available]
    if missing:
        have = ",".join(available) if available else "none"
        raise GpuChoiceError(f"--gpus {spec}: GPU(s) {','.join(missing)} not available here; the GPUs grading "
                             f"may use are: {have} (CUDA_VISIBLE_DEVICES, else all that torch sees)")
    return wanted


def memory_fraction(per_gpu: int) -> float:
    """Each of `per_gpu` kernels on one GPU gets an equal share of what the CUDA contexts leave."""
    return round((1 - CONTEXT_RESERVE) / per_gpu, 4)


def make_slots(gpus: list[str], per_gpu: int) -> list[Slot]:
    """K slots per GPU, GPU by GPU in turn, so that the first submissions spread over all GPUs."""
    share = memory_fraction(per_gpu)
    return [Slot(gpu, share) for _ in range(per_gpu) for gpu in gpus]


def plan(gpus_spec: str | None = None, per_gpu: int | None = None, jobs: int | None = None, *,
         environ: Mapping[str, str] = os.environ, count: Callable[[], int] = torch_gpu_count,
         cores: int | None = None) -> Plan:
    """Decide GPUs, submissions per GPU and --jobs from the options and the machine.

    --jobs defaults to what the machine can take: GPUs x per-gpu with GPUs, else one submission
    per two cores (a kernel and its runner each keep a core busy)."""
    if per_gpu is not None and per_gpu < 1:
        raise GpuChoiceError(f"--per-gpu {per_gpu}: must be 1 or more")
    if jobs is not None and jobs < 1:
        raise GpuChoiceError(f"--jobs {jobs}: must be 1 or more")
    gpus = choose(gpus_spec, visible_gpus(environ, count))
    cores = cores or os.cpu_count() or 1
    notes = []
    if not gpus:
        if per_gpu not in (None, 1):
            notes.append(f"--per-gpu {per_gpu} ignored: grading on the CPU")
        jobs = jobs or max(1, cores // 2)
        return Plan([], 1, jobs, [Slot(CPU)] * jobs, notes)
    per_gpu = per_gpu or 1
    slots = make_slots(gpus, per_gpu)
    if jobs is not None and jobs > len(slots):
        notes.append(f"--jobs {jobs} lowered to {len(slots)}: {len(gpus)} GPU(s) x {per_gpu} per GPU "
                     f"(--per-gpu K lets K submissions share a GPU)")
        jobs = len(slots)
    return Plan(gpus, per_gpu, jobs or len(slots), slots, notes)


def for_grading(gpus_spec: str | None, per_gpu: int | None, jobs: int | None, scheduler: str | None,
                say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)) -> Plan:
    """`autograde grade`'s plan from its options, said in one line; this process pinned to match.
    On a Dask cluster the workers own the GPUs: each task uses its worker's (see README, lab admins)."""
    try:
        if scheduler:
            share = memory_fraction(per_gpu or 1)
            chosen = Plan([], per_gpu or 1, jobs or 1, [Slot(WORKER, share)])
            say(f"on the Dask cluster each submission uses its worker's GPU (one worker per GPU: dask-cuda), "
                f"its kernel capped at {share:.0%} of that GPU's memory")
            return chosen
        chosen = plan(gpus_spec, per_gpu, jobs)
    except GpuChoiceError as e:
        raise SystemExit(str(e)) from None
    pin_this_process(chosen.gpus)
    for line in [*chosen.notes, chosen.describe()]:
        say(line)
    return chosen


# --------------------------------------------------------------------------- assignment

class SlotPool:
    """Slots that running submissions take and give back; `acquire` waits while all are taken."""

    def __init__(self, slots: Iterable[Slot]):
        self._free = list(slots)
        if not self._free:
            raise ValueError("a SlotPool needs at least one slot")
        self._cond = threading.Condition()

    def acquire(self) -> Slot:
        with self._cond:
            self._cond.wait_for(lambda: self._free)
            return self._free.pop(0)

    def release(self, slot: Slot) -> None:
        with self._cond:
            self._free.append(slot)
            self._cond.notify()

    def free(self) -> list[Slot]:
        with self._cond:
            return list(self._free)


def run_on_slots(slots: list[Slot], items: Iterable, start: Callable[[object, Slot], Future],
                 limit: int | None = None) -> Iterator[Any]:
    """Start `start(item, slot)` for each item with a free slot, at most `limit` at once (default: one
    per slot); yield the results as they finish. A slot is given back only when its run is over,
    so no two running submissions ever share a slot."""
    pool = SlotPool(slots[:limit] if limit else slots)
    running: dict[Future, Slot] = {}
    pending = list(items)
    while pending or running:
        while pending and pool.free():
            slot = pool.acquire()
            running[start(pending.pop(0), slot)] = slot
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in done:
            pool.release(running.pop(fut))
            yield fut.result()


# --------------------------------------------------------------------------- the kernel's side

def resolve(slot: Slot, environ: Mapping[str, str] = os.environ) -> str | None:
    """The slot's device: WORKER becomes the first GPU of this (Dask worker) process's
    CUDA_VISIBLE_DEVICES, which is the worker's own GPU under dask-cuda; None when unset."""
    if slot.device is not WORKER:
        return slot.device
    if "CUDA_VISIBLE_DEVICES" not in environ:
        return None  # a worker not pinned to a GPU: the kernel sees what the machine has
    return (parse_visible(environ["CUDA_VISIBLE_DEVICES"]) or [CPU])[0]


def kernel_env(slot: Slot, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables the sandboxed kernel gets for its slot: the only GPU it sees, its memory cap,
    and cuBLAS's deterministic workspace."""
    device = resolve(slot, environ)
    if device == CPU:
        return {"CUDA_VISIBLE_DEVICES": ""}
    env = {"PYTORCH_CUDA_ALLOC_CONF": f"per_process_memory_fraction:{slot.memory_fraction:g}",
           "CUBLAS_WORKSPACE_CONFIG": CUBLAS_WORKSPACE}
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
    return env


def pin_this_process(gpus: list[str], environ=os.environ) -> None:
    """Make the grader's own torch (the solution's reference runs) use the first grading GPU, or the
    CPU without GPUs, so the reference runs on the same kind of device as the students' kernels.
    Must run before anything starts CUDA in this process (CUDA reads the variable once)."""
    environ["CUDA_VISIBLE_DEVICES"] = gpus[0] if gpus else ""
    if gpus:
        environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


def device_kind() -> str:
    """What the short runs' numbers depend on: 'cpu', or 'cuda:' and the GPU's name."""
    from miniai.conv import def_device
    if def_device == "cuda":
        import torch
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return str(def_device)


OOM_MARKERS = ("OutOfMemoryError", "CUDA out of memory")


def explain_oom(message: str, slot: Slot | None) -> str:
    """Feedback for a test lost to GPU memory: say so, and say what the submission's share was."""
    if not message or not any(m in message for m in OOM_MARKERS) or "GPU memory" in message:
        return message
    share = f" (at most {slot.memory_fraction:.0%} of it)" if slot is not None else ""
    return (f"{message} Your code ran out of GPU memory: each submission may use only its share of the "
            f"GPU's memory{share}, so only your own tests were lost. Keep fewer tensors alive on the GPU "
            f"(e.g. store losses with .item(), not the tensors).")
