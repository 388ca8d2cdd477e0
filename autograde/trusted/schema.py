"""What a probe result may look like, checked before any judge function touches it.

Everything a kernel wrote is hostile: a student can replace the probe, write the file by hand, or
make the drivers return odd values. Each test's judge has a schema (the lesson's trusted JUDGES,
built from the pieces here): the keys,
their types, list lengths, string sizes and nesting depth an honest run of the drivers produces.
Numbers come back as Python floats (ints only where the drivers write ints, and small); measured
values may be NaN or infinite, because a diverging optimizer really produces them and that is a
difference to report, not a forgery; an integer no float can hold (10**400) is malformed. Anything
else raises `Malformed`, which the judge turns into that test's zero with the reason.
"""
from __future__ import annotations

import json


MAX_BYTES = 20 * 2**20      # a probe file is a few kB
MAX_LIST = 10_000           # longest list an honest driver writes is a few hundred entries
MAX_TEXT = 2_000            # error messages are cut to 500 characters by the drivers
MAX_KEYS = 64
MAX_INT = 10**9


class Malformed(ValueError):
    """The data is not what the test's drivers write; the message says where and why."""


def fail(path: str, why: str):
    raise Malformed(f"{path or 'the result'} {why}")


def number(v, path):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        fail(path, f"is {kind_of(v)}, expected a number")
    try:
        return float(v)
    except OverflowError:
        fail(path, "is a number too large for a float")


def small_int(v, path):
    if isinstance(v, bool) or not isinstance(v, int) or abs(v) > MAX_INT:
        fail(path, f"is {kind_of(v)}, expected a small integer")
    return v


def flag(v, path):
    if not isinstance(v, bool):
        fail(path, f"is {kind_of(v)}, expected true or false")
    return v


def text(v, path):
    if not isinstance(v, str):
        fail(path, f"is {kind_of(v)}, expected text")
    if len(v) > MAX_TEXT:
        fail(path, f"is text of {len(v):,} characters (at most {MAX_TEXT:,})")
    return v


def kind_of(v) -> str:
    if isinstance(v, (list, dict)):
        return f"a {type(v).__name__} of {len(v)} entries"
    if isinstance(v, str):
        return f"text of {len(v):,} characters"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
        return f"an integer of {len(str(abs(v)))} digits"
    return type(v).__name__ if not isinstance(v, (int, float)) else repr(v)


def list_of(item, max_len=MAX_LIST):
    def check(v, path):
        if not isinstance(v, list):
            fail(path, f"is {kind_of(v)}, expected a list")
        if len(v) > max_len:
            fail(path, f"has {len(v):,} entries (at most {max_len:,})")
        return [item(x, f"{path}[{i}]") for i, x in enumerate(v)]
    return check


def record(fields: dict, optional=()):
    """A dict with exactly these keys (optional ones may be absent)."""
    def check(v, path):
        if not isinstance(v, dict):
            fail(path, f"is {kind_of(v)}, expected a record")
        extra = [k for k in v if k not in fields]
        if extra:
            fail(path, f"has unexpected key {str(extra[0])[:40]!r}")
        missing = [k for k in fields if k not in v and k not in optional]
        if missing:
            fail(path, f"has no {missing[0]!r}")
        return {k: fields[k](v[k], f"{path}.{k}" if path else k) for k in fields if k in v}
    return check


def mapping(value, keys=None):
    """A dict from short text keys (or only these keys) to values."""
    def check(v, path):
        if not isinstance(v, dict):
            fail(path, f"is {kind_of(v)}, expected a record")
        if len(v) > MAX_KEYS:
            fail(path, f"has {len(v):,} keys (at most {MAX_KEYS})")
        out = {}
        for k, x in v.items():
            if not isinstance(k, str) or len(k) > 100 or (keys is not None and k not in keys):
                fail(path, f"has unexpected key {str(k)[:40]!r}")
            out[k] = value(x, f"{path}.{k}" if path else k)
        return out
    return check


def either(error, ok):
    """The drivers' two shapes: {'error': text} when the student's code raised, else the data."""
    def check(v, path):
        if isinstance(v, dict) and "error" in v:
            return error(v, path)
        return ok(v, path)
    return check


def choice(*options):
    def check(v, path):
        if text(v, path) not in options:
            fail(path, f"is {v[:40]!r}, expected one of {', '.join(options)}")
        return v
    return check


def nullable(inner):
    return lambda v, path: None if v is None else inner(v, path)


def schema_for(test_id: str):
    """The schema the test's judge (named in the lesson registry) requires of its probe data."""
    from autograde.trusted import lessons as trusted_lessons
    from autograde.visible import lesson as lessons
    return trusted_lessons.judging(test_id).schema(lessons.for_test(test_id).tests_by_id[test_id])


def check(test_id: str, data):
    """The data, cleaned (floats as floats), or Malformed. None stays None: the test left no result."""
    if data is None:
        return None
    try:
        return schema_for(test_id)(data, "")
    except RecursionError:
        raise Malformed("the result is nested too deeply") from None


def decode(raw: bytes) -> object:
    """JSON from a kernel-written file, bounded in size and depth."""
    if len(raw) > MAX_BYTES:
        raise Malformed(f"the result file has {len(raw):,} bytes (at most {MAX_BYTES:,})")
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise Malformed("the result file is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed(f"the result file is not JSON ({str(e)[:100]})") from None

