"""Microseconds per optimizer step on the course model: the lesson's optimizers vs torch.optim.

The model is the lesson's (`get_model(partial(GeneralRelu, leak=0.1, sub=0.4), norm=nn.BatchNorm2d)`,
init_weights with leaky 0.1); the gradients come from one real backward pass on a batch of 256
Fashion-MNIST images and stay fixed, so only `opt.step()` is timed (no zero_grad, no backward).
Each optimizer gets its own copy of the model. The lesson's SGD, Momentum, RMSProp and Adam are
the solution versions (autograde.reference.solution_classes()); torch.optim's counterparts run with
foreach=False (a loop over parameters, like the lesson's), foreach=True (multi-tensor kernels) and,
where this device supports it, fused=True. Hyper-parameters match the lesson's defaults; the
learning rate is tiny (1e-6) so that thousands of steps leave the weights where they were.

Steps are timed one by one, interleaved: every round runs a few steps of each optimizer in turn,
so a busy machine slows all of them alike. Reported: median (and 10th-90th percentile) per step.

    python bench/optimizer_step.py [--quick] [--rounds N] [--steps-per-round N]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

LR = 1e-6


def make_model_and_grads(bs: int = 256):
    import torch.nn.functional as F
    from torch import nn
    from miniai.activations import set_seed
    from miniai.conv import def_device
    from miniai.datasets import fashion_tensors
    from miniai.init import GeneralRelu, get_model, init_weights
    set_seed(42)
    try:
        x, y = fashion_tensors("train", n=bs, mean=0.28, std=0.35)
        data = "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - any data problem: fall back to the committed sample
        x, y = fashion_tensors("train", sample=True, n=bs, mean=0.28, std=0.35)
        data = "Fashion-MNIST (committed sample)"
    model = get_model(partial(GeneralRelu, leak=0.1, sub=0.4), norm=nn.BatchNorm2d).apply(partial(init_weights, leaky=0.1))
    model = model.to(def_device)
    loss = F.cross_entropy(model(x.to(def_device)), y.to(def_device))
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    return model, grads, f"{data}, batch {len(x)}"


def optimizers():
    """(family, label, factory(params) -> optimizer), lesson's first in each family."""
    import torch
    from autograde.trusted import solution as reference
    sol = reference.solution_classes()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    out = []

    def torch_variants(family, cls, **kw):
        name = f"torch.optim.{cls.__name__}" + (f"(momentum={kw['momentum']})" if "momentum" in kw else "")
        for mode, extra in (("foreach=False", {"foreach": False}), ("foreach=True", {"foreach": True}),
                            ("fused=True", {"fused": True})):
            out.append((family, f"{name}, {mode}", partial(cls, lr=LR, **kw, **extra)))

    out.append(("SGD", "lesson SGD", partial(sol["SGD"], lr=LR)))
    torch_variants("SGD", torch.optim.SGD, momentum=0.0)
    out.append(("momentum", "lesson Momentum (mom 0.9)", partial(sol["Momentum"], lr=LR)))
    torch_variants("momentum", torch.optim.SGD, momentum=0.9)
    out.append(("RMSProp", "lesson RMSProp (sqr_mom 0.99, eps 1e-5)", partial(sol["RMSProp"], lr=LR)))
    torch_variants("RMSProp", torch.optim.RMSprop, alpha=0.99, eps=1e-5)
    out.append(("Adam", "lesson Adam (betas 0.9/0.99, eps 1e-5)", partial(sol["Adam"], lr=LR)))
    torch_variants("Adam", torch.optim.Adam, betas=(0.9, 0.99), eps=1e-5)
    return out, dev


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 30; 6 with --quick)")
    p.add_argument("--steps-per-round", type=int, default=10)
    p.add_argument("--warmup", type=int, default=20, help="untimed steps per optimizer first")
    p.add_argument("--threads", type=int, nargs="+", help="intra-op thread counts to measure (default: 1 and torch's default)")
    common.add_markdown_arg(p)
    args = p.parse_args()
    rounds = args.rounds or (6 if args.quick else 30)
    common.set_offline()
    import torch
    print(common.machine_line())
    from miniai.conv import def_device
    print(f"device: {def_device}")
    model, grads, data = make_model_and_grads()
    n_params = sum(p.numel() for p in model.parameters())
    n_tensors = len(grads)
    sync = torch.cuda.synchronize if def_device == "cuda" else (lambda: None)
    specs, _ = optimizers()
    live, skipped = [], []
    for family, label, factory in specs:
        m = copy.deepcopy(model)
        for prm, g in zip(m.parameters(), grads):
            prm.grad = g.clone()
        try:
            opt = factory(list(m.parameters()))
            for _ in range(args.warmup):
                opt.step()
            sync()
        except Exception as e:  # noqa: BLE001 - e.g. fused not supported on this device
            skipped.append((family, label, f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"))
            print(f"  {label}: not supported here ({type(e).__name__})")
            continue
        live.append((family, label, opt, []))
    default_threads = torch.get_num_threads()
    settings = [1] if args.threads == [1] or default_threads == 1 else sorted(set(args.threads or [1, default_threads]))
    times = {(label, th): [] for _, label, _, _ in live for th in settings}
    for _ in range(rounds):
        for th in settings:
            torch.set_num_threads(th)
            for _family, label, opt, _ in live:
                opt.step()  # one untimed step after the thread-count switch
                for _ in range(args.steps_per_round):
                    t = time.perf_counter()
                    opt.step()
                    sync()
                    times[(label, th)].append(time.perf_counter() - t)
    torch.set_num_threads(default_threads)
    stats = {}
    for _family, label, _opt, _ in live:
        for th in settings:
            us = sorted(t * 1e6 for t in times[(label, th)])
            q = statistics.quantiles(us, n=10)
            stats[(label, th)] = (statistics.median(us), q[0], q[-1])
            print(f"  {label:<50} {th} thread(s): {statistics.median(us):9.1f} us/step "
                  f"(p10 {q[0]:.1f}, p90 {q[-1]:.1f}, n={len(us)})")
    lesson = {(f, th): stats[(lab, th)][0] for f, lab, _, _ in live if lab.startswith("lesson") for th in settings}
    rows = []
    for family, label, _opt, _ in live:
        row = [family, label]
        for th in settings:
            med, p10, p90 = stats[(label, th)]
            ratio = lesson.get((family, th), float("nan")) / med
            row += [f"{med:.1f}", f"{p10:.0f} – {p90:.0f}", f"{ratio:.2f}x"]
        rows.append(row)
    for family, label, why in skipped:
        rows.append([family, label, "not supported", "–", why] + ["–", "–", "–"] * (len(settings) - 1))
    headers = ["family", "optimizer"]
    for th in settings:
        headers += [f"µs / step, {th} thread{'s' if th > 1 else ''} (median)", "p10 – p90", "vs the lesson's"]
    md = "\n".join([
        f"Measured on: {common.machine_line()}. Device: **{common.device_description()}**.",
        "",
        f"The course model ({n_params:,} parameters in {n_tensors} tensors), gradients from one backward pass "
        f"({data}) kept fixed; lr {LR:g}, no weight decay. Median over {rounds} interleaved rounds of "
        f"{args.steps_per_round} steps each (after {args.warmup} warm-up steps), with "
        + " and ".join(f"{th} intra-op thread{'s' if th > 1 else ''}" for th in settings)
        + " (torch.set_num_threads, switched every round). 'vs the lesson's' is the lesson's time divided by this "
          "one: above 1, torch is faster.",
        "",
        common.md_table(headers, rows, align="ll" + "rrr" * len(settings)),
        "",
    ])
    if len(settings) > 1:
        md += ("\nWith more than one intra-op thread, every operation torch runs in parallel waits for all the "
               "pool's threads; when the other cores are busy with other work (this machine is shared: see the "
               "load average) a step then waits for the OS to schedule a pool thread, tens of milliseconds. This "
               "is most likely what the multi-thread column shows where it is far above the 1-thread one. The "
               "model is small (30k parameters): the 1-thread column is the steady figure.\n")
    common.emit(md, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
