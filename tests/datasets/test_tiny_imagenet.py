import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from dataset_builders import TINY_WNIDS, save_jpeg, tiny_color

from convnet.datasets import class_names, tiny_imagenet
from convnet.datasets.tiny_imagenet import (
    load_tiny_imagenet,
    load_tiny_imagenet_test,
    tiny_imagenet_classes,
)

# JPEG is lossy; a uniform colour comes back within a few levels.
TOLERANCE = 4


def assert_uniform_colours(X, colours):
    assert X.shape == (len(colours), 3, 64, 64) and X.dtype == np.uint8
    expected = np.asarray(colours, dtype=np.int64)[:, :, None, None]
    assert np.abs(X.astype(np.int64) - expected).max() <= TOLERANCE


def test_load_train_and_val(tiny_tree):
    root, train_colours, val_labels = tiny_tree
    (X_train, y_train), (X_test, y_test) = load_tiny_imagenet(root.parent, workers=2)
    # Label = line of wnids.txt; images by class, then by number (0, 1, 2, 10).
    np.testing.assert_array_equal(y_train, np.repeat([0, 1, 2], 4))
    assert y_train.dtype == np.int32 and y_test.dtype == np.int32
    assert_uniform_colours(X_train, train_colours)
    # Grayscale (class 1, number 2) became three equal channels; CMYK became RGB red.
    assert (X_train[6, 0] == X_train[6, 1]).all() and (X_train[6, 1] == X_train[6, 2]).all()
    # val_annotations.txt lists the files in reverse; the split is in file-number order.
    np.testing.assert_array_equal(y_test, val_labels)
    assert_uniform_colours(X_test, [tiny_color(lab, 20 + i) for i, lab in enumerate(val_labels)])


def test_data_dir_may_be_the_tree_itself_and_workers_1(tiny_tree):
    root, train_colours, _ = tiny_tree
    (X_train, _), _ = load_tiny_imagenet(root, workers=1)
    assert_uniform_colours(X_train, train_colours)


def test_unlabelled_test_split(tiny_tree):
    root, _, _ = tiny_tree
    X, names = load_tiny_imagenet_test(root)
    assert names == ["test_0.JPEG", "test_1.JPEG"]
    assert_uniform_colours(X, [(0, 0, 0), (100, 0, 0)])


def test_class_names(tiny_tree):
    root, _, _ = tiny_tree
    wnids, names = tiny_imagenet_classes(root)
    assert wnids == tuple(TINY_WNIDS)
    assert names == ("Egyptian cat", "goldfish, Carassius auratus", "reel")
    assert class_names("tiny_imagenet", data_dir=root) == names
    assert class_names("tiny_imagenet", label_mode="wnid", data_dir=root) == wnids
    (root / "words.txt").write_text("n02124075\tEgyptian cat\n")
    with pytest.raises(
        ValueError, match="has no name for 2 WordNet id\\(s\\) of wnids.txt, e.g. n01443537"
    ):
        tiny_imagenet_classes(root)


def test_zip_is_unpacked_and_downloaded(tiny_tree, tmp_path, http_server, monkeypatch):
    root, train_colours, _ = tiny_tree
    archive = tmp_path / "dl" / "tiny-imagenet-200.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(root.rglob("*")):
            z.write(path, path.relative_to(root.parent).as_posix())
    data = archive.read_bytes()
    # An official zip put in data_dir by hand is unpacked next to itself.
    (X_train, _), _ = load_tiny_imagenet(archive.parent)
    assert_uniform_colours(X_train, train_colours)
    assert (archive.parent / "tiny-imagenet-200" / "wnids.txt").is_file()
    # download=True fetches it (MD5-checked) and unpacks it.
    http_server.files["tiny-imagenet-200.zip"] = data
    monkeypatch.setattr(tiny_imagenet, "_MD5", hashlib.md5(data).hexdigest())
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "env"))
    (X_train, _), _ = load_tiny_imagenet(download=True, base_url=http_server.url)
    assert_uniform_colours(X_train, train_colours)
    assert (tmp_path / "env" / "tiny_imagenet" / "tiny-imagenet-200" / "words.txt").is_file()


