"""Question rules (what counts as an answer) and tallies (what the room answered).

A teacher registers one rule per question: a `ChoiceRule` (one of a few options) or a
`NumberRule` (a number in [min, max]). Every answer is checked against it before it is stored,
so a tally only ever holds answers the question could have; the refusal says why.
"""

from __future__ import annotations

import json
import math
import numbers
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import InvalidAnswer, InvalidInput

MAX_OPTIONS = 50
MAX_OPTION_CHARS = 200

Answer = str | float


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class ChoiceRule:
    """The answer is one of `options` (text, as the student saw it)."""

    options: tuple[str, ...]
    kind: str = field(default="choice", init=False)

    def __post_init__(self) -> None:
        options = self.options
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise InvalidInput(f"choice options must be a list of texts, not {_short(options)}")
        options = tuple(options)
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise InvalidInput(f"a choice needs 2 to {MAX_OPTIONS} options, not {len(options)}")
        for option in options:
            if not isinstance(option, str) or not 0 < len(option) <= MAX_OPTION_CHARS:
                raise InvalidInput(
                    f"option {_short(option)} is not a text of 1 to {MAX_OPTION_CHARS} characters"
                )
        if len(set(options)) != len(options):
            raise InvalidInput(f"choice options repeat: {_short(options)}")
        object.__setattr__(self, "options", options)

    def check(self, question_id: str, answer: object) -> str:
        """The answer to store, or InvalidAnswer saying what is accepted."""
        if not isinstance(answer, str):
            raise InvalidAnswer(
                question_id,
                f"{_short(answer)} is {type(answer).__name__}; the answer is one of the "
                f"options as text: {', '.join(self.options)}",
            )
        if answer not in self.options:
            raise InvalidAnswer(
                question_id,
                f"{_short(answer)} is not one of the options {', '.join(self.options)}: "
                "pick one of them",
            )
        return answer


@dataclass(frozen=True)
class NumberRule:
    """The answer is a finite number from `min` to `max`, both included."""

    min: float
    max: float
    kind: str = field(default="number", init=False)

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InvalidInput(f"number rule {name} must be a number, not {_short(value)}")
            if not math.isfinite(float(value)):
                raise InvalidInput(f"number rule {name} must be finite, not {value}")
            object.__setattr__(self, name, float(value))
        if not self.min < self.max:
            raise InvalidInput(f"number rule needs min < max, not [{self.min:g}, {self.max:g}]")

    def check(self, question_id: str, answer: object) -> float:
        """The answer to store, as a float, or InvalidAnswer saying what is accepted."""
        wanted = f"answer a number from {self.min:g} to {self.max:g}"
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
            raise InvalidAnswer(
                question_id, f"{_short(answer)} is {type(answer).__name__}, not a number: {wanted}"
            )
        try:
            value = float(answer)
        except (OverflowError, ValueError):
            raise InvalidAnswer(
                question_id, f"{_short(answer)} is out of range: {wanted}"
            ) from None
        if math.isnan(value):
            raise InvalidAnswer(question_id, f"NaN is not a number: {wanted}")
        if not self.min <= value <= self.max:
            raise InvalidAnswer(question_id, f"{value:g} is out of range: {wanted}")
        return value


Rule = ChoiceRule | NumberRule


def rule_to_json(rule: Rule) -> str:
    """The stored form of a rule; equal rules give equal text (compared to detect a change)."""
    if isinstance(rule, ChoiceRule):
        return json.dumps({"kind": "choice", "options": list(rule.options)})
    if isinstance(rule, NumberRule):
        return json.dumps({"kind": "number", "min": rule.min, "max": rule.max})
    raise InvalidInput(f"a question rule is a ChoiceRule or a NumberRule, not {_short(rule)}")


def rule_from_json(text: str) -> Rule:
    data = json.loads(text)
    if data["kind"] == "choice":
        return ChoiceRule(tuple(data["options"]))
    return NumberRule(data["min"], data["max"])


def answer_to_json(answer: Answer) -> str:
    return json.dumps(answer)


def answer_from_json(text: str) -> Answer:
    value = json.loads(text)
    return value if isinstance(value, str) else float(value)


@dataclass(frozen=True)
class ChoiceTally:
    """How many students chose each option (every option listed, zeros included)."""

    question_id: str
    counts: dict[str, int]
    total: int
    revealed: bool


@dataclass(frozen=True)
class NumberTally:
    """The numbers the room answered, sorted, and their spread (None with no answers yet).
    Quartiles interpolate linearly between answers (numpy's default, "inclusive" method)."""

    question_id: str
    values: tuple[float, ...]
    total: int
    revealed: bool
    minimum: float | None
    q1: float | None
    median: float | None
    q3: float | None
    maximum: float | None


Tally = ChoiceTally | NumberTally


def make_tally(question_id: str, rule: Rule, answers: Sequence[Answer], revealed: bool) -> Tally:
    if isinstance(rule, ChoiceRule):
        counts = dict.fromkeys(rule.options, 0)
        for answer in answers:
            if answer in counts:  # always, unless the store was edited by hand
                counts[answer] += 1
        return ChoiceTally(question_id, counts, sum(counts.values()), revealed)
    values = tuple(sorted(float(a) for a in answers if not isinstance(a, str)))
    if not values:
        return NumberTally(question_id, (), 0, revealed, None, None, None, None, None)
    if len(values) == 1:
        q1 = median = q3 = values[0]
    else:
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return NumberTally(
        question_id, values, len(values), revealed, values[0], q1, median, q3, values[-1]
    )


__all__ = [
    "Answer",
    "ChoiceRule",
    "ChoiceTally",
    "NumberRule",
    "NumberTally",
    "Rule",
    "Tally",
    "make_tally",
    "rule_from_json",
    "rule_to_json",
]
