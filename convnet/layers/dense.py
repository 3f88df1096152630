"""convnet.layers.dense (to be written)."""

__all__: list[str] = []
