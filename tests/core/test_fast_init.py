"""clinical_core/_fast_init.py: the slot-descriptor __init__ of the frozen fact and decision classes
builds exactly what the dataclass's generated __init__ builds, and nothing else about the classes moved
(fields, equality, hashing, repr, immutability, asdict, replace, pickling, signature, argument errors)."""
from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinical_core import decisions, dosing, facts
from clinical_core._fast_init import fast_init


def _fast_classes() -> list[type]:
    out = []
    for module in (facts, decisions, dosing):
        for obj in vars(module).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__ \
                    and hasattr(obj.__init__, "_generated"):
                out.append(obj)
    return out


FAST = _fast_classes()


def test_the_hot_classes_have_the_fast_init():
    names = {c.__name__ for c in FAST}
    assert {"SourceRef", "Measurement", "ConditionFact", "MedicationFact", "AllergyFact", "DataIssue",
            "Evidence", "PhenotypeFinding", "Decision", "Citation", "TherapyOption", "Lookup"} <= names
    assert "PatientFacts" in names  # a default_factory, called as the generated __init__ calls it


VALUES = st.one_of(st.none(), st.text(max_size=5), st.integers(-5, 5), st.floats(allow_nan=True),
                   st.just(date(2026, 1, 2)), st.just(datetime(2026, 1, 2, 3, 4)), st.booleans(),
                   st.tuples(st.text(max_size=2)), st.just(()), st.just([1]), st.just({"a": 1}))


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _same_stored(f: dataclasses.Field, got, want) -> None:
    """The very object stored, or for a default_factory's own value an equal new one (a call per object)."""
    a, b = getattr(got, f.name), getattr(want, f.name)
    if f.default_factory is not dataclasses.MISSING and a is not b:
        assert type(a) is type(b) and a == b == f.default_factory()
    else:
        assert a is b


def _build_both(cls, args, kwargs):
    fast = cls(*args, **kwargs)
    ref = object.__new__(cls)
    cls.__init__._generated(ref, *args, **kwargs)
    return fast, ref


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fast_init_stores_exactly_what_the_generated_init_stores(data):
    cls = data.draw(st.sampled_from(FAST))
    fields = dataclasses.fields(cls)
    required = [f for f in fields if not _has_default(f)]
    optional = [f for f in fields if _has_default(f)]
    n_opt = data.draw(st.integers(0, len(optional)))
    as_kw = data.draw(st.booleans())
    args = [data.draw(VALUES) for _ in required]
    given_opt = {f.name: data.draw(VALUES) for f in optional[:n_opt]}
    if as_kw:
        fast, ref = _build_both(cls, [], {**{f.name: a for f, a in zip(required, args)}, **given_opt})
    else:
        fast, ref = _build_both(cls, args + list(given_opt.values()), {})
    for f in fields:
        _same_stored(f, fast, ref)
    assert repr(fast) == repr(ref)
    if all(v == v for v in (getattr(ref, f.name) for f in fields if f.compare)):  # NaN is not equal to itself
        assert fast == ref
    try:
        h = hash(ref)
    except TypeError as exc:  # an unhashable value: the same failure
        with pytest.raises(TypeError, match=str(exc)):
            hash(fast)
    else:
        assert hash(fast) == h
    assert dataclasses.asdict(fast).keys() == dataclasses.asdict(ref).keys()
    assert repr(dataclasses.asdict(fast)) == repr(dataclasses.asdict(ref))
    assert repr(dataclasses.astuple(fast)) == repr(dataclasses.astuple(ref))


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_everything_but_init_is_the_dataclass_own(cls):
    original = cls.__init__._generated
    assert inspect.signature(cls.__init__) == inspect.signature(original)
    assert cls.__init__.__defaults__ is original.__defaults__
    assert cls.__init__.__kwdefaults__ == original.__kwdefaults__
    assert cls.__init__.__qualname__ == original.__qualname__ == f"{cls.__name__}.__init__"
    assert cls.__init__.__annotations__ == original.__annotations__
    assert cls.__dataclass_params__.frozen and cls.__dataclass_params__.eq
    assert cls.__slots__ == tuple(f.name for f in dataclasses.fields(cls))
    for name in ("__eq__", "__hash__", "__repr__", "__setattr__", "__delattr__"):
        assert getattr(cls, name).__qualname__ == f"{cls.__name__}.{name}"  # the generated ones


