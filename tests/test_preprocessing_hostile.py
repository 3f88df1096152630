"""Preprocessing files (issue 13, points 4 and 7): saves are atomic, and a file's state is
checked against its feature shape before anything is read or computed."""

import tracemalloc

import h5py
import numpy as np
import pytest

from convnet.preprocessing import PCA, PixelStandardization, Preprocessor, ZCAWhitening


@pytest.fixture
def zca_file(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 3))
    zca = ZCAWhitening(epsilon=0.1, dtype="float64").fit(X)
    path = tmp_path / "zca.h5"
    zca.save(path)
    return zca, path, X


@pytest.mark.parametrize("group", [None, "prep"])
def test_failed_save_leaves_the_previous_file_intact(zca_file, group, monkeypatch):
    # The file was opened with mode "w" (truncated) before anything was written, so an
    # error or a kill during the save destroyed the previous good file.
    zca, path, X = zca_file
    if group is not None:
        zca.save(path, group="prep")
    before = path.read_bytes()
    other = ZCAWhitening(epsilon=0.5, dtype="float64").fit(X[:20])

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(other, "get_config", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        other.save(path, group=group)
    assert path.read_bytes() == before
    loaded = Preprocessor.load(path, group=group)
    np.testing.assert_allclose(loaded.transform(X), zca.transform(X))
    assert sorted(p.name for p in path.parent.iterdir()) == ["zca.h5"]


def test_save_with_a_group_keeps_the_rest_of_the_file(zca_file):
    zca, path, X = zca_file
    std = PixelStandardization(dtype="float64").fit(X)
    std.save(path, group="std")
    np.testing.assert_allclose(Preprocessor.load(path).transform(X), zca.transform(X))
    np.testing.assert_allclose(Preprocessor.load(path, group="std").transform(X), std.transform(X))


def test_zca_state_larger_than_its_feature_shape_is_refused_before_reading(zca_file):
    # A 62 KB file with 3000 x 3000 components for 3 features cost 424 MB and O(n^3) work.
    _, path, _ = zca_file
    with h5py.File(path, "a") as f:
        del f["components"]
        f.create_dataset(
            "components", data=np.zeros((3000, 3000)), compression="gzip", chunks=(300, 300)
        )
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError,
            match=r"'components' of a ZCAWhitening for samples of shape \(3,\) should have "
            r"shape \(3, 3\), the file has \(3000, 3000\)",
        ):
            ZCAWhitening.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


@pytest.mark.parametrize(
    ("attr", "value", "match"),
    [
        ("feature_shape", "[-1]", "'feature_shape' should list 1 to 8 positive sizes"),
        ("feature_shape", "[[[", "'feature_shape' should be a JSON list"),
        ("config", "[1]", "'config' should be a JSON dict"),
        ("config", '{"bogus": 1}', "the saved configuration of the ZCAWhitening is invalid"),
        ("state_arrays", '["mean", "evil"]', "the file lists"),
        ("fitted", "yes", "'fitted' of '/' should be an integer"),
        ("class", np.arange(3), "'class' of '/' should be text, found an array"),
    ],
)
def test_crafted_attributes_raise_value_error(zca_file, attr, value, match):
    _, path, _ = zca_file
    with h5py.File(path, "a") as f:
        f.attrs[attr] = value
    with pytest.raises(ValueError, match=match):
        Preprocessor.load(path)


def test_pca_components_checked_against_features(tmp_path):
    X = np.random.default_rng(1).normal(size=(40, 4))
    pca = PCA(n_components=2, dtype="float64").fit(X)
    path = tmp_path / "pca.h5"
    pca.save(path)
    np.testing.assert_allclose(PCA.load(path).transform(X), pca.transform(X))
    with h5py.File(path, "a") as f:
        del f["explained_variance"]
        f["explained_variance"] = np.ones(3)
    with pytest.raises(ValueError, match=r"'explained_variance' .* should have shape \(2,\)"):
        PCA.load(path)


def test_state_in_another_file_is_refused(zca_file, tmp_path):
    _, path, _ = zca_file
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["m"] = np.zeros(3)
    with h5py.File(path, "a") as f:
        del f["mean"]
        f["mean"] = h5py.ExternalLink(str(other), "/m")
    with pytest.raises(ValueError, match="'mean'.*it is an external link"):
        Preprocessor.load(path)
