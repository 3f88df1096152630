"""The pickle virtual machine behind :func:`~convnet.datasets.safe_pickle.restricted_load`.

:class:`Machine` interprets the pickle opcodes of a byte string itself, as the module
docstring of :mod:`convnet.datasets.safe_pickle` describes: globals only from the caller's
allow-list, NumPy dtypes and arrays rebuilt from validated state (never by handing the
pickle's state to NumPy), and the items and depth of every container counted as it is built.
:func:`check_tree` walks the result once more. Both raise :class:`Refused`, which
``restricted_load`` reports as its public ``UnsafePickleError``; this module only interprets.

What a pickle holds is typed ``Any`` here: it is whatever the file says until it is checked.
"""

from __future__ import annotations

import codecs
import re
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__: list[str] = []

# NumPy's array reconstructor, taken from ndarray.__reduce__ so that no private module is
# imported by name (it lives in numpy.core.multiarray in NumPy 1, numpy._core in NumPy 2).
reconstruct = np.ndarray.__reduce__(np.empty(0, dtype=np.uint8))[0]
# What NumPy pickles arrays with under protocol 5 (allowed only when a caller adds it).
frombuffer = np.empty(0, dtype=np.uint8).__reduce_ex__(5)[0]

#: The dtype kinds an array in a pickle may have: bool, signed/unsigned int, float, complex.
_NUMERIC_KINDS = "biufc"
_TYPESTR = re.compile(r"[<>=|]?[biufc][0-9]{1,2}")
#: Dict keys and set members (hashed while loading) may hold at most this many nodes.
_MAX_KEY_ITEMS = 64
#: Integers in a pickle may have at most this many bits.
_MAX_INT_BITS = 4096


class Refused(Exception):
    """The pickle is refused; the message says why (restricted_load re-raises it as its own)."""


class _Pending:
    """An array or dtype whose state (``BUILD``) has not arrived yet."""

    __slots__ = ("kind", "memo_keys", "dtype")

    def __init__(self, kind: str, dtype: np.dtype | None = None):
        self.kind = kind
        self.dtype = dtype
        self.memo_keys: list[int] = []


_ATOMS = (type(None), bool, int, float, complex, str, bytes)


