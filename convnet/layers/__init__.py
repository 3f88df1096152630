"""The layer graph: Lasagne 0.2's layers and helpers, on PyTensor."""

from . import (
    base,
    config,
    conv,
    dense,
    embedding,
    helper,
    input,
    local,
    merge,
    noise,
    normalization,
    pool,
    recurrent,
    shape,
    special,
)
from .base import *  # noqa: F403
from .config import *  # noqa: F403
from .conv import *  # noqa: F403
from .dense import *  # noqa: F403
from .embedding import *  # noqa: F403
from .helper import *  # noqa: F403
from .input import *  # noqa: F403
from .local import *  # noqa: F403
from .merge import *  # noqa: F403
from .noise import *  # noqa: F403
from .normalization import *  # noqa: F403
from .pool import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .shape import *  # noqa: F403
from .special import *  # noqa: F403
from .summary import *  # noqa: F403
from .summary import __all__ as _summary_all

__all__ = (
    base.__all__
    + config.__all__
    + conv.__all__
    + dense.__all__
    + embedding.__all__
    + helper.__all__
    + input.__all__
    + local.__all__
    + merge.__all__
    + noise.__all__
    + normalization.__all__
    + pool.__all__
    + recurrent.__all__
    + shape.__all__
    + special.__all__
    + _summary_all
)
