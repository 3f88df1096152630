"""convnet.layers.input (to be written)."""

__all__: list[str] = []
