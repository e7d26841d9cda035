"""Fusion lab: TFN, LMF, early and late fusion side by side on one sentiment utterance, their
parameter counts as sizes change, and the measured speed and accuracy results."""

from __future__ import annotations

import streamlit as st

from mmviz.views import fusion_lab as lab
from mmviz.views.fusion_lab import SNR_STEPS, applies
from ui.cache import (
    catalog,
    checkpoint_files,
    digest,
    lab_bench_view,
    lab_params_view,
    lab_rank_view,
    lab_scores_view,
    lab_utterance_view,
    load_model,
    results_file,
)
from ui.inputs import own_sample
from ui.scenarios import try_these
from ui.sidebar import (
    CHART,
    chart,
    choose_sample,
    explainer,
    guard,
    page_checkpoint,
    through_app,
)
from ui.state import PageRun

through_app()
page = PageRun("fusion_lab")

st.title("🧪 Fusion lab")
explainer(
    "Four models read the words, the face and the voice of a speaker and give one score for how"
    " positive the speaker sounds. Switch an input off or add noise to it and see which way of "
    "combining the three holds on best.",
    "Four ways to combine words, face and voice into one sentiment score. **Early fusion** "
    "concatenates the three streams word by word and reads them with one LSTM. **Late "
    "fusion** predicts from each modality alone and averages. **TFN** takes each modality's "
    "summary $h_m$, appends a 1 and forms their outer product, so every unimodal, bimodal and "
    "trimodal interaction gets its own weight. **LMF** computes the same kind of product "
    "with the weight tensor split into $r$ rank-one factors, never building the product:",
    [
        r"\text{TFN: } h = W \cdot \big(\tilde z_\ell \otimes \tilde z_v \otimes \tilde z_a\big)"
        r",\quad \tilde z_m = [h_m; 1],\qquad \#W = d_h \prod_m (d_m + 1) + d_h",
        r"\text{LMF: } h = \sum_{i=1}^{r} \lambda_i \prod_{m} \big(\tilde z_m^\top "
        r"W_m^{(i)}\big) + b,\qquad \#W = r\, d_h \sum_m (d_m + 1) + r + d_h",
    ],
    "TFN's count grows with the **product** of the sizes, LMF's with their **sum**. Switch a "
    "modality off and a model uses its training mean in its place; add noise at a chosen "
    "signal-to-noise ratio (SNR, in dB: 0 dB is as much noise as signal) and see which "
    "model holds on.",
)
try_these(page)


info, ck, ds = page_checkpoint(
    page,
    applies,
    switch_note="The fusion lab compares sentiment fusion models (TFN, LMF, early and "
    "late fusion).",
)
chosen = ck.model
choice = choose_sample(page, ds, allow_own=True)

fusion_infos = [i for i in catalog() if i.dataset == info.dataset and applies(i) is None]
models = {}
for i in fusion_infos:
    try:
        models[i.id] = load_model(i.id)
    except ValueError as e:
        st.warning(f"{i.id} is left out: {e}")
mods = list(chosen.modalities)
models = lab.comparable(models, mods)
st.caption("Side by side: " + ", ".join(f"**{c}** ({m.name})" for c, m in models.items()))

base = lab.sample_inputs(ds, choice.index, mods)
inputs = base
truth, recipe = (None, None) if choice.own else lab.sample_truth(ds, choice.index)
if choice.own:
    st.subheader("Your words")
    st.caption(
        "Type an utterance; the face and voice traces stay the test sample's (they "
        "cannot be typed), aligned word by word."
    )
    with guard("Your input"):
        typed = [m for m in mods if ds.specs[m].kind == "tokens"]
        own = own_sample(ds.specs, typed, base, key="lown")
        inputs = {m: own.inputs[m] for m in mods}

