"""convnet.updates (to be written)."""

__all__: list[str] = []