def test_missing_message(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_tiny_imagenet(tmp_path)
    message = str(info.value)
    assert f"load_tiny_imagenet: Tiny ImageNet not found in '{tmp_path}'" in message
    assert "tiny-imagenet-200/ (wnids.txt, words.txt, train/, val/, test/), or" in message
    assert "http://cs231n.stanford.edu/tiny-imagenet-200.zip" in message


def test_unreadable_jpeg_names_the_file(tiny_tree):
    root, _, _ = tiny_tree
    path = root / "train" / TINY_WNIDS[2] / "images" / f"{TINY_WNIDS[2]}_2.JPEG"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=f"load_tiny_imagenet: cannot decode '{path}' as an image \\(.*[Tt]runcated",
    ):
        load_tiny_imagenet(root)
    path.write_bytes(b"GIF89a but not really")
    with pytest.raises(
        ValueError, match=f"cannot decode '{path}' as an image \\(cannot identify image file"
    ):
        load_tiny_imagenet(root)
    save_jpeg(path, (1, 2, 3), size=(64, 32))
    with pytest.raises(ValueError, match=f"'{path}' is 64 x 32 pixels, expected 64 x 64"):
        load_tiny_imagenet(root)


def test_inconsistent_tree(tiny_tree):
    root, _, _ = tiny_tree
    annotations = root / "val" / "val_annotations.txt"
    good = annotations.read_text()
    annotations.write_text(good + "val_9.JPEG\tn00000000\t0\t0\t1\t1\n")
    with pytest.raises(
        ValueError,
        match="line 5 of .*val_annotations.txt' should be .* with a wnid from wnids.txt, "
        "got 'val_9.JPEG\\\\tn00000000",
    ):
        load_tiny_imagenet(root)
    annotations.write_text(good + f"val_9.JPEG\t{TINY_WNIDS[0]}\t0\t0\t1\t1\n")
    with pytest.raises(
        FileNotFoundError, match="lists 1 image\\(s\\) missing from .*, e.g. val_9.JPEG"
    ):
        load_tiny_imagenet(root)
    annotations.write_text("".join(good.splitlines(keepends=True)[1:]))
    with pytest.raises(
        ValueError,
        match="1 image\\(s\\) in .* have no line in .*val_annotations.txt', e.g. val_3.JPEG",
    ):
        load_tiny_imagenet(root)
    annotations.write_text(good)
    (root / "wnids.txt").write_text("\n".join(TINY_WNIDS + ["n09999999"]))
    with pytest.raises(
        FileNotFoundError, match="class n09999999 .* should be in '.*train/n09999999/images'"
    ):
        load_tiny_imagenet(root)


def test_workers_validation(tiny_tree):
    root, _, _ = tiny_tree
    with pytest.raises(
        ValueError, match=r"^load_tiny_imagenet: workers: expected an int >= 1, received 0$"
    ):
        load_tiny_imagenet(root, workers=0)
    for bad in (True, 2.0, "2"):
        with pytest.raises(TypeError, match=r"^load_tiny_imagenet: workers: expected an int, "):
            load_tiny_imagenet(root, workers=bad)


@pytest.fixture
def numbered_jpegs(tmp_path):
    paths = []
    for i in range(40):
        path = tmp_path / f"img_{i}.JPEG"
        save_jpeg(path, 7 if i == 7 else (i, 2 * i, 3 * i), mode="L" if i == 7 else "RGB")
        paths.append(str(path))
    colours = [(i, 2 * i, 3 * i) if i != 7 else (7, 7, 7) for i in range(40)]
    return paths, colours


_PEAK_SCRIPT = """
import json, sys, tracemalloc
from convnet.datasets import tiny_imagenet
paths = json.loads(sys.argv[1])
tiny_imagenet._decode_all("test", paths, 1, False, "x")  # imports PIL's plugins first
tracemalloc.start()
X = tiny_imagenet._decode_all("test", paths, 1, False, "x")
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(json.dumps([peak, X.nbytes]))
"""


