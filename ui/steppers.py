"""The step-by-step explainers on the pages (issue 17, part 3): ▶ play, step, slow motion.

Each stepper is drawn in an `st.fragment`, so stepping (the slider, the buttons, each tick
while playing) reruns only the stepper, never the page. While playing, the fragment is
declared with `run_every` (seconds per step): pressing ▶ / ⏸ or changing the speed reruns the
page once, to declare the fragment again with the new interval. The step and the other
controls that define the view are bound to the page's state (`page.widget`), so a link or a
lesson stop opens the stepper at a given step.

The numbers come from `mmviz/steppers.py`, cached per checkpoint (and weights stamp), sample
and settings; a frame is the figures of one step (`mmviz/plots/steppers.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import streamlit as st
import torch

from mmviz import steppers
from mmviz.data.base import ModalitySpec
from mmviz.plots import steppers as figs
from ui.cache import _load, checkpoint_key, digest
from ui.sidebar import chart, guard
from ui.state import RESET, PageRun

# seconds per step while playing ("slow motion" for a class to follow each multiplication)
SPEEDS = {"slow motion": 2.5, "normal": 1.2, "fast": 0.5}


# ---- cached numbers ------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _poe_steps(root, cid, stamp, key, observed, dim, _inputs) -> steppers.PoESteps:
    return steppers.poe_steps(_load(root, cid, stamp).model, _inputs, list(observed), dim)


def poe_steps(cid: str, inputs: dict[str, torch.Tensor], observed: Sequence[str], dim: int):
    """`steppers.poe_steps` for checkpoint `cid`, cached per sample digest and settings."""
    return _poe_steps(*checkpoint_key(cid), digest(inputs), tuple(observed), int(dim), inputs)


@st.cache_data(max_entries=64, show_spinner=False)
def _tfn_blocks(root, cid, stamp, key, observed, _inputs) -> steppers.TFNBlocks:
    return steppers.tfn_blocks(_load(root, cid, stamp).model, _inputs, list(observed))


@st.cache_data(max_entries=64, show_spinner=False)
def _lmf_ranks(root, cid, stamp, key, observed, order, _inputs) -> steppers.LMFRanks:
    return steppers.lmf_rank_terms(_load(root, cid, stamp).model, _inputs, list(observed), order)


# ---- the player: ▶ play, step, slow motion -------------------------------------------------------
def _flag(prefix: str, name: str) -> str:
    return f"{prefix}_{name}"


def _interval(prefix: str) -> float | None:
    """Seconds per step while `prefix`'s stepper plays, None while it does not."""
    ss = st.session_state
    if not ss.get(_flag(prefix, "playing")):
        return None
    return SPEEDS.get(ss.get(_flag(prefix, "speed"), "normal"), SPEEDS["normal"])


def run_stepper(prefix: str, body: Callable[..., None], *args: Any) -> None:
    """Draw `body(*args)` as a fragment that ticks every step's interval while playing."""
    every = _interval(prefix)
    st.session_state[_flag(prefix, "ticking")] = every
    st.fragment(body, run_every=every)(*args)


def _slider_key(prefix: str) -> str:
    """The step slider's key: a new one whenever the step is moved by anything but the slider
    (a button, a tick), so the browser never sends back a value it held for the old slider
    and the slider always shows the step drawn."""
    return f"{prefix}_step_{st.session_state.get(_flag(prefix, 'generation'), 0)}"


def _move(prefix: str, to: int) -> None:
    ss = st.session_state
    ss[_flag(prefix, "pos")] = int(to)
    ss[_flag(prefix, "generation")] = ss.get(_flag(prefix, "generation"), 0) + 1


def _go(prefix: str, to: int, last: int) -> None:
    """⏮ ◀ ▶| ⏭: show step `to`, and stop playing."""
    _move(prefix, int(np.clip(to, 0, last)))
    st.session_state[_flag(prefix, "playing")] = False


def _slid(prefix: str) -> None:
    """The step slider moved: show that step (and stop playing: the hand took over).

    Only a value the slider was not drawn with counts. While playing on a loaded server, a
    tick can arrive before the run that drew a new slider has finished; Streamlit then takes
    the value the browser reports for that slider (the step drawn) for a change and calls this,
    which would stop the play a few steps in."""
    ss = st.session_state
    key = _slider_key(prefix)
    if ss.get(_flag(prefix, "drawn")) == (key, ss[key]):
        return  # the browser echoing the step drawn, not the hand
    ss[_flag(prefix, "pos")] = ss[key]
    ss[_flag(prefix, "playing")] = False


