"""convnet.utils (to be written)."""

__all__: list[str] = []
