"""Model report: a checkpoint's training curves, every evaluation metric, its config and
provenance (with the weights checksum verified), and the metrics as CSV / JSON downloads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mmviz import report as rep
from mmviz.plots import report as figs
from ui.cache import checkpoint_files, provenance
from ui.sidebar import CHART, chart, choose_checkpoint, explainer, guard, through_app
from ui.state import PageRun

through_app()
page = PageRun("report")

HEADLINE = [
    ("test_accuracy", "test accuracy", "{:.1%}"),
    ("acc2", "binary accuracy", "{:.1%}"),
    ("f1", "F1", "{:.3f}"),
    ("acc7", "7-class accuracy", "{:.1%}"),
    ("mae", "MAE", "{:.3f}"),
    ("corr", "Pearson r", "{:.3f}"),
    ("test_samples", "test samples", "{:,}"),
]

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
files = None
with guard(f"Checkpoint {info.id}"):
    files = checkpoint_files(info.id)
if files is None:
    page.stop()
config, meta = files
metrics = meta.get("metrics") or {}
st.markdown(f"### {info.id}")
st.caption(
    f"**{meta.get('model', config.get('model', '?'))}** on `{meta.get('dataset', '?')}` "
    f"· modalities {', '.join(meta.get('modalities') or info.modalities)} · "
    f"{meta.get('paper') or 'no paper recorded'}"
)

# ---- training ------------------------------------------------------------------------------------
st.header("Training")
with guard("Training curves"):
    curves = rep.training_curves(meta)
    if not curves:
        st.info("meta.json records no training curves for this checkpoint.")
    else:
        chart(
            figs.curves_figure(curves, "loss per epoch (solid: training, dashed: validation)"),
            key="rep_curves",
            config=CHART,
        )
        phases = (meta.get("training") or {}).get("phases") or {}
        summary = pd.DataFrame(
            {
                p: {
                    k: phases[p].get(k)
                    for k in ("best_valid_loss", "epochs_run", "steps", "seconds")
                }
                for p in curves
            }
        ).T
        st.dataframe(summary)
        settings = (meta.get("training") or {}).get("settings")
        if isinstance(settings, dict):
            st.caption("settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()))

# ---- metrics -------------------------------------------------------------------------------------
st.header("Evaluation")
if not metrics:
    st.info(f"No evaluation metrics recorded yet: run `python -m mmviz eval {info.id}`.")
else:
    with guard("Headline metrics"):
        shown = [
            (k, label, fmt) for k, label, fmt in HEADLINE if isinstance(metrics.get(k), int | float)
        ]
        if shown:
            cols = st.columns(len(shown))
            for col, (k, label, fmt) in zip(cols, shown, strict=True):
                col.metric(label, fmt.format(metrics[k]))
    with guard("Missing-modality robustness"):
        mods = list(meta.get("modalities") or info.modalities)
        kinds = {
            s.get("name"): s.get("kind") for s in config.get("specs") or [] if isinstance(s, dict)
        }
        label = next((m for m in mods if kinds.get(m) == "categorical"), None)
        inputs = [m for m in mods if m != label] if "label_accuracy" in metrics else mods
        for t in rep.robustness_tables(metrics, inputs):
            title = {
                "label_accuracy": "label accuracy per observed subset",
                "label_accuracy_mean_imputed": "label accuracy, missing inputs replaced by "
                "their training mean (no surrogate)",
                "missing": "binary accuracy per observed subset (the others missing)",
            }[t.metric]
            chart(
                figs.robustness_heatmap(t.table, t.modalities, title),
                key=f"rep_robust_{t.metric}",
                config=CHART,
            )
            for subset, why in t.notes.items():
                st.caption(f"`{subset}`: not supported: {why}")
        per_recipe = rep.interaction_robustness(metrics, inputs)
        if per_recipe is not None:
            chart(
                figs.interaction_robustness_heatmap(
                    per_recipe, "binary accuracy per observed subset and interaction recipe"
                ),
                key="rep_robust_recipes",
                config=CHART,
            )
            st.caption(
                "Read a column down: a recipe told by one modality only (unique_visual) should "
                "fall to chance (50%, white) when that modality is missing, while redundant "
                "utterances, told by every modality, stay right."
            )
    with guard("Coherence"):
        for k, title in (
            ("coherence", "coherence of generated samples (posterior draws)"),
            ("coherence_mean", "coherence decoding the posterior mean"),
        ):
            if isinstance(metrics.get(k), dict) and metrics[k]:
                mat = rep.coherence_matrix(metrics[k])
                chart(figs.coherence_heatmap(mat, title), key=f"rep_{k}", config=CHART)
    with guard("Log-likelihoods"):
        ll = rep.loglik_table(metrics)
        if not ll.empty:
            st.markdown("**Log-likelihoods** (nats, importance-weighted; higher is better)")
            st.dataframe(ll, hide_index=True)
    with guard("Per recipe"):
        by = metrics.get("by_interaction")
        if isinstance(by, dict) and by:
            st.markdown("**Binary accuracy per interaction recipe**")
            st.dataframe(pd.DataFrame({"acc2": by}).T.style.format("{:.1%}"))
    with guard("All metrics"):
        flat = rep.flatten_metrics(metrics)
        with st.expander(f"All {len(flat)} recorded metrics"):
            st.dataframe(flat, hide_index=True)
        d1, d2 = st.columns(2)
        d1.download_button(
            "⬇ metrics as CSV",
            rep.metrics_csv(metrics),
            file_name=f"{info.id}_metrics.csv",
            mime="text/csv",
            key="rep_csv",
        )
        d2.download_button(
            "⬇ metrics as JSON",
            rep.metrics_json(info.id, meta),
            file_name=f"{info.id}_metrics.json",
            mime="application/json",
            key="rep_json",
        )

# ---- config and provenance -----------------------------------------------------------------------
c1, c2 = st.columns(2)
with c1:
    st.header("Config")
    with guard("Config"):
        st.dataframe(rep.config_table(config), hide_index=True, key="rep_config")
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
