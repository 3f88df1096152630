"""Preprocessing files (issue 13, points 4 and 7): saves are atomic, and a file's state is
checked against its feature shape before anything is read or computed."""

import json
import re
import tracemalloc

import h5py
import numpy as np
import pytest

from convnet.preprocessing import (
    PCA,
    ChannelStandardization,
    GlobalContrastNormalization,
    PixelStandardization,
    Preprocessor,
    ZCAWhitening,
)


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


# A file's state must agree with its "fitted" flag and its feature_shape. A mutated file
# whose "fitted" attribute was renamed loaded as an unfitted ZCAWhitening (the fuzzer's
# reader then failed on its feature_shape_ of None); one listing fewer state arrays loaded
# a "fitted" ZCAWhitening without components, which failed only in transform.


def _edit(path, edit):
    with h5py.File(path, "a") as f:
        edit(f)


def test_a_missing_fitted_flag_is_refused(zca_file):
    _, path, _ = zca_file
    _edit(path, lambda f: f.attrs.__delitem__("fitted"))
    with pytest.raises(ValueError, match=f"'{path}' is damaged: attribute 'fitted' is missing"):
        Preprocessor.load(path)


@pytest.mark.parametrize("flag", [2, -1])
def test_a_fitted_flag_other_than_0_or_1_is_refused(zca_file, flag):
    _, path, _ = zca_file
    _edit(path, lambda f: f.attrs.__setitem__("fitted", flag))
    with pytest.raises(ValueError, match=f"'{path}': attribute 'fitted' should be 0 or 1, found"):
        Preprocessor.load(path)


def test_fitted_state_in_a_file_flagged_unfitted_is_refused(zca_file):
    _, path, _ = zca_file
    _edit(path, lambda f: f.attrs.__setitem__("fitted", False))
    with pytest.raises(
        ValueError,
        match=rf"'{path}': its ZCAWhitening is flagged as not fitted but the file holds fitted "
        r"state \(feature_shape \[3\], 50 samples seen, state arrays \['mean', 'components'",
    ):
        Preprocessor.load(path)


@pytest.mark.parametrize("missing", ["components", "explained_variance"])
def test_a_fitted_file_lacking_state_arrays_is_refused(zca_file, missing):
    _, path, _ = zca_file

    def drop(f):
        del f[missing]
        names = [n for n in json.loads(f.attrs["state_arrays"]) if n != missing]
        f.attrs["state_arrays"] = json.dumps(names)

    _edit(path, drop)
    with pytest.raises(
        ValueError,
        match=rf"'{path}' is damaged: a fitted ZCAWhitening has the state arrays "
        rf"\['mean', 'components', 'explained_variance'\], the file lists .*lacks \['{missing}'\]",
    ):
        Preprocessor.load(path)


@pytest.mark.parametrize("seen", [0, -3])
def test_a_fitted_file_that_saw_no_samples_is_refused(zca_file, seen):
    _, path, _ = zca_file
    _edit(path, lambda f: f.attrs.__setitem__("n_samples_seen", seen))
    with pytest.raises(ValueError, match=rf"'{path}': .*fitted on {seen} samples"):
        Preprocessor.load(path)


@pytest.mark.parametrize(
    "cls",
    [
        ChannelStandardization,
        PixelStandardization,
        GlobalContrastNormalization,
        PCA,
        ZCAWhitening,
    ],  # fmt: skip
)
def test_an_unfitted_preprocessor_round_trips(cls, tmp_path):
    path = tmp_path / "p.h5"
    cls(dtype="float64").save(path)
    loaded = Preprocessor.load(path)
    assert type(loaded) is cls and not loaded.is_fitted and loaded.n_samples_seen_ == 0
    assert loaded.get_config() == cls(dtype="float64").get_config()


@pytest.mark.parametrize(
    ("attr", "value", "found"),
    [
        ("feature_shape", "[3]", "feature_shape [3]"),
        ("n_samples_seen", 5, "5 samples seen"),
        ("state_arrays", '["mean"]', "state arrays ['mean']"),
    ],
)
def test_an_unfitted_file_with_fitted_state_is_refused(tmp_path, attr, value, found):
    path = tmp_path / "p.h5"
    ZCAWhitening().save(path)
    _edit(path, lambda f: f.attrs.__setitem__(attr, value))
    with pytest.raises(ValueError, match=re.escape(f"but the file holds fitted state ({found}")):
        Preprocessor.load(path)


def test_an_unfitted_file_with_a_state_dataset_is_refused(tmp_path):
    path = tmp_path / "p.h5"
    ZCAWhitening().save(path)
    _edit(path, lambda f: f.create_dataset("mean", data=np.zeros(3)))
    with pytest.raises(ValueError, match=re.escape("fitted state (state datasets ['mean']")):
        Preprocessor.load(path)


def test_state_refused_by_the_class_names_the_file(tmp_path):
    # Was the class's own message, without the file: "ZCAWhitening: the covariance is singular".
    X = np.random.default_rng(0).normal(size=(50, 3))
    path = tmp_path / "zca.h5"
    ZCAWhitening(epsilon=0.0, dtype="float64").fit(X).save(path)
    _edit(path, lambda f: f["explained_variance"].__setitem__(0, 0.0))
    with pytest.raises(
        ValueError, match=f"'{path}': its state is invalid \\(ZCAWhitening: the covariance is"
    ):
        Preprocessor.load(path)
