"""Lessons: the file format's validation (one broken lesson per error kind, each message naming
the stop and the field), the CLI, and a lesson run in the app on the tiny zoo (Home's picker,
stop states applied, the done-check, the question, Back / Next / End)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mmviz import lessons
from mmviz.lessons import LessonError, load_lesson
from tests.test_app import APP, assert_clean, widget, zoo_root  # noqa: F401

GOOD = """
title = "Tiny lesson"
audience = "testers"
duration = 10
summary = "Two stops on the tiny zoo."

[[stops]]
title = "Hide the image"
page = "missing"
prompt = "Untick `hand`."
notice = "The label is all the model has left."
focus = ["observed"]
[stops.state]
ckpt = "mvae_tiny5"
sample = 2
observed = ["hand", "label"]
[stops.check]
field = "observed"
excludes = "hand"
says = "`hand` is unticked"
[stops.question]
kind = "choice"
prompt = "Which expert is left besides the prior?"
options = ["hand", "label"]
answer = "label"
explanation = "Only the label is observed."

[[stops]]
title = "Move one dimension"
page = "traversal"
prompt = "Look at the rows."
[stops.state]
ckpt = "mvae_tiny5"
steps = 4
mode = "grid"
[stops.question]
kind = "number"
prompt = "How many steps per row?"
min = 2
max = 15
answer = 4
explanation = "The stop set four steps."
"""


def write(tmp_path: Path, text: str, name: str = "lesson.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def lesson_dir(tmp_path, monkeypatch):
    d = tmp_path / "lessons"
    d.mkdir()
    monkeypatch.setenv("MMVIZ_LESSONS", str(d))
    return d


def test_a_good_lesson_loads(zoo_root):  # noqa: F811
    lesson = load_lesson(write(zoo_root.parent, GOOD, "tiny.toml"))
    assert lesson.id == "tiny"
    assert [s.page for s in lesson.stops] == ["missing", "traversal"]
    assert lesson.stops[0].state.observed == ("hand", "label")
    assert lesson.stops[1].question.is_right(4) and not lesson.stops[1].question.is_right(5)
    assert lesson.stops[0].question.is_right("label")


BROKEN = [
    # (what is broken, replace this, by this, words the message must hold)
    ("not TOML", 'duration = 10', "duration = = 10", ["not valid TOML"]),
    ("unknown page", 'page = "traversal"', 'page = "travesral"', ["stop 2", "unknown page"]),
    ("unknown checkpoint", 'ckpt = "mvae_tiny5"\nsteps', 'ckpt = "nope"\nsteps',
     ["stop 2", "no checkpoint 'nope'"]),
    ("bad state value", "steps = 4", "steps = 99", ["stop 2", "field 'steps'", "from 2 to 15"]),
    ("unknown state field", "steps = 4", "stepz = 4", ["stop 2", "no such field"]),
    ("missing answer", 'answer = "label"\n', "", ["stop 1", "`answer` is missing"]),
    ("answer not an option", 'answer = "label"', 'answer = "sound"', ["stop 1", "not one of"]),
    ("number outside range", "answer = 4", "answer = 40", ["stop 2", "outside [2, 15]"]),
    ("check of unknown field", 'field = "observed"', 'field = "obs"', ["stop 1", "no field 'obs'"]),
    ("check without op", 'excludes = "hand"\n', "", ["stop 1", "give exactly one of"]),
    ("missing prompt", 'prompt = "Look at the rows."\n', "", ["stop 2", "`prompt` is missing"]),
    ("no checkpoint", 'ckpt = "mvae_tiny5"\nsteps', "steps", ["stop 2", "`ckpt` is missing"]),
    ("focus on unknown field", 'focus = ["observed"]', 'focus = ["hands"]', ["stop 1", "focus"]),
    ("unknown key", 'notice = "The', 'notise = "The', ["stop 1", "unknown key(s) 'notise'"]),
    ("bad duration", "duration = 10", "duration = -5", ["`duration` must be a positive"]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "old", "new", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_each_broken_lesson_is_refused_naming_stop_and_field(
    zoo_root,  # noqa: F811
    tmp_path,
    what,
    old,
    new,
    words,
):
    assert old in GOOD, what
    path = write(tmp_path, GOOD.replace(old, new, 1), "broken.toml")
    with pytest.raises(LessonError) as err:
        load_lesson(path)
    message = str(err.value)
    assert message.startswith("broken.toml") or str(path) in message
    for w in words:
        assert w in message, (what, message)
    assert lessons.check_lesson(path) == [message]


def test_cli_checks_lists_and_documents(zoo_root, lesson_dir, capsys):  # noqa: F811
    from mmviz.cli import main

    good = write(lesson_dir, GOOD, "tiny.toml")
    assert main(["lesson", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write(lesson_dir, GOOD.replace("steps = 4", "steps = 99"), "bad.toml")
    assert main(["lesson", "check", str(bad)]) == 1
    assert "bad.toml: stop 2" in capsys.readouterr().out
    assert main(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "bad.toml" in out and "BROKEN" in out
    assert main(["lesson", "fields", "traversal"]) == 0
    assert "?steps" in capsys.readouterr().out


def test_claims_are_measured_and_a_false_one_is_reported(zoo_root, tmp_path):  # noqa: F811
    text = GOOD.replace(
        "[stops.check]",
        '[[stops.claims]]\nkind = "decoded_class"\nmodality = "label"\nequals = "truth"\n'
        "[stops.check]",
        1,
    )
    path = write(tmp_path, text, "claims.toml")
    lesson = load_lesson(path)
    (result,) = lessons.verify_claims(lesson)
    assert "label from {hand, label} reads" in result.said
    got = int(result.said.rsplit(" ", 1)[-1])
    # the opposite claim must then fail, with the measured value in the message
    wrong = (got + 1) % 10
    path = write(tmp_path, text.replace('equals = "truth"', f"equals = {wrong}"), "wrong.toml")
    problems = lessons.check_lesson(path, claims=True)
    assert len(problems) == 1 and "does not hold" in problems[0] and f"reads {got}" in problems[0]


# ---- in the app ------------------------------------------------------------------------------
def card_text(at) -> str:
    return " ".join(m.value for m in at.sidebar.markdown) + " ".join(
        c.value for c in at.sidebar.caption
    )


def click(at, key: str) -> None:
    hits = [b for b in at.button if b.key == key]
    assert hits, f"no button {key!r}"
    hits[0].click()
    at.run()


def test_a_lesson_runs_from_home_to_the_end(zoo_root, lesson_dir):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    write(lesson_dir, GOOD, "tiny.toml")
    write(lesson_dir, GOOD.replace("steps = 4", "steps = 99"), "broken.toml")
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    assert_clean_but_broken_lesson(at)
    assert any("Tiny lesson" in m.value for m in at.markdown)
    assert any("broken.toml" in e.value and "stop 2" in str(e.value) for e in at.error)

    click(at, "start_tiny")  # stop 1: the missing page in the stop's state
    assert_clean(at)
    assert widget(at, "selectbox", "ckpt").value == "mvae_tiny5"
    assert widget(at, "number_input", "sample").value == 2
    assert widget(at, "checkbox", "obs_hand").value is True
    text = card_text(at)
    assert "stop 1 of 2" in text and "Untick `hand`." in text
    assert "⬜ to do: `hand` is unticked" in text

    widget(at, "checkbox", "obs_hand").uncheck()  # the step: the check turns done
    at.run()
    assert "✅ done: `hand` is unticked" in card_text(at)

    widget(at, "radio", "lesson_answer_tiny_0").set_value("hand")  # a wrong answer
    at.run()
    click(at, "lesson_answer_tiny_0_go")
    assert any("the answer is label" in w.value for w in at.sidebar.warning)
    assert any("Only the label is observed." in m.value for m in at.sidebar.markdown)

    click(at, "lesson_next")  # stop 2: traversal, steps 4
    assert_clean(at)
    assert widget(at, "slider", "steps").value == 4
    assert "stop 2 of 2" in card_text(at)

    click(at, "lesson_back")  # back to stop 1: its whole state again (hand observed)
    assert widget(at, "checkbox", "obs_hand").value is True
    click(at, "lesson_end")
    assert "stop 1 of 2" not in card_text(at)


def assert_clean_but_broken_lesson(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert all("broken.toml" in str(e.value) for e in at.error)


# ---- a live class: a teacher and a student session on one store ------------------------------
def test_a_class_follows_the_teacher_and_reveals_the_rooms_answers(
    zoo_root,  # noqa: F811
    lesson_dir,
    tmp_path,
    monkeypatch,
):
    from streamlit.testing.v1 import AppTest

    from ui.classroom import CLASS

    monkeypatch.setenv("MMVIZ_CLASS_DB", str(tmp_path / "classes.sqlite3"))
    monkeypatch.delenv("MMVIZ_CLASS_STORE", raising=False)
    write(lesson_dir, GOOD, "tiny.toml")

    teacher = AppTest.from_file(APP, default_timeout=90)
    teacher.run()
    click(teacher, "teach_tiny")
    assert_clean(teacher)
    code = teacher.session_state[CLASS]["code"]
    key = teacher.session_state[CLASS]["key"]
    assert "Teaching · class" in card_text(teacher)
    link = " ".join(c.value for c in teacher.sidebar.code)
    assert f"class={code}" in link and key not in link  # the key is never in the link

    student = AppTest.from_file(APP, default_timeout=90)
    student.query_params["class"] = code
    student.run()  # joins, then follows the teacher to stop 1's page and state
    student.run()
    assert_clean(student)
    assert widget(student, "selectbox", "ckpt").value == "mvae_tiny5"
    assert widget(student, "number_input", "sample").value == 2
    text = card_text(student)
    assert "Class" in text and "Which expert is left" in text
    assert any("Commit a prediction" in c.value for c in student.sidebar.caption)
    assert not [b for b in student.button if b.key == "lesson_next"]  # the teacher drives

    widget(student, "radio", "class_answer_tiny:0").set_value("hand")
    student.run()
    click(student, "class_answer_tiny:0_go")
    assert any("Committed: hand" in c.value for c in student.sidebar.caption)

    teacher.run()
    assert any("The room's answers** (1)" in m.value for m in teacher.sidebar.markdown)
    click(teacher, "class_reveal_tiny:0")
    student.run()
    assert any("the answer is label" in w.value for w in student.sidebar.warning)
    assert any("Only the label is observed." in m.value for m in student.sidebar.markdown)

    click(teacher, "lesson_next")  # the teacher moves on: the student follows
    assert widget(teacher, "slider", "steps").value == 4
    student.run()
    student.run()
    assert_clean(student)
    assert widget(student, "slider", "steps").value == 4
    assert "stop 2 of 2" in card_text(student)

    widget(teacher, "slider", "steps").set_value(6)  # a slider moved by the teacher
    teacher.run()
    student.run()
    student.run()
    assert widget(student, "slider", "steps").value == 6

    widget(student, "toggle", "class_follow").set_value(False)  # break away
    student.run()
    widget(student, "slider", "steps").set_value(3)
    student.run()
    widget(teacher, "slider", "steps").set_value(8)
    teacher.run()
    student.run()
    assert widget(student, "slider", "steps").value == 3  # not pulled back while away
    widget(student, "toggle", "class_follow").set_value(True)  # back to the teacher
    student.run()
    student.run()
    assert widget(student, "slider", "steps").value == 8

    click(teacher, "class_end")
    student.run()
    student.run()
    assert CLASS not in student.session_state
