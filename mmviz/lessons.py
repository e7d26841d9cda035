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

import functools
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


class CheckpointMissing(LessonError):
    """A valid lesson whose checkpoints are not in this checkpoint folder (a user's own zoo):
    not a broken file, so the app lists it as unavailable rather than as an error."""


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
    """A fact about a shipped model the stop relies on; `kind` names a checker in CLAIMS.

    `after`: the state the claim is measured on when it is not the stop's own: the stop's state
    with some fields changed (`after = { observed = ["hand"] }`), i.e. what the page shows once
    the student did the step, or the same view on another checkpoint. None: the stop's state.
    """

    kind: str
    args: dict[str, Any]
    after: PageState | None = None


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
        raise CheckpointMissing(
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
        after = None
        if "after" in c:
            if not isinstance(c["after"], Mapping):
                raise LessonError(f"{where}, claims: `after` must be a table of state fields")
            try:
                after = cls.from_values({**state.values(), **c["after"]})
            except StateError as e:
                raise LessonError(f"{where}, claims, after: {e}") from None
            if after.ckpt is not None and known_ids is not None and after.ckpt not in known_ids:
                raise LessonError(f"{where}, claims, after: no checkpoint {after.ckpt!r} on disk")
        args = {k: v for k, v in c.items() if k not in ("kind", "after")}
        parsed_claims.append(Claim(c["kind"], args, after))
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
        raise type(e)(f"{path.name}: {e}") from None
    return Lesson(**{**lesson.__dict__, "path": path})


def lesson_files(root: Path | None = None) -> list[Path]:
    root = Path(root) if root is not None else paths.lessons_root()
    return sorted(root.glob("*.toml")) if root.is_dir() else []


def list_lessons(root: Path | None = None) -> tuple[list[Lesson], dict[str, LessonError]]:
    """Every lesson that loads, and for the ones that do not, file name -> the error (its
    message says why; a CheckpointMissing is a lesson for other checkpoints)."""
    good, bad = [], {}
    for path in lesson_files(root):
        try:
            good.append(load_lesson(path))
        except LessonError as e:
            bad[path.name] = e
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
# Each checker takes (stop, args) and returns (holds, what was measured). It measures the view
# the stop's state describes (the same sample, observed modalities, noise, settings as the
# page), so what the claim says is what the class sees. Bounds: `at_least` / `at_most`.
@dataclass(frozen=True)
class ClaimResult:
    stop: int
    claim: Claim
    ok: bool
    said: str  # what was measured


def _checkpoint(cid: str):
    """A checkpoint from the current checkpoint folder, loaded once per folder and id."""
    return _checkpoint_in(str(paths.checkpoint_root()), cid)


@functools.lru_cache(maxsize=16)
def _checkpoint_in(root: str, cid: str):
    from mmviz.checkpoint import load_checkpoint

    return load_checkpoint(Path(root) / cid)


@functools.lru_cache(maxsize=4)
def _dataset(name: str):
    from mmviz.data import load_dataset

    return load_dataset(name)


def _load(cid: str):
    ck = _checkpoint(cid)
    return ck.model, _dataset(ck.meta["dataset"])


def _index(stop: Stop, ds) -> int:
    """The dataset index of the stop's test sample (`sample` is a position in the test split)."""
    return int(ds.indices("test")[stop.state.sample or 0])


def _inputs(stop: Stop, model, ds) -> dict:
    """The stop's sample as the page feeds it to the model: with the Missing modalities page's
    damage (`noise` per modality, `damage` noise or occlude) applied."""
    from mmviz import explore

    x = explore.sample_batch(ds, _index(stop, ds))
    noise = getattr(stop.state, "noise", None) or {}
    damage = getattr(stop.state, "damage", None) or "noise"
    return {
        m: explore.corrupt(v, ds.specs[m], noise.get(m, 0.0), damage, seed=0)
        if m in ds.specs
        else v
        for m, v in x.items()
    }


def _observed(stop: Stop, model) -> list[str]:
    from mmviz import explore

    observed = getattr(stop.state, "observed", None)
    if observed is None:  # Cross-modal generation: the condition is what the model sees
        observed = getattr(stop.state, "condition", None)
    readable = explore.input_modalities(model)
    if observed is None:
        return readable
    return [m for m in observed if m in readable]


def _sample_and_observed(stop: Stop, model, ds):
    return _index(stop, ds), _observed(stop, model)


def _bounds(value: float, args: dict[str, Any]) -> bool:
    """`value` within `at_least` / `at_most` (at least one of them must be given)."""
    if "at_least" not in args and "at_most" not in args:
        raise KeyError("give `at_least` and/or `at_most`")
    lo, hi = args.get("at_least"), args.get("at_most")
    return (lo is None or value >= float(lo)) and (hi is None or value <= float(hi))


def _judges(modalities) -> dict:
    """The oracle classifiers' logit functions for the modalities that have one on disk."""
    from mmviz import paths

    have = {p.name for p in paths.checkpoint_root().iterdir() if p.is_dir()}
    return {m: _checkpoint(f"oracle_{m}").model.logits for m in modalities if f"oracle_{m}" in have}


def _read_class(model, ds, modality: str, decoded) -> int:
    """The class a decoded modality shows: the label's argmax, or the oracle's reading."""
    import torch

    from mmviz.evaluate import oracle_logits

    spec = model.specs[modality]
    if spec.kind == "categorical":
        return int(decoded.argmax())
    return int(oracle_logits(modality, ds, torch.as_tensor(decoded)[None]).argmax(-1)[0])


def _read_classes(model, ds, modality: str, decoded) -> list[int]:
    """`_read_class` for a batch of decoded values (one oracle call)."""
    import torch

    from mmviz.evaluate import oracle_logits

    if model.specs[modality].kind == "categorical":
        return [int(c) for c in decoded.argmax(-1)]
    with torch.inference_mode():
        logits = oracle_logits(modality, ds, torch.as_tensor(decoded))
    return [int(c) for c in logits.argmax(-1)]


def claim_decoded_class(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """`modality` decoded from the stop's observed modalities (posterior mean, with the stop's
    damage) shows class `equals` (a number, or "truth": the sample's own class)."""
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    index, observed = _sample_and_observed(stop, model, ds)
    view = explore.reconstruct_view(model, _inputs(stop, model, ds), observed)
    got = _read_class(model, ds, args["modality"], view.outputs[args["modality"]])
    want = int(ds.targets["class"][index]) if args["equals"] == "truth" else int(args["equals"])
    return got == want, f"{args['modality']} from {{{', '.join(observed)}}} reads {got}"


def _poe(stop: Stop):
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    return explore.poe_view(model, _inputs(stop, model, ds), _observed(stop, model))


def _shares_text(view) -> str:
    return ", ".join(f"{n} {s:.0%}" for n, s in zip(view.names, view.share_total, strict=True))


def claim_largest_share(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """In the product of experts, expert `equals` (a modality or "prior") has the largest share
    of the precision (averaged over dimensions, as the page's bar chart shows)."""
    view = _poe(stop)
    top = view.names[int(view.share_total.argmax())]
    return top == args["equals"], f"shares: {_shares_text(view)}"


def claim_share(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Expert `expert` (a modality or "prior") holds a share of the product's precision within
    `at_least` / `at_most` (0..1, averaged over dimensions)."""
    view = _poe(stop)
    share = float(view.share_total[view.names.index(args["expert"])])
    return _bounds(share, args), f"shares: {_shares_text(view)}"


def claim_shift(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """How far the posterior moves when only the observed modalities are seen, as the Missing
    modalities page reports it for latent group `group` (default: the first): KL(q(z | observed)
    || q(z | all)) in nats, or the distance between point codes (MFM); within the bounds."""
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    view = explore.reconstruct_view(model, _inputs(stop, model, ds), _observed(stop, model))
    group = args.get("group", next(iter(model.latent_groups)))
    value = float(view.shift[group])
    return _bounds(value, args), f"{view.shift_kind[group]} of {group}: {value:.3g}"


def claim_coherence(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Cross-modal generation page's draws (the stop's `condition`, `draws` and `seed`,
    defaults the label, 8 and 0), the fraction of generated `modality` draws whose oracle reading
    is the condition's class lies within the bounds."""
    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    index = _index(stop, ds)
    x = explore.sample_batch(ds, index)
    cond = list(stop.state.condition or [model.label_modality])
    label = model.label_modality
    reference = int(x[label][0]) if label in cond else int(ds.targets["class"][index])
    view = explore.cross_modal(
        model,
        x,
        cond,
        stop.state.draws or 8,
        stop.state.seed or 0,
        _judges(model.modalities),
        reference,
    )
    value = float(view.agreement[args["modality"]])
    reads = ", ".join(str(int(c)) for c in view.predictions[args["modality"]])
    return _bounds(value, args), f"{args['modality']} draws read {reads} (class {reference})"


def claim_traversal(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Latent traversal as the stop sets it (group, start, value_range, steps, sample): along the
    row of dimension `dim`, the class `modality` shows (label argmax or oracle) changes
    (`changes = true`) or not (`false`), and/or passes through every class in `reads`, and/or
    is `equals` in column `column` (0 = the first value); with `colour_change_at_least`, the
    mean colour of the first and last images differs by at least that much (0..1, RGB
    distance over sqrt(3))."""
    import numpy as np

    from mmviz import explore, plots

    model, ds = _load(stop.state.ckpt)
    st = stop.state
    group = st.group or next(iter(model.latent_groups))
    lo, hi = st.value_range or (-3.0, 3.0)
    x = explore.sample_batch(ds, _index(stop, ds))
    base = explore.base_latents(model, x, None, st.start or "posterior")
    values = np.linspace(lo, hi, st.steps or 9)
    grid = explore.traversal_grid(model, base, group, [int(args["dim"])], values)
    m = args["modality"]
    row = grid.outputs[m][0]
    classes = _read_classes(model, ds, m, row)
    ok = True
    if "changes" in args:
        ok &= (len(set(classes)) > 1) == bool(args["changes"])
    if "reads" in args:
        ok &= all(int(c) in classes for c in args["reads"])
    if "column" in args:
        ok &= classes[int(args["column"])] == int(args["equals"])
    said = f"{group}[{args['dim']}] from {lo:+g} to {hi:+g}: {m} reads {classes}"
    if "colour_change_at_least" in args:
        first, last = (np.asarray(plots.to_rgb(row[j], ds.specs[m]), float) for j in (0, -1))
        change = float(
            np.linalg.norm(first.reshape(-1, 3).mean(0) - last.reshape(-1, 3).mean(0))
            / (255.0 * np.sqrt(3.0))
        )
        ok &= change >= float(args["colour_change_at_least"])
        said += f"; mean colour moves {change:.2f}"
    if not {"changes", "reads", "column", "colour_change_at_least"} & set(args):
        raise KeyError("give `changes`, `reads`, `column` + `equals` or `colour_change_at_least`")
    return ok, said


def claim_neighbours(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Where a single-modality posterior lands (the Latent map's circles): the posterior mean
    of the stop's sample given `modality` alone has, among the joint posterior means of the
    test set (in the latent space itself, group `group`, default the first), 10 nearest
    neighbours whose most common class is `equals`."""
    import numpy as np

    from mmviz import explore

    model, ds = _load(stop.state.ckpt)
    group = args.get("group", next(iter(model.latent_groups)))
    test = ds.indices("test")
    joint = _joint_means(str(paths.checkpoint_root()), stop.state.ckpt, group)
    one = np.array([_index(stop, ds)])
    point = explore.posterior_means(model, ds, one, group, [args["modality"]])[0]
    nearest = np.argsort(np.linalg.norm(joint - point, axis=1))[:10]
    counts = np.bincount(ds.targets["class"][test][nearest], minlength=10)
    top = int(counts.argmax())
    return top == int(args["equals"]), (
        f"q({group} | {args['modality']}) lands among {counts[top]} of 10 class-{top} neighbours"
    )


def claim_code_beyond(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """The fraction of test samples whose posterior mean (given every input) in latent group
    `group` lies beyond ±`beyond` in at least one dimension is within the bounds: how far the
    codes sit from the ±3 a traversal sweeps."""
    import numpy as np

    joint = _joint_means(str(paths.checkpoint_root()), stop.state.ckpt, args["group"])
    beyond = float(args["beyond"])
    value = float((np.abs(joint) > beyond).any(axis=1).mean())
    return _bounds(value, args), (
        f"{value:.0%} of test codes of {args['group']} lie beyond ±{beyond:g} in some dimension"
    )


@functools.lru_cache(maxsize=8)
def _joint_means(root: str, cid: str, group: str):
    """Every test sample's posterior mean given all inputs (`root`: the checkpoint folder,
    part of the cache key)."""
    from mmviz import explore

    model, ds = _load(cid)
    return explore.posterior_means(model, ds, ds.indices("test"), group)


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


def claim_metric(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Recorded metric `metric` (a dotted path in meta.json's metrics) of checkpoint `model`
    (default: the stop's) lies within the bounds."""
    cid = args.get("model", stop.state.ckpt)
    value = _metric(cid, args["metric"])
    return _bounds(value, args), f"{cid} {args['metric']}: {value:.4g}"


def claim_result(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """A value in a results file (`file`, e.g. "lmf-rank.json" in results/) at the dotted
    `path` (whole numbers index lists: "summary.0.acc2_mean") lies within the bounds."""
    import json

    value: Any = json.loads((paths.results_root() / args["file"]).read_text(encoding="utf-8"))
    for part in args["path"].split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return _bounds(float(value), args), f"{args['file']} {args['path']}: {float(value):.4g}"


def claim_sign(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Checkpoint `model` (default: the stop's) gives the sample's true sentiment sign
    (`correct = true`) or the wrong one (`correct = false`), as the Fusion lab shows it: the
    modalities the stop's `on` switches off are missing, and its `snr` noise is added (seeded).
    Optional `at_least` / `at_most` also bound the score itself."""
    from mmviz import explore, fusionlab

    cid = args.get("model", stop.state.ckpt)
    model, ds = _load(cid)
    index = _index(stop, ds)
    x = {m: v for m, v in explore.sample_batch(ds, index).items() if m in model.modalities}
    on = getattr(stop.state, "on", None) or {}
    observed = [m for m in model.modalities if on.get(m, True)]
    levels = getattr(stop.state, "snr", None) or {}
    snr = {m: float(v) for m, v in levels.items() if v != "clean" and on.get(m, True)}
    vocab = {m: s.num_classes for m, s in model.specs.items() if s.kind == "tokens"}
    noisy = fusionlab.perturb(x, snr, vocab, getattr(stop.state, "seed", None) or 0)
    score = float(model.predict(noisy, observed).reshape(-1)[0])
    truth = float(ds.targets[ds.target][index])
    right = (score >= 0) == (truth >= 0)
    said = f"{cid} on {{{', '.join(observed)}}} scores {score:+.2f}, truth {truth:+.2f}"
    ok = right == bool(args["correct"])
    if "at_least" in args or "at_most" in args:
        ok = ok and _bounds(score, args)
    return ok, said


def claim_recipe(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """The stop's sentiment sample is built from recipe `equals` (synergy, unique_visual, ...)."""
    ds = _dataset("sentiment")
    index = _index(stop, ds)
    name = ds.info["interactions"][int(ds.factors["interaction"][index])]
    return name == args["equals"], f"sample {stop.state.sample or 0} is {name}"


def claim_late_weight(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """Late fusion checkpoint `model` (default: the stop's) gives modality `modality` a learned
    averaging weight within the bounds (the weights sum to 1)."""
    cid = args.get("model", stop.state.ckpt)
    weights = _checkpoint(cid).model.modality_weights()
    value = float(weights[args["modality"]])
    return _bounds(value, args), ", ".join(f"{m} {w:.0%}" for m, w in weights.items())


def claim_fusion_params(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """The Fusion lab's parameter counts for the stop's sizes, fused size and rank (defaults:
    the stop's checkpoint's own): TFN's count `tfn`, LMF's `lmf` (exact), and/or the ratio
    TFN / LMF within `ratio_at_least` / `ratio_at_most`."""
    from mmviz import fusionlab
    from mmviz.models.fusion import LMFConfig

    model = _checkpoint(stop.state.ckpt).model
    dims = {**fusionlab.model_dims(model), **(stop.state.sizes or {})}
    d_h = stop.state.fused or int(model.config.fusion_dim)
    config = model.config  # the rank as the Fusion lab reads it: LMF's, else LMF's default
    rank = stop.state.rank or int(getattr(config, "rank", LMFConfig().rank))
    counts = fusionlab.param_counts(list(dims.values()), d_h, rank)
    ok = True
    if "tfn" in args:
        ok &= int(counts["tfn"]) == int(args["tfn"])
    if "lmf" in args:
        ok &= int(counts["lmf"]) == int(args["lmf"])
    bounds = {k[len("ratio_") :]: v for k, v in args.items() if k.startswith("ratio_")}
    if bounds:
        ok &= _bounds(float(counts["ratio"]), bounds)
    if not ({"tfn", "lmf"} & set(args)) and not bounds:
        raise KeyError("give `tfn`, `lmf`, `ratio_at_least` and/or `ratio_at_most`")
    return ok, (
        f"sizes {dims}, d_h {d_h}, rank {rank}: TFN {int(counts['tfn']):,}, "
        f"LMF {int(counts['lmf']):,}, ratio {counts['ratio']:.1f}"
    )


def _shapley(stop: Stop):
    import copy

    from mmviz import explore
    from mmviz import report as rep
    from mmviz.interpret.shapley import modality_shapley

    model, ds = _load(stop.state.ckpt)
    model = copy.deepcopy(model)  # Shapley values switch the model's mode; keep the cache clean
    batch = explore.sample_batch(ds, _index(stop, ds))
    x = {m: v for m, v in batch.items() if m in model.modalities}
    st = stop.state
    choice = rep.TargetChoice(
        st.target or "prediction",
        index=st.class_index,
        modality=st.generated,
        group=st.latent_group,
        dim=st.latent_dim or 0,
    )
    players = _observed(stop, model)
    return modality_shapley(model, x, choice.build(), players=players)


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


def claim_shapley_largest(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Attributions page (the stop's sample, target and ticked modalities), modality
    `equals` has the exact modality Shapley value largest in size."""
    sv = _shapley(stop)
    top = max(sv.values, key=lambda m: abs(sv.values[m]))
    said = ", ".join(f"{m} {v:+.2f}" for m, v in sv.values.items())
    return top == args["equals"], f"Shapley values: {said}"


def claim_shapley_value(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Attributions page, modality `modality`'s exact Shapley value lies within the
    bounds."""
    sv = _shapley(stop)
    said = ", ".join(f"{m} {v:+.2f}" for m, v in sv.values.items())
    return _bounds(float(sv.values[args["modality"]]), args), f"Shapley values: {said}"


def _pid_terms() -> tuple[str, ...]:
    from mmviz.report import PID_TERMS

    return PID_TERMS


def claim_shapley_coalition(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """The target's value v(S) when the model sees only the modalities of `coalition`
    ("language", "language+visual", ...; "" for none): one of the coalitions the exact Shapley
    values are computed from (the Fusion lab shows the same by switching modalities off);
    within the bounds."""
    sv = _shapley(stop)
    wanted = set(filter(None, str(args["coalition"]).split("+")))
    key = next(k for k in sv.coalitions if set(filter(None, k.split("+"))) == wanted)
    value = float(sv.coalitions[key])
    return _bounds(value, args), f"v({key or 'nothing'}) = {value:+.2f}"


@functools.lru_cache(maxsize=2)
def _pid(dataset: str):
    from mmviz import report as rep
    from mmviz.interpret.pid import pid_by_recipe

    return rep.pid_with_truth(pid_by_recipe(_dataset(dataset), measure="broja"))


def claim_pid(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Information page's PID table, recipe `recipe`'s pair (`modality1`, `modality2`)
    has its largest measured term `equals` (redundancy, unique(<modality>), synergy, none)."""
    table = _pid("sentiment")
    row = table[
        (table["group"] == args["recipe"])
        & (table["modality1"] == args["modality1"])
        & (table["modality2"] == args["modality2"])
    ]
    if row.empty:
        raise KeyError(f"no PID row for {args['recipe']} {args['modality1']}+{args['modality2']}")
    r = row.iloc[0]
    terms = ", ".join(f"{t} {float(r[t]):.2f}" for t in _pid_terms())
    return r["measured"] == args["equals"], f"measured {r['measured']} ({terms} bits)"


def claim_pid_agreement(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Information page's PID table, the number of recipe-pairs whose largest measured
    term matches the recipe's ground truth (the page's caption) lies within the bounds."""
    agree = _pid("sentiment")["agrees"].dropna()
    value = int(agree.sum())
    return _bounds(value, args), f"the largest term matches in {value} of {len(agree)} pairs"


@functools.lru_cache(maxsize=4)
def _disentanglement(root: str, cid: str):
    """The Information page's MI matrix and scores (first 1,000 test samples), once per
    checkpoint folder and id."""
    from mmviz import report as rep

    model, ds = _load(cid)
    return rep.disentanglement_report(model, ds, 1000)


@functools.lru_cache(maxsize=4)
def _mfm_information(root: str, cid: str):
    """MFM's information-based table (Gaussian estimator, 500 test samples), cached."""
    from mmviz import report as rep

    model, ds = _load(cid)
    return rep.mfm_information(model, ds, 500, "gaussian")


def claim_best_factor(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """On the Information page's MI matrix (the first 1,000 test samples), the ground-truth
    factor that latent group `group`'s dimensions know most about (mean normalised MI over the
    group's dimensions) is `equals`."""
    mi = _disentanglement(str(paths.checkpoint_root()), stop.state.ckpt).mi.normalized
    rows = [r for r in mi.index if str(r).startswith(f"{args['group']}[")]
    means = mi.loc[rows].mean(axis=0).sort_values(ascending=False)
    top = ", ".join(f"{f} {v:.2f}" for f, v in means.head(3).items())
    return means.index[0] == args["equals"], f"{args['group']} knows most about: {top}"


def claim_factor_ratio(stop: Stop, args: dict[str, Any]) -> tuple[bool, str]:
    """MFM's information-based interpretation (Gaussian estimator, 500 test samples): for
    generated modality `modality`, r = I(F_a; X^) / I(F_y; X^) lies within the bounds."""
    table = _mfm_information(str(paths.checkpoint_root()), stop.state.ckpt)
    row = table[table["modality"] == args["modality"]].iloc[0]
    said = f"{args['modality']}: I_shared {row['I_shared']:.2f}, I_specific " + (
        f"{row['I_specific']:.2f} nats, ratio {row['ratio']:.2f}"
    )
    return _bounds(float(row["ratio"]), args), said


CLAIMS: dict[str, Callable[[Stop, dict[str, Any]], tuple[bool, str]]] = {
    # Missing modalities, Cross-modal generation, Latent traversal, Latent map
    "decoded_class": claim_decoded_class,
    "largest_share": claim_largest_share,
    "share": claim_share,
    "shift": claim_shift,
    "coherence": claim_coherence,
    "traversal": claim_traversal,
    "neighbours": claim_neighbours,
    "code_beyond": claim_code_beyond,
    # recorded numbers: meta.json metrics (Model report) and results/*.json
    "metric_order": claim_metric_order,
    "metric": claim_metric,
    "result": claim_result,
    # Fusion lab
    "sign": claim_sign,
    "recipe": claim_recipe,
    "late_weight": claim_late_weight,
    "fusion_params": claim_fusion_params,
    # Attributions
    "shapley_top": claim_shapley_top,
    "shapley_largest": claim_shapley_largest,
    "shapley_value": claim_shapley_value,
    "shapley_coalition": claim_shapley_coalition,
    # Information
    "pid": claim_pid,
    "pid_agreement": claim_pid_agreement,
    "best_factor": claim_best_factor,
    "factor_ratio": claim_factor_ratio,
}


# what one claim run loads or computes once for all its claims (cleared after the run)
_MEASURED = (_checkpoint_in, _dataset, _joint_means, _pid, _disentanglement, _mfm_information)

# what a claim whose arguments do not fit the model or file raises: reported, not crashed on
CLAIM_ERRORS = (KeyError, ValueError, IndexError, TypeError, AttributeError, StopIteration)


def verify_claims(lesson: Lesson | list[Stop]) -> list[ClaimResult]:
    """Every claim of every stop (of a lesson, or a list of scenarios), measured on the
    checkpoints on disk, each on its `after` state when it has one."""
    import dataclasses

    out = []
    stops = lesson.stops if isinstance(lesson, Lesson) else lesson
    try:
        for i, stop in enumerate(stops):
            for claim in stop.claims:
                at = stop if claim.after is None else dataclasses.replace(stop, state=claim.after)
                try:
                    ok, said = CLAIMS[claim.kind](at, claim.args)
                except CLAIM_ERRORS as e:
                    ok, said = False, f"cannot be checked: {type(e).__name__}: {e}"
                out.append(ClaimResult(i, claim, ok, said))
    finally:  # models and datasets are shared within one run, not kept after it
        for cached in _MEASURED:
            cached.cache_clear()
    return out


# ---- documentation: what lessons/README.md lists, generated so it cannot drift ------------
def claim_kinds() -> dict[str, str]:
    """Each claim kind and what it checks (its checker's docstring, on one line)."""
    return {kind: " ".join((fn.__doc__ or "").split()) for kind, fn in CLAIMS.items()}


def _cell(text: str) -> str:
    """Text for a Markdown table cell (a `|` would end the cell)."""
    return text.replace("|", "\\|")


def claims_markdown() -> str:
    """The claim kinds as a Markdown table (`mmviz lesson claims --markdown`)."""
    rows = [f"| `{kind}` | {_cell(text)} |" for kind, text in claim_kinds().items()]
    return "\n".join(["| kind | what it checks |", "|---|---|", *rows])


def fields_markdown(pages: list[str] | None = None) -> str:
    """Each page's state fields as Markdown tables (`mmviz lesson fields --markdown`)."""
    from mmviz.pagestate import PAGE_STATES, field_table

    out = []
    for page in pages or list(PAGE_STATES):
        out += [f"**{page}**", "", "| field | URL | expects | meaning |", "|---|---|---|---|"]
        for row in field_table(page):
            cells = [f"`{row['field']}`", f"`?{row['url']}`", row["expects"], row["meaning"]]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip()


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