def _play(prefix: str, last: int) -> None:
    """▶ / ⏸. From the last step, ▶ plays from the start."""
    ss = st.session_state
    playing = not ss.get(_flag(prefix, "playing"), False)
    ss[_flag(prefix, "playing")] = playing
    ss[_flag(prefix, "advance")] = False  # show where it starts before the first tick
    if playing and int(ss.get(_flag(prefix, "pos"), last)) >= last:
        _move(prefix, 0)


def player(
    page: PageRun,
    prefix: str,
    field: str,
    labels: Sequence[str],
    default: int,
    help_text: str,
) -> int:
    """The step controls (⏮ ◀ ▶/⏸ ▶| ⏭, speed, the step slider bound to `field`); returns the
    step to draw. Call inside the stepper's fragment (see `run_stepper`). The step shown is
    kept in plain session state (`<prefix>_pos`); the slider follows it (`_slider_key`)."""
    ss = st.session_state
    pos_key, play_key = _flag(prefix, "pos"), _flag(prefix, "playing")
    last = len(labels) - 1
    if ss.get(_flag(prefix, "ticking")) != _interval(prefix):
        st.rerun(scope="app")  # ▶, ⏸ or the speed changed: declare the fragment again
    pos = ss.get(pos_key)
    pos = int(pos) if isinstance(pos, int) and 0 <= pos <= last else None
    if ss.get(play_key) and pos is not None:
        if ss.get(_flag(prefix, "advance")):
            _move(prefix, min(pos + 1, last))
            pos = ss[pos_key]
        ss[_flag(prefix, "advance")] = True
        if pos >= last:
            ss[play_key] = False  # the last step: stop (the next tick redeclares the fragment)
    playing = bool(ss.get(play_key))
    at = pos if pos is not None else default
    cols = st.columns([1, 1, 2, 1, 1, 4], vertical_alignment="bottom")
    buttons = [
        ("⏮", "first", "back to the start", 0),
        ("◀", "prev", "one step back", at - 1),
        ("▶|", "next", "one step forward", at + 1),
        ("⏭", "last", "the last step", last),
    ]
    for col, (text, name, tip, to) in zip([*cols[:2], *cols[3:5]], buttons, strict=True):
        col.button(text, key=_flag(prefix, name), help=tip, on_click=_go, args=(prefix, to, last))
    cols[2].button(
        "⏸ pause" if playing else "▶ play",
        key=_flag(prefix, "play"),
        type="primary",
        help="play the steps one after another (from the start when at the end)",
        on_click=_play,
        args=(prefix, last),
    )
    cols[5].select_slider(
        "speed",
        list(SPEEDS),
        value="normal",
        key=_flag(prefix, "speed"),
        help="seconds per step while playing: slow motion for a class to follow each step",
    )
    key = _slider_key(prefix)
    if pos is not None:
        ss[key] = pos  # a new slider (or the same one, unmoved) at the step to draw
    step = int(
        page.widget(
            st.select_slider,
            "step",
            list(range(len(labels))),
            field=field,
            key=key,
            default=default,
            valid=lambda v: isinstance(v, int) and 0 <= v <= last,
            format_func=lambda k: labels[k],
            help=help_text,
            on_change=_slid,
            args=(prefix,),
        )
    )
    ss[pos_key] = step
    ss[_flag(prefix, "drawn")] = (key, step)
    return step


def lazy_expander(page: PageRun, title: str, key: str, fields: Sequence[str]) -> Any:
    """An expander whose content the page runs only while it is open (its `.open`): closed, a
    stepper costs the page's reruns nothing. A link or a lesson stop that sets one of the
    stepper's `fields` opens it."""
    if any(page.external(f) not in (None, RESET) for f in fields):
        st.session_state[key] = True
    return st.expander(title, key=key, on_change="rerun")


