"""convnet.random (to be written)."""

__all__: list[str] = []
