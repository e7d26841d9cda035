"""Every page's "What am I looking at?" note leads with two plain-language sentences, then the
equations (issue 17, part 4): read from the pages' `explainer(...)` calls, and in the rendered
expander of one page through AppTest on the tiny zoo."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.test_app import assert_clean, open_page, zoo_root  # noqa: F401

PAGES = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*.py"))
# words a first-year student would not know; the precise account after the plain part uses them
JARGON = re.compile(
    r"\b(latent|posterior|prior|modalit\w*|gaussian|expert|kl|entropy|encoder|decoder|tensor|"
    r"gradient|vector|embedding|logits?|softmax|variance|precision|coherence|oracle|"
    r"attribution|disentangl\w*|mutual information|shapley|t-sne|pca|mvae|jmvae|mfm|tfn|lmf)\b",
    re.IGNORECASE,
)
MATH = re.compile(r"[$\\^_{}=]|\\[a-z]+")


def plain_part(path: Path) -> str:
    """The first argument of the page's top-level `explainer(...)` call."""
    calls = [
        node.value
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "explainer"
    ]
    assert len(calls) == 1, f"{path.name}: expected one explainer(...) call, found {len(calls)}"
    args = calls[0].args
    assert len(args) >= 2, f"{path.name}: explainer(plain, text, ...) needs both"
    assert isinstance(args[0], ast.Constant) and isinstance(args[0].value, str), path.name
    return args[0].value


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


@pytest.mark.parametrize("path", PAGES, ids=[p.stem for p in PAGES])
def test_every_page_note_leads_with_two_plain_sentences(path):
    plain = plain_part(path)
    parts = sentences(plain)
    assert len(parts) == 2, f"{path.name}: {len(parts)} sentences: {parts}"
    for s in parts:
        assert s[0].isupper() and s[-1] in ".!?", f"{path.name}: not a sentence: {s!r}"
        assert len(s.split()) <= 35, f"{path.name}: not short ({len(s.split())} words): {s!r}"
    assert not MATH.search(plain), f"{path.name}: maths in the plain part: {plain!r}"
    assert "*" not in plain and "`" not in plain, f"{path.name}: markup in {plain!r}"
    jargon = JARGON.findall(plain)
    assert not jargon, f"{path.name}: jargon in the plain part: {jargon}"


def test_the_plain_sentences_come_first_in_the_rendered_note():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    assert_clean(at)
    box = next(e for e in at.expander if e.label == "What am I looking at?")
    shown = [
        (type(node).__name__, getattr(node, "value", None))
        for node in (box.children[k] for k in sorted(box.children))
    ]
    kinds = [kind for kind, _ in shown]
    assert kinds[0] == "Markdown" and "Latex" in kinds, shown
    plain = plain_part(next(p for p in PAGES if p.stem == "missing"))
    assert shown[0][1] == f"**{plain}**"
    assert kinds.index("Latex") > 1  # the plain paragraph, the precise text, then equations
