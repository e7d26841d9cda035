"""The app's exploration pages, driven through Streamlit's AppTest on a tiny checkpoint zoo.

Checks: every page runs for every checkpoint it applies to and says plainly when one does not;
toggling a modality changes what is shown; a traversal slider changes the decoded image; the
URL's query parameters restore a view; bad input shows a message, never an exception.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mmviz.tinyzoo import build_tiny_zoo

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GENERATIVE = ["mvae_tiny5", "jmvae_tiny", "mfm_tiny", "mopoe_tiny"]
PAGES = ["pages/missing.py", "pages/traversal.py", "pages/crossmodal.py", "pages/latent_map.py"]


@pytest.fixture(scope="module", autouse=True)
def zoo_root(tmp_path_factory):
    """Point the app at the tiny zoo for this module only ($MMVIZ_CHECKPOINTS), and give back
    torch's thread count (ui/cache.py sets it to 1)."""
    threads = torch.get_num_threads()
    root = build_tiny_zoo(str(tmp_path_factory.getbasetemp() / "tiny_zoo"))
    mp = pytest.MonkeyPatch()
    mp.setenv("MMVIZ_CHECKPOINTS", str(root))  # mmviz.paths reads it at call time
    yield root
    mp.undo()
    torch.set_num_threads(threads)


def use_root(monkeypatch, root: Path) -> None:
    monkeypatch.setenv("MMVIZ_CHECKPOINTS", str(root))


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(params)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def messages(at: AppTest, kind: str) -> str:
    return " | ".join(str(e.value) for e in at.get(kind))


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, messages(at, "error")


def chart(at: AppTest, key: str) -> dict:
    """The plotly figure drawn with element key `key` (ids end in '-<key>')."""
    hits = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert hits, (
        f"no chart {key!r}; have {[c.proto.id.rsplit('-', 1)[-1] for c in at.get('plotly_chart')]}"
    )
    return json.loads(hits[0].proto.spec)


def image_url(at: AppTest, key: str) -> str:
    """The URL of the picture in the container with key `key` (it names the image's bytes:
    a different picture, a different URL)."""

    def find(node, inside: bool) -> str | None:
        children = getattr(node, "children", None)
        if not isinstance(children, dict):
            return None
        for child in children.values():
            keyed = inside or str(getattr(getattr(child, "proto", None), "id", "")).endswith(
                f"-{key}"
            )
            if keyed and getattr(child, "type", "") == "image":
                return child.proto.imgs[0].url
            found = find(child, keyed)
            if found:
                return found
        return None

    url = find(at.main, False)
    assert url, f"no image in a container keyed {key!r}"
    return url


def widget(at: AppTest, kind: str, key: str):
    hits = [w for w in at.get(kind) if getattr(w, "key", None) == key]
    assert hits, f"no {kind} with key {key!r}"
    return hits[0]


# ---- every page, every checkpoint ----------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("cid", GENERATIVE)
def test_page_runs_for_every_generative_checkpoint(page, cid):
    at = open_page(page, ckpt=cid)
    assert_clean(at)
    assert widget(at, "selectbox", "ckpt").value == cid
    assert "does not apply" not in messages(at, "warning")
    assert len(at.get("plotly_chart")) >= 1


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("cid", ["lmf_tiny", "oracle_hand"])
def test_page_says_when_a_checkpoint_does_not_apply(page, cid):
    at = open_page(page, ckpt=cid)
    assert not at.exception
    warning = messages(at, "warning")
    assert f"**{cid}** does not apply to this page" in warning
    assert ("no latent space" in warning) and ("oracle" in warning or "lmf" in warning)
    assert widget(at, "selectbox", "ckpt").value in GENERATIVE  # falls back to one that applies