# ---- product of experts / mixture (missing modalities page) --------------------------------------
def poe_stepper(
    page: PageRun,
    cid: str,
    model,
    inputs: dict[str, torch.Tensor],
    observed: Sequence[str],
    specs: Mapping[str, ModalitySpec],
) -> None:
    """The "Step through the product of experts" expander, for a model whose posterior is a
    product of experts (MVAE) or a mixture (MoPoE, MMVAE); nothing for other models."""
    kind = steppers.stepper_kind(model)
    if kind is None or not observed:
        return
    title = (
        "Step through the product of experts"
        if kind == "product"
        else "Step through the mixture of experts"
    )
    box = lazy_expander(page, title, "poe_open", ("step", "step_dim"))
    with box:
        if not box.open:
            return
        if kind == "product":
            st.caption(
                "Start from the prior N(0, 1) and multiply in one observed modality's Gaussian "
                "expert at a time. Precisions add (T = 1 + Σ Tᵢ), so the product is always "
                "sharper than each expert alone and sits nearest the most precise one; the "
                "pictures are what the model decodes from the product so far."
            )
        else:
            st.caption(
                "Start from the prior N(0, 1), then add the mixture's components one at a "
                "time, each weighing 1/k. A mixture is never sharper than its components: "
                "its variance is their mean variance plus the spread of their means (the law "
                "of total variance); the pictures decode the mixture's mean."
            )
        with guard("Stepper", model):
            run_stepper("poe", _poe_body, page, cid, model, dict(inputs), list(observed), specs)


def _poe_body(page, cid, model, inputs, observed, specs) -> None:
    d = model.latent_groups[next(iter(model.latent_groups))]
    suggested = steppers.suggested_dim(poe_steps(cid, inputs, observed, 0))
    dim = page.widget(
        st.selectbox,
        "latent dimension",
        list(range(d)),
        field="step_dim",
        key="poe_dim",
        default=suggested,
        valid=lambda v: isinstance(v, int) and 0 <= v < d,
        format_func=lambda i: f"z[{i}]" + (" · suggested" if i == suggested else ""),
        help="The densities and shares are read in this dimension (the product is taken in "
        "all of them). Suggested: where the experts share the precision most evenly (a "
        "mixture: where its components disagree most).",
    )
    steps = poe_steps(cid, inputs, observed, int(dim))
    labels = ["0 · prior" if k == 0 else f"{k} · + {name}" for k, name in enumerate(steps.names)]
    s = player(
        page,
        "poe",
        "step",
        labels,
        steps.steps - 1,
        "0 is the prior alone; each step multiplies in (mixes in) one more.",
    )
    render_poe_frame(steps, s, specs)


def render_poe_frame(steps: steppers.PoESteps, s: int, specs: Mapping[str, ModalitySpec]) -> None:
    """One frame of the product-of-experts stepper: densities, shares, thumbnails."""
    d = steps.dim
    st.markdown(f"**{steps.step_title(s)}**")
    c1, c2 = st.columns([3, 2])
    with c1:
        chart(figs.density_figure(steps, s), key="poe_density")
    with c2:
        chart(
            figs.shares_figure(steps, s, f"share of the {steps.share_of} in z[{d}]"),
            key="poe_shares",
        )
        if s:
            before, now = steps.stds[s - 1, d], steps.stds[s, d]
            verb = "sharper" if now < before else "broader"
            st.caption(
                f"std in z[{d}]: {before:.3f} → **{now:.3f}** ({verb}); mean "
                f"{steps.means[s - 1, d]:+.3f} → **{steps.means[s, d]:+.3f}**"
            )
    chart(
        figs.thumbnails_figure(steps, s, specs, f"decoded from the mean after step {s}"),
        key="poe_thumbs",
    )


# ---- tensor fusion and LMF (fusion lab) ----------------------------------------------------------
def fusion_stepper(
    page: PageRun,
    models: Mapping[str, Any],
    chosen: str,
    inputs: dict[str, torch.Tensor],
    observed: Sequence[str],
) -> None:
    """The "Tensor fusion and LMF, step by step" expander: TFN's cube, its blocks added by
    order; LMF's rank-one terms added one at a time."""
    cubes = {c: steppers.tensor_source(m) for c, m in models.items() if steppers.tensor_source(m)}
    lmfs = [c for c, m in models.items() if steppers.has_rank_terms(m)]
    if not cubes and not lmfs:
        return
    fields = ("cube", "upto", "ranks_added", "rank_order")
    box = lazy_expander(page, "Tensor fusion and LMF, step by step", "fusion_steps_open", fields)
    with box:
        if not box.open:
            return
        if not observed:
            st.info("Switch on at least one modality to take the fusion apart.")
            return
        tfn_tab, lmf_tab = st.tabs(["Tensor fusion's cube", "LMF, one rank at a time"])
        with tfn_tab, guard("Tensor fusion stepper"):
            if cubes:
                run_stepper(
                    "tfn", _tfn_body, page, dict(cubes), chosen, dict(inputs), list(observed)
                )
            else:
                st.caption("No TFN or LMF checkpoint among the lab's models.")
        with lmf_tab, guard("LMF stepper"):
            if lmfs:
                cid = chosen if chosen in lmfs else lmfs[0]
                run_stepper("lmf", _lmf_body, page, cid, dict(inputs), list(observed))
            else:
                st.caption("No LMF checkpoint among the lab's models.")