def test_in_process_decoding_allocates_little_beyond_the_output(numbered_jpegs):
    paths, colours = numbered_jpegs
    X = tiny_imagenet._decode_all("test", paths, 1, False, "x")
    assert_uniform_colours(X, colours)
    # Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and a
    # test worker may hold threads left by earlier tests (it failed so on one CI run).
    run = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, json.dumps([str(p) for p in paths])],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    peak, nbytes = json.loads(run.stdout.strip().splitlines()[-1])
    assert nbytes == X.nbytes
    # Peak Python/NumPy allocations: the output (492 kB) plus small per-image buffers.
    assert peak < 1.2 * nbytes, (peak, nbytes)


def test_subprocess_decoding(numbered_jpegs, monkeypatch):
    paths, colours = numbered_jpegs
    started = []

    class RecordingPopen(subprocess.Popen):
        def __init__(self, args, **kwargs):
            started.append(args)
            super().__init__(args, **kwargs)

    monkeypatch.setattr(tiny_imagenet.subprocess, "Popen", RecordingPopen)
    monkeypatch.setattr(tiny_imagenet, "_MIN_PER_PROCESS", 5)
    X = tiny_imagenet._decode_all("test", paths, 3, False, "x")
    assert_uniform_colours(X, colours)
    # This process decodes one share, two subprocesses the others.
    assert len(started) == 2 and started[0][-2:] == [tiny_imagenet._WORKER, "64"]
    # Fewer than _MIN_PER_PROCESS images per worker: in-process, no subprocess.
    X = tiny_imagenet._decode_all("test", paths[:9], 2, False, "x")
    assert_uniform_colours(X, colours[:9])
    assert len(started) == 2


def test_subprocess_decoding_errors(numbered_jpegs, monkeypatch):
    paths, _ = numbered_jpegs
    monkeypatch.setattr(tiny_imagenet, "_MIN_PER_PROCESS", 5)
    with open(paths[33], "r+b") as f:
        f.truncate(300)
    with pytest.raises(ValueError, match=f"^load_x: cannot decode '{paths[33]}' as an image"):
        tiny_imagenet._decode_all("load_x", paths, 2, False, "x")
    missing = paths[:20] + [paths[0] + ".gone"] + paths[21:30]
    with pytest.raises(FileNotFoundError, match=f"^load_x: .*No such file.*'{missing[20]}'"):
        tiny_imagenet._decode_all("load_x", missing, 2, False, "x")
    # A failure in this process's share stops the subprocess too.
    with pytest.raises(ValueError, match=f"^load_x: cannot decode '{paths[33]}'"):
        tiny_imagenet._decode_all("load_x", paths[20:], 2, False, "x")


def test_progress_bar_counts_all_images(numbered_jpegs, monkeypatch, capsys):
    paths, _ = numbered_jpegs
    monkeypatch.setattr(tiny_imagenet, "_MIN_PER_PROCESS", 5)
    monkeypatch.setattr(tiny_imagenet, "_CHUNK", 3)
    tiny_imagenet._decode_all("test", paths, 2, True, "decoding")
    tiny_imagenet._decode_all("test", paths, 1, True, "decoding")
    err = capsys.readouterr().err
    assert err.count("decoding: 100%") == 2 and "40/40" in err


def _jpeg_bomb(path, width, height):
    """A real 64 x 64 JPEG whose frame header announces width x height pixels."""
    save_jpeg(path, (10, 20, 30))
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("pixels", [(65000, 65000), (10000, 10000)])
def test_decompression_bomb_is_a_value_error_naming_the_file(
    numbered_jpegs, monkeypatch, workers, pixels
):
    # Issue 13 (point 9): was Pillow's DecompressionBombError (a RuntimeError with the
    # worker's traceback under 2 workers); 10000 x 10000 only warned.
    paths, _ = numbered_jpegs
    monkeypatch.setattr(tiny_imagenet, "_MIN_PER_PROCESS", 5)
    bomb = paths[33]
    _jpeg_bomb(Path(bomb), *pixels)
    with pytest.raises(ValueError, match=f"^load_x: cannot decode '{bomb}': it announces more"):
        tiny_imagenet._decode_all("load_x", paths, workers, False, "x")
