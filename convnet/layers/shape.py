"""convnet.layers.shape (to be written)."""

__all__: list[str] = []