def _tfn_body(page, cubes: dict[str, str], chosen, inputs, observed) -> None:
    # a TFN's own weights first (the cube is TFN's idea), else the checkpoint on the page
    default = next((c for c, src in cubes.items() if src == "tfn"), None)
    default = default or (chosen if chosen in cubes else next(iter(cubes)))
    cid = page.widget(
        st.selectbox,
        "checkpoint taken apart",
        list(cubes),
        field="cube",
        key="tfn_cube",
        default=default,
        valid=lambda v: v in cubes,
        help="TFN's own weights, or LMF's: an LMF is a TFN whose weight tensor has rank r.",
    )
    blocks = _tfn_blocks(*checkpoint_key(cid), digest(inputs), tuple(observed), inputs)
    m = len(blocks.modalities)
    labels = ["0 · the constant 1 only"] + [
        f"{k} · + {steppers.order_name(k)} blocks" for k in range(1, m + 1)
    ]
    k = player(
        page,
        "tfn",
        "upto",
        labels,
        m,
        "Add the outer product's blocks by order: the constant, then each modality alone, "
        "then pairs, then all three together.",
    )
    render_tfn_frame(blocks, k)


def render_tfn_frame(blocks: steppers.TFNBlocks, k: int) -> None:
    """One frame of the tensor-fusion stepper: the cube with blocks above order k veiled,
    the blocks' sizes and contributions, the score from the blocks so far."""
    total = sum(blocks.sizes.values())
    shown = [b for b in blocks.blocks if blocks.order(b) <= k]
    c1, c2, c3 = st.columns(3)
    c1.metric(
        f"score from blocks of order ≤ {k}",
        f"{blocks.scores_by_order[k]:+.3f}",
        f"{blocks.scores_by_order[k] - blocks.score:+.3f} from the full score",
        delta_color="off",
        help="the bias and these blocks' contributions through the output layers",
    )
    c2.metric("full score (every block)", f"{blocks.score:+.3f}")
    c3.metric(
        "entries used so far",
        f"{sum(blocks.sizes[b] for b in shown):,} of {total:,}",
        help="entries of [h₁; 1] ⊗ [h₂; 1] ⊗ [h₃; 1]; each has its own weight per output",
    )
    source = "its own weight tensor" if blocks.source == "tfn" else "LMF's factors, as a TFN"
    chart(
        figs.tfn_cube_figure(
            blocks, title=f"the outer product, blocks outlined (weights: {source})", upto=k
        ),
        key="tfn_cube_fig",
    )
    chart(
        figs.tfn_blocks_figure(blocks, "each block: its size and its part of the fused vector"),
        key="tfn_blocks_fig",
    )
    tri = blocks.blocks[-1]
    st.caption(
        f"The {steppers.order_name(blocks.order(tri))} block {tri} holds "
        f"{blocks.sizes[tri] / total:.0%} of the {total:,} entries: that is where TFN's "
        "parameters go, and what LMF's low rank makes affordable."
    )


def _lmf_body(page, cid, inputs, observed) -> None:
    order = page.widget(
        st.radio,
        "add the rank-one terms",
        ["index", "largest"],
        field="rank_order",
        key="lmf_order",
        default="index",
        valid=lambda v: v in ("index", "largest"),
        format_func=lambda v: {"index": "as stored", "largest": "largest first"}[v],
        help="The sum is the same either way; largest first shows how few ranks carry it.",
        horizontal=True,
    )
    ranks = _lmf_ranks(*checkpoint_key(cid), digest(inputs), tuple(observed), order, inputs)
    labels = ["0 · the bias only"] + [
        f"{k} · + rank {i}" for k, i in enumerate(ranks.order, start=1)
    ]
    k = player(
        page,
        "lmf",
        "ranks_added",
        labels,
        ranks.rank,
        "How many of the rank-one terms λᵢ ∏ₘ (z̃ₘᵀ Wₘ⁽ⁱ⁾) are summed so far.",
    )
    render_lmf_frame(cid, ranks, k)


