"""convnet.layers.conv (to be written)."""

__all__: list[str] = []
