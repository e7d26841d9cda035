"""Lessons: a guided path through the app, written by a teacher as a TOML file in `lessons/`.

A lesson is a list of *stops*. Each stop opens one page in one state (a `PageState`, so the
same vocabulary as the page's URL), says what to do and what to notice, and may ask a question
(multiple choice or a number, with the answer and an explanation) and check that the student
did the step ("`hand` is unticked"). *Claims* are facts about the shipped models that the
stop's text relies on ("the label comes back as 7"); `verify_claims` checks them against the
models' actual output, so a retrained checkpoint that breaks a lesson fails a test instead of
misleading a class. The format is documented in lessons/README.md.

`load_lesson` / `check_lesson` refuse a broken lesson with a message naming the stop and the
field; `python -m mmviz lesson check FILE` prints the same messages. No Streamlit here.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmviz import paths
from mmviz.pagestate import PageState, StateError, state_class

PAGES_WITH_MODELS = {"missing", "traversal", "crossmodal", "latent_map", "attributions",
                     "information", "fusion_lab", "report"}  # fmt: skip
GENERATIVE_PAGES = {"missing", "traversal", "crossmodal", "latent_map"}


class LessonError(ValueError):
    """A lesson that cannot be used; the message names the file, the stop and the field."""


# ---- the format ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """A question for the class: pick one of `options`, or give a number in [minimum, maximum]
    (right when within `tolerance` of `answer`)."""

    kind: str  # "choice" | "number"
    prompt: str
    answer: str | float
    explanation: str
    options: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    tolerance: float = 0.0

    def is_right(self, given: Any) -> bool:
        if self.kind == "choice":
            return given == self.answer
        try:
            return abs(float(given) - float(self.answer)) <= self.tolerance
        except (TypeError, ValueError):
            return False


CHECK_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda have, want: (
        have == want or (isinstance(have, tuple | list) and sorted(have) == sorted(want))
    ),
    "includes": lambda have, want: have is not None and want in have,
    "excludes": lambda have, want: have is not None and want not in have,
    "at_least": lambda have, want: have is not None and have >= want,
    "at_most": lambda have, want: have is not None and have <= want,
}


@dataclass(frozen=True)
class Check:
    """Whether the student did the step, read from the page's state: `field` `op` `value`."""

    field: str
    op: str
    value: Any
    says: str  # what is checked, in words ("`hand` is unticked")

    def done(self, state: PageState) -> bool:
        return CHECK_OPS[self.op](getattr(state, self.field, None), self.value)