def test_home_shows_zoo_cards_and_datasets():
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    for cid in (*GENERATIVE, "lmf_tiny"):
        assert f"#### {cid}" in text
    assert "`z` (8)" in text and "`y` (4)" in text  # latent groups on the cards
    heads = [s.value for s in at.subheader]
    assert "Generative models" in heads and any(h.startswith("`digits`") for h in heads)


def rows_of_metrics(node) -> list[int]:
    """How many columns each row of columns holding metrics directly has."""
    kids = list((getattr(node, "children", None) or {}).values())
    out = []
    columns = bool(kids) and all(getattr(k, "type", None) == "column" for k in kids)
    if columns and any(n.type == "metric" for k in kids for n in k.children.values()):
        out.append(len(kids))
    for k in kids:
        out += rows_of_metrics(k)
    return out


def test_home_metrics_fit_their_cards_and_loglik_is_qualified(monkeypatch):
    use_root(monkeypatch, Path(APP).parent / "checkpoints")  # the shipped zoo: real metrics
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert_clean(at)
    labels = [m.label for m in at.metric]
    assert labels and "label from hand" not in labels and "acc · hand" in labels
    assert max(map(len, labels)) <= 16, labels  # short enough for half a card at 1400 px
    assert all(m.proto.help for m in at.metric)  # the full meaning is one hover away
    assert rows_of_metrics(at._tree) and all(n <= 2 for n in rows_of_metrics(at._tree))
    lp = [m.proto.help for m in at.metric if m.label == "log p(hand)"]
    mfm_help = [h for h in lp if "MFM" in h]
    if mfm_help:
        assert "Not comparable" in mfm_help[0]
        assert any("log p(hand) is not comparable across kinds" in c.value for c in at.caption)


# ---- interactions --------------------------------------------------------------------------
def test_unchecking_a_modality_changes_reconstruction_and_posterior():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    assert_clean(at)
    before_img, before_post = image_url(at, "one_out_hand"), chart(at, "experts")
    kl_before = [m.value for m in at.metric if m.label.startswith("KL")]
    assert kl_before == ["0.00 nats"]  # all observed: q(z | observed) = q(z | all)
    widget(at, "checkbox", "obs_hand").uncheck()
    widget(at, "checkbox", "obs_print").uncheck()
    at.run()
    assert_clean(at)
    after_img, after_post = image_url(at, "one_out_hand"), chart(at, "experts")
    assert after_img != before_img
    assert [t["name"] for t in after_post["data"]] == ["label", "text", "sound", "prior", "product"]
    assert [t["name"] for t in before_post["data"]][:2] == ["hand", "print"]
    kl_after = float(next(m.value for m in at.metric if m.label.startswith("KL")).split()[0])
    assert kl_after > 0
    assert "generated (not observed)" in " ".join(m.value for m in at.markdown)


def test_noise_slider_changes_the_observed_input():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    clean = image_url(at, "one_in_hand")
    widget(at, "slider", "noise_hand").set_value(0.5)
    at.run()
    assert_clean(at)
    assert image_url(at, "one_in_hand") != clean


def test_missing_page_names_its_sliders_shares_and_kl_scale():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    assert_clean(at)
    for m, what in [("hand", "noise std"), ("label", "flip probability"), ("text", "word dropout")]:
        assert widget(at, "slider", f"noise_{m}").label == f"{m}: {what}"
    shares = chart(at, "shares")
    assert shares["layout"]["showlegend"] is True  # slivers too narrow for text: named below
    named = [t["name"].split()[0] for t in shares["data"]]
    assert named == ["hand", "print", "label", "text", "sound", "prior"]
    assert any("The prior N(0, I) is one of the experts" in c.value for c in at.caption)
    widget(at, "checkbox", "obs_hand").uncheck()
    at.run()
    kl = next(m for m in at.metric if m.label.startswith("KL"))
    assert "nats per dimension (8 dimensions)" in kl.proto.help
    assert "with nothing observed (the prior)" in kl.proto.help
    assert any(c.value.startswith("Scale: ") for c in at.caption)


