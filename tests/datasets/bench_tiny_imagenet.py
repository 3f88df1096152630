"""Measure load_tiny_imagenet's time and peak memory on a generated tiny-imagenet-200 tree.

    PYTHONPATH=. python tests/datasets/bench_tiny_imagenet.py --root /tmp/tiny-bench --images 20000

The first run writes the tree (200 classes, images/200 training JPEGs each, 64 x 64,
smooth colour fields plus noise at quality 75, about the size of the real files); every
run then loads it in a fresh process per worker count and prints wall time, CPU time of
the process and its decoding subprocesses (cpu/wall near 2 means both cores decode) and
the peak resident memory the load added to the loading process, next to the size of the
returned arrays. (A decoding subprocess, NumPy and Pillow only, peaks near 35 MiB.)
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def make_tree(root: Path, n_train: int, n_val: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    wnids = [f"n{10000000 + i:08d}" for i in range(200)]
    tree = root / "tiny-imagenet-200"
    yy, xx = np.mgrid[0:64, 0:64]

    def image(k):
        f, phase = rng.uniform(0.03, 0.3, 3), rng.uniform(0, 6, 3)
        planes = [
            127 + 100 * np.sin(f[c] * xx + phase[c]) * np.cos(f[c - 1] * yy) for c in range(3)
        ]
        pixels = np.clip(np.stack(planes, -1) + rng.normal(0, 6, (64, 64, 3)), 0, 255)
        img = Image.fromarray(pixels.astype(np.uint8))
        return img.convert("L") if k % 50 == 0 else img  # some grayscale, as in the original

    (tree / "val" / "images").mkdir(parents=True)
    (tree / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (tree / "words.txt").write_text("".join(f"{w}\tclass {i}\n" for i, w in enumerate(wnids)))
    per_class = n_train // len(wnids)
    for wnid in wnids:
        folder = tree / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for k in range(per_class):
            image(k).save(folder / f"{wnid}_{k}.JPEG", quality=75)
    lines = []
    for k in range(n_val):
        image(k).save(tree / "val" / "images" / f"val_{k}.JPEG", quality=75)
        lines.append(f"val_{k}.JPEG\t{wnids[k % 200]}\t0\t0\t63\t63\n")
    (tree / "val" / "val_annotations.txt").write_text("".join(lines))


def measure(root: Path, workers: int) -> None:
    from convnet.datasets import load_tiny_imagenet

    def cpu_seconds():
        usage = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        return sum(u.ru_utime + u.ru_stime for u in usage)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    (X_train, y_train), (X_val, y_val) = load_tiny_imagenet(root, workers=workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = (X_train.nbytes + y_train.nbytes + X_val.nbytes + y_val.nbytes) / 2**20
    n = len(X_train) + len(X_val)
    print(
        f"workers={workers}: {n} images in {wall:.2f} s ({n / wall:.0f} img/s), CPU "
        f"{cpu:.1f} s (cpu/wall {cpu / wall:.2f}, {1e6 * cpu / n:.0f} us/img); peak RSS of "
        f"the loading process +{peak - before:.0f} MiB for {result:.0f} MiB of arrays "
        f"(ratio {(peak - before) / result:.2f})"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/tiny-bench"))
    parser.add_argument("--images", type=int, default=20000, help="training images")
    parser.add_argument("--val", type=int, default=2000, help="validation images")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        measure(args.root, args.measure)
        return
    if not (args.root / "tiny-imagenet-200" / "wnids.txt").exists():
        t0 = time.perf_counter()
        make_tree(args.root, args.images, args.val)
        print(f"wrote the tree in {time.perf_counter() - t0:.0f} s")
    for workers in args.workers:
        cmd = [sys.executable, __file__, "--root", str(args.root), "--measure", str(workers)]
        subprocess.run(cmd, check=True, env=os.environ)


if __name__ == "__main__":
    main()
