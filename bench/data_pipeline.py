"""How much does the data pipeline cost? One epoch of the lesson's model, fed two ways.

(a) lesson: load_fashion_mnist() -> with_transform (TF.to_tensor per image) -> DataLoaders.from_dd
(b) tensors: fashion_tensors() -> tensor_dls (whole batches cut from in-memory tensors, no workers:
    there is nothing for them to do)

Both train the same seeded model (GeneralRelu + BatchNorm CNN, AdamW lr 6e-3, batch 1024) for one
epoch on the 60k training images and then score the 10k test images. For each we time: the setup
(loading), one pass over the data with no model ("data only"), and the full fit (train + test pass).

    python bench/data_pipeline.py [--num-workers N [N ...]] [--threads N] [--sample]

Timings on a shared machine are only meaningful when it is otherwise idle: the load average is printed
before and after so a busy run can be spotted (and torch's threads suffer most from contention).
"""
import argparse
import os
import platform
import time
from functools import partial

import torch
import torchvision.transforms.functional as TF
from torch import nn
from torcheval.metrics import MulticlassAccuracy

from miniai.activations import set_seed
from miniai.conv import def_device
from miniai.datasets import DataLoaders, fashion_tensors, inplace, load_fashion_mnist, tensor_dls
from miniai.init import GeneralRelu, get_model, init_weights
from miniai.learner import DeviceCB, MetricsCB, TrainLearner

BS, LR, MEAN, STD = 1024, 6e-3, 0.28, 0.35


@inplace
def transformi(b): b['image'] = [(TF.to_tensor(o) - MEAN) / STD for o in b['image']]


def lesson_dls(sample, num_workers):
    dsd = load_fashion_mnist(sample=sample)
    return DataLoaders.from_dd(dsd.with_transform(transformi), BS, num_workers=num_workers)


def tensors_dls(sample, num_workers=0):
    xt, yt = fashion_tensors('train', sample=sample, mean=MEAN, std=STD)
    xv, yv = fashion_tensors('test', sample=sample, mean=MEAN, std=STD)
    return tensor_dls(xt, yt, xv, yv, BS, num_workers=num_workers)  # workers would only add start-up time


def timed(f, *args):
    t = time.perf_counter()
    res = f(*args)
    return res, time.perf_counter() - t


def data_only(dls):
    "One pass over train and valid with no model: what the pipeline alone costs."
    for dl in (dls.train, dls.valid):
        for _ in dl: pass


def train_one_epoch(dls):
    set_seed(42)
    act = partial(GeneralRelu, leak=0.1, sub=0.4)
    model = get_model(act, norm=nn.BatchNorm2d).apply(partial(init_weights, leaky=0.1))
    metrics = MetricsCB(accuracy=MulticlassAccuracy())
    metrics._log = lambda d: None  # keep the output to the summary below
    learn = TrainLearner(model, dls, nn.functional.cross_entropy, lr=LR,
                         cbs=[DeviceCB(), metrics], opt_func=torch.optim.AdamW)
    learn.fit(1)
    return metrics.metrics['accuracy'].compute().item()  # the last epoch run was the test pass


def machine():
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?') \
        if os.path.exists('/proc/cpuinfo') else platform.processor()
    dev = torch.cuda.get_device_name() if str(def_device).startswith('cuda') else str(def_device)
    return (f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"device {dev}, Python {platform.python_version()}")


def load(): return ' '.join(f'{o:.1f}' for o in os.getloadavg())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--num-workers', type=int, nargs='+', default=sorted({0, min(4, os.cpu_count() or 1)}),
                   help="DataLoader workers for the lesson pipeline, one row each (the lesson uses 4); "
                        "default: 0 and min(4, cores)")
    p.add_argument('--threads', type=int, help="torch intra-op threads (default: torch's choice)")
    p.add_argument('--sample', action='store_true', help="use the small committed sample (a quick smoke run)")
    args = p.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    print(machine())
    print(f"load average before: {load()}")
    rows = []
    runs = [(f'lesson: HF dataset + per-image TF.to_tensor, num_workers={w}', partial(lesson_dls, num_workers=w))
            for w in args.num_workers] + [('tensors: fashion_tensors + tensor_dls, num_workers=0', tensors_dls)]
    for name, make in runs:
        dls, setup = timed(make, args.sample)
        _, data_s = timed(data_only, dls)
        acc, fit_s = timed(train_one_epoch, dls)
        rows.append((name, setup, data_s, fit_s, acc))
        print(f"{name}: setup {setup:.2f}s, data only {data_s:.2f}s, epoch {fit_s:.2f}s, test accuracy {acc:.4f}")
    _, _, d_b, f_b, _ = rows[-1]
    print(f"load average after: {load()}\n")
    for name, _, d_a, f_a, _ in rows[:-1]:
        print(f"{name} vs tensors: full epoch {f_a / f_b:.2f}x as long, data only {d_a / d_b:.1f}x")
    print(f"\nOne epoch ({len(dls.train.dataset):,} train + {len(dls.valid.dataset):,} test images, batch {BS}) "
          f"on {machine()}; load average {load()}\n")
    print("| pipeline | setup (s) | data only, train+test pass (s) | full epoch, train+test (s) "
          "| vs tensors | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, setup, data_s, fit_s, acc in rows:
        print(f"| {name} | {setup:.2f} | {data_s:.2f} | {fit_s:.2f} | {fit_s / f_b:.2f}x | {acc:.4f} |")


if __name__ == '__main__':
    main()
