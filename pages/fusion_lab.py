"""Fusion lab: TFN, LMF, early and late fusion side by side on one sentiment utterance, their
parameter counts as sizes change, and the measured speed and accuracy results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mmviz import explore
from mmviz import fusionlab as lab
from mmviz.data.noise import token_noise_fraction
from mmviz.models.fusion import FusionConfig, LMFConfig
from mmviz.plots import fusion as figs
from ui.cache import (
    catalog,
    checkpoint_files,
    digest,
    fusion_bench,
    lab_scores,
    load_model,
    rank_study,
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

SNR_STEPS = ["clean", 30, 20, 10, 5, 0, -5, -10, -20]

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


def applies(i) -> str | None:
    if i.problem:
        return i.problem
    if i.model in lab.FUSION_MODELS:
        return None
    if i.oracle:
        return "it is an oracle classifier; the lab compares TFN, LMF, early and late fusion"
    return (
        f"it is a {i.model} model on {i.dataset}; the lab compares the sentiment fusion "
        "models (TFN, LMF, early and late fusion)"
    )


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
models = {c: m for c, m in models.items() if list(m.modalities) == mods}
st.caption("Side by side: " + ", ".join(f"**{c}** ({m.name})" for c, m in models.items()))

base = {m: x for m, x in explore.sample_batch(ds, choice.index).items() if m in mods}
inputs = base
truth = None if choice.own else float(ds.targets["score"][choice.index])
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
observed, snr, switched, levels = [], {}, {}, {}
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
        if on and level != "clean":
            snr[m] = float(level)
            if ds.specs[m].kind == "tokens":
                st.caption(f"{token_noise_fraction(float(level)):.0%} of words replaced")
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

tok = next((m for m in mods if ds.specs[m].kind == "tokens"), None)
vocab = {m: ds.specs[m].num_classes for m in mods if ds.specs[m].kind == "tokens"}
noisy = lab.perturb(inputs, snr, vocab, seed)
words = lab.words_of(inputs[tok][0].numpy(), ds.specs[tok].vocab) if tok else None
with guard("The utterance"):
    if tok:
        clean_w = lab.words_of(inputs[tok][0].numpy(), ds.specs[tok].vocab)
        noisy_w = lab.words_of(noisy[tok][0].numpy(), ds.specs[tok].vocab)
        shown = " ".join(
            (f":red[~~{a}~~ **{b}**]" if a != b else a)
            for a, b in zip(clean_w, noisy_w, strict=True)
            if a != "·"
        )
        st.markdown(f"**{tok}**{'' if tok in observed else ' (off)'}: {shown}")
    if truth is not None:
        recipe = ds.info.get("interactions", [])
        r = int(ds.factors["interaction"][choice.index]) if "interaction" in ds.factors else -1
        st.caption(
            f"true score **{truth:+.2f}** · recipe: "
            f"**{recipe[r] if 0 <= r < len(recipe) else '?'}**"
        )
    tcols = st.columns(max(1, len(mods) - (1 if tok else 0)))
    for col, m in zip(tcols, [m for m in mods if m != tok], strict=False):
        with col:
            x = noisy[m][0].numpy()
            names = lab.feature_names(ds.info, m, x.shape[-1])
            note = "" if m in observed else " · off: the models use its training mean"
            snr_note = f" · SNR {snr[m]:g} dB" if m in snr else ""
            chart(
                figs.traces_figure(
                    x,
                    names,
                    words,
                    inputs[m][0].numpy() if m in snr else None,
                    f"{m}{snr_note}{note}",
                ),
                key=f"lab_trace_{m}",
                config=CHART,
            )

# ---- scores --------------------------------------------------------------------------------------
st.subheader("Each model's score")
if not observed:
    st.info(
        "Switch on at least one modality: with none, every model only returns its training mean."
    )
elif models:
    with guard("Scores"):
        table = lab_scores(
            tuple(models),
            digest(inputs),
            tuple(observed),
            tuple(sorted(snr.items())),
            seed,
            truth,
            inputs,
        )
        chart(
            figs.scores_figure(table, truth, "score as set vs clean"),
            key="lab_scores",
            config=CHART,
        )
        st.dataframe(
            table.style.format(precision=3, subset=["clean score", "score", "change"]),
            hide_index=True,
        )
    late = [c for c, m in models.items() if m.combines_unimodal_predictions]
    for c in late:
        with guard(f"{c}: per-modality predictions"):
            parts = lab.late_fusion_parts(
                models[c], lab.perturb(inputs, snr, vocab, seed), observed
            )
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
try:
    dflt_dims = lab.model_dims(chosen)
    dflt_h = int(chosen.config.fusion_dim)
except (ValueError, AttributeError):
    cfg = FusionConfig()
    dflt_dims = {
        m: (cfg.token_dim if ds.specs[m].kind == "tokens" else cfg.sequence_dim) for m in mods
    }
    dflt_h = cfg.fusion_dim
dflt_rank = int(getattr(chosen.config, "rank", LMFConfig().rank))
pc = st.columns(len(mods) + 2)
dims = {}
for col, m in zip(pc, mods, strict=False):
    page.init(
        f"lab_d_{m}",
        dflt_dims.get(m, 32),
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
        default=dflt_h,
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
        default=dflt_rank,
        valid=lambda v: isinstance(v, int) and 1 <= v <= 64,
    )
)
counts = lab.param_counts(list(dims.values()), d_h, rank)
k1, k2, k3 = st.columns(3)
k1.metric("TFN fusion parameters", f"{counts['tfn']:,}")
k2.metric("LMF fusion parameters", f"{counts['lmf']:,}")
k3.metric("TFN / LMF", f"{counts['ratio']:,.1f}×")


def sizes_text(d: dict[str, int], h: int) -> str:
    return ", ".join(f"d_{m} = {v}" for m, v in d.items()) + f", d_h = {h}"


lab_sizes = sizes_text(dims, d_h)
own = dims == {m: int(dflt_dims.get(m, 32)) for m in mods} and d_h == dflt_h
st.caption(
    f"Counted for the sizes set above ({lab_sizes}): "
    + (f"**{info.id}**'s own sizes. " if own else "sizes you set, not the checkpoint's. ")
    + "From the closed forms in `mmviz/models/fusion.py` (`tfn_fusion_params`, "
    "`lmf_fusion_params`); the test suite checks them against the real TensorFusion and "
    "LowRankFusion modules, and so does the button below for the sizes set here."
)
if st.button("Check against the modules now", key="lab_check"):
    real = lab.module_param_counts(list(dims.values()), d_h, rank)
    ok = real["tfn"] == counts["tfn"] and real["lmf"] == counts["lmf"]
    (st.success if ok else st.error)(
        f"modules: TFN {real['tfn']:,}, LMF {real['lmf']:,} parameters "
        + ("✓ equal to the formulas" if ok else "✗ differ from the formulas")
    )
f1, f2 = st.columns(2)
with f1:
    ranks = sorted({1, 2, 4, 8, 16, 32, 64, rank})
    chart(
        figs.params_figure(
            lab.params_vs_rank(list(dims.values()), d_h, ranks),
            "rank",
            "against the rank (sizes as set)",
            mark=rank,
        ),
        key="lab_params_rank",
        config=CHART,
    )
with f2:
    chart(
        figs.params_figure(
            lab.params_vs_size(list(dims.values()), d_h, rank),
            "scale",
            "every d_m scaled (rank as set)",
            mark=1,
        ),
        key="lab_params_size",
        config=CHART,
    )

# ---- measured results ----------------------------------------------------------------------------
st.subheader("Measured: speed (fusion benchmark)")
with guard("Fusion benchmark"):
    path, mtime = results_file(lab.FUSION_BENCH)
    bench = fusion_bench(path, mtime)
    if bench is None:
        st.info(
            "No benchmark results yet. Produce them with "
            "`python -m mmviz bench fusion --json > results/fusion_bench.json` "
            "(a few minutes on a CPU), then reload."
        )
    else:
        chart(
            figs.bench_figure(bench["ratios"], "LMF vs TFN, measured here"),
            key="lab_bench",
            config=CHART,
        )
        raw = pd.DataFrame(
            {
                k: {
                    "fusion params": bench[k].get("fusion_params"),
                    "total params": bench[k].get("total_params"),
                    "train samples/s": bench[k].get("train_samples_per_s"),
                    "inference samples/s": bench[k].get("infer_samples_per_s"),
                }
                for k in ("tfn", "lmf")
                if isinstance(bench.get(k), dict)
            }
        )
        st.dataframe(raw)
        cfg = (bench.get("config") or {}).get("tfn")
        if isinstance(cfg, dict) and isinstance(bench.get("tfn"), dict):
            with guard("Benchmark sizes"):
                kind_dim = {
                    m: "token_dim" if ds.specs[m].kind == "tokens" else "sequence_dim" for m in mods
                }
                bench_dims = {
                    m: int((cfg.get("dims") or {}).get(m, cfg[kind_dim[m]])) for m in mods
                }
                n_tfn = bench["tfn"].get("fusion_params")
                st.caption(
                    f"Why TFN has {n_tfn:,} fusion parameters here and {counts['tfn']:,} above: "
                    f"the benchmark builds both models at its `{bench.get('sizes', '?')}` sizes "
                    f"({sizes_text(bench_dims, int(cfg['fusion_dim']))}), the parameter counts "
                    f"above use the sizes set there ({lab_sizes}). TFN's count grows with the "
                    "product of the (d_m + 1), so a few sizes make a large difference."
                    if n_tfn != counts["tfn"]
                    else f"The benchmark's sizes ({sizes_text(bench_dims, int(cfg['fusion_dim']))})"
                    " are the ones set above: the same TFN count."
                )
        st.caption(
            f"sizes `{bench.get('sizes', '?')}`, batch {bench.get('batch_size', '?')}, "
            f"{bench.get('threads', '?')} thread(s), median of {bench.get('repeats', '?')} "
            "repeats; TFN and LMF share sub-networks and output layers, so differences "
            "come from the fusion layer alone."
        )

st.subheader("Measured: accuracy against LMF's rank")
with guard("Rank study"):
    path, mtime = results_file(lab.LMF_RANK)
    rows = rank_study(path, mtime)
    if rows is None:
        st.info(
            "No rank study yet. Produce it with `python -m mmviz study lmf-rank` "
            "(it writes results/lmf-rank.json)."
        )
    else:
        summary = lab.rank_summary(rows)
        chart(
            figs.rank_figure(summary, rows, "binary accuracy (test) against rank"),
            key="lab_rank_fig",
            config=CHART,
        )
        st.dataframe(
            summary.style.format(precision=3, subset=["acc2", "acc2_std", "mae", "mae_std"]),
            hide_index=True,
        )

st.subheader("Measured: accuracy per interaction recipe")
with guard("Accuracy per recipe"):
    metas = {c: checkpoint_files(c)[1] for c in models}
    inter = lab.interaction_table(metas)
    if inter.empty:
        st.info(
            "No fusion checkpoint has per-recipe metrics yet: evaluate them with "
            "`python -m mmviz eval <id>`."
        )
    else:
        kinds = {c: m.name for c, m in models.items()}
        chart(
            figs.interaction_figure(inter, kinds, "acc2 per recipe (test split)"),
            key="lab_recipes",
            config=CHART,
        )
        st.caption(
            "Synergy (sarcasm) needs the words *and* the voice or face together; "
            "negation needs word order. Late fusion cannot model the first."
        )

# ---- step by step: TFN's cube by blocks, LMF one rank at a time ----------------------------------
from ui.steppers import fusion_stepper  # noqa: E402 - the page's own block, kept self-contained

fusion_stepper(page, models, info.id, noisy, observed)

page.finish()
