"""Throughput of convnet's data pipeline: augmentation images/s and the cost of fitting ZCA.

Usage::

    python benchmarks/augmentation.py [--train-img-per-s 3000] [--zca]

Augmentation: for CIFAR-sized (3x32x32) and tiny-ImageNet-sized (3x64x64) float32 batches
it measures images/s of

* ``affine``: :class:`~convnet.augmentation.AffineAugmentation` with its defaults (the
  plankton recipe), bilinear, in the compiled kernel; ``affine/scipy`` the same with
  ``engine="scipy"`` (:func:`scipy.ndimage.affine_transform` per channel);
* ``flip+crop``: ``RandomCrop(size, padding=4)`` then ``RandomFlip()``;

single-threaded (the augmentation called in a loop; also per CPU second of that thread,
which is what one free core gives however busy the machine is) and through
:class:`~convnet.augmentation.AugmentedIterator` with background workers (threads and, with
``--backends thread,process``, spawned processes; process times include starting them).

With ``--train-img-per-s R`` it prints the ratio augmentation / training throughput and runs
a simulated training loop: the consumer does CPU-bound float32 matrix products taking
``batch_size / R`` seconds per batch (as a training step would, on the same cores), first
on plain batches, then on batches augmented in the background; the drop in images/s is what
augmentation costs training on this machine.

``--zca`` fits :class:`~convnet.preprocessing.ZCAWhitening` on a 50,000 x 3072 uint8 array
(CIFAR-10 sized: smooth random colour images plus noise) and reports the time and the peak
resident memory above the baseline (Linux: ``/proc/self/clear_refs`` resets the peak).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from convnet.augmentation import (  # noqa: E402
    AffineAugmentation,
    AugmentedIterator,
    Compose,
    RandomCrop,
    RandomFlip,
)


def make_augmentations(size):
    return {
        "affine": AffineAugmentation(),
        "affine/scipy": AffineAugmentation(engine="scipy"),
        "flip+crop": Compose([RandomCrop(size, padding=4), RandomFlip()]),
    }


def time_single(augment, X, batch_size, repeats=1):
    """Images per wall-clock second and per CPU second of this thread (the latter is what a
    free core would give, whatever else runs on the machine)."""
    rng = np.random.default_rng(0)
    augment(X[:batch_size], rng=rng)  # warm up
    start, cpu_start = time.perf_counter(), time.thread_time()
    for _ in range(repeats):
        for i in range(0, len(X) - batch_size + 1, batch_size):
            augment(X[i : i + batch_size], rng=rng)
    n = repeats * (len(X) // batch_size) * batch_size
    return n / (time.perf_counter() - start), n / (time.thread_time() - cpu_start)


def time_iterator(augment, X, y, batch_size, workers, backend):
    it = AugmentedIterator(
        X, y, batch_size, augment=augment, seed=0, workers=workers, backend=backend
    )
    start = time.perf_counter()
    n = sum(len(yb) for _, yb in it)
    return n / (time.perf_counter() - start)


class SimulatedTrainingStep:
    """CPU-bound float32 matrix products calibrated to ``batch_size / rate`` seconds."""

    def __init__(self, batch_size, rate):
        self.a = np.random.default_rng(0).random((256, 256), dtype=np.float32)
        start = time.perf_counter()
        for _ in range(50):
            self.a @ self.a
        per_product = (time.perf_counter() - start) / 50
        self.products = max(1, round(batch_size / rate / per_product))

    def __call__(self):
        for _ in range(self.products):
            self.a @ self.a


def simulate_training(X, y, batch_size, rate, augment, workers):
    step = SimulatedTrainingStep(batch_size, rate)
    results = {}
    for label, aug in (("no augmentation", None), ("augmented in background", augment)):
        it = AugmentedIterator(X, y, batch_size, augment=aug, seed=0, workers=workers)
        start = time.perf_counter()
        n = 0
        for _, yb in it:
            step()
            n += len(yb)
        results[label] = n / (time.perf_counter() - start)
    return results


def bench_augmentation(args):
    rng = np.random.default_rng(0)
    backends = [b for b in args.backends.split(",") if b]
    print(
        f"augmentation throughput (images/s), batch {args.batch_size}, {args.images} images, "
        f"{os.cpu_count()} CPUs"
    )
    header = f"{'size':>9} {'augmentation':>12} {'1 thread':>9} {'per CPU-s':>9}"
    for backend in backends:
        plural = {"thread": "threads", "process": "processes"}[backend]
        header += f" {f'{args.workers} {plural}':>12}"
    if args.train_img_per_s:
        header += f" {'best/train':>10}"
    print(header)
    results = {}
    for size in (32, 64):
        X = rng.random((args.images, 3, size, size), dtype=np.float32)
        y = np.arange(args.images)
        for name, augment in make_augmentations(size).items():
            single, per_cpu = time_single(augment, X, args.batch_size)
            row = f"{f'3x{size}x{size}':>9} {name:>12} {single:9.0f} {per_cpu:9.0f}"
            best = single
            for backend in backends:
                rate = time_iterator(augment, X, y, args.batch_size, args.workers, backend)
                best = max(best, rate)
                row += f" {rate:12.0f}"
            if args.train_img_per_s:
                row += f" {best / args.train_img_per_s:10.2f}"
            print(row, flush=True)
            results[(size, name)] = best
    if args.train_img_per_s:
        size = 32
        X = rng.random((args.images, 3, size, size), dtype=np.float32)
        y = np.arange(args.images)
        print(
            f"\nsimulated training at {args.train_img_per_s:.0f} img/s (3x32x32, "
            f"{args.workers} worker threads):"
        )
        for name, augment in make_augmentations(size).items():
            res = simulate_training(
                X, y, args.batch_size, args.train_img_per_s, augment, args.workers
            )
            plain, augmented = res["no augmentation"], res["augmented in background"]
            print(
                f"  {name:>12}: {plain:7.0f} img/s without augmentation, {augmented:7.0f} img/s "
                f"with it ({augmented / plain:.0%})",
                flush=True,
            )
    return results


def _proc_status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def cifar_like_uint8(n, seed=0):
    """Smooth random colour images (4x4 grid of colours upsampled to 32x32) plus noise."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 3 * 32 * 32), np.uint8)
    for start in range(0, n, 5000):
        m = min(5000, n - start)
        coarse = rng.uniform(0, 255, (m, 3, 4, 4))
        fine = np.repeat(np.repeat(coarse, 8, axis=2), 8, axis=3)
        fine += rng.normal(0, 20, fine.shape)
        out[start : start + m] = np.clip(fine, 0, 255).reshape(m, -1).astype(np.uint8)
    return out


