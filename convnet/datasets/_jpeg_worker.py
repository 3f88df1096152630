"""Decode square JPEGs to (3, size, size) uint8 pixels; also a subprocess that does so in bulk.

:func:`decode_into` is used in-process. Run as a script (``python -P _jpeg_worker.py
SIZE``), it reads NUL-separated file paths from stdin until EOF, then writes each image's
raw pixels (``3 * SIZE * SIZE`` bytes, channel-major) to stdout in order. On the first
image it cannot decode it writes ``<exception type>\\t<message>`` to stderr and exits with
status 3. Its imports are NumPy and Pillow only, so it starts fast and does not import the
caller's ``__main__`` (unlike a ``multiprocessing`` pool).
"""

from __future__ import annotations

import struct
import sys
import warnings

import numpy as np
from PIL import Image

__all__ = ["decode_into"]


def decode_into(path: str, out: np.ndarray) -> None:
    """Decode the image at ``path`` into ``out`` of shape (3, size, size), as RGB.

    Grayscale, CMYK and other modes are converted to RGB.

    Raises
    ------
    ValueError
        If the file is not a decodable image, or not size x size pixels.
    FileNotFoundError
        If there is no such file.

    Examples
    --------
    >>> import io, tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp, "gray.jpg")
    ...     Image.new("L", (4, 4), 200).save(path, quality=95)
    ...     out = np.empty((3, 4, 4), np.uint8)
    ...     decode_into(str(path), out)
    >>> out[:, 0, 0]
    array([200, 200, 200], dtype=uint8)
    """
    size = out.shape[-1]
    try:
        # A file announcing more pixels than Pillow's MAX_IMAGE_PIXELS (a decompression
        # bomb) warns, beyond twice that it raises: both are refused, naming the file.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            if image.size != (size, size):
                raise ValueError(
                    f"'{path}' is {image.size[0]} x {image.size[1]} pixels, expected "
                    f"{size} x {size}."
                )
            if image.mode != "RGB":  # grayscale (L), CMYK, palette...
                image = image.convert("RGB")
            pixels = np.asarray(image)
    except FileNotFoundError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(
            f"cannot decode '{path}': it announces more pixels than a {size} x {size} image "
            f"(a decompression bomb?): {exc}"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        # PIL.UnidentifiedImageError is an OSError; crafted files reach the others.
        raise ValueError(f"cannot decode '{path}' as an image ({exc}).") from None
    out[...] = pixels.transpose(2, 0, 1)


def _main() -> int:
    size = int(sys.argv[1])
    paths = [p.decode("utf-8", "surrogateescape") for p in sys.stdin.buffer.read().split(b"\0")]
    pixels = np.empty((3, size, size), dtype=np.uint8)
    output = sys.stdout.buffer
    for path in paths:
        if not path:
            continue
        try:
            decode_into(path, pixels)
        except (ValueError, FileNotFoundError) as exc:
            sys.stderr.write(f"{type(exc).__name__}\t{exc}\n")
            return 3
        output.write(pixels.data)
    output.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
