"""convnet.preprocessing (to be written)."""

__all__: list[str] = []
