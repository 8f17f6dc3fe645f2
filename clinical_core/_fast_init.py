"""A cheaper `__init__` for the hot frozen, slotted dataclasses of facts.py and decisions.py.

dataclasses writes a frozen class's `__init__` as one `object.__setattr__(self, name, value)` per
field (a global lookup, an attribute lookup and a descriptor search in the type each time). Roughly
sixty of these objects are built per hook request. `fast_init` swaps in an `__init__` that stores
the same parameters, the same default objects, the same stored values, more cheaply: the new object
is given, for the duration of `__init__`, the class of a plain slotted twin with the very same slots
(CPython checks the layouts are identical on every `__class__` assignment and refuses otherwise), so
each field is one ordinary attribute store, and then gets its own class back. A `Class.field.__set__`
call per field (the previous form, kept for instances of subclasses, and itself ~40% cheaper than the
dataclass's) cost ~700 instructions a field; the two class assignments cost about two fields' worth, so
the gain grows with the fields (callgrind: Evidence, 5 fields, -10%; assess -4%, extract_facts -2%).

Calling the class still costs the interpreter's generic class call (type_call, then slot_tp_init looks
up `__init__` and calls it with `self` prepended: no specialised call in 3.11) and two class assignments
(~640 instructions each: CPython compares the two layouts every time). For the few sites that build
these objects per resource or per evidence row, `maker(cls)` gives a plain function with the same
parameters and defaults that builds the object directly as the twin and assigns the class once: an
ordinary specialised Python call (callgrind: SourceRef 4.3K -> 2.2K instructions, Measurement 5.3K ->
2.7K). Its object equals, field for field (the very stored objects), the one `cls(...)` builds
(tests/core/test_fast_init.py).

Only `__init__` changes. Equality, hashing, repr, immutability (assigning still raises
FrozenInstanceError: `__setattr__` is untouched), `dataclasses.fields/asdict/replace`, pickling and
the signature stay the dataclass's own; tests/core/test_fast_init.py checks each of these against a
plain copy of every class. A default_factory field is called as the generated `__init__` calls it (a
new value per object, PatientFacts: 37K -> ~5K instructions to build). Classes with `__post_init__`,
InitVar, init=False or kw_only fields are refused (they keep the generated `__init__`).
"""
from __future__ import annotations

import dataclasses
from operator import attrgetter
from typing import Any, Callable, TypeVar

T = TypeVar("T", bound=type)
O = TypeVar("O")

# fast_init class -> (its field values as a tuple, field name -> position): what `replace` needs
_PLANS: dict[type, tuple[Any, dict[str, int]]] = {}
# fast_init class -> its maker (see `maker`)
_MAKERS: dict[type, Any] = {}


def fast_init(cls: T) -> T:
    """Replace a frozen, slotted dataclass's generated `__init__` with the slot-descriptor form."""
    params = cls.__dataclass_params__
    if not (params.frozen and "__slots__" in cls.__dict__):
        raise TypeError(f"{cls.__name__}: fast_init is for frozen, slotted dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: has __post_init__")
    fields = dataclasses.fields(cls)  # the real fields: pseudo-fields (InitVar, ClassVar) are left out
    if len(fields) != len(cls.__dataclass_fields__):
        raise TypeError(f"{cls.__name__}: InitVar or ClassVar field")
    if any(not f.init or f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: init=False or kw_only field")
    original = cls.__init__
    names = [f.name for f in fields]
    # the twin: the same slots, a plain __setattr__; only ever the class of an object under construction
    twin = type(f"_{cls.__name__}Builder", (), {"__slots__": cls.__slots__, "__module__": cls.__module__})
    ns = {f"_set_{n}": cls.__dict__[n].__set__ for n in names}
    ns.update(_cls=cls, _twin=twin, _set_class=object.__setattr__)
    # a default_factory field: the generated __init__'s default is a marker object, replaced by a call of
    # the factory (one new value per object); the same marker (from its defaults) and the same factory here
    factories = ""
    first_default = len(names) - len(original.__defaults__ or ())
    for i, f in enumerate(fields):
        if f.default_factory is not dataclasses.MISSING:
            ns[f"_marker_{f.name}"], ns[f"_factory_{f.name}"] = original.__defaults__[i - first_default], \
                f.default_factory
            factories += f"    if {f.name} is _marker_{f.name}:\n        {f.name} = _factory_{f.name}()\n"
    slow = "".join(f"        _set_{n}(self, {n})\n" for n in names) + "        return\n"
    body = (factories + f"    if type(self) is not _cls:\n{slow}"
            "    _set_class(self, '__class__', _twin)\n"
            + "".join(f"    self.{n} = {n}\n" for n in names) + "    self.__class__ = _cls\n")
    exec(f"def __init__(self, {', '.join(names)}):\n{body}", ns)  # noqa: S102 - field names only
    init = ns["__init__"]
    init.__defaults__ = original.__defaults__  # the very default objects of the generated __init__
    init.__kwdefaults__ = original.__kwdefaults__
    init.__annotations__ = dict(original.__annotations__)
    init.__qualname__ = original.__qualname__
    # argument errors name the code object ("Measurement.__init__() missing 1 required ..."), as before
    init.__code__ = init.__code__.replace(co_qualname=original.__code__.co_qualname)
    init.__module__ = original.__module__
    init.__doc__ = original.__doc__
    init._generated = original  # the dataclass's own __init__, for the tests that compare the two
    cls.__init__ = init
    # the maker: the same parameters and defaults; the object is born as the twin, then gets its class
    make_ns = {**ns, "_cls": cls, "_twin": twin}
    exec(f"def make({', '.join(names)}):\n{factories}    self = _twin()\n"  # noqa: S102 - field names only
         + "".join(f"    self.{n} = {n}\n" for n in names) + "    self.__class__ = _cls\n    return self\n", make_ns)
    make = make_ns["make"]
    make.__defaults__ = original.__defaults__
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__module__ = cls.__module__
    make.__doc__ = f"{cls.__name__}(...) without the generic class call: see _fast_init.maker."
    _MAKERS[cls] = make
    if len(names) > 1:
        _PLANS[cls] = (attrgetter(*names), {n: i for i, n in enumerate(names)})
    return cls


def maker(cls: type[O]) -> Callable[..., O]:
    """A function that builds what `cls(...)` builds, called with the same arguments (a fast_init class):
    for the sites that build one object per resource or per evidence row."""
    return _MAKERS[cls]


def replace(obj: O, /, **changes: Any) -> O:
    """`dataclasses.replace` for the fast_init classes: the same new object (every field's value, the
    changes applied, passed to the class), without dataclasses.replace's walk over the field objects and
    its keyword call (the order checks copy several Decisions of 18 fields per request). Other classes,
    and a name that is not a field, go to dataclasses.replace itself (its result, its errors)."""
    plan = _PLANS.get(type(obj))
    if plan is None:
        return dataclasses.replace(obj, **changes)
    values_of, position = plan
    values = list(values_of(obj))
    for name, value in changes.items():
        i = position.get(name)
        if i is None:
            return dataclasses.replace(obj, **changes)
        values[i] = value
    return _MAKERS[type(obj)](*values)