def test_missing_page_calls_point_codes_codes():
    at = open_page("pages/missing.py", ckpt="mfm_tiny")
    assert_clean(at)
    posts = [c for c in at.get("plotly_chart") if "-post_" in c.proto.id]
    assert posts
    for c in posts:
        fig = json.loads(c.proto.spec)
        assert fig["layout"]["yaxis"]["title"]["text"] == "code"
        assert "mean" not in fig["layout"]["title"]["text"]


def test_compare_mode_shows_every_generative_checkpoint():
    at = open_page("pages/missing.py", ckpt="mvae_tiny5", compare="1", obs="hand")
    assert_clean(at)
    fig = chart(at, "cmp_hand")
    assert {t.replace("<br>", "") for t in fig["layout"]["xaxis"]["ticktext"]} == set(GENERATIVE)
    assert "Compared: " in " ".join(c.value for c in at.caption)


def test_traversal_slider_changes_decoded_image():
    at = open_page("pages/traversal.py", ckpt="mvae_tiny5")
    assert_clean(at)
    before = chart(at, "grid_hand")["data"][0]["source"]
    widget(at, "slider", "range").set_value((-1.0, 1.0))
    at.run()
    assert_clean(at)
    after = chart(at, "grid_hand")["data"][0]["source"]
    assert after != before
    widget(at, "slider", "steps").set_value(4)
    at.run()
    assert chart(at, "grid_hand")["layout"]["xaxis"]["ticktext"] == ["-1.0", "-0.3", "+0.3", "+1.0"]


def test_traversal_animation_and_sweep():
    at = open_page("pages/traversal.py", ckpt="mfm_tiny", mode="animation", group="print")
    assert_clean(at)
    assert len(chart(at, "animation")["frames"]) == 9
    at = open_page("pages/traversal.py", ckpt="mfm_tiny", mode="sweep", dimx="0", dimy="2")
    assert_clean(at)
    fig = chart(at, "grid_print")
    assert fig["layout"]["yaxis"]["ticktext"][0].startswith("y[0]")


def test_crossmodal_coherence_with_oracles():
    at = open_page("pages/crossmodal.py", ckpt="mvae_tiny5", cond="label", n="6")
    assert_clean(at)
    fig = chart(at, "agreement")
    judged = set(fig["data"][0]["x"])
    assert "hand" in judged and "label" not in judged  # generated modalities only
    assert len(chart(at, "draws_hand")["layout"]["annotations"]) == 6  # a label under each draw
    ref = next(m for m in at.metric if m.label == "reference class")
    assert "given label" in ref.proto.delta


def test_crossmodal_says_when_oracles_are_absent(zoo_root, tmp_path, monkeypatch):
    root = tmp_path / "no_oracles"
    root.mkdir()
    shutil.copytree(zoo_root / "jmvae_tiny", root / "jmvae_tiny")
    use_root(monkeypatch, root)
    at = open_page("pages/crossmodal.py", ckpt="jmvae_tiny", cond="label")
    assert_clean(at)
    assert "no oracle checkpoint `oracle_hand` on disk" in " ".join(c.value for c in at.caption)


def test_latent_map_colour_and_selected_point():
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update({"ckpt": "mvae_tiny5", "colour": "print_fg_hue", "links": "2"})
    at.run()
    at.switch_page("pages/latent_map.py")
    at.session_state["map_pick"] = int(chart_index_of_test(5))
    at.run()
    assert_clean(at)
    fig = chart(at, "map")
    assert fig["data"][0]["marker"]["showscale"] is True  # continuous factor: a colour bar
    names = [t.get("name") for t in fig["data"]]
    assert "q(z | hand)" in names and "q(z | all)" in names
    assert any(s.value.startswith("Test sample 5, ") for s in at.subheader)  # sidebar's numbers
    n = fig["layout"]["title"]["text"].split(" of ")[1].split(" ")[0]  # "PCA of N test ..."
    labels = [b.label for b in at.get("download_button")]
    assert f"⬇ The {n} latent codes shown (CSV)" in labels, labels


