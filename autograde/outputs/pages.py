"""The HTML pages are Jinja templates (outputs/templates/) with autoescaping on: every value a page
shows is escaped unless a template says otherwise, so markup a submission carries (in its code, a
message, an id) can never run in the reader's browser. The stylesheet is a file the templates include."""
from __future__ import annotations

from functools import lru_cache

import jinja2


def fmt(x) -> str:
    """Points as people write them: 2, 1.5, 1.71."""
    if x is None:
        return "\u2013"
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("autograde.outputs", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["points"] = fmt
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