def _sample(cls):
    fields = dataclasses.fields(cls)
    args = [f"v{i}" if f.default is dataclasses.MISSING else f.default for i, f in enumerate(fields)]
    return cls(*args), args


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_immutability_replace_pickle_copy(cls):
    obj, args = _sample(cls)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, name, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(obj, name)
    with pytest.raises((AttributeError, TypeError)):
        obj.not_a_field = 1  # slots: no new attributes either
    changed = dataclasses.replace(obj, **{name: "other"})
    assert type(changed) is cls and getattr(changed, name) == "other" and changed != obj
    assert dataclasses.replace(changed, **{name: args[0]}) == obj
    for clone in (pickle.loads(pickle.dumps(obj)), copy.copy(obj), copy.deepcopy(obj)):
        assert clone == obj and repr(clone) == repr(obj) and type(clone) is cls


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_argument_errors_read_as_before(cls):
    original = cls.__init__._generated
    n = len(dataclasses.fields(cls))
    for args, kwargs in (((), {}), (tuple(range(n + 1)), {}), (tuple(range(n)), {"nope": 1}),
                         (tuple(range(n)), {dataclasses.fields(cls)[0].name: 1})):
        with pytest.raises(TypeError) as fast_err:
            cls(*args, **kwargs)
        with pytest.raises(TypeError) as ref_err:
            original(object.__new__(cls), *args, **kwargs)
        assert str(fast_err.value) == str(ref_err.value)


def test_fast_init_refuses_what_it_cannot_copy():
    @dataclasses.dataclass(frozen=True, slots=True)
    class KwOnly:
        x: int = dataclasses.field(kw_only=True)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPost:
        x: int

        def __post_init__(self):
            pass

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        x: int

    for cls in (KwOnly, WithPost, NoSlots, NotFrozen):
        with pytest.raises(TypeError):
            fast_init(cls)


# ---------------------------------------------------------------------------------------------------
# _fast_init.replace against dataclasses.replace

from clinical_core._fast_init import replace as fast_replace  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fast_replace_builds_what_dataclasses_replace_builds(data):
    cls = data.draw(st.sampled_from(FAST))
    obj, _ = _sample(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    changed = data.draw(st.lists(st.sampled_from(names), unique=True))
    changes = {n: data.draw(VALUES) for n in changed}
    got, want = fast_replace(obj, **changes), dataclasses.replace(obj, **changes)
    assert type(got) is type(want) is cls
    for n in names:
        assert getattr(got, n) is getattr(want, n)
    assert repr(got) == repr(want)
    assert obj == _sample(cls)[0]  # the original is untouched


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_fast_replace_errors_are_dataclasses_replace_errors(cls):
    obj, _ = _sample(cls)
    with pytest.raises(TypeError) as fast_err:
        fast_replace(obj, not_a_field=1)
    with pytest.raises(TypeError) as ref_err:
        dataclasses.replace(obj, not_a_field=1)
    assert str(fast_err.value) == str(ref_err.value)


def test_fast_replace_of_other_classes_is_dataclasses_replace():
    from clinical_core.facts import PatientFacts
    pf = PatientFacts("p", date(2026, 1, 1))
    assert fast_replace(pf, patient_id="q") == dataclasses.replace(pf, patient_id="q")


# ---------------------------------------------------------------------------------------------------
# _fast_init.maker against the class call

from clinical_core._fast_init import maker  # noqa: E402


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_maker_builds_what_the_class_call_builds(data):
    cls = data.draw(st.sampled_from(FAST))
    make = maker(cls)
    fields = dataclasses.fields(cls)
    required = [f for f in fields if not _has_default(f)]
    optional = [f for f in fields if _has_default(f)]
    n_opt = data.draw(st.integers(0, len(optional)))
    args = [data.draw(VALUES) for _ in required]
    given_opt = {f.name: data.draw(VALUES) for f in optional[:n_opt]}
    if data.draw(st.booleans()):
        kwargs = {**{f.name: a for f, a in zip(required, args)}, **given_opt}
        got, want = make(**kwargs), cls(**kwargs)
    else:
        got, want = make(*args, *given_opt.values()), cls(*args, *given_opt.values())
    assert type(got) is type(want) is cls
    for f in fields:
        _same_stored(f, got, want)  # the very stored objects, defaults included
    assert repr(got) == repr(want)
    if all(v == v for v in (getattr(want, f.name) for f in fields)):  # NaN is not equal to itself
        assert got == want
        assert pickle.loads(pickle.dumps(got)) == want
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(got, fields[0].name, "x")


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_maker_has_the_init_parameters(cls):
    make = maker(cls)
    init = inspect.signature(cls.__init__._generated).parameters
    assert list(inspect.signature(make).parameters) == list(init)[1:]  # without self
    assert make.__defaults__ is cls.__init__._generated.__defaults__


def test_a_default_factory_is_called_for_each_object_as_by_the_generated_init():
    from clinical_core.facts import IgeBaseline, PatientFacts

    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        a: int
        x: list = dataclasses.field(default_factory=list)
        b: str = "b"

    for cls, args in ((WithFactory, (1,)), (PatientFacts, ("p", date(2026, 1, 1)))):
        field = next(f for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING)
        for build in (cls, maker(cls)):
            one, two = build(*args), build(*args)
            ref = object.__new__(cls)
            cls.__init__._generated(ref, *args)
            assert one == two == ref and repr(one) == repr(ref)
            assert getattr(one, field.name) is not getattr(two, field.name) or getattr(one, field.name) == ()
            given = field.default_factory()
            assert getattr(build(*args, **{field.name: given}), field.name) is given
    assert PatientFacts("p", date(2026, 1, 1)).total_ige == IgeBaseline("missing", None)
