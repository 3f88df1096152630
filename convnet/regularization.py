"""convnet.regularization (to be written)."""

__all__: list[str] = []