def render_lmf_frame(cid: str, ranks: steppers.LMFRanks, k: int) -> None:
    """One frame of the LMF stepper: score and parameters against the ranks added, the fused
    vector so far against the full one."""
    c1, c2, c3 = st.columns(3)
    c1.metric(
        f"score after {k} of {ranks.rank} ranks",
        f"{ranks.scores[k]:+.3f}",
        f"{ranks.scores[k] - ranks.scores[-1]:+.3f} from full rank",
        delta_color="off",
    )
    c2.metric(
        f"fusion parameters at rank {k}",
        f"{int(ranks.params[k]):,}",
        help="r · d_h · Σₘ (d_m + 1) + r + d_h: what an LMF of this rank would have",
    )
    c3.metric(
        "a TFN of the same sizes",
        f"{ranks.tfn_params:,}",
        f"{ranks.tfn_params / ranks.params[-1]:,.0f}× LMF at rank {ranks.rank}",
        delta_color="off",
    )
    chart(
        figs.lmf_convergence_figure(ranks, k, f"{cid}: the score as ranks are added"),
        key="lmf_conv",
    )
    chart(
        figs.lmf_fused_figure(ranks, k, "the fused vector h so far (bars) and at full rank"),
        key="lmf_fused",
    )


# ---- MFM's data flow (missing modalities page) ------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def _mfm_flow(root, cid, stamp, key, partner_key, observed, swap, _inputs, _partner):
    model = _load(root, cid, stamp).model
    return steppers.mfm_flow(model, _inputs, _partner, list(observed), list(swap))


def mfm_stepper(
    page: PageRun,
    cid: str,
    model,
    inputs: dict[str, torch.Tensor],
    observed: Sequence[str],
    ds,
    position: int,
) -> None:
    """The "Follow the data through MFM" expander, for a factorised model: inputs → Z_y and
    each Z_a → every reconstruction, stage by stage, and the swap with another test sample."""
    if not model.factorised or not observed:
        return
    box = lazy_expander(
        page, "Follow the data through MFM", "mfm_open", ("stage", "partner", "swap")
    )
    with box:
        if not box.open:
            return
        st.caption(
            "MFM splits what it knows into a **shared** factor Z_y, read from every observed "
            "input together (what the modalities agree on: the digit), and one **private** "
            "factor Z_a per modality, read from that modality alone (its style). Each "
            "modality is decoded from [Z_y, its Z_a]. The swap keeps this sample's Z_y and "
            "takes another sample's Z_a: the same digit in the other sample's style."
        )
        with guard("MFM data flow", model):
            run_stepper(
                "mfm", _mfm_body, page, cid, model, dict(inputs), list(observed), ds, position
            )


def _mfm_body(page, cid, model, inputs, observed, ds, position) -> None:
    test = ds.indices("test")
    private = [g for g in model.latent_groups if g != "y"]
    c1, c2 = st.columns([1, 2])
    mate = int(
        page.widget(
            c1.number_input,
            f"swap partner (test sample 0..{len(test) - 1})",
            0,
            len(test) - 1,
            step=1,
            field="partner",
            key="mfm_partner",
            default=(position + 1) % len(test),
            valid=lambda v: isinstance(v, int) and 0 <= v < len(test),
            help="The test sample whose modality-specific factors (its style) the swap uses.",
        )
    )
    swap = page.widget(
        c2.multiselect,
        "swap the Z_a of",
        private,
        field="swap",
        key="mfm_swap",
        default=private,
        valid=lambda v: isinstance(v, list | tuple) and set(v) <= set(private),
        to_widget=list,
        from_widget=tuple,
        help="The modalities decoded with the partner's private factor instead of their own.",
    )
    from mmviz.explore import sample_batch

    partner = sample_batch(ds, int(test[mate]))
    flow = _mfm_flow(
        *checkpoint_key(cid),
        digest(inputs),
        digest(partner),
        tuple(observed),
        tuple(swap),
        inputs,
        partner,
    )
    labels = [f"{k} · {stage}" for k, stage in enumerate(steppers.MFM_STAGES)]
    k = player(page, "mfm", "stage", labels, len(labels) - 1, "Which part of the flow is lit.")
    st.markdown(f"**Stage {k}: {steppers.MFM_STAGES[k]}**")
    chart(
        figs.mfm_flow_figure(flow, k, ds.specs, partner=f"sample {mate}"),
        key="mfm_flow",
    )
