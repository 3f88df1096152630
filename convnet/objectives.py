"""convnet.objectives (to be written)."""

__all__: list[str] = []
