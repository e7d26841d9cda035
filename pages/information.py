"""Information: what latent dimensions know about the ground-truth factors (MI, MIG, SAP, DCI),
MFM's shared vs modality-specific factors, and the PID of modality pairs per sentiment recipe."""

from __future__ import annotations

import time

import streamlit as st

from mmviz import explore
from mmviz.report import DOMINANT_MIN_BITS
from ui.cache import (
    catalog,
    digest,
    information_comparable_view,
    information_metrics_view,
    information_mi_view,
    mfm_gradients_view,
    mfm_information_view,
    missing_drop_view,
    pid_view,
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


APP_ESTIMATORS = (
    "**This app's estimators** (fast, not the published definitions): **SAP**: per "
    "dimension and factor, R² of a linear fit (continuous factors) or the chance-corrected "
    "balanced accuracy of a 20-bin one-dimension classifier (categorical), then the gap of the "
    "best two; **DCI**: one forest of 10 extremely randomised trees (depth 8, every dimension "
    "at each split) per factor, importances from impurity decrease, informativeness = test "
    "accuracy or R². To set figures beside published ones, use disentanglement_lib's "
    "definitions below."
)


def comparable(cid: str) -> None:
    """SAP and DCI as disentanglement_lib defines them, for this checkpoint, on demand."""
    st.subheader("Comparable with published figures: disentanglement_lib's SAP and DCI")
    st.caption(
        "**SAP**: `LinearSVC(C=0.01)` on each dimension alone per categorical factor (squared "
        "correlation for continuous ones); test accuracy, not chance-corrected, so a perfect "
        "code scores 1 - chance per factor. **DCI**: sklearn's `GradientBoostingClassifier()` "
        "per factor (continuous factors in 10 equal-mass bins), disentanglement and "
        "completeness from the importance entropies, informativeness = test accuracy. Same "
        f"{LIMIT} test codes, 70/30 split (disentanglement_lib draws 10,000 + 5,000 fresh ones)."
    )
    on = st.toggle(
        "Compute them for this checkpoint",
        key="info_dlib",
        help="About 2 minutes on 2 busy cores (100 boosted trees per class and factor); "
        "computed once per checkpoint, then cached.",
    )
    if not on:
        return
    with st.spinner("disentanglement_lib's SAP and DCI: about 2 minutes, once…"):
        table = timed(
            f"disentanglement_lib's SAP and DCI of {cid}", information_comparable_view, cid, LIMIT
        )
    st.dataframe(table.style.format(precision=3), key="info_dlib_table")


# ---- 1. latent dimensions vs factors -------------------------------------------------------------
st.header("Latent dimensions against the ground-truth factors")
if not model.latent_groups:
    st.info(
        f"**{info.id}** ({info.model}) has no latent space, so there is no MI matrix for "
        "it: choose a generative checkpoint (MVAE, JMVAE, MFM) for this section."
    )
else:
    with guard("MI matrix"):
        mi = timed(
            f"MI, MIG, SAP and DCI of {info.id} over {LIMIT} test samples",
            information_mi_view,
            info.id,
            LIMIT,
        )
        chart(mi.figure, key="info_mi", config=CHART)
        st.caption(
            f"MI estimator: **{mi.estimator}** (latents binned into 20 equal-width bins, "
            "continuous factors into 10 equal-mass bins). Bookkeeping ids (which source "
            "image, which noise seed) are left out; the dataset's targets are included."
        )
    with guard("MIG / SAP / DCI table"):
        others = tuple(
            i.id for i in catalog() if i.dataset == info.dataset and i.generative and not i.problem
        )
        metrics = information_metrics_view(others, LIMIT)
        for cid, why in metrics.left_out.items():
            st.caption(f"{cid}: left out ({why})")
        if metrics.table is not None:
            st.markdown(
                f"**Every generative checkpoint of `{info.dataset}`** ({LIMIT} test samples each)"
            )
            st.dataframe(metrics.table.style.format(precision=3), key="info_table")
            chart(metrics.bars, key="info_bars", config=CHART)
            st.caption(APP_ESTIMATORS)
    with guard("disentanglement_lib's SAP and DCI"):
        comparable(info.id)

# ---- 2. MFM --------------------------------------------------------------------------------------
st.header("MFM: shared vs modality-specific factors")
if not model.factorised:
    st.info(
        f"This section is for MFM checkpoints (Tsai et al. 2019), whose representation is "
        f"split into a shared factor and one factor per modality; **{info.id}** is "
        f"{info.model}."
    )
else:
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
        mfm = timed(
            f"I(F; X^) over {MFM_N} test samples", mfm_information_view, info.id, MFM_N, est
        )
        chart(mfm.figure, key="info_mfm_mi", config=CHART)
        st.dataframe(
            mfm.table.style.format(precision=3, subset=["I_shared", "I_specific", "ratio"]),
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
        x = {
            m: t for m, t in explore.sample_batch(ds, choice.index).items() if m in model.modalities
        }
        grads = timed(
            f"‖∂F_y/∂X‖² averaged over {GRAD_N} test samples",
            mfm_gradients_view,
            info.id,
            GRAD_N,
            digest(x),
            choice.position,
            x,
        )
        if grads.time is not None:
            chart(grads.time, key="info_grad_time", config=CHART)
        for m, (figure, shown) in grads.maps.items():
            chart(figure, key=f"info_grad_{m}", config=CHART)
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
        if grads.totals:
            st.caption(
                "One number per input (no positions): "
                + ", ".join(f"{m} {v:.3g}" for m, v in grads.totals.items())
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
            "BROJA PID of every modality pair per recipe (test split)", pid_view, ds.name, "broja"
        )
        chart(pid.figure, key="info_pid", config=CHART)
        st.caption(
            f"Measure: **{pid.measure}**. Cues: a logistic regression on the bag of "
            "words (language), k-means clusters of pooled features (visual, acoustic). "
            f"The largest measured term matches the recipe in {pid.agree} of "
            f"{pid.checked} recipe-pairs; pairs telling < {DOMINANT_MIN_BITS} bits count as "
            "'none'. Negation lives in word order, which bag-of-words cues cannot see."
        )
        st.dataframe(
            pid.table.style.format(
                precision=3, subset=["redundancy", "unique1", "unique2", "synergy", "total"]
            ),
            hide_index=True,
            key="info_pid_table",
        )
    with guard("Missing-modality drop"):
        drop = missing_drop_view(ds.name)
        st.subheader("Each model's accuracy drop when modalities go missing")
        if drop.figure is None:
            st.info(
                "No sentiment checkpoint has missing-modality metrics yet: evaluate one "
                "with `python -m mmviz eval <id>`."
            )
        else:
            chart(drop.figure, key="info_drop", config=CHART)
            st.caption(
                "A large drop for a missing modality means the model relies on it; "
                "compare with the unique information that modality carries above."
            )

page.finish()
