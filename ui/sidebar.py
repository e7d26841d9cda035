"""The frame every exploration page shares: the sidebar's checkpoint and sample (bound to the
page's state, see ui/state.py), the "What am I looking at?" box, and error boundaries so one
failing section never takes the page down.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from ui.cache import cached_dataset, catalog, load_checkpoint, test_factors
from ui.state import KEEP, RESET, PageRun

# ---- frame ---------------------------------------------------------------------------------
_ROUTE = threading.local()  # .active: app.py's navigation is running this thread's page now


@contextlib.contextmanager
def routed() -> Iterator[None]:
    """app.py runs the page inside this, so `through_app` can tell that it did."""
    _ROUTE.active = True
    try:
        yield
    finally:
        _ROUTE.active = False


def through_app() -> None:
    """Run this page inside app.py's navigation even when a shared link is a fresh server's
    first request.

    Until app.py has run once, Streamlit treats `pages/` as a legacy multipage folder and runs
    the page file alone (file names in the sidebar, an "app" entry, no icons). Turning that
    mode off and rerunning sends the same request through app.py, whose `st.navigation` finds
    the page by its URL path; the query string is kept. Every page calls this first.

    Whether app.py runs this page is known per run (`routed()`), not from the mode flag: when a
    server restarts mid-class every student's tab reconnects at once, and several first
    requests can start in the legacy mode before the first of them turns it off; each of them
    must rerun, or that student sits on a page without app.py (no class, no navigation).

    Only a session's first run is rerun: nothing the user clicked can be pending then, while
    a later rerun would drop a button's click.
    """
    from streamlit.runtime.pages_manager import PagesManager

    first = not st.session_state.get(f"{KEEP}routed")
    st.session_state[f"{KEEP}routed"] = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
    if first and not getattr(_ROUTE, "active", False):
        st.rerun()


@contextlib.contextmanager
def guard(what: str, model: Any = None) -> Iterator[None]:
    """Show a failure of this section as a message, never a traceback; the page goes on.

    Expected problems (bad data, a broken checkpoint, an unsupported subset) are warnings or
    errors with the exception's own message, which says what is wrong and what to do; given the
    `model`, an unsupported subset also lists the subsets it can infer from.
    """
    from mmviz.checkpoint import CheckpointError
    from mmviz.data.base import DataError
    from mmviz.models import UnsupportedSubset

    try:
        yield
    except UnsupportedSubset as e:
        st.warning(f"{what}: this model cannot do that. {e}")
        if model is not None:
            from mmviz.explore import supported_subsets

            subsets = supported_subsets(model)
            if subsets:
                st.caption(
                    "It can infer from: " + "; ".join("{" + ", ".join(x) + "}" for x in subsets)
                )
    except (DataError, CheckpointError) as e:
        st.error(f"{what}: {e}")
    except (ValueError, OSError, KeyError, IndexError, NotImplementedError) as e:
        st.error(f"{what} failed: {e}")
    except Exception as e:  # noqa: BLE001 - the page must survive anything; show the cause
        st.error(
            f"{what} failed unexpectedly ({type(e).__name__}: {e}). "
            "The rest of the page still works."
        )


def explainer(plain: str, text: str, equations: list[str] = (), more: str | None = None) -> None:
    """The short "What am I looking at?" box every page opens with.

    It leads with `plain`: two short sentences in everyday words, no maths, for someone who
    has never seen the model (shown in bold, as a paragraph of its own); then `text`, the
    `equations` and `more`, the precise account (tests/test_explainers.py checks every page's).
    """
    from ui.lesson import RUNNING
    from ui.present import presenting

    # open while a lesson runs (the stop's prompt refers to it) and on a projector
    opened = bool(st.session_state.get(RUNNING)) or presenting()
    with st.expander("What am I looking at?", expanded=opened):
        st.markdown(f"**{plain}**")
        st.markdown(text)
        for eq in equations:
            st.latex(eq)
        if more:
            st.markdown(more)


# ---- checkpoint ----------------------------------------------------------------------------
def generative_only(info) -> str | None:
    """Applies-check for pages that decode latents: None if it applies, else why not."""
    if info.oracle:
        return "it is an oracle classifier, a judge of generated samples, with no latent space"
    if not info.generative:
        return (
            f"it is a {info.model} model that predicts from fused features and has no latent "
            "space to decode"
        )
    if info.problem:
        return info.problem
    return None


def choose_checkpoint(
    page: PageRun,
    applies: Callable[[Any], str | None],
    key: str = "ckpt",
    switch_note: str | None = None,
):
    """Sidebar: dataset, then a checkpoint of it that this page applies to.

    Returns the chosen CheckpointInfo, or None (with a message) when none applies. A checkpoint
    asked for in the URL or on another page that does not apply here is named, with the reason,
    and the first one that applies is shown instead. With `switch_note` (what the page works
    on), a checkpoint of a dataset the page has nothing for is not a mistake but a page change:
    the switch is a note, not a warning.
    """
    infos = catalog()
    by_id = {i.id: i for i in infos}
    # the best demo score first (the default), then by kind and number of modalities
    order = {"mvae": 0, "mopoe": 0, "jmvae": 1, "mfm": 2}
    ok = sorted(
        (i for i in infos if applies(i) is None),
        key=lambda i: (not i.default, order.get(i.model, 3), -len(i.modalities), i.id),
    )
    ok_ids = {i.id for i in ok}
    url = page.external("ckpt")
    if url is not None and url is not RESET:
        wanted, origin = url, "url"
    elif key in st.session_state:
        wanted, origin = st.session_state[key], "widget"
    else:
        wanted, origin = st.session_state.get(KEEP + key), "kept"
    switched = None
    ok_datasets = {i.dataset for i in ok}
    if wanted and wanted not in ok_ids:
        if wanted in by_id and switch_note and by_id[wanted].dataset not in ok_datasets:
            switched = by_id[wanted]
        elif wanted in by_id:
            st.warning(
                f"Checkpoint **{wanted}** does not apply to this page: {applies(by_id[wanted])}. "
                "Showing one that does; the sidebar lists them all."
            )
        else:
            st.warning(f"There is no checkpoint **{wanted}** on disk; choose one in the sidebar.")
        wanted = None
    if not ok:
        st.info(
            "No checkpoint on disk applies to this page yet. Rebuild the shipped ones with "
            "`python -m mmviz train-all`, or train one with `python -m mmviz train MODEL "
            "--dataset DATASET --out checkpoints/ID`."
        )
        return None
    datasets = sorted({i.dataset for i in ok}, key=lambda d: (d != "digits", d))
    if wanted and origin != "widget":
        st.session_state["dataset"] = by_id[wanted].dataset
    elif st.session_state.get("dataset") not in datasets:
        st.session_state["dataset"] = datasets[0]
    dataset = st.sidebar.selectbox("Dataset", datasets, key="dataset")
    options = [i.id for i in ok if i.dataset == dataset]
    st.session_state[key] = wanted if wanted in options else options[0]
    cid = st.sidebar.selectbox(
        "Checkpoint",
        options,
        key=key,
        format_func=lambda c: by_id[c].label,
        help="Checkpoints of this dataset that this page can show.",
    )
    page.publish("ckpt", cid, keep=key)
    if switched is not None:
        st.info(
            f"{switch_note} **{switched.id}** is a {switched.model} checkpoint of "
            f"`{switched.dataset}`, so this page opens on **{cid}**; the sidebar lists the "
            "others."
        )
    return by_id[cid]


def load_or_explain(info):
    """The checkpoint's model and dataset, or None after saying why it cannot be loaded."""
    from mmviz.checkpoint import CheckpointError

    try:
        ck = load_checkpoint(info.id)
    except CheckpointError as e:
        st.error(f"Checkpoint **{info.id}** cannot be loaded: {e}")
        return None
    try:
        ds = cached_dataset(info.dataset)
    except ValueError as e:
        st.error(f"Dataset `{info.dataset}` of checkpoint {info.id} cannot be built: {e}")
        return None
    trained_on = ck.meta.get("dataset_version")
    if trained_on and str(trained_on) != str(ds.version):
        st.warning(
            f"Checkpoint **{info.id}** was trained on `{info.dataset}` version {trained_on}, "
            f"but this app builds version {ds.version}: the samples shown are not the ones it "
            "learned from, so its outputs may not match them. Retrain it (`python -m mmviz "
            f"train ... --dataset {info.dataset}`) or use a checkpoint of this version."
        )
    return ck, ds


def page_checkpoint(
    page: PageRun,
    applies: Callable[[Any], str | None],
    key: str = "ckpt",
    switch_note: str | None = None,
):
    """The sidebar's checkpoint, loaded with its dataset: (info, checkpoint, dataset).

    Every model page starts this way; when nothing applies or loading fails the page has
    already said why, and stops here. `switch_note`: see choose_checkpoint.
    """
    info = choose_checkpoint(page, applies, key=key, switch_note=switch_note)
    if info is None:
        page.stop()
    loaded = load_or_explain(info)
    if loaded is None:
        page.stop()
    return (info, *loaded)


# ---- sample --------------------------------------------------------------------------------
@dataclass
class SampleChoice:
    """Which sample a page shows: a test-set position, or the user's own input."""

    own: bool
    position: int  # position in the test split
    index: int  # absolute index in the dataset


def _randomise(n: int) -> None:
    st.session_state["sample"] = int(np.random.default_rng().integers(n))


def choose_sample(page: PageRun, ds, allow_own: bool = False) -> SampleChoice:
    """Sidebar: a test sample by position (or at random), or, where allowed, your own input."""
    test = ds.indices("test")
    n = len(test)
    source = "test"
    if allow_own:
        source = page.widget(
            st.sidebar.radio,
            "Sample",
            ["test", "own"],
            field="source",
            key="source",
            default="test",
            valid=lambda v: v in ("test", "own"),
            format_func=lambda v: {"test": "test set", "own": "your own input"}[v],
            horizontal=True,
        )
    c1, c2 = st.sidebar.columns([3, 1], vertical_alignment="bottom")
    pos = page.widget(
        c1.number_input,
        f"Test sample (0..{n - 1})",
        0,
        n - 1,
        step=1,
        field="sample",
        key="sample",
        default=0,
        valid=lambda v: isinstance(v, int) and 0 <= v < n,
        help="Position in the test split; the page shows its modalities.",
    )
    c2.button("🎲", on_click=_randomise, args=(n,), help="a random test sample")
    with st.sidebar.expander("🔎 Find a sample"), guard("Sample finder"):
        sample_finder(ds, page.values.get("ckpt"))
    return SampleChoice(source == "own", int(pos), int(test[int(pos)]))


def _show(position: int) -> None:
    st.session_state["sample"] = position


def sample_finder(ds, ckpt: str | None) -> None:
    """Filters over the test set (class or recipe, a recorded factor, where two models
    disagree) and the matching samples, one click from being shown."""
    from mmviz import finder

    table = test_factors(ds.name)
    flt: dict = {}
    if "class" in table:
        pick = st.selectbox("Class", ["any", *range(10)], key="find_class")
        flt["target_class"] = None if pick == "any" else int(pick)
    recipes = list(ds.info.get("interactions", []))
    if recipes:
        pick = st.selectbox("Recipe", ["any", *recipes], key="find_recipe")
        flt["recipe"] = None if pick == "any" else pick
    skip = {"class", "interaction", *ds.info.get("id_factors", [])}
    factors = [c for c in table.columns if c not in skip]
    factor = st.selectbox("Style factor", ["none", *factors], key="find_factor")
    if factor != "none":
        flt["factor"] = factor
        column = table[factor].to_numpy()
        if ds.factor_kinds.get(factor) == "categorical" or column.dtype.kind in "iub":
            flt["value"] = int(st.selectbox("Value", sorted(set(column.tolist())), key="find_val"))
        else:
            lo, hi = float(column.min()), float(column.max())
            if hi > lo:
                flt["low"], flt["high"] = st.slider(
                    "Range", lo, hi, (lo, hi), key=f"find_range_{factor}"
                )
    mask = None
    others = [i.id for i in catalog() if i.dataset == ds.name and not i.problem and not i.oracle]
    if ckpt in others and len(others) > 1:
        other = st.selectbox(
            f"Where {ckpt} and another model disagree",
            ["no"] + [o for o in others if o != ckpt],
            key="find_other",
            help="digits: the label each reads from `hand` alone; sentiment: the sign",
        )
        if other != "no":
            from ui.cache import test_decisions

            which = st.radio(
                "Keep", ["any", "first right", "second right"], key="find_which", horizontal=True,
                format_func={"any": "all", "first right": f"{ckpt} right",
                             "second right": f"{other} right"}.get,
            )  # fmt: skip
            mask = finder.disagreement(
                test_decisions(ckpt), test_decisions(other), finder.truth_decisions(ds), which
            )
    found = finder.find_samples(ds, finder.SampleFilter(**flt), mask)
    st.caption(f"{len(found)} of {len(table)} test samples match")
    if len(found):
        shown = [int(p) for p in found[:60]]
        position = st.selectbox("Matching test samples", shown, key="find_pick")
        st.button("Show this sample", key="find_show", on_click=_show, args=(int(position),))


# ---- showing one modality's value ------------------------------------------------------------
@st.fragment
def listen(key: str, spec01: np.ndarray) -> None:
    """A spectrogram's sound on demand: Griffin-Lim takes ~70 ms a clip, too much to pay on
    every rerun for sounds nobody plays; the button reruns only this fragment."""
    from ui.cache import sound_bytes

    if st.button("🔊 Listen", key=f"{key}_listen", type="tertiary"):
        st.audio(sound_bytes(spec01), format="audio/wav", autoplay=True)


# plotly's toolbar, trimmed to what helps: save as PNG at presentation resolution (3x), zoom,
# reset; on hover only, so it does not cover a figure's title
CHART = {
    "displaylogo": False,
    "displayModeBar": "hover",
    "modeBarButtonsToRemove": [
        "select2d", "lasso2d", "autoScale2d", "toggleSpikelines", "hoverClosestCartesian",
        "hoverCompareCartesian", "pan2d",
    ],
    "toImageButtonOptions": {"format": "png", "scale": 3},
}  # fmt: skip


FIGURES = f"{KEEP}figures"  # this run's figures: the link box offers them as one HTML file


def chart(fig, key: str, **kwargs) -> Any:  # noqa: ANN001 - a plotly Figure
    """st.plotly_chart with the app's toolbar, remembering the figure for the page's export."""
    st.session_state.setdefault(FIGURES, []).append((key, fig))
    kwargs.setdefault("config", CHART)
    return st.plotly_chart(fig, key=key, **kwargs)


def show_value(
    m: str, spec, x, key: str, title: str | None = None, truth: int | None = None, height: int = 190
) -> None:
    """One sample of modality `m` (data space or raw) drawn as its kind needs: a picture, a
    class with its probability bar, a phrase, a spectrogram you can also listen to."""
    from mmviz import plots
    from mmviz.data import audio
    from mmviz.explore import tokens_to_text

    a = np.asarray(x)
    if spec.kind == "image":
        with st.container(key=key):
            if title:
                st.caption(title)
            st.image(plots.image_tile(a, spec, height - 40), output_format="PNG")
    elif plots.is_pictorial(spec):
        freqs = (
            audio.bin_frequencies()
            if spec.kind == "spectrogram" and a.shape[-2] == audio.N_BINS
            else None
        )
        fig = plots.modality_figure(a, spec, title, height=height, freqs=freqs)
        chart(fig, key=key)
        if spec.kind == "spectrogram" and freqs is not None:
            listen(key, a.reshape(a.shape[-2], a.shape[-1]).astype(np.float32))
    elif spec.kind == "categorical":
        names = list(spec.vocab or range(spec.num_classes))
        if a.ndim == 1 and a.size == len(names):
            k = int(a.argmax())
            st.markdown(f"{title + ': ' if title else ''}**{names[k]}** ({a[k]:.0%})")
            fig = plots.probability_figure(a, [str(n) for n in names], truth, None, 130)
            fig.update_layout(margin={"l": 4, "r": 4, "t": 4, "b": 20})
            fig.update_yaxes(title_text=None, showticklabels=False)
            chart(fig, key=key)
        else:
            st.markdown(f"{title + ': ' if title else ''}**{names[int(a.reshape(-1)[0])]}**")
    elif spec.kind == "tokens":
        text = tokens_to_text(a, spec) or "(empty)"
        st.markdown(f"{title}: **{text}**" if title else f"> **{text}**")
        if a.ndim == 2:  # per-position probabilities: how sure the decoder is of its words
            n = max(1, len(text.split()))
            st.caption(f"mean word confidence {float(a.max(-1)[:n].mean()):.0%}")
    else:
        st.write(a)
