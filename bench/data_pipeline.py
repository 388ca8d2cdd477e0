"""How much does the data pipeline cost? The lesson's model trained two epochs, fed three ways.

(a) lesson: load_fashion_mnist() -> with_transform(transformi: TF.to_tensor per image) ->
    DataLoaders.from_dd, as the lesson and the course call it, with num_workers=0 and with the lesson's
    default min(4, cores). The images sit decoded in the dataset's Arrow storage (an Array2D float32
    column of pixels/255, which TF.to_tensor passes through); miniai reads whole batches and runs the
    transform on every batch of every epoch.
(b) tensors: fashion_tensors() -> tensor_dls (whole batches cut from in-memory tensors).

Each trains its own copy of the same seeded model (GeneralRelu + BatchNorm CNN, AdamW lr 6e-3, batch
1024) on the 60k training images, scoring the 10k test images after each epoch. First, untimed, the
model trains one epoch on 4,096 tensor images, so that torch's one-time start-up (thread pools, kernel
choices, allocator) is not charged to whichever pipeline's first epoch comes first. Timed: the setup
(loading), the first epoch (train + test pass), then --rounds more epochs taken in turns (one epoch of
each pipeline per round, so that a change in the machine's load hits every pipeline alike; the median is
reported), and afterwards one pass over the data with no model ("data only").
The goal: every epoch of (a), the first included, within 1.3x of (b). (The test accuracies differ a little: taking turns, the
pipelines draw their shuffles from torch's one global generator in turns.)

    python bench/data_pipeline.py [--num-workers N [N ...]] [--rounds R] [--threads N] [--sample] [--per-image]

--per-image times instead the steps of the course's transform on one batch (best of 60 runs): where an
epoch's extra time goes.

Timings on a shared machine are only meaningful when it is otherwise idle: the load average is printed
before and after so a busy run can be spotted (and torch's threads suffer most from contention).
"""
import argparse
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from torch import nn
from torch.utils.data import default_collate
from torcheval.metrics import MulticlassAccuracy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from miniai.activations import set_seed
from miniai.datasets import DataLoaders, fashion_tensors, inplace, load_fashion_mnist, tensor_dls
from miniai.init import GeneralRelu, get_model, init_weights
from miniai.learner import Callback, DeviceCB, MetricsCB, TrainLearner

BS, LR, MEAN, STD = 1024, 6e-3, 0.28, 0.35


@inplace
def transformi(b): b['image'] = [(TF.to_tensor(o) - MEAN) / STD for o in b['image']]


def lesson_dls(sample, num_workers):
    dsd = load_fashion_mnist(sample=sample)
    return DataLoaders.from_dd(dsd.with_transform(transformi), BS, num_workers=num_workers)


def tensors_dls(sample):
    xt, yt = fashion_tensors('train', sample=sample, mean=MEAN, std=STD)
    xv, yv = fashion_tensors('test', sample=sample, mean=MEAN, std=STD)
    return tensor_dls(xt, yt, xv, yv, BS)  # workers would only add start-up time


def warm_up():
    "One untimed epoch of the model on a few tensors: torch's one-time start-up, paid before any timing."
    x, y = torch.randn(4096, 1, 28, 28), torch.randint(0, 10, (4096,))
    learn, clock, _ = learner(tensor_dls(x, y, x[:1024], y[:1024], BS))
    one_epoch(learn, clock)


def per_image():
    "The course transform's steps, in us an image: one batch of 1,024 random images, the best of 60 runs."
    import numpy as np
    pix = np.random.default_rng(0).integers(0, 256, (BS, 28, 28), dtype=np.uint8)
    u8, f32 = list(pix), list(pix.astype(np.float32) / np.float32(255))
    ts = [TF.to_tensor(o) for o in f32]
    def best(f):
        f()
        runs = []
        for _ in range(60):
            t = time.perf_counter()
            f()
            runs.append(time.perf_counter() - t)
        return min(runs) / BS * 1e6
    def course(ims): return lambda: [(TF.to_tensor(o) - MEAN) / STD for o in ims]
    def in_inference(f):
        def g():
            with torch.inference_mode():
                f()
        return g
    steps = [('TF.to_tensor, uint8 pixels', lambda: [TF.to_tensor(o) for o in u8]),
             ('TF.to_tensor, float32 pixels/255', lambda: [TF.to_tensor(o) for o in f32]),
             ('  of which torch.from_numpy', lambda: [torch.from_numpy(o) for o in f32]),
             ('- xmean, / xstd', lambda: [(o - MEAN) / STD for o in ts]),
             ('course transform, uint8 pixels', course(u8)),
             ('course transform, float32 pixels/255', course(f32)),
             ('  the same under inference_mode', in_inference(course(f32))),
             ('reading rows (numpy indexing) + collating', lambda: default_collate(list(pix[np.arange(BS)[::-1]])))]
    for name, f in steps:
        print(f"{name:45s} {best(f):5.2f} us")


