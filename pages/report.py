"""Model report: a checkpoint's training curves, every evaluation metric, its config and
provenance (with the weights checksum verified), and the metrics as CSV / JSON downloads."""

from __future__ import annotations

import streamlit as st

from ui.cache import checkpoint_files, provenance, report_view
from ui.sidebar import CHART, chart, choose_checkpoint, explainer, guard, through_app
from ui.state import PageRun

through_app()
page = PageRun("report")

st.title("📋 Model report")
explainer(
    "This page is everything recorded about one trained model: how its training went, what the "
    "tests measured and how it was built. A check mark says the saved model file is exactly the"
    " one that produced these numbers.",
    "Everything recorded about one checkpoint: how training went (the loss on the training "
    "and validation data per epoch; training stops when validation stops improving), what "
    "the evaluation measured, the settings that rebuild the model and where it came from. "
    "**Coherence** is how often an independent oracle classifier recognises the source's "
    "class in a modality generated from it; **log-likelihoods** are importance-weighted "
    "estimates with $K$ samples from the posterior:",
    [
        r"\text{coherence}_{S\to j} = \frac{1}{N}\sum_{n} \mathbb{1}\big["
        r"\text{oracle}_j(\hat x_j^{(n)}) = c^{(n)}\big],\quad \hat x_j \sim p(x_j\mid z),"
        r"\ z \sim q(z\mid X_S)",
        r"\log p(x) \approx \log \frac{1}{K}\sum_{k=1}^{K} "
        r"\frac{p(x \mid z_k)\,p(z_k)}{q(z_k \mid x)},\qquad z_k \sim q(z\mid x)",
    ],
    "The **robustness table** shows the accuracy with only some modalities observed: each "
    "row is one observed subset, its coloured cells are the modalities it observes. The "
    "weights' **checksum** recorded at training is recomputed from the file: ✓ means the "
    "weights are exactly those that produced these numbers.",
)

info = choose_checkpoint(page, lambda i: None)
if info is None:
    page.stop()
files = view = None
with guard(f"Checkpoint {info.id}"):
    files = checkpoint_files(info.id)
    view = report_view(info.id, tuple(info.modalities))
if files is None or view is None:
    page.stop()
meta = files[1]
st.markdown(f"### {info.id}")
st.caption(
    f"**{view.model}** on `{view.dataset}` · modalities {', '.join(view.modalities)} · {view.paper}"
)

# ---- training ------------------------------------------------------------------------------------
st.header("Training")
with guard("Training curves"):
    view.check("Training curves")
    if view.curves is None:
        st.info("meta.json records no training curves for this checkpoint.")
    else:
        chart(view.curves, key="rep_curves", config=CHART)
        st.dataframe(view.phases)
        if view.settings:
            st.caption(view.settings)

# ---- metrics -------------------------------------------------------------------------------------
st.header("Evaluation")
if not view.metrics:
    st.info(f"No evaluation metrics recorded yet: run `python -m mmviz eval {info.id}`.")
else:
    with guard("Headline metrics"):
        view.check("Headline metrics")
        if view.headline:
            cols = st.columns(len(view.headline))
            for col, (label, text) in zip(cols, view.headline, strict=True):
                col.metric(label, text)
    with guard("Missing-modality robustness"):
        view.check("Missing-modality robustness")
        for t in view.robustness:
            chart(t.figure, key=f"rep_robust_{t.metric}", config=CHART)
            for subset, why in t.notes.items():
                st.caption(f"`{subset}`: not supported: {why}")
        if view.recipes is not None:
            chart(view.recipes, key="rep_robust_recipes", config=CHART)
            st.caption(
                "Read a column down: a recipe told by one modality only (unique_visual) should "
                "fall to chance (50%, white) when that modality is missing, while redundant "
                "utterances, told by every modality, stay right."
            )
    with guard("Coherence"):
        view.check("Coherence")
        for k, fig in view.coherence.items():
            chart(fig, key=f"rep_{k}", config=CHART)
    with guard("Log-likelihoods"):
        view.check("Log-likelihoods")
        if not view.loglik.empty:
            st.markdown("**Log-likelihoods** (nats, importance-weighted; higher is better)")
            st.dataframe(view.loglik, hide_index=True)
    with guard("Per recipe"):
        view.check("Per recipe")
        if view.by_interaction is not None:
            st.markdown("**Binary accuracy per interaction recipe**")
            st.dataframe(view.by_interaction.style.format("{:.1%}"))
    with guard("All metrics"):
        view.check("All metrics")
        with st.expander(f"All {len(view.flat)} recorded metrics"):
            st.dataframe(view.flat, hide_index=True)
        d1, d2 = st.columns(2)
        d1.download_button(
            "⬇ metrics as CSV",
            view.csv,
            file_name=f"{info.id}_metrics.csv",
            mime="text/csv",
            key="rep_csv",
        )
        d2.download_button(
            "⬇ metrics as JSON",
            view.json,
            file_name=f"{info.id}_metrics.json",
            mime="application/json",
            key="rep_json",
        )

# ---- config and provenance -----------------------------------------------------------------------
c1, c2 = st.columns(2)
with c1:
    st.header("Config")
    with guard("Config"):
        view.check("Config")
        st.dataframe(view.config, hide_index=True, key="rep_config")
        st.caption("config.json: what rebuilds the model (its class, settings and modalities).")
with c2:
    st.header("Provenance")
    with guard("Provenance"):
        table, check = provenance(info.id, meta)
        st.dataframe(table, hide_index=True, key="rep_provenance")
        if check.ok is True:
            st.success(f"✓ weights checksum verified: {check.message}")
        elif check.ok is False:
            st.error(f"✗ weights checksum: {check.message}")
        else:
            st.warning(f"? weights checksum: {check.message}")

page.finish()
