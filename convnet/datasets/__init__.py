"""Dataset loaders (to be written)."""

__all__: list[str] = []