class Machine:
    """The pickle virtual machine, restricted (see the module docstring)."""

    def __init__(
        self,
        data: bytes,
        allowed: Mapping[tuple[str, str], Any],
        encoding: str,
        source: str,
        max_items: int,
        max_depth: int,
    ):
        self.data = data
        self.pos = 0
        self.allowed = allowed
        self.allowed_ids = {id(v) for v in allowed.values()}
        self.encoding = encoding
        self.source = source
        self.max_items = max_items
        self.max_depth = max_depth
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        # (items, depth) of every container built, keyed by id; the objects are kept
        # alive in `keep` so that ids are never reused while loading.
        self.size: dict[int, tuple[int, int]] = {}
        self.keep: list[Any] = []

    # -- errors and reading -------------------------------------------------------------
    def fail(self, what: str) -> Refused:
        return Refused(f"restricted_load: {self.source} {what}")

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(
                f"is truncated: byte {self.pos} asks for {n} bytes, {len(self.data) - self.pos} "
                "remain"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def readline(self) -> bytes:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise self.fail(f"is truncated: no end of line after byte {self.pos}")
        out = self.data[self.pos : end]
        self.pos = end + 1
        return out

    def uint(self, fmt: str) -> int:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    # -- sizes --------------------------------------------------------------------------
    def measure(self, obj: Any) -> tuple[int, int]:
        if isinstance(obj, _ATOMS) or isinstance(obj, np.ndarray | np.dtype):
            return 1, 0
        return self.size.get(id(obj), (1, 0))

    def record(self, obj: Any, items: int, depth: int) -> Any:
        if items > self.max_items:
            raise self.fail(
                f"holds more than {self.max_items} items once expanded (at byte {self.pos}); "
                "the format allows fewer, so it is malformed or crafted"
            )
        if depth > self.max_depth:
            raise self.fail(
                f"nests containers {depth} deep (at byte {self.pos}), more than the "
                f"{self.max_depth} the format allows"
            )
        self.size[id(obj)] = (items, depth)
        self.keep.append(obj)
        return obj

    def grow(self, container: Any, children: list[Any]) -> None:
        items, depth = self.measure(container)
        for child in children:
            if isinstance(child, _Pending):
                raise self.fail(f"puts an unfinished {_describe(child)} into a container")
            ci, cd = self.measure(child)
            items += ci
            depth = max(depth, cd + 1)
        self.record(container, items, depth)

    def new_container(self, obj: Any, children: list[Any]) -> Any:
        self.record(obj, 1, 1)
        self.grow(obj, children)
        return obj

    def check_key(self, key: Any) -> Any:
        if isinstance(key, _ATOMS):
            return key
        if isinstance(key, tuple | frozenset | np.dtype):
            if self.measure(key)[0] <= _MAX_KEY_ITEMS:
                return key
            raise self.fail(
                f"uses a dict key or set member of {self.measure(key)[0]} items (at byte "
                f"{self.pos}); at most {_MAX_KEY_ITEMS} are allowed"
            )
        raise self.fail(f"uses a {_describe(key)} as a dict key or set member")

    def shareable(self, obj: Any) -> bool:
        if isinstance(obj, _ATOMS) or id(obj) in self.allowed_ids:
            return True
        if isinstance(obj, np.ndarray | np.dtype):
            return True
        if isinstance(obj, tuple | frozenset):
            return self.measure(obj)[1] <= 1 and all(
                isinstance(x, (*_ATOMS, np.ndarray, np.dtype)) for x in obj
            )
        return False

    # -- stack --------------------------------------------------------------------------
    def pop(self) -> Any:
        if not self.stack:
            raise self.fail(f"pops from an empty stack at byte {self.pos}")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise self.fail(f"reads an empty stack at byte {self.pos}")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise self.fail(f"closes a mark that was never set (byte {self.pos})")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def push(self, obj: Any) -> None:
        self.stack.append(obj)

    def text(self, raw: bytes) -> str | bytes:
        """A Python 2 ``str``, decoded as the caller asked."""
        if self.encoding == "bytes":
            return raw
        try:
            return raw.decode(self.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise self.fail(f"holds a string that is not {self.encoding} ({exc.reason})") from None

    def memo_put(self, key: int) -> None:
        obj = self.top()
        self.memo[key] = obj
        if isinstance(obj, _Pending):
            obj.memo_keys.append(key)

    def memo_get(self, key: int) -> None:
        if key not in self.memo:
            raise self.fail(f"refers to memo entry {key}, which was never stored")
        obj = self.memo[key]
        if not self.shareable(obj):
            raise self.fail(
                f"refers twice to the same {_describe(obj)} (memo entry {key}, byte "
                f"{self.pos}); shared and recursive containers are refused"
            )
        self.push(obj)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except (KeyError, TypeError):
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in self.allowed)) or "none"
            raise self.fail(
                f"asks for the global '{module}.{name}', which is not allowed (allowed globals: "
                f"{allowed}). The file may be malicious; it was not loaded and nothing in it "
                "was called."
            ) from None

    # -- numpy ----------------------------------------------------------------------------
    def make_dtype(self, args: Any) -> _Pending:
        args = tuple(_ascii(a) for a in args) if isinstance(args, tuple) else args
        if not (isinstance(args, tuple) and 1 <= len(args) <= 3 and isinstance(args[0], str)):
            raise self.fail(f"builds a dtype from {_describe(args)}; expected ('f4', 0, 1)")
        typestr = args[0]
        if not _TYPESTR.fullmatch(typestr):
            raise self.fail(
                f"asks for the dtype {typestr[:20]!r}; only plain numeric dtypes (bool, "
                "integer, float, complex) are allowed"
            )
        try:
            dtype = np.dtype(typestr)
        except TypeError:
            raise self.fail(f"asks for the unknown dtype {typestr!r}") from None
        return _Pending("dtype", dtype)

    def build_dtype(self, pending: _Pending, state: Any) -> np.dtype:
        dtype = pending.dtype
        state = tuple(_ascii(a) for a in state) if isinstance(state, tuple) else state
        ok = (
            isinstance(state, tuple)
            and len(state) in (8, 9)
            and _one_of(state[0], 3, 4)
            and _one_of(state[1], "<", ">", "=", "|")
            and _same(state[2:8], (None, None, None, -1, -1, 0))
            and (len(state) == 8 or state[8] is None)
        )
        if not ok:
            raise self.fail(
                f"gives the dtype {dtype} the state {_short(state)}; only the state of a plain "
                "numeric dtype, (3, byte order, None, None, None, -1, -1, 0), is allowed"
            )
        if state[1] in "<>" and dtype.itemsize > 1:
            dtype = dtype.newbyteorder(state[1])
        return np.dtype(dtype)

    def make_array(self, args: Any) -> _Pending:
        ok = (
            isinstance(args, tuple)
            and len(args) == 3
            and args[0] is np.ndarray
            and _same(args[1], (0,))
            and _one_of(args[2], b"b", "b")
        )
        if not ok:
            raise self.fail(
                f"calls NumPy's array reconstructor with {_short(args)}; expected "
                "(numpy.ndarray, (0,), b'b')"
            )
        return _Pending("array")

    def array_from(self, shape: Any, dtype: Any, fortran: Any, raw: Any) -> np.ndarray:
        if not isinstance(dtype, np.dtype) or dtype.kind not in _NUMERIC_KINDS:
            raise self.fail(f"gives an array the dtype {_describe(dtype)}; expected a numeric one")
        if not (
            isinstance(shape, tuple)
            and len(shape) <= 32
            and all(type(n) is int and n >= 0 for n in shape)
        ):
            raise self.fail(f"gives an array the shape {_short(shape)}; expected non-negative ints")
        if isinstance(raw, str):
            try:
                raw = raw.encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail("holds array data that is not a latin-1 string") from None
        if not isinstance(raw, bytes | bytearray):
            raise self.fail(
                f"gives an array data of type {_describe(raw)}; expected a byte string "
                "(object arrays are refused)"
            )
        count = 1
        for n in shape:
            count *= n
        if count * dtype.itemsize != len(raw):
            raise self.fail(
                f"declares an array of shape {shape} and dtype {dtype} ({count * dtype.itemsize} "
                f"bytes) but holds {len(raw)} bytes of data"
            )
        order = "F" if fortran else "C"
        array = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy(order=order)
        return array

    def build_array(self, state: Any) -> np.ndarray:
        if isinstance(state, tuple) and len(state) == 5 and _same(state[0], 1):
            state = state[1:]
        if not (isinstance(state, tuple) and len(state) == 4 and type(state[2]) in (bool, int)):
            raise self.fail(
                f"gives an array the state {_short(state)}; expected (1, shape, dtype, "
                "is_fortran, data)"
            )
        shape, dtype, fortran, raw = state
        return self.array_from(shape, dtype, fortran, raw)

    # -- calls ----------------------------------------------------------------------------
    def call(self, func: Any, args: Any) -> Any:
        if not isinstance(args, tuple):
            raise self.fail(f"calls a global with {_describe(args)} instead of an argument tuple")
        if func is reconstruct:
            return self.make_array(args)
        if func is np.dtype:
            return self.make_dtype(args)
        if func is frombuffer and id(func) in self.allowed_ids:
            if len(args) != 4 or not _one_of(args[3], "C", "F"):
                raise self.fail(f"calls _frombuffer with {_short(args)}")
            return self.array_from(args[2], args[1], args[3] == "F", args[0])
        if func is np.ndarray or id(func) not in self.allowed_ids:
            raise self.fail(f"calls {_describe(func)}, which is not an allowed callable")
        if self.measure(args)[0] > self.max_items:
            raise self.fail("calls a global with too many arguments")
        try:
            obj = func(*args)
        except Exception as exc:
            raise self.fail(f"calls an allowed global, which fails: {type(exc).__name__}") from None
        if not isinstance(obj, _ATOMS):
            items, depth = self.measure(args)
            self.record(obj, items, depth)
        return obj

    def build(self, state: Any) -> None:
        obj = self.pop()
        if isinstance(obj, _Pending):
            final = self.build_dtype(obj, state) if obj.kind == "dtype" else self.build_array(state)
            for key in obj.memo_keys:
                self.memo[key] = final
            self.push(final)
            return
        if isinstance(obj, (*_ATOMS, list, dict, set, tuple, frozenset, bytearray)):
            raise self.fail(f"sets the state of a {_describe(obj)}")
        if isinstance(obj, np.ndarray | np.dtype) or id(obj) in self.allowed_ids:
            raise self.fail(f"sets the state of {_describe(obj)} a second time")
        setstate = getattr(obj, "__setstate__", None)
        try:
            if setstate is not None:
                setstate(state)
            elif isinstance(state, dict):
                obj.__dict__.update(state)
            else:
                raise TypeError(type(state).__name__)
        except Exception as exc:
            raise self.fail(f"sets an object's state, which fails: {type(exc).__name__}") from None
        self.grow(obj, [state])
        self.push(obj)

    def set_items(self, target: Any, pairs: list[Any]) -> None:
        if len(pairs) % 2:
            raise self.fail(f"gives an odd number of dict items at byte {self.pos}")
        if not isinstance(target, dict):
            if id(type(target)) not in self.allowed_ids or not hasattr(target, "__setitem__"):
                raise self.fail(f"sets items of a {_describe(target)}")
        keys = pairs[0::2]
        for key in keys:
            self.check_key(key)
        self.grow(target, pairs)
        for key, value in zip(keys, pairs[1::2]):
            target[key] = value

    def append(self, target: Any, items: list[Any]) -> None:
        if isinstance(target, list):
            self.grow(target, items)
            target.extend(items)
        elif isinstance(target, set):
            for item in items:
                self.check_key(item)
            self.grow(target, items)
            target.update(items)
        elif id(type(target)) in self.allowed_ids and hasattr(target, "append"):
            self.grow(target, items)
            for item in items:
                target.append(item)
        else:
            raise self.fail(f"appends to a {_describe(target)}")

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> Any:  # noqa: C901 -- one branch per opcode, as in pickle.py
        while True:
            op = self.read(1)
            # constants and scalars
            if op == b"N":
                self.push(None)
            elif op == b"\x88":
                self.push(True)
            elif op == b"\x89":
                self.push(False)
            elif op == b"K":
                self.push(self.uint("<B"))
            elif op == b"M":
                self.push(self.uint("<H"))
            elif op == b"J":
                self.push(self.uint("<i"))
            elif op in (b"I", b"L"):
                line = self.readline().rstrip(b"L")
                if line in (b"00", b"01") and op == b"I":
                    self.push(line == b"01")
                else:
                    if len(line) > _MAX_INT_BITS // 3:
                        raise self.fail(f"holds an integer of {len(line)} digits")
                    self.push(_parse(int, line, self))
            elif op in (b"\x8a", b"\x8b"):
                n = self.uint("<B") if op == b"\x8a" else self.uint("<i")
                if n * 8 > _MAX_INT_BITS:
                    raise self.fail(f"holds an integer of {n} bytes")
                self.push(int.from_bytes(self.read(n), "little", signed=True))
            elif op == b"G":
                self.push(struct.unpack(">d", self.read(8))[0])
            elif op == b"F":
                self.push(_parse(float, self.readline(), self))
            # strings
            elif op == b"S":
                line = self.readline()
                if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
                    raise self.fail(f"holds a malformed STRING at byte {self.pos}")
                try:
                    raw = codecs.escape_decode(line[1:-1])[0]
                except ValueError:
                    raise self.fail(f"holds a malformed STRING at byte {self.pos}") from None
                self.push(self.text(raw))
            elif op in (b"T", b"U"):
                n = self.uint("<i") if op == b"T" else self.uint("<B")
                self.push(self.text(self.read(n)))
            elif op in (b"B", b"C", b"\x8e", b"\x96"):
                fmt = {b"B": "<I", b"C": "<B", b"\x8e": "<Q", b"\x96": "<Q"}[op]
                raw = self.read(self.uint(fmt))
                self.push(bytearray(raw) if op == b"\x96" else raw)
            elif op in (b"X", b"\x8c", b"\x8d", b"V"):
                if op == b"V":
                    raw = self.readline()
                    codec = "raw-unicode-escape"
                else:
                    fmt = {b"X": "<I", b"\x8c": "<B", b"\x8d": "<Q"}[op]
                    raw = self.read(self.uint(fmt))
                    codec = "utf-8"
                try:
                    self.push(raw.decode(codec, "surrogatepass"))
                except UnicodeDecodeError:
                    raise self.fail(f"holds text that is not {codec} at byte {self.pos}") from None
            # containers
            elif op == b"]":
                self.push(self.new_container([], []))
            elif op == b"}":
                self.push(self.new_container({}, []))
            elif op == b")":
                self.push(())
            elif op == b"\x8f":
                self.push(self.new_container(set(), []))
            elif op == b"(":
                self.metastack.append(self.stack)
                self.stack = []
            elif op in (b"t", b"l", b"d", b"\x91"):
                items = self.pop_mark()
                if op == b"t":
                    self.push(self.new_container(tuple(items), items))
                elif op == b"l":
                    self.push(self.new_container(list(items), items))
                elif op == b"\x91":
                    for item in items:
                        self.check_key(item)
                    self.push(self.new_container(frozenset(items), items))
                else:
                    target = self.new_container({}, [])
                    self.set_items(target, items)
                    self.push(target)
            elif op in (b"\x85", b"\x86", b"\x87"):
                n = op[0] - 0x84
                if len(self.stack) < n:
                    raise self.fail(f"builds a tuple from an empty stack at byte {self.pos}")
                items = self.stack[-n:]
                del self.stack[-n:]
                self.push(self.new_container(tuple(items), items))
            elif op == b"a":
                item = self.pop()
                self.append(self.top(), [item])
            elif op in (b"e", b"\x90"):
                items = self.pop_mark()
                self.append(self.top(), items)
            elif op == b"s":
                value = self.pop()
                key = self.pop()
                self.set_items(self.top(), [key, value])
            elif op == b"u":
                items = self.pop_mark()
                self.set_items(self.top(), items)
            # stack and memo
            elif op == b"0":
                self.pop()
            elif op == b"1":
                self.pop_mark()
            elif op == b"2":
                obj = self.top()
                if not self.shareable(obj):
                    raise self.fail(f"duplicates a {_describe(obj)} on the stack")
                self.push(obj)
            elif op in (b"p", b"q", b"r", b"\x94"):
                if op == b"p":
                    key = _parse(int, self.readline(), self)
                elif op == b"\x94":
                    key = len(self.memo)
                else:
                    key = self.uint("<B" if op == b"q" else "<I")
                self.memo_put(key)
            elif op in (b"g", b"h", b"j"):
                if op == b"g":
                    key = _parse(int, self.readline(), self)
                else:
                    key = self.uint("<B" if op == b"h" else "<I")
                self.memo_get(key)
            # globals and objects
            elif op == b"c":
                module = self.readline().decode("utf-8", "replace")
                name = self.readline().decode("utf-8", "replace")
                self.push(self.find_class(module, name))
            elif op == b"\x93":
                name = self.pop()
                module = self.pop()
                if not isinstance(module, str) or not isinstance(name, str):
                    raise self.fail("names a global with values that are not strings")
                self.push(self.find_class(module, name))
            elif op == b"R":
                args = self.pop()
                self.push(self.call(self.pop(), args))
            elif op == b"\x81":
                args = self.pop()
                cls = self.pop()
                self.push(self.new_object(cls, args, {}))
            elif op == b"\x92":
                kwargs = self.pop()
                args = self.pop()
                cls = self.pop()
                if not isinstance(kwargs, dict):
                    raise self.fail("gives NEWOBJ_EX keyword arguments that are not a dict")
                self.push(self.new_object(cls, args, kwargs))
            elif op == b"i":
                module = self.readline().decode("utf-8", "replace")
                name = self.readline().decode("utf-8", "replace")
                func = self.find_class(module, name)
                self.push(self.call(func, tuple(self.pop_mark())))
            elif op == b"o":
                items = self.pop_mark()
                if not items:
                    raise self.fail("uses OBJ without a class")
                self.push(self.call(items[0], tuple(items[1:])))
            elif op == b"b":
                state = self.pop()
                self.build(state)
            elif op in (b"P", b"Q"):
                pid = self.readline() if op == b"P" else self.pop()
                raise self.fail(f"uses a persistent id ({_short(pid)}), which is not allowed.")
            elif op in (b"\x82", b"\x83", b"\x84"):
                raise self.fail("uses the copyreg extension registry, which is not allowed")
            elif op == b"\x97":
                raise self.fail("uses an out-of-band buffer, which is not allowed")
            elif op == b"\x98":
                obj = self.top()
                if isinstance(obj, bytearray):
                    self.stack[-1] = bytes(obj)
            # framing
            elif op == b"\x80":
                proto = self.uint("<B")
                if proto > 5:
                    raise self.fail(f"is pickle protocol {proto}; this reads protocols 0 to 5")
            elif op == b"\x95":
                self.uint("<Q")
            elif op == b".":
                result = self.pop()
                if self.stack or self.metastack:
                    raise self.fail("leaves values on the stack at its end")
                return result
            else:
                raise self.fail(f"holds the unknown opcode {op!r} at byte {self.pos - 1}")

    def new_object(self, cls: Any, args: Any, kwargs: dict) -> Any:
        if cls is np.ndarray or cls is np.dtype or not isinstance(cls, type):
            raise self.fail(f"creates {_describe(cls)} with NEWOBJ, which is not allowed")
        if id(cls) not in self.allowed_ids or not isinstance(args, tuple):
            raise self.fail(f"creates {_describe(cls)}, which is not an allowed class")
        try:
            obj = cls.__new__(cls, *args, **kwargs)
        except Exception as exc:
            raise self.fail(f"creates an object, which fails: {type(exc).__name__}") from None
        items, depth = self.measure(args)
        return self.record(obj, items, depth)