def timed(f, *args):
    t = time.perf_counter()
    res = f(*args)
    return res, time.perf_counter() - t


def data_only(dls):
    "One pass over train and valid with no model: what the pipeline alone costs."
    for dl in (dls.train, dls.valid):
        for _ in dl:
            pass


class EpochTimes(Callback):
    "Wall time of each epoch, its training and its test pass together."
    def before_fit(self, learn): self.times, self.t = [], None
    def before_epoch(self, learn):
        if learn.training:
            self.t = time.perf_counter()
    def after_epoch(self, learn):
        if not learn.training:
            self.times.append(time.perf_counter() - self.t)


def learner(dls):
    "The seeded lesson model, ready to train on `dls`; its EpochTimes and MetricsCB callbacks."
    set_seed(42)
    act = partial(GeneralRelu, leak=0.1, sub=0.4)
    model = get_model(act, norm=nn.BatchNorm2d).apply(partial(init_weights, leaky=0.1))
    metrics, clock = MetricsCB(accuracy=MulticlassAccuracy()), EpochTimes()
    metrics._log = lambda d: None  # keep the output to the summary below
    learn = TrainLearner(model, dls, nn.functional.cross_entropy, lr=LR,
                         cbs=[DeviceCB(), metrics, clock], opt_func=torch.optim.AdamW)
    return learn, clock, metrics


def one_epoch(learn, clock):
    learn.fit(1)
    return clock.times[-1]


def load(): return ' '.join(f'{o:.1f}' for o in os.getloadavg())


def main():
    default_workers = min(4, os.cpu_count() or 1)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-workers', type=int, nargs='+', default=sorted({0, default_workers}),
                   help="DataLoader workers for the lesson pipeline, one row each; default: 0 and the lesson's "
                        f"min(4, cores) = {default_workers}")
    p.add_argument('--rounds', type=int, default=3, help="epochs after the first, taken in turns (default 3)")
    p.add_argument('--threads', type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument('--sample', action='store_true', help="use the small committed sample (a quick smoke run)")
    p.add_argument('--per-image', action='store_true', help="only time the transform's steps per image, and stop")
    args = p.parse_args()
    if args.per_image:
        return per_image()
    if args.threads:
        torch.set_num_threads(args.threads)
    common.set_offline()
    print(common.machine_line())
    warm_up()
    print(f"load average before: {load()}")
    runs = [(f'lesson: from_dd, num_workers={w}', partial(lesson_dls, num_workers=w)) for w in args.num_workers]
    runs += [('tensors: fashion_tensors + tensor_dls, num_workers=0', tensors_dls)]
    state = []
    for name, make in runs:
        dls, setup = timed(make, args.sample)
        learn, clock, metrics = learner(dls)
        first = one_epoch(learn, clock)
        state.append((name, dls, learn, clock, metrics, setup, first))
        print(f"{name}: setup {setup:.2f}s, first epoch {first:.2f}s", flush=True)
    later = {name: [] for name, *_ in state}
    for r in range(args.rounds):
        for name, _, learn, clock, *_ in state:
            later[name].append(one_epoch(learn, clock))
        print(f"round {r + 1}: " + ", ".join(f"{later[n][-1]:.2f}s" for n, *_ in state) + f"; load {load()}", flush=True)
    rows = []
    for name, dls, _learn, _clock, metrics, setup, first in state:
        _, data_s = timed(data_only, dls)
        acc = metrics.metrics['accuracy'].compute().item()  # the last epoch run was the test pass
        rows.append((name, setup, first, statistics.median(later[name]), data_s, acc))
        print(f"{name}: later epochs {rows[-1][3]:.2f}s (median), data only {data_s:.2f}s, test accuracy {acc:.4f}")
    _, _, first_t, later_t, _, _ = rows[-1]
    print(f"load average after: {load()}\n")
    for name, _, first, lat, _, _ in rows[:-1]:
        print(f"{name} vs tensors: later epochs {lat / later_t:.2f}x as long, first epoch {first / first_t:.2f}x")
    print(f"\nOne epoch ({len(dls.train.dataset):,} train + {len(dls.valid.dataset):,} test images, batch {BS}): "
          f"the first, then the median of {args.rounds} more taken in turns, on {common.machine_line()}\n")
    print("| pipeline | setup (s) | first epoch, train+test (s) | later epochs, train+test (s) "
          "| later vs tensors | first vs tensors | data only, afterwards (s) | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, setup, first, lat, data_s, acc in rows:
        print(f"| {name} | {setup:.2f} | {first:.2f} | {lat:.2f} | {lat / later_t:.2f}x | {first / first_t:.2f}x "
              f"| {data_s:.2f} | {acc:.4f} |")


if __name__ == '__main__':
    main()
