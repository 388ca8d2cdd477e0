"""The EMA lesson's trusted half: one catalogued mistake and one judge (all values must agree)."""
from __future__ import annotations

from autograde.trusted import schema
from autograde.trusted.judge import Verdict, matching_mistake
from autograde.trusted.lessons import Judging
from autograde.trusted.mistakes import Mistake
from autograde.visible.compare import difference

MISTAKES = (
    Mistake("ema_weights_swapped", "ema", "the average's weights swapped",
            "The old average keeps weight beta and the new value gets 1 - beta.",
            (("self.beta * self.avg + (1 - self.beta) * x", "(1 - self.beta) * self.avg + self.beta * x"),)),
)


def values(test, data: dict, want: dict) -> Verdict:
    """Full marks when every reported average agrees, else zero with the first difference."""
    if "error" in data:
        return Verdict(test.test_id, 0.0, f"Your class raised {data['error']}")
    what = difference(data.get("values"), want["values"], path="values")
    if what is None:
        return Verdict(test.test_id, 1.0)
    m = matching_mistake(test.test_id, data)
    named = f"Looks like: {m.name}. {m.hint} " if m else ""
    return Verdict(test.test_id, 0.0, f"{named}{what[:1].upper()}{what[1:]}.", m.key if m else None)


def _schema(test):
    return schema.either(schema.record({"error": schema.text}),
                         schema.record({"values": schema.list_of(schema.number, 100)}))


JUDGES = {"values": Judging(_schema, values)}