def test_latent_map_pick_is_in_the_url_and_survives_tsne():
    from mmviz.data import load_dataset

    test = load_dataset("digits").indices("test")
    on_tsne = set(np.random.default_rng(0).choice(test, size=min(800, len(test)), replace=False))
    pos = next((p for p, i in enumerate(test) if i not in on_tsne), 7)  # off t-SNE's subset
    at = open_page("pages/latent_map.py", ckpt="mvae_tiny5", i="2", pick=str(pos), links="0")
    assert_clean(at)
    assert widget(at, "number_input", "sample").value == 2
    assert any(s.value.startswith(f"Test sample {pos}, ") for s in at.subheader)
    assert any("the sidebar's test sample is 2" in c.value for c in at.caption)
    assert at.query_params["pick"] == str(pos)
    widget(at, "radio", "method").set_value("tsne")
    at.run()
    assert_clean(at)
    assert any(s.value.startswith(f"Test sample {pos}, ") for s in at.subheader)
    assert f"selected {int(test[pos])}" in [t.get("name") for t in chart(at, "map")["data"]]
    assert at.query_params["pick"] == str(pos)
    widget(at, "number_input", "sample").set_value(3)  # the sidebar's choice drops the pick
    at.run()
    assert any(s.value.startswith("Test sample 3, ") for s in at.subheader)
    assert "pick" not in at.query_params


def chart_index_of_test(pos: int) -> int:
    from mmviz.data import load_dataset

    return int(load_dataset("digits").indices("test")[pos])


# ---- URL restores the view -----------------------------------------------------------------
def test_query_params_restore_missing_view():
    at = open_page(
        "pages/missing.py",
        ckpt="jmvae_tiny",
        obs="hand",
        noise="hand:0.3",
        i="5",
        damage="occlude",
        compare="1",
    )
    assert_clean(at)
    assert widget(at, "selectbox", "ckpt").value == "jmvae_tiny"
    assert widget(at, "checkbox", "obs_hand").value is True
    assert widget(at, "checkbox", "obs_label").value is False
    assert widget(at, "slider", "noise_hand").value == pytest.approx(0.3)
    assert widget(at, "number_input", "sample").value == 5
    assert widget(at, "radio", "damage").value == "occlude"
    assert widget(at, "toggle", "compare").value is True


def test_query_params_restore_traversal_and_map():
    at = open_page(
        "pages/traversal.py",
        ckpt="mvae_tiny5",
        mode="grid",
        dims="1,4",
        range="-2.0:2.0",
        steps="5",
        start="prior",
    )
    assert_clean(at)
    assert widget(at, "multiselect", "dims_z").value == [1, 4]
    assert widget(at, "slider", "range").value == (-2.0, 2.0)
    assert widget(at, "slider", "steps").value == 5
    assert widget(at, "radio", "start").value == "prior"
    at = open_page("pages/latent_map.py", ckpt="mfm_tiny", group="hand", colour="class")
    assert_clean(at)
    assert widget(at, "selectbox", "map_group").value == "hand"
    at = open_page("pages/missing.py", ckpt="mvae_tiny5", i="999999", noise="hand:banana")
    assert_clean(at)  # nonsense in the URL falls back to defaults
    assert widget(at, "number_input", "sample").value == 0


# ---- bad input -----------------------------------------------------------------------------
def own_input_page(**params: str) -> AppTest:
    return open_page("pages/missing.py", ckpt="mvae_tiny5", source="own", **params)


