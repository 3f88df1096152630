"""convnet.layers.helper (to be written)."""

__all__: list[str] = []