# ---- controls ------------------------------------------------------------------------------------
st.subheader("The utterance, as the models get it")
ctl = st.columns(len(mods) + 1)
observed, switched, levels = [], {}, {}
for col, m in zip(ctl, mods, strict=False):
    with col:
        page.init(
            f"lab_on_{m}",
            True,
            valid=lambda v: isinstance(v, bool),
            external=page.external_part("on", lambda on, m=m: on.get(m)),
            field="on",
        )
        on = switched[m] = st.checkbox(f"**{m}**", key=f"lab_on_{m}")
        page.init(
            f"lab_snr_{m}",
            "clean",
            valid=lambda v: v in SNR_STEPS,
            external=page.external_part("snr", lambda snr, m=m: snr.get(m)),
            field="snr",
        )
        level = levels[m] = st.select_slider(
            "noise (SNR)",
            SNR_STEPS,
            key=f"lab_snr_{m}",
            format_func=lambda v: v if v == "clean" else f"{v} dB",
            disabled=not on,
        )
        if on:
            observed.append(m)
            if note := lab.noise_note(ds.specs[m].kind, level):
                st.caption(note)
with ctl[-1]:
    seed = int(
        page.widget(
            st.number_input,
            "noise seed",
            0,
            10_000,
            step=1,
            field="seed",
            key="lab_seed",
            default=0,
            valid=lambda v: isinstance(v, int) and 0 <= v <= 10_000,
        )
    )
page.publish("on", switched)
page.publish("snr", levels)
snr = lab.snr_db(levels, observed)
key = digest(inputs)
settings = (tuple(observed), tuple(sorted(snr.items())), seed)

noisy = None
with guard("The utterance"):
    utterance = lab_utterance_view(ds.name, key, *settings, inputs)
    noisy = utterance.noisy
    if utterance.token:
        tok = utterance.token
        shown = " ".join((f":red[~~{a}~~ **{b}**]" if a != b else a) for a, b in utterance.words)
        st.markdown(f"**{tok}**{'' if tok in observed else ' (off)'}: {shown}")
    if truth is not None:
        st.caption(f"true score **{truth:+.2f}** · recipe: **{recipe}**")
    tcols = st.columns(max(1, len(utterance.traces)))
    for col, (m, fig) in zip(tcols, utterance.traces.items(), strict=False):
        with col:
            chart(fig, key=f"lab_trace_{m}", config=CHART)

# ---- scores --------------------------------------------------------------------------------------
st.subheader("Each model's score")
if not observed:
    st.info(
        "Switch on at least one modality: with none, every model only returns its training mean."
    )
elif models:
    scores = None
    with guard("Scores"):
        scores = lab_scores_view(tuple(models), key, *settings, truth, inputs)
        chart(scores.figure, key="lab_scores", config=CHART)
        st.dataframe(
            scores.table.style.format(precision=3, subset=["clean score", "score", "change"]),
            hide_index=True,
        )
    for c, parts in (scores.late if scores is not None else {}).items():
        with guard(f"{c}: per-modality predictions"):
            st.caption(
                f"**{c}** (late fusion) averages its unimodal predictions with learned "
                "weights; an unobserved modality's prediction comes from its training "
                "mean."
            )
            st.dataframe(
                parts.style.format(precision=3, subset=["unimodal score", "weight"]),
                hide_index=True,
            )

# ---- parameters ----------------------------------------------------------------------------------
st.subheader("Parameters of the fusion layer: TFN vs LMF")
dflt = lab.default_sizes(chosen, ds.specs)
pc = st.columns(len(mods) + 2)
dims = {}
for col, m in zip(pc, mods, strict=False):
    page.init(
        f"lab_d_{m}",
        dflt.dims[m],
        valid=lambda v: isinstance(v, int) and 1 <= v <= 256,
        external=page.external_part("sizes", lambda sizes, m=m: sizes.get(m)),
        field="sizes",
    )
    dims[m] = int(
        col.slider(f"d_{m}", 1, 256, key=f"lab_d_{m}", help=f"size of {m}'s representation h_{m}")
    )
