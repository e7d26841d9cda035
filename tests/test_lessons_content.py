"""The shipped lessons (lessons/*.toml): each is valid, of class length, explains its answers,
and every fact it states about a model holds on the shipped checkpoints (its claims)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmviz import lessons, paths

SHIPPED = sorted((paths.REPO / "lessons").glob("*.toml"))
NAMES = [p.stem for p in SHIPPED]


@pytest.fixture()
def shipped_zoo(monkeypatch):
    """Claims are measured on the repository's own checkpoints and results, whatever the
    environment points at."""
    for var in ("MMVIZ_CHECKPOINTS", "MMVIZ_RESULTS", "MMVIZ_LESSONS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(paths.REPO)


def test_the_four_lessons_are_shipped():
    assert set(NAMES) >= {"missing-modalities", "joint-vs-unimodal", "factorised", "fusion"}


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_lesson_is_valid_and_of_class_length(path: Path, shipped_zoo):
    assert lessons.check_lesson(path) == []
    lesson = lessons.load_lesson(path)
    assert 8 <= len(lesson.stops) <= 12, f"{path.name}: {len(lesson.stops)} stops"
    for i, stop in enumerate(lesson.stops, 1):
        where = f"{path.name} stop {i} ({stop.title})"
        assert stop.prompt.strip() and stop.notice.strip(), f"{where}: prompt and notice"
        assert stop.focus, f"{where}: no `focus` (which controls the step uses)"
        if stop.question is not None:
            assert len(stop.question.explanation.split()) >= 20, f"{where}: explanation"
    asked = sum(s.question is not None or s.check is not None for s in lesson.stops)
    assert asked * 2 > len(lesson.stops), f"{path.name}: most stops ask or check something"


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_model_page_stop_states_something_checked(path: Path, shipped_zoo):
    """A stop that shows a model says something about it; that something is a claim."""
    lesson = lessons.load_lesson(path)
    unbacked = [
        f"stop {i} ({s.title})"
        for i, s in enumerate(lesson.stops, 1)
        if s.page in lessons.PAGES_WITH_MODELS and not s.claims and s.question is None
    ]
    assert unbacked == [], f"{path.name}: {unbacked}"


@pytest.mark.slow  # loads every model the lessons use: about a minute on two cores
@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_every_claim_holds_on_the_shipped_checkpoints(path: Path, shipped_zoo):
    lesson = lessons.load_lesson(path)
    results = lessons.verify_claims(lesson)
    assert results, f"{path.name} makes no claims"
    failed = [
        f"stop {r.stop + 1} ({lesson.stops[r.stop].title}): {r.claim.kind} {r.claim.args}: {r.said}"
        for r in results
        if not r.ok
    ]
    assert failed == [], "\n".join(failed)


# ---- the claims are not vacuous: a false one is reported ------------------------------------
def _one_stop(claims: list[dict], state: dict | None = None) -> lessons.Lesson:
    data = {
        "title": "t",
        "audience": "a",
        "duration": 5,
        "summary": "s",
        "stops": [
            {
                "title": "one",
                "page": "missing",
                "prompt": "p",
                "state": state or {"ckpt": "mvae_hand_label", "sample": 408, "observed": ["hand"]},
                "claims": claims,
            }
        ],
    }
    return lessons.parse_lesson(data, "t", None)


def test_a_false_claim_is_reported_with_what_was_measured(shipped_zoo):
    lesson = _one_stop(
        [
            {"kind": "decoded_class", "modality": "label", "equals": 7},
            {"kind": "decoded_class", "modality": "label", "equals": "truth"},
            {"kind": "largest_share", "equals": "prior"},
            {"kind": "metric", "metric": "label_accuracy.hand", "at_most": 0.5},
        ]
    )
    results = lessons.verify_claims(lesson)
    ok, said = [r.ok for r in results], [r.said for r in results]
    assert ok == [False, True, False, False], said
    assert "reads 2" in said[0]


def test_after_measures_the_state_after_the_step(shipped_zoo):
    """The full MVAE reads test sample 408 (a 2) from `hand` as a 2, the ablation as an 8."""
    after = {"ckpt": "mvae_hand_label_nosub"}
    lesson = _one_stop(
        [
            {"kind": "decoded_class", "modality": "label", "equals": 8},
            {"kind": "decoded_class", "modality": "label", "equals": 8, "after": after},
        ]
    )
    assert [r.ok for r in lessons.verify_claims(lesson)] == [False, True]


def test_after_with_a_bad_field_names_the_stop():
    with pytest.raises(lessons.LessonError, match=r"stop 1 \(one\), claims, after: .*'hidden'"):
        _one_stop([{"kind": "shift", "at_most": 1, "after": {"hidden": ["hand"]}}])


def test_a_claim_missing_its_arguments_cannot_be_checked(shipped_zoo):
    lesson = _one_stop([{"kind": "share", "expert": "hand"}, {"kind": "traversal", "dim": 0}])
    results = lessons.verify_claims(lesson)
    assert [r.ok for r in results] == [False, False]
    assert all(r.said.startswith("cannot be checked") for r in results)


# ---- in the app: every stop opens its page, in its state, without an error ------------------
@pytest.mark.slow  # every page of every lesson on the real checkpoints: a few minutes
@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_the_lesson_runs_in_the_app_from_home_to_the_end(path: Path, shipped_zoo):
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, assert_clean

    lesson = lessons.load_lesson(path)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    button = f"start_{lesson.id}"
    for i, stop in enumerate(lesson.stops):
        hits = [b for b in at.button if b.key == button]
        assert hits, f"stop {i}: no button {button!r}"
        hits[0].click()
        at.run()
        where = f"{path.name} stop {i + 1} ({stop.title})"
        assert_clean(at)
        card = " ".join(m.value for m in at.sidebar.markdown)
        card += " ".join(c.value for c in at.sidebar.caption)
        assert f"stop {i + 1} of {len(lesson.stops)}" in card, where
        assert stop.title in card, where
        url = {k: at.query_params[k] for k in at.query_params}
        for key, text in stop.state.to_query().items():
            assert url.get(key) == text, (where, key, url.get(key), text)
        button = "lesson_next"


# ---- lessons/README.md: its example works, its tables are what the code says ----------------
README = paths.REPO / "lessons" / "README.md"


def _generated(name: str) -> str:
    import re

    block = re.search(
        rf"<!-- {name}:start[^>]*-->\n(.*?)\n<!-- {name}:end -->", README.read_text(), re.S
    )
    assert block, f"lessons/README.md has no {name} block"
    return block.group(1)


def test_readme_tables_are_generated_from_the_code():
    assert _generated("claims") == lessons.claims_markdown(), "run: mmviz lesson claims --markdown"
    assert _generated("fields") == lessons.fields_markdown(), "run: mmviz lesson fields --markdown"
    assert set(lessons.CLAIMS) == set(lessons.claim_kinds())


def test_readme_example_is_a_valid_lesson_whose_claims_hold(tmp_path, shipped_zoo):
    import re

    example = re.search(r"```toml\n(.*?)```", README.read_text(), re.S)
    assert example, "lessons/README.md has no ```toml example"
    path = tmp_path / "label-expert.toml"
    path.write_text(example.group(1), encoding="utf-8")
    assert lessons.check_lesson(path, claims=True) == []
    lesson = lessons.load_lesson(path)
    assert {s.question.kind for s in lesson.stops if s.question} == {"choice", "number"}


def test_the_cli_prints_the_readme_tables(capsys):
    from mmviz.cli import main

    assert main(["lesson", "claims", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == lessons.claims_markdown()
    assert main(["lesson", "fields", "fusion_lab", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| `sizes` | `?d_<modality>` |" in out and "**missing**" not in out
    assert main(["lesson", "claims"]) == 0
    assert "decoded_class\n  `modality` decoded" in capsys.readouterr().out
