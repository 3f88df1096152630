"""convnet.search (to be written)."""

__all__: list[str] = []
