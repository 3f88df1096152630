"""convnet.layers.merge (to be written)."""

__all__: list[str] = []