def bench_zca(args):
    from convnet.preprocessing import ZCAWhitening

    X = cifar_like_uint8(args.zca_n)
    print(
        f"\nZCAWhitening.fit on a {X.shape[0]} x {X.shape[1]} uint8 array "
        f"({X.nbytes / 2**20:.0f} MiB), batch_size {args.zca_batch_size}:"
    )
    can_reset = os.path.exists("/proc/self/clear_refs")
    if can_reset:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size (VmHWM)
    baseline = _proc_status_mb("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    zca = ZCAWhitening(epsilon=0.1, batch_size=args.zca_batch_size).fit(X)
    fit_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    peak = _proc_status_mb("VmHWM")
    print(
        f"  fit: {fit_s:.1f} s wall, {cpu_s:.1f} s CPU (all threads); peak RSS "
        f"{peak - baseline:.0f} MiB above the {baseline:.0f} MiB before fit"
        + ("" if can_reset else " (peak not resettable)")
    )
    start = time.perf_counter()
    Y = zca.transform(X[:10000])
    transform_s = time.perf_counter() - start
    print(f"  transform: {10000 / transform_s:.0f} img/s (float32 output)")
    cov = np.cov(Y[:5000, :256].astype(np.float64), rowvar=False)
    off_diagonal = np.abs(cov - np.diag(np.diag(cov))).max()
    print(
        f"  check: covariance of whitened pixels 0..255 has mean diagonal "
        f"{np.diag(cov).mean():.3f}, max |off-diagonal| {off_diagonal:.3f}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--train-img-per-s",
        type=float,
        default=None,
        help="training throughput to compare with (e.g. 3000)",
    )
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--backends",
        default="thread,process",
        help="comma-separated AugmentedIterator backends ('' for none)",
    )
    parser.add_argument("--zca", action="store_true", help="also time ZCAWhitening.fit")
    parser.add_argument("--zca-only", action="store_true", help="only time ZCAWhitening.fit")
    parser.add_argument("--zca-n", type=int, default=50000)
    parser.add_argument("--zca-batch-size", type=int, default=1024)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start (other processes slow this down)"
    )
    if not args.zca_only:
        bench_augmentation(args)
    if args.zca or args.zca_only:
        bench_zca(args)


if __name__ == "__main__":
    main()
