"""convnet.visualize (to be written)."""

__all__: list[str] = []
