"""Information: what latent dimensions know about the ground-truth factors (MI, MIG, SAP, DCI),
MFM's shared vs modality-specific factors, and the PID of modality pairs per sentiment recipe."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from mmviz import explore
from mmviz import report as rep
from mmviz.fusionlab import words_of
from mmviz.plots import information as figs
from mmviz.views.information import gradient_maps
from ui.cache import (
    catalog,
    checkpoint_files,
    digest,
    disentanglement,
    mfm_gradients_average,
    mfm_gradients_sample,
    mfm_information,
    pid_table,
    test_images,
)
from ui.scenarios import try_these
from ui.sidebar import CHART, chart, choose_sample, explainer, guard, page_checkpoint, through_app
from ui.state import PageRun

through_app()
page = PageRun("information")

LIMIT = 1000  # test samples for the dataset-level measures
MFM_N = 500  # test samples for MFM's information estimate
GRAD_N = 200  # test samples averaged in MFM's gradient view

st.title("📐 Information")
explainer(
    "These charts measure how much each of the model's inner numbers tells you about a known "
    "property of the data, such as the digit or its colour. A tidy model keeps each property in"
    " a number of its own, and the scores say how close it comes to that.",
    "How much does each latent dimension $z_j$ tell about each ground-truth factor $v_k$ "
    "(a digit's colour, a sentence's recipe…)? The **mutual information** matrix answers it, "
    'normalised by the factor\'s entropy so 1 means "knows it completely". A '
    "*disentangled* code puts each factor in one dimension: **MIG** is the gap between the "
    "best and second-best dimension per factor, **SAP** the same gap in how well one "
    "dimension alone predicts the factor, **DCI** asks a predictor which dimensions it uses.",
    [
        r"I(z_j; v_k) = \sum p(z_j, v_k)\log\frac{p(z_j, v_k)}{p(z_j)\,p(v_k)},\qquad "
        r"\mathrm{MIG} = \frac{1}{K}\sum_k \frac{I(z_{j^{(1)}}; v_k) - "
        r"I(z_{j^{(2)}}; v_k)}{H(v_k)}",
        r"I(X_1, X_2; Y) = \underbrace{R}_{\text{redundant}} + \underbrace{U_1 + U_2}"
        r"_{\text{unique}} + \underbrace{S}_{\text{synergy}}",
    ],
    "For **MFM**, the generated modality $\\hat X_i$ comes from the shared factor $F_y$ and "
    "its own factor $F_{a_i}$: we measure $I(F_y; \\hat X_i)$ against $I(F_{a_i}; \\hat X_i)$ "
    "and how strongly $F_y$ reacts to each input position, $\\|\\partial F_y / \\partial "
    "X_i(t)\\|^2$. The **partial information decomposition** (second formula) splits what "
    "two modalities tell about the label into what both tell (redundancy), what only one "
    "tells (unique) and what only both together tell (synergy); the sentiment recipes build "
    "each kind in on purpose, so the measured split can be checked against the truth.",
)
try_these(page)


def applies(i) -> str | None:
    if i.problem:
        return i.problem
    if i.generative or i.dataset == "sentiment":
        return None
    if i.oracle:
        return "it is an oracle classifier: it has no latent factors, and PID is about sentiment"
    return f"it is a {i.model} model on {i.dataset} with no latent factors"


info, ck, ds = page_checkpoint(page, applies)
model = ck.model
choice = choose_sample(page, ds)


def timed(label: str, fn, *args):
    """Run a (cached) dataset-level computation and say how long it took."""
    t0 = time.perf_counter()
    out = fn(*args)
    dt = time.perf_counter() - t0
    st.caption(
        f"{label}: ready in {dt:.2f} s"
        + (" (computed once, then cached)" if dt > 0.2 else " (from the cache)")
    )
    return out


# ---- 1. latent dimensions vs factors -------------------------------------------------------------
st.header("Latent dimensions against the ground-truth factors")
if not model.latent_groups:
    st.info(
        f"**{info.id}** ({info.model}) has no latent space, so there is no MI matrix for "
        "it: choose a generative checkpoint (MVAE, JMVAE, MFM) for this section."
    )
else:
    with guard("MI matrix"):
        res = timed(
            f"MI, MIG, SAP and DCI of {info.id} over {LIMIT} test samples",
            disentanglement,
            info.id,
            LIMIT,
        )
        chart(
            figs.mi_heatmap(
                res.mi.normalized,
                f"{info.id}: MI(dimension; factor) / H(factor) · estimator: {res.mi.estimator}",
            ),
            key="info_mi",
            config=CHART,
        )
        st.caption(
            f"MI estimator: **{res.mi.estimator}** (latents binned into 20 equal-width bins, "
            "continuous factors into 10 equal-mass bins). Bookkeeping ids (which source "
            "image, which noise seed) are left out; the dataset's targets are included."
        )
    with guard("MIG / SAP / DCI table"):
        others = [
            i for i in catalog() if i.dataset == info.dataset and i.generative and not i.problem
        ]
        rows = []
        for other in others:
            try:
                r = disentanglement(other.id, LIMIT)
            except Exception as e:  # noqa: BLE001 - one bad checkpoint leaves the rest
                st.caption(f"{other.id}: left out ({type(e).__name__}: {e})")
                continue
            rows.append(rep.disentanglement_row(other.id, r, LIMIT))
        if rows:
            table = pd.DataFrame(rows).set_index("checkpoint")
            st.markdown(
                f"**Every generative checkpoint of `{info.dataset}`** ({LIMIT} test samples each)"
            )
            st.dataframe(table.style.format(precision=3), key="info_table")
            chart(
                figs.metric_bars(
                    table,
                    ["MIG", "SAP", "DCI disentanglement"],
                    "disentanglement per checkpoint (higher: one factor per dimension)",
                ),
                key="info_bars",
                config=CHART,
            )

# ---- 2. MFM --------------------------------------------------------------------------------------
st.header("MFM: shared vs modality-specific factors")
if not model.factorised:
    st.info(
        f"This section is for MFM checkpoints (Tsai et al. 2019), whose representation is "
        f"split into a shared factor and one factor per modality; **{info.id}** is "
        f"{info.model}."
    )
else:
    inputs_m = model.input_modalities
    st.subheader("Information-based: which factor drives each generated modality")
    est_labels = {
        "gaussian": "Gaussian (log-det, fast)",
        "knn": "KSG kNN",
        "both": "both (compare)",
    }
    est = page.widget(
        st.radio,
        "MI estimator",
        list(est_labels),
        field="estimator",
        key="info_est",
        default="gaussian",
        valid=lambda v: v in est_labels,
        format_func=est_labels.get,
        horizontal=True,
    )
    with guard("MFM information"):
        table = timed(f"I(F; X^) over {MFM_N} test samples", mfm_information, info.id, MFM_N, est)
        chart(
            figs.factor_information_figure(
                table, "information about each generated modality (nats)"
            ),
            key="info_mfm_mi",
            config=CHART,
        )
        show = table[["modality", "estimator", "I_shared", "I_specific", "ratio", "n"]]
        st.dataframe(
            show.style.format(precision=3, subset=["I_shared", "I_specific", "ratio"]),
            hide_index=True,
        )
        st.caption(
            "Estimator named in each row. r = I(F_a; X^) / I(F_y; X^): above 1 the "
            "modality-specific factor drives the generation more than the shared one. X^ is "
            "measured at a resolution (observed with Gaussian noise at 20 dB), since a "
            "deterministic decoder would make the true MI infinite."
        )
    st.subheader("Gradient-based: where the shared factor looks")
    with guard("MFM gradients"):
        avg = timed(
            f"‖∂F_y/∂X‖² averaged over {GRAD_N} test samples",
            mfm_gradients_average,
            info.id,
            GRAD_N,
        )
        x = {
            m: t for m, t in explore.sample_batch(ds, choice.index).items() if m in model.modalities
        }
        one = mfm_gradients_sample(info.id, digest(x), x)
        curves = {m for m, v in avg.items() if np.asarray(v).ndim == 1 and np.asarray(v).size > 1}
        maps = {m for m, v in avg.items() if np.asarray(v).ndim == 2}
        tok = next((m for m, s in ds.specs.items() if s.kind == "tokens"), None)
        labels = None
        if curves and tok is not None and ds.name == "sentiment":
            labels = [
                f"{i}·{w}" for i, w in enumerate(words_of(x[tok][0].numpy(), ds.specs[tok].vocab))
            ]
        if curves:
            chart(
                figs.gradient_time_figure(
                    {
                        "average": {m: avg[m] for m in curves},
                        f"sample {choice.position}": {m: one[m] for m in curves},
                    },
                    labels,
                    "‖∂F_y/∂X_i(t)‖² over time (solid: average; dashed: this sample)",
                ),
                key="info_grad_time",
                config=CHART,
            )
        for m in sorted(maps, key=inputs_m.index):
            shown = gradient_maps(
                {f"{m}: average": avg[m], f"{m}: sample {choice.position}": one[m]},
                test_images(ds.name, m),
            )
            chart(
                figs.gradient_map_figure(shown.maps, f"‖∂F_y/∂{m}‖² per pixel"),
                key=f"info_grad_{m}",
                config=CHART,
            )
            notes = []
            if shown.blank_pixels:
                notes.append(
                    f"grey: the {shown.blank_pixels} pixels that are blank in every test image "
                    "(their gradients come from weights no data ever moved)"
                )
            if shown.smoothed:
                notes.append(
                    f"smoothed over 2×2 pixels: {shown.checkerboard_share:.0%} of the raw map "
                    "alternated from pixel to pixel, as a strided convolution's gradient does"
                )
            if notes:
                st.caption(f"`{m}`: " + "; ".join(notes) + ".")
        rest = [m for m in avg if m not in curves and m not in maps]
        if rest:
            st.caption(
                "One number per input (no positions): "
                + ", ".join(f"{m} {float(np.asarray(avg[m]).sum()):.3g}" for m in rest)
            )

# ---- 3. PID per recipe ------------------------------------------------------------------------
st.header("Partial information decomposition per sentiment recipe")
if "interaction" not in ds.factors:
    st.info(
        f"The PID is checked against the `sentiment` dataset's recipes (redundant, unique, "
        f"synergy, negation), its ground truth; `{ds.name}` has none. Choose a sentiment "
        "checkpoint to see it."
    )
else:
    with guard("PID"):
        pid = timed(
            "BROJA PID of every modality pair per recipe (test split)", pid_table, ds.name, "broja"
        )
        chart(
            figs.pid_figure(
                pid,
                "PID terms (bits) per recipe; above each bar: "
                "the recipe's ground truth (✓ = largest measured term)",
            ),
            key="info_pid",
            config=CHART,
        )
        agree = pid["agrees"].dropna()
        st.caption(
            f"Measure: **{pid['measure'].iloc[0]}**. Cues: a logistic regression on the bag of "
            "words (language), k-means clusters of pooled features (visual, acoustic). "
            f"The largest measured term matches the recipe in {int(agree.sum())} of "
            f"{len(agree)} recipe-pairs; pairs telling < {rep.DOMINANT_MIN_BITS} bits count as "
            "'none'. Negation lives in word order, which bag-of-words cues cannot see."
        )
        cols = [
            "group",
            "modality1",
            "modality2",
            "redundancy",
            "unique1",
            "unique2",
            "synergy",
            "total",
            "truth",
            "measured",
            "agrees",
            "truth_note",
        ]
        st.dataframe(
            pid[cols].style.format(
                precision=3, subset=["redundancy", "unique1", "unique2", "synergy", "total"]
            ),
            hide_index=True,
            key="info_pid_table",
        )
    with guard("Missing-modality drop"):
        metas = {}
        for i in catalog():
            if i.dataset == ds.name and not i.problem:
                try:
                    metas[i.id] = checkpoint_files(i.id)[1]
                except ValueError:
                    continue
        drop = rep.missing_drop_table(metas)
        st.subheader("Each model's accuracy drop when modalities go missing")
        if drop.empty:
            st.info(
                "No sentiment checkpoint has missing-modality metrics yet: evaluate one "
                "with `python -m mmviz eval <id>`."
            )
        else:
            chart(
                figs.missing_drop_figure(drop, "acc2 lost (from meta.json metrics 'missing')"),
                key="info_drop",
                config=CHART,
            )
            st.caption(
                "A large drop for a missing modality means the model relies on it; "
                "compare with the unique information that modality carries above."
            )

page.finish()
