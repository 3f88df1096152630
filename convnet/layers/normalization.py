"""convnet.layers.normalization (to be written)."""

__all__: list[str] = []
