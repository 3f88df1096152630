"""convnet.layers.base (to be written)."""

__all__: list[str] = []