@dataclass(frozen=True)
class Claim:
    """A fact about a shipped model the stop relies on; `kind` names a checker in CLAIMS."""

    kind: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Stop:
    title: str
    page: str
    state: PageState
    prompt: str
    notice: str = ""
    question: Question | None = None
    check: Check | None = None
    focus: tuple[str, ...] = ()  # the state fields this stop's step uses; others are dimmed
    claims: tuple[Claim, ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    audience: str
    duration: int  # minutes
    summary: str
    stops: tuple[Stop, ...]
    path: Path | None = field(default=None, compare=False)

    def question_id(self, index: int) -> str:
        return f"{self.id}:{index}"


# ---- reading -------------------------------------------------------------------------------
def _need(table: Mapping[str, Any], key: str, kind: type | tuple, where: str) -> Any:
    if key not in table:
        raise LessonError(f"{where}: `{key}` is missing")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise LessonError(f"{where}: `{key}` must be a {names}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise LessonError(f"{where}: `{key}` is empty")
    return value


def _unknown(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise LessonError(
            f"{where}: unknown key(s) {', '.join(map(repr, extra))}; allowed: "
            + ", ".join(sorted(allowed))
        )


def _question(raw: Any, where: str) -> Question:
    where = f"{where}, question"
    if not isinstance(raw, Mapping):
        raise LessonError(f"{where}: must be a table ([stops.question])")
    _unknown(raw, {"kind", "prompt", "options", "answer", "explanation", "min", "max",
                   "tolerance"}, where)  # fmt: skip
    kind = _need(raw, "kind", str, where)
    prompt = _need(raw, "prompt", str, where)
    explanation = _need(raw, "explanation", str, where)
    if "answer" not in raw:
        raise LessonError(f"{where}: `answer` is missing (the class is shown it on reveal)")
    if kind == "choice":
        options = _need(raw, "options", list, where)
        if len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
            raise LessonError(f"{where}: `options` must be at least two non-empty texts")
        if len(set(options)) != len(options):
            raise LessonError(f"{where}: `options` has duplicates")
        if raw["answer"] not in options:
            raise LessonError(f"{where}: `answer` {raw['answer']!r} is not one of the options")
        return Question("choice", prompt, raw["answer"], explanation, tuple(options))
    if kind == "number":
        lo = _need(raw, "min", (int, float), where)
        hi = _need(raw, "max", (int, float), where)
        answer = _need(raw, "answer", (int, float), where)
        tol = raw.get("tolerance", 0.0)
        if not isinstance(tol, int | float) or isinstance(tol, bool) or tol < 0:
            raise LessonError(f"{where}: `tolerance` must be a number >= 0, got {tol!r}")
        if not all(math.isfinite(v) for v in (lo, hi, answer)) or not lo < hi:
            raise LessonError(f"{where}: `min` < `max` must be finite numbers")
        if not lo <= answer <= hi:
            raise LessonError(f"{where}: `answer` {answer} is outside [{lo}, {hi}]")
        return Question("number", prompt, float(answer), explanation, (), float(lo), float(hi),
                        float(tol))  # fmt: skip
    raise LessonError(f"{where}: `kind` must be 'choice' or 'number', got {kind!r}")


def _check(raw: Any, cls: type[PageState], where: str) -> Check:
    where = f"{where}, check"
    if not isinstance(raw, Mapping):
        raise LessonError(f"{where}: must be a table ([stops.check])")
    _unknown(raw, {"field", "says", *CHECK_OPS}, where)
    name = _need(raw, "field", str, where)
    fields = [f.name for f in cls.fields()]
    if name not in fields:
        raise LessonError(
            f"{where}: page '{cls.page}' has no field {name!r}; it has: {', '.join(fields)}"
        )
    ops = [op for op in CHECK_OPS if op in raw]
    if len(ops) != 1:
        raise LessonError(f"{where}: give exactly one of {', '.join(CHECK_OPS)}")
    op = ops[0]
    value = raw[op]
    if op in ("includes", "excludes"):
        if not isinstance(value, str):
            raise LessonError(f"{where}: `{op}` takes one name, got {value!r}")
    else:
        try:
            value = getattr(cls.from_values({name: value}), name)
        except StateError as e:
            raise LessonError(f"{where}: `{op}`: {e}") from None
    return Check(name, op, value, _need(raw, "says", str, where))


def _stop(raw: Any, index: int, known_ids: set[str] | None) -> Stop:
    where = f"stop {index + 1}"
    if not isinstance(raw, Mapping):
        raise LessonError(f"{where}: must be a table ([[stops]])")
    _unknown(raw, {"title", "page", "state", "prompt", "notice", "question", "check", "focus",
                   "claims"}, where)  # fmt: skip
    title = _need(raw, "title", str, where)
    where = f"stop {index + 1} ({title})"
    page = _need(raw, "page", str, where)
    try:
        cls = state_class(page)
    except ValueError as e:
        raise LessonError(f"{where}: `page`: {e}") from None
    values = raw.get("state", {})
    if not isinstance(values, Mapping):
        raise LessonError(f"{where}: `state` must be a table ([stops.state])")
    try:
        state = cls.from_values(values)
    except StateError as e:
        raise LessonError(f"{where}, state: {e}") from None
    if page in PAGES_WITH_MODELS and state.ckpt is None:
        raise LessonError(f"{where}, state: `ckpt` is missing (which checkpoint to show)")
    if state.ckpt is not None and known_ids is not None and state.ckpt not in known_ids:
        raise LessonError(
            f"{where}, state: no checkpoint {state.ckpt!r} on disk "
            f"({paths.checkpoint_root()}); `python -m mmviz list` shows them"
        )
    focus = raw.get("focus", [])
    fields = {f.name for f in cls.fields()}
    if not isinstance(focus, list) or not all(f in fields for f in focus):
        raise LessonError(
            f"{where}: `focus` must list fields of page '{page}' ({', '.join(sorted(fields))})"
        )
    claims = raw.get("claims", [])
    if not isinstance(claims, list):
        raise LessonError(f"{where}: `claims` must be a list of tables ([[stops.claims]])")
    parsed_claims = []
    for c in claims:
        if not isinstance(c, Mapping) or c.get("kind") not in CLAIMS:
            raise LessonError(
                f"{where}, claims: each needs a `kind`, one of {', '.join(CLAIMS)}; got {c!r}"
            )
        parsed_claims.append(Claim(c["kind"], {k: v for k, v in c.items() if k != "kind"}))
    return Stop(
        title=title,
        page=page,
        state=state,
        prompt=_need(raw, "prompt", str, where),
        notice=raw.get("notice", ""),
        question=_question(raw["question"], where) if "question" in raw else None,
        check=_check(raw["check"], cls, where) if "check" in raw else None,
        focus=tuple(focus),
        claims=tuple(parsed_claims),
    )


def parse_lesson(data: Mapping[str, Any], lesson_id: str, known_ids: set[str] | None) -> Lesson:
    where = "lesson"
    _unknown(data, {"title", "audience", "duration", "summary", "stops"}, where)
    stops = _need(data, "stops", list, where)
    if not stops:
        raise LessonError("lesson: `stops` is empty: a lesson needs at least one stop")
    duration = _need(data, "duration", int, where)
    if duration <= 0:
        raise LessonError(
            f"lesson: `duration` must be a positive number of minutes, got {duration}"
        )
    return Lesson(
        id=lesson_id,
        title=_need(data, "title", str, where),
        audience=_need(data, "audience", str, where),
        duration=duration,
        summary=_need(data, "summary", str, where),
        stops=tuple(_stop(s, i, known_ids) for i, s in enumerate(stops)),
    )


def _known_ids() -> set[str]:
    from mmviz.registry import list_ids

    return set(list_ids())


def load_lesson(path: str | Path, check_checkpoints: bool = True) -> Lesson:
    """Read and validate one lesson file; LessonError names the file, stop and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise LessonError(f"{path}: cannot be read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise LessonError(f"{path}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise LessonError(f"{path}: is not valid TOML ({e})") from None
    try:
        lesson = parse_lesson(data, path.stem, _known_ids() if check_checkpoints else None)
    except LessonError as e:
        raise LessonError(f"{path.name}: {e}") from None
    return Lesson(**{**lesson.__dict__, "path": path})


def lesson_files(root: Path | None = None) -> list[Path]:
    root = Path(root) if root is not None else paths.lessons_root()
    return sorted(root.glob("*.toml")) if root.is_dir() else []


def list_lessons(root: Path | None = None) -> tuple[list[Lesson], dict[str, str]]:
    """Every lesson that loads, and for the ones that do not, file name -> why."""
    good, bad = [], {}
    for path in lesson_files(root):
        try:
            good.append(load_lesson(path))
        except LessonError as e:
            bad[path.name] = str(e)
    return good, bad


# ---- scenarios: one-click presets per page ("Try these") ----------------------------------
SCENARIOS_FILE = "scenarios/try-these.toml"


def load_scenarios(path: str | Path | None = None) -> dict[str, list[Stop]]:
    """The "Try these" presets, by page: each a one-stop view (title, state, what to notice,
    claims) read from `lessons/scenarios/try-these.toml` ([[scenarios]] tables, the keys of a
    lesson stop with `notice` as the one line shown)."""
    path = Path(path) if path is not None else paths.lessons_root() / SCENARIOS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise LessonError(f"{path.name}: cannot be read ({e})") from None
    raw = data.get("scenarios")
    if not isinstance(raw, list):
        raise LessonError(f"{path.name}: needs [[scenarios]] tables")
    known = _known_ids()
    out: dict[str, list[Stop]] = {}
    for i, table in enumerate(raw):
        if not isinstance(table, Mapping) or "notice" not in table:
            raise LessonError(f"{path.name}: scenario {i + 1}: `notice` is missing")
        try:
            stop = _stop({**table, "prompt": table["notice"]}, i, known)
        except LessonError as e:
            raise LessonError(f"{path.name}: {str(e).replace('stop ', 'scenario ', 1)}") from None
        out.setdefault(stop.page, []).append(stop)
    return out


# ---- claims: checked against the models' actual output -------------------------------------
@dataclass(frozen=True)
class ClaimResult:
    stop: int
    claim: Claim
    ok: bool
    said: str  # what was measured


def _load(cid: str):
    from mmviz.checkpoint import load_checkpoint
    from mmviz.data import load_dataset

    ck = load_checkpoint(cid)
    return ck.model, load_dataset(ck.meta["dataset"])


def _sample_and_observed(stop: Stop, model, ds):
    from mmviz import explore

    state = stop.state
    position = state.sample or 0
    index = int(ds.indices("test")[position])
    observed = getattr(state, "observed", None)
    if observed is None:
        observed = getattr(state, "condition", None)  # cross-modal generation
    if observed is None:
        observed = explore.input_modalities(model)
    return index, list(observed)


def _read_class(model, ds, modality: str, decoded) -> int:
    """The class a decoded modality shows: the label's argmax, or the oracle's reading."""
    import torch

    from mmviz.evaluate import oracle_logits

    spec = model.specs[modality]
    if spec.kind == "categorical":
        return int(decoded.argmax())
    return int(oracle_logits(modality, ds, torch.as_tensor(decoded)[None]).argmax(-1)[0])


def claim_decoded_class(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """`modality` decoded from the stop's observed modalities (posterior mean) shows class
    `equals` (a number, or "truth": the sample's own class)."""
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    index, observed = _sample_and_observed(stop, model, ds)
    view = explore.reconstruct_view(model, explore.sample_batch(ds, index), observed)
    got = _read_class(model, ds, args["modality"], view.outputs[args["modality"]])
    want = int(ds.targets["class"][index]) if args["equals"] == "truth" else int(args["equals"])
    return got == want, f"{args['modality']} from {{{', '.join(observed)}}} reads {got}"


def claim_largest_share(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """In the product of experts, expert `equals` has the largest share of the precision."""
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    index, observed = _sample_and_observed(stop, model, ds)
    view = explore.poe_view(model, explore.sample_batch(ds, index), observed)
    top = view.names[int(view.share_total.argmax())]
    shares = ", ".join(f"{n} {s:.0%}" for n, s in zip(view.names, view.share_total, strict=True))
    return top == args["equals"], f"shares: {shares}"


def _metric(cid: str, path: str) -> float:
    from mmviz.checkpoint import read_json
    from mmviz.registry import META

    value: Any = read_json(paths.checkpoint_root() / cid / META)["metrics"]
    for part in path.split("."):
        value = value[part]
    return float(value)


def claim_metric_order(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Recorded metric `metric` (a dotted path in meta.json's metrics) of checkpoint `higher`
    exceeds that of `lower` by at least `margin` (default 0)."""
    hi, lo = _metric(args["higher"], args["metric"]), _metric(args["lower"], args["metric"])
    margin = float(args.get("margin", 0.0))
    return (
        hi >= lo + margin,
        f"{args['metric']}: {args['higher']} {hi:.3g}, {args['lower']} {lo:.3g}",
    )


def claim_sign(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Checkpoint `model` (default: the stop's) gives the sample's true sentiment sign
    (`correct = true`) or the wrong one (`correct = false`), with every modality observed."""
    from mmviz import explore

    cid = args.get("model", stop.state.ckpt)
    model, ds = _load(cid)
    index = int(ds.indices("test")[stop.state.sample or 0])
    score = float(model.predict(explore.sample_batch(ds, index), None).reshape(-1)[0])
    truth = float(ds.targets[ds.target][index])
    right = (score >= 0) == (truth >= 0)
    return right == bool(args["correct"]), f"{cid} scores {score:+.2f}, truth {truth:+.2f}"


def claim_recipe(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """The stop's sentiment sample is built from recipe `equals` (synergy, unique_visual, ...)."""
    from mmviz.data import load_dataset

    ds = load_dataset("sentiment")
    recipe = ds.factor_table("test")["interaction"].to_numpy()[stop.state.sample or 0]
    name = ds.info["interactions"][int(recipe)]
    return name == args["equals"], f"sample {stop.state.sample or 0} is {name}"


def claim_shapley_top(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Modality `equals` has the largest |Shapley value| of the model's prediction for the
    stop's sample (every input observed): the attributions page's modality bar chart."""
    from mmviz import explore
    from mmviz.interpret.shapley import modality_shapley
    from mmviz.report import TargetChoice

    model, ds = _load(stop.state.ckpt)
    index, observed = _sample_and_observed(stop, model, ds)
    result = modality_shapley(
        model, explore.sample_batch(ds, index), TargetChoice("prediction").build(), observed
    )
    values = result.values
    top = max(values, key=lambda m: abs(values[m]))
    said = ", ".join(f"{m} {v:+.2f}" for m, v in values.items())
    return top == args["equals"], f"Shapley values: {said}"


CLAIMS: dict[str, Callable[[Stop, dict[str, Any]], tuple[bool, str]]] = {
    "shapley_top": claim_shapley_top,
    "decoded_class": claim_decoded_class,
    "largest_share": claim_largest_share,
    "metric_order": claim_metric_order,
    "sign": claim_sign,
    "recipe": claim_recipe,
}


def verify_claims(lesson: Lesson | list[Stop]) -> list[ClaimResult]:
    """Every claim of every stop (of a lesson, or a list of scenarios), measured on the
    checkpoints on disk."""
    out = []
    stops = lesson.stops if isinstance(lesson, Lesson) else lesson
    for i, stop in enumerate(stops):
        for claim in stop.claims:
            try:
                ok, said = CLAIMS[claim.kind](stop, claim.args)
            except (KeyError, ValueError, IndexError) as e:
                ok, said = False, f"cannot be checked: {type(e).__name__}: {e}"
            out.append(ClaimResult(i, claim, ok, said))
    return out


def check_lesson(path: str | Path, claims: bool = False) -> list[str]:
    """Problems with a lesson file, as messages (empty: it is fine). With `claims`, also
    measures every claim on the checkpoints (slower: loads models)."""
    try:
        lesson = load_lesson(path)
    except LessonError as e:
        return [str(e)]
    if not claims:
        return []
    return [
        f"{Path(path).name}: stop {r.stop + 1} ({lesson.stops[r.stop].title}): claim "
        f"{r.claim.kind} {r.claim.args} does not hold: {r.said}"
        for r in verify_claims(lesson)
        if not r.ok
    ]
