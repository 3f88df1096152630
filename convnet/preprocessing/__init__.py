"""Data preprocessing fitted on a training set: standardisation, contrast normalisation, PCA, ZCA.

Every preprocessor follows one contract:

* ``fit(X)`` estimates statistics from a training array, reading it in batches of
  ``batch_size`` samples and accumulating sufficient statistics in float64, so it also works
  on arrays that are too large for one float64 copy (a ``numpy.memmap`` or an ``h5py``
  dataset works as well as an in-memory array);
* ``transform(X)`` applies it, ``fit_transform(X)`` does both, and ``inverse_transform(Y)``
  undoes it where that is possible;
* ``save(target, group=None)`` writes the configuration and the fitted state to an HDF5 file
  or group, and ``load(source, group=None)`` reads it back, so a preprocessor can live in the
  same HDF5 file as the model it feeds. Nothing is pickled and loading executes no code.

Inputs are arrays of shape ``(N, C, H, W)`` (or any ``(N, ...)``) or ``(N, D)``, of unsigned
or signed integers (``uint8`` images) or floats. Outputs are ``float32`` unless the ``dtype``
argument says otherwise.

* :class:`ChannelStandardization`: subtract the mean and divide by the standard deviation of
  each channel (statistics over samples and pixels);
* :class:`PixelStandardization`: the same for every feature (each pixel of each channel);
* :class:`GlobalContrastNormalization`: per sample, subtract its mean and divide by its norm
  (Goodfellow et al., 2013); nothing to fit;
* :class:`PCA`: project onto the leading principal components, optionally whitened;
* :class:`ZCAWhitening`: whiten and rotate back to pixel space (Bell & Sejnowski, 1997).
"""

from ._base import Preprocessor
from ._pca import PCA, ZCAWhitening, _covariance  # noqa: F401  (_covariance: for tests)
from ._standardization import (
    ChannelStandardization,
    GlobalContrastNormalization,
    PixelStandardization,
)

__all__ = [
    "Preprocessor",
    "ChannelStandardization",
    "PixelStandardization",
    "GlobalContrastNormalization",
    "PCA",
    "ZCAWhitening",
]

# The classes keep the public module as their home (pickles, reprs and the docs name
# convnet.preprocessing.X, as before the split into private modules).
for _cls in (
    Preprocessor,
    ChannelStandardization,
    PixelStandardization,
    GlobalContrastNormalization,
    PCA,
    ZCAWhitening,
):
    _cls.__module__ = __name__
del _cls
