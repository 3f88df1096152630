"""convnet.augmentation (to be written)."""

__all__: list[str] = []