def _same(value: Any, want: Any) -> bool:
    """``value == want`` for plain values and tuples, without calling an array's ``==``."""
    if type(want) is tuple:
        return (
            type(value) is tuple
            and len(value) == len(want)
            and all(_same(v, w) for v, w in zip(value, want, strict=True))
        )
    return type(value) is type(want) and value == want


def _one_of(value: Any, *options: Any) -> bool:
    return any(_same(value, option) for option in options)


def _ascii(value: Any) -> Any:
    """Python 2 strings read with ``encoding="bytes"`` as text (dtype codes, byte orders)."""
    if isinstance(value, bytes) and len(value) <= 8:
        return value.decode("latin-1")
    return value


def _parse(kind: type[int] | type[float], text: bytes, machine: Machine) -> int | float:
    try:
        return kind(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise machine.fail(f"holds a malformed number at byte {machine.pos}") from None


def _describe(obj: Any) -> str:
    """What ``obj`` is, without its repr (which may be long or show heap addresses)."""
    if isinstance(obj, _Pending):
        return f"unfinished {obj.kind}"
    if isinstance(obj, type):
        return f"the class {obj.__module__}.{obj.__qualname__}"
    if callable(obj):
        return f"the callable {getattr(obj, '__qualname__', type(obj).__name__)}"
    return type(obj).__name__


def _short(obj: Any) -> str:
    """A short, address-free description of a value from a pickle."""
    if isinstance(obj, _ATOMS):
        text = repr(obj)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(obj, tuple) and len(obj) <= 9:
        return "(" + ", ".join(_short(x) for x in obj) + ("," if len(obj) == 1 else "") + ")"
    if isinstance(obj, np.dtype):
        return f"dtype('{obj.str}')"
    return _describe(obj)


def check_tree(obj: Any, source: str) -> None:
    """Walk the loaded tree once more: every array must be a plain numeric array."""
    todo = [obj]
    seen: set[int] = set()
    while todo:
        x = todo.pop()
        if isinstance(x, _ATOMS) or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            if x.dtype.kind not in _NUMERIC_KINDS or x.dtype.hasobject or x.dtype.fields:
                raise Refused(
                    f"restricted_load: {source} holds an array of dtype {x.dtype}; only plain "
                    "numeric arrays are allowed"
                )
        elif isinstance(x, _Pending):
            raise Refused(f"restricted_load: {source} holds an {x.kind} whose state never arrived")
        elif isinstance(x, dict):
            todo.extend(x.keys())
            todo.extend(x.values())
        elif isinstance(x, list | tuple | set | frozenset):
            todo.extend(x)
