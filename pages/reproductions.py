"""Reproductions: each paper's headline claim, our measurement of it, and a verdict by rule.

Layout only: results come from mmviz.studies (results/<study>.json), figures from
mmviz.plots.studies.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mmviz import paths, studies
from mmviz.plots.studies import study_figure
from ui.sidebar import CHART, chart, explainer, guard, through_app
from ui.state import PageRun

through_app()
page = PageRun("reproductions")

VERDICT_BADGE = {
    "reproduced": ("✅", "Reproduced: our numbers show the paper's effect."),
    "partly": ("🟡", "Partly reproduced: some of the effect shows in our numbers, not all."),
    "not reproduced": ("❌", "Not reproduced: our numbers do not show the paper's effect."),
    "not run": ("⏸️", "Not run: the study lacks the runs its rule needs."),
}

st.title("📚 Reproductions")
explainer(
    "Each section takes one claim from a published paper behind this app and tests it again "
    "with our own, smaller models and data. The verdict says whether the same effect shows up "
    "here, by a rule anyone can check.",
    "Each section takes one headline claim from the papers behind mmviz, re-measures it with "
    "our models on our data, and judges it. **Claim**: what the paper says, with its "
    "reference. **Plot and numbers**: what we measured (dots are single seeds, bars or "
    "lines their means). **Paper**: the paper's own numbers, shown only where they measure "
    "the same thing. **Verdict**: reproduced / partly / not reproduced, computed by the "
    "stated rule from our numbers alone, so anyone can check it.",
    more=(
        "These are small reruns: a few epochs and seeds on 2 CPU cores, and our datasets are "
        "smaller than the papers' (5,000 MNIST digits, synthetic sentiment). A verdict says "
        "whether the *direction* of the paper's effect shows up here, not that its numbers "
        "match. A **quick** result comes from a smoke run on tiny data and says nothing about "
        "the claim. Results are read from "
        f"`{paths.results_root()}` (set `MMVIZ_RESULTS` to read another folder)."
    ),
)

found = studies.load_results()

# ---- summary -------------------------------------------------------------------------------------
summary = []
for name, s in studies.STUDIES.items():
    f = found[name]
    r = f.result
    summary.append(
        {
            "study": s.title,
            "verdict": (
                f"{VERDICT_BADGE[r['verdict']][0]} {r['verdict']}" if r else "— not produced yet"
            ),
            "run": ("quick (smoke run)" if r["quick"] else "full") if r else "",
            "rerun with": f"python -m mmviz study {name}",
        }
    )
st.dataframe(pd.DataFrame(summary), hide_index=True, width="stretch")


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


for name, s in studies.STUDIES.items():
    st.header(s.title)
    st.markdown(f"**Claim.** {s.claim}")
    f = found[name]
    if f.error:
        st.error(f"Results file problem: {f.error}")
    r = f.result
    if r is None:
        st.info(
            f"Not produced yet. Run `python -m mmviz study {name}` (about {s.minutes:g} min on "
            f"2 cores; writes `results/{name}.json`), or `python -m mmviz study {name} --quick` "
            "for a smoke run under a minute."
        )
        continue
    with guard(f"Study {name}"):
        if r.get("quick"):
            st.warning(
                "This is a **quick** smoke run (tiny data, a few steps): its numbers and verdict "
                f"say nothing about the claim. Run `python -m mmviz study {name}` for the real one."
            )
        fig = study_figure(r)
        if fig is not None:
            chart(fig, key=f"study_{name}", config=CHART)
        icon, words = VERDICT_BADGE[r["verdict"]]
        st.markdown(f"#### {icon} Verdict: {r['verdict']}")
        st.markdown(f"{words} Why: {r.get('verdict_reason', '')}.")
        st.caption(r["verdict_rule"])

        left, right = st.columns(2)
        with left:
            st.markdown("**Ours beside the paper's**")
            comparison = r.get("comparison")
            if r.get("paper") is not None and comparison:
                st.dataframe(pd.DataFrame(comparison).map(_fmt), hide_index=True, width="stretch")
            else:
                st.caption("The paper gives no numbers comparable to ours.")
            if r.get("paper_note"):
                st.caption(r["paper_note"])
        with right:
            st.markdown("**How it was run**")
            st.code(r["command"], language="bash")
            st.caption(
                f"{r.get('budget_note', '')} Seed {r.get('seed')}, wall time "
                f"{r.get('wall_time_s')} s, code {r.get('code_version')}, finished "
                f"{r.get('finished', '?')}; file `{f.path}`."
            )
        with st.expander("Our numbers"):
            table = pd.DataFrame(studies.flat_rows(r["rows"]))
            st.dataframe(table.map(_fmt), hide_index=True, width="stretch")
            if r.get("summary"):
                st.dataframe(
                    pd.DataFrame(studies.flat_rows(r["summary"])).map(_fmt),
                    hide_index=True,
                    width="stretch",
                )
            st.json(r.get("config", {}), expanded=False)

page.finish()
