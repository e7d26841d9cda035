"""What defines each page's view, as typed values: one `PageState` per page.

A page's state is everything a person set on it (checkpoint, sample, observed modalities,
noise, dimensions, method, ...). It is what the URL encodes, what a lesson stop loads and what
a teacher's class session sends to the students, so all three speak one vocabulary:

- field names (`observed`, `sample`, ...) are what a lesson file writes (TOML values);
- each field has a URL parameter (`obs`, `i`, ...) and a codec that reads and writes it;
- a field left `None` means "the page's own default", which often depends on the model (the
  first latent group, the most active dimensions), so a state never has to know the model.

Decoding checks what can be checked without a model (types, ranges, choices) and names the
field and what it expects; what depends on the model (is `group` one of its latent groups?)
the page checks, and says so when a link or a lesson asks for something this model lacks.
No Streamlit here: the app binds widgets to these fields in `ui/state.py`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class StateError(ValueError):
    """A state value that cannot be used; the message names the page, the field and what it
    expects."""

    def __init__(self, page: str, field: str, message: str) -> None:
        super().__init__(f"page '{page}', field '{field}': {message}")
        self.page = page
        self.field = field


# ---- codecs: one per kind of value ---------------------------------------------------------
class Codec:
    """Reads a field from URL text or a typed (TOML) value, and writes it as URL text."""

    expects: str = "a value"

    def parse(self, text: str) -> Any:
        return self.check(text)

    def check(self, value: Any) -> Any:
        return value

    def dump(self, value: Any) -> str:
        return str(value)


class Text(Codec):
    expects = "a name (letters, digits, _ - .)"

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not value or not set(value) <= NAME_CHARS:
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value


class Choice(Codec):
    def __init__(self, *options: str) -> None:
        self.options = options
        self.expects = "one of " + ", ".join(options)

    def check(self, value: Any) -> str:
        if value not in self.options:
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value


class Flag(Codec):
    expects = "true or false (1 or 0 in a URL)"

    def parse(self, text: str) -> bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected {self.expects}, got {text!r}")

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value

    def dump(self, value: bool) -> str:
        return "1" if value else "0"


class Int(Codec):
    def __init__(self, lo: int | None = 0, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi
        self.expects = _range_words("an integer", lo, hi)

    def parse(self, text: str) -> int:
        try:
            return self.check(int(text.strip()))
        except ValueError:
            raise ValueError(f"expected {self.expects}, got {text!r}") from None

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not _within(value, self):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value


class Float(Codec):
    def __init__(self, lo: float | None = None, hi: float | None = None) -> None:
        self.lo, self.hi = lo, hi
        self.expects = _range_words("a number", lo, hi)

    def parse(self, text: str) -> float:
        try:
            return self.check(float(text.strip()))
        except ValueError:
            raise ValueError(f"expected {self.expects}, got {text!r}") from None

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or not _within(value, self):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value

    def dump(self, value: float) -> str:
        return f"{value:g}"


class ListOf(Codec):
    """A comma-separated list in a URL (`obs=hand,label`), a list in TOML; may be empty."""

    def __init__(self, item: Codec) -> None:
        self.item = item
        self.expects = f"a list of {item.expects}"

    def parse(self, text: str) -> tuple:
        return tuple(self.item.parse(p) for p in text.split(",") if p.strip())

    def check(self, value: Any) -> tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return tuple(self.item.check(v) for v in value)

    def dump(self, value: Sequence) -> str:
        return ",".join(self.item.dump(v) for v in value)


class Interval(Codec):
    """Two ordered numbers, `lo:hi` in a URL, `[lo, hi]` in TOML."""

    def __init__(self, item: Int | Float) -> None:
        self.item = item
        self.expects = f"two increasing values lo:hi, each {item.expects}"

    def parse(self, text: str) -> tuple:
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"expected {self.expects}, got {text!r}")
        return self.check([self.item.parse(p) for p in parts])

    def check(self, value: Any) -> tuple:
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
            raise ValueError(f"expected {self.expects}, got {value!r}")
        lo, hi = (self.item.check(v) for v in value)
        if not lo < hi:
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return (lo, hi)

    def dump(self, value: Sequence) -> str:
        return f"{self.item.dump(value[0])}:{self.item.dump(value[1])}"


class Levels(Codec):
    """A value per modality, `hand:0.3,text:0.5` in a URL, a table in TOML."""

    def __init__(self, item: Codec) -> None:
        self.item = item
        self.expects = f"modality:value pairs, each value {item.expects}"

    def parse(self, text: str) -> dict:
        out = {}
        for part in text.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition(":")
            if not sep:
                raise ValueError(f"expected {self.expects}, got {part!r}")
            out[Text().check(name.strip())] = self.item.parse(value)
        return out

    def check(self, value: Any) -> dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return {Text().check(k): self.item.check(v) for k, v in value.items()}

    def dump(self, value: Mapping) -> str:
        return ",".join(f"{k}:{self.item.dump(v)}" for k, v in value.items())


class Snr(Codec):
    """A signal-to-noise level: "clean" or whole decibels."""

    expects = "clean or a whole number of dB from -20 to 40"

    def parse(self, text: str) -> str | int:
        text = text.strip()
        if text == "clean":
            return text
        try:
            return self.check(int(text))
        except ValueError:
            raise ValueError(f"expected {self.expects}, got {text!r}") from None

    def check(self, value: Any) -> str | int:
        if value == "clean":
            return "clean"
        if isinstance(value, bool) or not isinstance(value, int) or not -20 <= value <= 40:
            raise ValueError(f"expected {self.expects}, got {value!r}")
        return value


class Scalar(Codec):
    """A method parameter: a word or a number (the page converts it to the parameter's type)."""

    expects = "a number, true/false or a word"

    def parse(self, text: str) -> str:
        return Text().check(text.strip())

    def check(self, value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float):
            Float().check(value)
            return f"{value:g}"
        return Text().check(value)


def _range_words(what: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{what} from {lo} to {hi}"
    if lo is not None:
        return f"{what} of at least {lo}"
    if hi is not None:
        return f"{what} of at most {hi}"
    return what


def _within(value: float, codec: Int | Float) -> bool:
    return (codec.lo is None or value >= codec.lo) and (codec.hi is None or value <= codec.hi)


# ---- fields and states ---------------------------------------------------------------------
def param(url: str, codec: Codec, help: str, prefixed: bool = False) -> Any:  # noqa: A002
    """A PageState field: its URL parameter, codec and what it means (for lesson writers).
    `prefixed`: one URL parameter per modality (`on_visual=0`), a table in TOML."""
    return dataclasses.field(
        default=None, metadata={"url": url, "codec": codec, "help": help, "prefixed": prefixed}
    )


@dataclass(frozen=True)
class FieldInfo:
    name: str
    url: str
    codec: Codec
    help: str
    prefixed: bool


@dataclass(frozen=True)
class PageState:
    """Base: a page's fields are declared with `param(...)`; `None` is the page's default."""

    page: ClassVar[str] = ""
    title: ClassVar[str] = ""

    ckpt: str | None = param("ckpt", Text(), "checkpoint id (`python -m mmviz list`)")

    @classmethod
    def fields(cls) -> list[FieldInfo]:
        return [
            FieldInfo(
                f.name,
                f.metadata["url"],
                f.metadata["codec"],
                f.metadata["help"],
                f.metadata["prefixed"],
            )
            for f in dataclasses.fields(cls)
        ]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> PageState:
        """From typed values keyed by field name (a lesson's TOML table). Unknown names and
        bad values raise StateError naming the field."""
        known = {f.name: f for f in cls.fields()}
        out = {}
        for name, value in values.items():
            if name not in known:
                raise StateError(
                    cls.page, name, f"no such field; this page has: {', '.join(known)}"
                )
            info = known[name]
            codec = Levels(info.codec) if info.prefixed else info.codec
            try:
                out[name] = codec.check(value)
            except ValueError as e:
                raise StateError(cls.page, name, str(e)) from None
        return cls(**out)

    @classmethod
    def from_query(
        cls, params: Mapping[str, str], strict: bool = True
    ) -> tuple[PageState, dict[str, str]]:
        """From URL query parameters. Returns the state and, when not `strict`, the problems
        found (field -> message; those fields are left to the page's default). Parameters the
        page does not know are ignored: a URL also carries other things."""
        out: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for info in cls.fields():
            try:
                if info.prefixed:
                    prefix = info.url
                    found = {
                        k[len(prefix) :]: info.codec.parse(v)
                        for k, v in params.items()
                        if k.startswith(prefix) and len(k) > len(prefix)
                    }
                    if found:
                        out[info.name] = Levels(info.codec).check(found)
                elif info.url in params:
                    out[info.name] = info.codec.parse(str(params[info.url]))
            except ValueError as e:
                if strict:
                    raise StateError(cls.page, info.name, f"?{info.url}: {e}") from None
                problems[info.name] = str(e)
        return cls(**out), problems

    def to_query(self) -> dict[str, str]:
        """The URL parameters that encode this state (fields left to the default are absent)."""
        out = {}
        for info in self.fields():
            value = getattr(self, info.name)
            if value is None:
                continue
            if info.prefixed:
                for key, v in value.items():
                    out[info.url + key] = info.codec.dump(v)
            else:
                out[info.url] = info.codec.dump(value)
        return out

    def values(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in self.fields()
            if getattr(self, f.name) is not None
        }

    def url_for(self, field: str) -> str:
        return next(f.url for f in self.fields() if f.name == field)


SAMPLE = param("i", Int(0), "position of the test sample shown (0 = the first)")
SOURCE = param("source", Choice("test", "own"), "test: a test sample; own: the user's own input")
MODALITIES = ListOf(Text())


@dataclass(frozen=True)
class HomeState(PageState):
    page: ClassVar[str] = "home"
    title: ClassVar[str] = "Home: model zoo and datasets"
    lesson: str | None = param("lesson", Text(), "a lesson to open (file name in lessons/)")


@dataclass(frozen=True)
class MissingState(PageState):
    page: ClassVar[str] = "missing"
    title: ClassVar[str] = "Missing modalities"
    sample: int | None = SAMPLE
    source: str | None = SOURCE
    compare: bool | None = param("compare", Flag(), "show every checkpoint of the dataset")
    damage: str | None = param("damage", Choice("noise", "occlude"), "how the sliders damage")
    observed: tuple[str, ...] | None = param("obs", MODALITIES, "modalities the model sees")
    noise: dict[str, float] | None = param(
        "noise", Levels(Float(0.0, 1.0)), "damage level per modality (0..1)"
    )
    step_dim: int | None = param(
        "sdim", Int(0), "product-of-experts stepper: the latent dimension shown"
    )
    step: int | None = param(
        "step", Int(0), "product-of-experts stepper: the step shown (0 = the prior alone)"
    )
    stage: int | None = param(
        "stage", Int(0, 4), "MFM data flow: the stage shown (0 inputs .. 4 swap)"
    )
    partner: int | None = param("mate", Int(0), "MFM data flow: test position of the swap partner")
    swap: tuple[str, ...] | None = param(
        "swap", MODALITIES, "MFM data flow: modalities whose Z_a comes from the partner"
    )


@dataclass(frozen=True)
class TraversalState(PageState):
    page: ClassVar[str] = "traversal"
    title: ClassVar[str] = "Latent traversal"
    sample: int | None = SAMPLE
    group: str | None = param("group", Text(), "latent group to move (z; MFM: y or a modality)")
    mode: str | None = param("mode", Choice("grid", "animation", "sweep"), "how it is shown")
    start: str | None = param("start", Choice("posterior", "prior"), "start from where")
    dims: tuple[int, ...] | None = param("dims", ListOf(Int(0)), "dimensions (grid rows)")
    dim: int | None = param("dim", Int(0), "dimension animated")
    dim_x: int | None = param("dimx", Int(0), "2-D sweep: dimension along the rows")
    dim_y: int | None = param("dimy", Int(0), "2-D sweep: dimension along the columns")
    value_range: tuple[float, float] | None = param(
        "range", Interval(Float(-6.0, 6.0)), "values swept, in prior standard deviations"
    )
    steps: int | None = param("steps", Int(2, 15), "values per sweep")


@dataclass(frozen=True)
class CrossmodalState(PageState):
    page: ClassVar[str] = "crossmodal"
    title: ClassVar[str] = "Cross-modal generation"
    sample: int | None = SAMPLE
    source: str | None = SOURCE
    condition: tuple[str, ...] | None = param("cond", MODALITIES, "modalities conditioned on")
    draws: int | None = param("n", Int(1, 32), "number of draws")
    seed: int | None = param("seed", Int(0, 10_000), "random seed of the draws")


@dataclass(frozen=True)
class LatentMapState(PageState):
    page: ClassVar[str] = "latent_map"
    title: ClassVar[str] = "Latent map"
    sample: int | None = SAMPLE
    group: str | None = param("group", Text(), "latent group projected")
    method: str | None = param("method", Choice("pca", "tsne"), "projection")
    colour: str | None = param("colour", Text(), "colour points by this factor")
    links: int | None = param("links", Int(0, 8), "samples linked across modalities")
    pick: int | None = param("pick", Int(0), "test position of the point picked on the map")


ATTRIBUTION_TARGETS = ("prediction", "class", "generated", "latent", "region")


@dataclass(frozen=True)
class AttributionsState(PageState):
    page: ClassVar[str] = "attributions"
    title: ClassVar[str] = "Attributions"
    sample: int | None = SAMPLE
    source: str | None = SOURCE
    target: str | None = param("target", Choice(*ATTRIBUTION_TARGETS), "what is explained")
    class_index: int | None = param("cls", Int(0), "target 'class': the class explained")
    generated: str | None = param("gen", Text(), "target 'generated': the generated modality")
    generated_class: int | None = param(
        "genclass", Int(-1), "target 'generated': the class (-1: the generated one)"
    )
    latent_group: str | None = param("lgroup", Text(), "target 'latent': the latent group")
    latent_dim: int | None = param("ldim", Int(0), "target 'latent': the dimension")
    region: str | None = param("region", Text(), "target 'region': the generated image")
    rows: tuple[int, int] | None = param("rows", Interval(Int(0)), "target 'region': rows")
    cols: tuple[int, int] | None = param("cols", Interval(Int(0)), "target 'region': columns")
    observed: tuple[str, ...] | None = param("obs", MODALITIES, "modalities the model sees")
    method: str | None = param("method", Text(), "attribution method (Captum's name)")
    settings: dict[str, str] | None = param(
        "p_", Scalar(), "the method's parameters (n_steps, baselines, ...)", prefixed=True
    )


@dataclass(frozen=True)
class InformationState(PageState):
    page: ClassVar[str] = "information"
    title: ClassVar[str] = "Information"
    sample: int | None = SAMPLE
    estimator: str | None = param(
        "est", Choice("gaussian", "knn", "both"), "MFM: mutual-information estimator"
    )


SNR_LEVELS = Snr()


@dataclass(frozen=True)
class FusionLabState(PageState):
    page: ClassVar[str] = "fusion_lab"
    title: ClassVar[str] = "Fusion lab"
    sample: int | None = SAMPLE
    source: str | None = SOURCE
    on: dict[str, bool] | None = param("on_", Flag(), "modalities switched on", prefixed=True)
    snr: dict[str, Any] | None = param("snr_", SNR_LEVELS, "noise per modality", prefixed=True)
    seed: int | None = param("lab_seed", Int(0, 10_000), "noise seed")
    sizes: dict[str, int] | None = param(
        "d_", Int(1, 256), "size of each modality's representation", prefixed=True
    )
    fused: int | None = param("dh", Int(1, 256), "size of the fused vector")
    rank: int | None = param("rank", Int(1, 64), "LMF rank")
    cube: str | None = param("cube", Text(), "stepper: the checkpoint whose tensor is taken apart")
    upto: int | None = param(
        "tfnk", Int(0, 6), "stepper: interactions shown up to this order (0 constant, 3 trimodal)"
    )
    ranks_added: int | None = param("lmfk", Int(0, 64), "stepper: LMF rank-one terms added")
    rank_order: str | None = param(
        "lmforder",
        Choice("index", "largest"),
        "stepper: add LMF's terms as stored or largest first",
    )


@dataclass(frozen=True)
class ReportState(PageState):
    page: ClassVar[str] = "report"
    title: ClassVar[str] = "Model report"


@dataclass(frozen=True)
class ReproductionsState(PageState):
    page: ClassVar[str] = "reproductions"
    title: ClassVar[str] = "Reproductions"


# query parameters the app itself reads on every page (ui/classroom.py, ui/present.py): no
# page field may use them
APP_PARAMS = ("class", "hide", "lock", "present")

PAGE_STATES: dict[str, type[PageState]] = {
    cls.page: cls
    for cls in (
        HomeState,
        MissingState,
        TraversalState,
        CrossmodalState,
        LatentMapState,
        AttributionsState,
        InformationState,
        FusionLabState,
        ReportState,
        ReproductionsState,
    )
}


def state_class(page: str) -> type[PageState]:
    if page not in PAGE_STATES:
        raise ValueError(f"unknown page {page!r}; pages: {', '.join(PAGE_STATES)}")
    return PAGE_STATES[page]


def field_table(page: str) -> list[dict[str, str]]:
    """The page's fields as rows (name, URL parameter, expects, meaning): lessons/README.md
    and `mmviz lesson fields` are generated from it."""
    return [
        {
            "field": f.name,
            "url": f.url + ("<modality>" if f.prefixed else ""),
            "expects": (f"per modality: {f.codec.expects}" if f.prefixed else f.codec.expects),
            "meaning": f.help,
        }
        for f in state_class(page).fields()
    ]
