"""convnet.layers.special (to be written)."""

__all__: list[str] = []