def test_text_with_unknown_words_is_marked_and_used():
    at = own_input_page()
    widget(at, "text_input", "own_text_text").input("the digit banana")
    at.run()
    assert_clean(at)
    assert "'banana'" in messages(at, "warning")
    assert widget(at, "checkbox", "obs_text").value is True
    assert widget(at, "checkbox", "obs_hand").value is False  # not given: cannot be observed
    assert any("&lt;unk&gt;" in m.value for m in at.markdown)
    assert "Reconstruction and generation" in [s.value for s in at.subheader]


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_bad_and_good_uploads_in_the_page():
    at = own_input_page()
    widget(at, "radio", "own_hand_how").set_value("upload")
    widget(at, "selectbox", "own_label_pick").set_value("7")
    at.run()
    widget(at, "file_uploader", "own_hand_file").upload(
        "digit.png", b"not really a png", "image/png"
    )
    at.run()
    assert not at.exception
    assert "not an image" in messages(at, "error")
    assert widget(at, "checkbox", "obs_label").value is True
    assert "Reconstruction and generation" in [s.value for s in at.subheader]  # page goes on
    # a good photo (dark ink on light paper, colour) is converted and observed
    im = Image.new("RGB", (90, 120), (240, 235, 200))
    ImageDraw.Draw(im).line([(30, 20), (60, 20), (40, 100)], fill=(20, 20, 90), width=9)
    widget(at, "file_uploader", "own_hand_file").set_value(
        ("seven.png", png_bytes(im), "image/png")
    )
    at.run()
    assert_clean(at)
    assert "inverted" in " ".join(c.value for c in at.caption)
    assert widget(at, "checkbox", "obs_hand").value is True


def test_bad_wav_upload_in_the_page():
    at = own_input_page()
    widget(at, "selectbox", "own_label_pick").set_value("3")
    at.run()
    widget(at, "file_uploader", "own_sound_file").upload(
        "tone.wav", b"RIFF\x00\x00garbage", "audio/wav"
    )
    at.run()
    assert not at.exception
    assert "not a readable WAV" in messages(at, "error")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:  # a good one: stereo, 22.05 kHz
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        t = np.arange(22050) / 22050
        x = 0.3 * (np.sin(2 * np.pi * 697 * t) + np.sin(2 * np.pi * 1336 * t))
        w.writeframes(np.repeat(np.round(x * 32767).astype("<i2"), 2).tobytes())
    widget(at, "file_uploader", "own_sound_file").set_value(
        ("tone.wav", buf.getvalue(), "audio/wav")
    )
    at.run()
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "mixed down" in captions and "resampled from 22050" in captions


def test_broken_checkpoint_is_reported(zoo_root, tmp_path, monkeypatch):
    root = tmp_path / "broken_root"
    root.mkdir()
    shutil.copytree(zoo_root / "mvae_tiny5", root / "mvae_broken")
    (root / "mvae_broken" / "model.safetensors").write_bytes(b"\x00" * 64)
    use_root(monkeypatch, root)
    for page in PAGES:
        at = open_page(page, ckpt="mvae_broken")
        assert not at.exception
        assert "cannot be loaded" in messages(at, "error") and "safetensors" in messages(
            at, "error"
        )


def test_a_checkpoint_of_another_dataset_version_is_shown_with_a_warning(
    zoo_root, tmp_path, monkeypatch
):
    root = tmp_path / "old_root"
    root.mkdir()
    shutil.copytree(zoo_root / "mvae_tiny5", root / "mvae_old")
    meta_path = root / "mvae_old" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["id"] = "mvae_old"
    meta["dataset_version"] = "0.0-old"
    meta_path.write_text(json.dumps(meta))
    use_root(monkeypatch, root)
    at = open_page("pages/missing.py", ckpt="mvae_old")
    assert not at.exception
    warning = messages(at, "warning")
    assert "trained on `digits` version 0.0-old" in warning and "Retrain it" in warning
    use_root(monkeypatch, zoo_root)
    at = open_page("pages/missing.py", ckpt="mvae_tiny5")
    assert "trained on" not in messages(at, "warning")