page.publish("sizes", dims)
d_h = int(
    page.widget(
        pc[-2].slider,
        "d_h (fused)",
        1,
        256,
        field="fused",
        key="lab_dh",
        default=dflt.d_h,
        valid=lambda v: isinstance(v, int) and 1 <= v <= 256,
        help="size of the fused vector",
    )
)
rank = int(
    page.widget(
        pc[-1].slider,
        "rank r (LMF)",
        1,
        64,
        field="rank",
        key="lab_rank",
        default=dflt.rank,
        valid=lambda v: isinstance(v, int) and 1 <= v <= 64,
    )
)
params = lab_params_view(
    tuple(dims.items()), d_h, rank, (tuple(dflt.dims.items()), dflt.d_h, dflt.rank)
)
counts = params.counts
k1, k2, k3 = st.columns(3)
k1.metric("TFN fusion parameters", f"{counts['tfn']:,}")
k2.metric("LMF fusion parameters", f"{counts['lmf']:,}")
k3.metric("TFN / LMF", f"{counts['ratio']:,.1f}×")
st.caption(
    f"Counted for the sizes set above ({params.sizes.text()}): "
    + (f"**{info.id}**'s own sizes. " if params.own else "sizes you set, not the checkpoint's. ")
    + "From the closed forms in `mmviz/models/fusion.py` (`tfn_fusion_params`, "
    "`lmf_fusion_params`); the test suite checks them against the real TensorFusion and "
    "LowRankFusion modules, and so does the button below for the sizes set here."
)
if st.button("Check against the modules now", key="lab_check"):
    ok, message = lab.check_against_modules(params)
    (st.success if ok else st.error)(message)
f1, f2 = st.columns(2)
with f1:
    chart(params.by_rank, key="lab_params_rank", config=CHART)
with f2:
    chart(params.by_size, key="lab_params_size", config=CHART)

# ---- measured results ----------------------------------------------------------------------------
st.subheader("Measured: speed (fusion benchmark)")
with guard("Fusion benchmark"):
    measured = lab_bench_view(*results_file(lab.FUSION_BENCH))
    if measured is None:
        st.info(
            "No benchmark results yet. Produce them with "
            "`python -m mmviz bench fusion --json > results/fusion_bench.json` "
            "(a few minutes on a CPU), then reload."
        )
    else:
        bench, bench_view = measured
        chart(bench_view.figure, key="lab_bench", config=CHART)
        st.dataframe(bench_view.table)
        with guard("Benchmark sizes"):
            if note := lab.bench_sizes_note(bench, ds.specs, params):
                st.caption(note)
        st.caption(bench_view.caption)

st.subheader("Measured: accuracy against LMF's rank")
with guard("Rank study"):
    rank_view = lab_rank_view(*results_file(lab.LMF_RANK))
    if rank_view is None:
        st.info(
            "No rank study yet. Produce it with `python -m mmviz study lmf-rank` "
            "(it writes results/lmf-rank.json)."
        )
    else:
        chart(rank_view.figure, key="lab_rank_fig", config=CHART)
        st.dataframe(
            rank_view.summary.style.format(
                precision=3, subset=["acc2", "acc2_std", "mae", "mae_std"]
            ),
            hide_index=True,
        )

st.subheader("Measured: accuracy per interaction recipe")
with guard("Accuracy per recipe"):
    recipes = lab.build_recipes_view(
        {c: checkpoint_files(c)[1] for c in models}, {c: m.name for c, m in models.items()}
    )
    if recipes.figure is None:
        st.info(
            "No fusion checkpoint has per-recipe metrics yet: evaluate them with "
            "`python -m mmviz eval <id>`."
        )
    else:
        chart(recipes.figure, key="lab_recipes", config=CHART)
        st.caption(
            "Synergy (sarcasm) needs the words *and* the voice or face together; "
            "negation needs word order. Late fusion cannot model the first."
        )

# ---- step by step: TFN's cube by blocks, LMF one rank at a time ----------------------------------
from ui.steppers import fusion_stepper  # noqa: E402 - the page's own block, kept self-contained

if noisy is not None:
    fusion_stepper(page, models, info.id, noisy, observed)

page.finish()
