"""convnet.layers.pool (to be written)."""

__all__: list[str] = []
