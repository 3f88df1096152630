"""convnet.layers.noise (to be written)."""

__all__: list[str] = []
