"""mmviz/plots/steppers.py: each stepper frame shows the step it claims, on axes that stay put.

Untrained small models (the figures do not depend on training): every step of a product and a
mixture, every rank of an LMF, TFN's cube and blocks.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from mmviz import steppers as sp
from mmviz.data.digits import specs as digit_specs
from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
from mmviz.models import model_class
from mmviz.models.fusion import LMF, TFN, FusionConfig, LMFConfig
from mmviz.plots import steppers as figs

torch.set_num_threads(1)
SPECS = digit_specs()


def decode_uri(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def digits_inputs(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for m, s in SPECS.items():
        if s.dtype.startswith("int"):
            out[m] = torch.randint(
                2 if s.kind == "tokens" else 0, s.num_classes, (1, *s.shape), generator=g
            )
        else:
            out[m] = torch.rand((1, *s.shape), generator=g)
    return out


@pytest.fixture(scope="module", params=["mvae", "mopoe"])
def steps(request) -> sp.PoESteps:
    cls = model_class(request.param)
    torch.manual_seed(0)
    model = cls(cls.config_class(latent_dim=4, hidden=16), SPECS).eval()
    return sp.poe_steps(model, digits_inputs(), ["hand", "label", "text"], 2)


def test_density_frames_keep_their_axes_and_draw_what_was_added(steps):
    frames = [figs.density_figure(steps, s) for s in range(steps.steps)]
    ranges = {(tuple(f.layout.xaxis.range), tuple(f.layout.yaxis.range)) for f in frames}
    assert len(ranges) == 1  # playing the steps moves the curves, not the axes
    combined = "product" if steps.kind == "product" else "mixture"
    for s, f in enumerate(frames):
        names = [t.name for t in f.data]
        assert f"{combined} after step {s}" in names and "prior N(0, 1)" in names
        assert sum("(added now)" in n for n in names) == (1 if s else 0)
        if s:
            assert f"{steps.names[s]} (added now)" in names
        running = next(t for t in f.data if t.name.startswith(combined))
        area = np.trapezoid(running.y, running.x)
        assert 0.5 < area <= 1.0 + 1e-6  # a density (cut only where it reaches past the axis)
        marker = next(t for t in f.data if t.name == "mean ± std")
        assert marker.x[0] == pytest.approx(steps.means[s, steps.dim])
        assert marker.error_x.array[0] == pytest.approx(steps.stds[s, steps.dim])


def test_mixture_frames_draw_the_true_mixture_density():
    cls = model_class("mmvae")
    torch.manual_seed(1)
    model = cls(cls.config_class(latent_dim=3, hidden=8), SPECS).eval()
    st = sp.poe_steps(model, digits_inputs(1), ["hand", "print"], 0)
    f = figs.density_figure(st, 2)
    running = next(t for t in f.data if t.name == "mixture after step 2")
    x = np.asarray(running.x)
    expected = np.mean(
        [
            np.exp(-0.5 * ((x - st.added_means[j, 0]) / st.added_stds[j, 0]) ** 2)
            / (st.added_stds[j, 0] * np.sqrt(2 * np.pi))
            for j in (1, 2)
        ],
        axis=0,
    )
    np.testing.assert_allclose(running.y, expected, rtol=1e-9)


def test_shares_bars_fill_the_steps_reached_only(steps):
    for s in range(steps.steps):
        f = figs.shares_figure(steps, s)
        bars, totals = f.data  # every segment of every step's bar: one trace, placed by base
        rows = list(f.layout.yaxis.categoryarray)
        assert len(rows) == steps.steps  # rows not reached yet stay, empty
        reached = {rows.index(y) for y in bars.y}
        assert reached == set(range(s + 1))
        for k in range(s + 1):
            mine = [j for j, y in enumerate(bars.y) if y == rows[k]]
            widths = np.array([bars.x[j] for j in mine])
            np.testing.assert_allclose(widths.sum(), 1.0, atol=1e-9)
            ends = np.array([bars.base[j] + bars.x[j] for j in mine])
            np.testing.assert_allclose(ends[-1], 1.0, atol=1e-9)  # stacked, left to right
            np.testing.assert_allclose(
                widths, steps.shares[k, : k + 1][steps.shares[k, : k + 1] > 0]
            )
        assert all(totals.text[: s + 1]) and not any(totals.text[s + 1 :])
        assert all(steps.share_of in h for h in bars.hovertext)


def test_many_components_are_drawn_as_one_faint_trace():
    cls = model_class("mopoe")
    torch.manual_seed(2)
    model = cls(cls.config_class(latent_dim=3, hidden=8), SPECS).eval()
    st = sp.poe_steps(model, digits_inputs(2), list(SPECS), 1)  # 31 components
    assert st.steps == 32
    f = figs.density_figure(st, 31)
    assert len(f.data) == 5  # earlier ones, the one added now, the prior, the mixture, its mean
    assert f.data[0].name == "steps 1 to 30"
    assert np.isnan(np.asarray(f.data[0].y, dtype=float)).sum() == 30  # one gap per curve
    assert f.data[1].name == "hand+print+label+text+sound (added now)"
    assert len(figs.shares_figure(st, 31).data) == 2


def test_thumbnails_show_every_modality_of_the_step(steps):
    f0, f1 = figs.thumbnails_figure(steps, 0, SPECS), figs.thumbnails_figure(steps, 1, SPECS)
    notes = [a.text for a in f0.layout.annotations]
    assert notes[:5] == ["hand", "print (generated)", "label", "text", "sound (generated)"]
    assert notes[5] == steps.captions["label"][0]  # label and text: their words
    assert notes[6].replace("<br>", " ") == steps.captions["text"][0]
    (image,) = f0.data  # one picture for the row: hand, print and sound tiles
    row = decode_uri(image.source)
    assert row.shape[0] == 96 and row.shape[1] > 3 * 96
    assert f1.data[0].source != image.source  # step 1's decode differs from the prior's


def lmf_ranks(rank: int = 4) -> sp.LMFRanks:
    torch.manual_seed(0)
    specs = sentiment_like_specs(10, 30)
    model = LMF(LMFConfig(rank=rank, token_dim=6, sequence_dim=4, fusion_dim=5), specs).eval()
    x, _ = random_sentiment_batch(specs, 1, torch.Generator().manual_seed(0))
    return sp.lmf_rank_terms(model, x)


def test_lmf_convergence_marks_the_ranks_added():
    ranks = lmf_ranks()
    for k in range(ranks.rank + 1):
        f = figs.lmf_convergence_figure(ranks, k)
        line = next(t for t in f.data if t.name == "score after k ranks")
        np.testing.assert_allclose(line.y, ranks.scores[: k + 1])
        params = next(t for t in f.data if t.type == "bar")
        assert list(params.y) == list(ranks.params)
        full = next(t for t in f.data if t.name.startswith("full rank"))
        assert full.y[0] == pytest.approx(ranks.scores[-1])
    fused = figs.lmf_fused_figure(ranks, 2)
    np.testing.assert_allclose(fused.data[1].y, ranks.fused[2])
    np.testing.assert_allclose(fused.data[0].y, ranks.fused[-1])


def tfn_blocks() -> sp.TFNBlocks:
    torch.manual_seed(0)
    specs = sentiment_like_specs(10, 30)
    model = TFN(FusionConfig(token_dim=12, sequence_dim=4, fusion_dim=5), specs).eval()
    x, _ = random_sentiment_batch(specs, 1, torch.Generator().manual_seed(0))
    return sp.tfn_blocks(model, x)


def test_tfn_cube_hover_names_each_cells_block():
    blocks = tfn_blocks()  # language 12 (cut to 8), visual 4, acoustic 4
    f = figs.tfn_cube_figure(blocks, max_per_axis=8)
    heat = f.data[0]
    z, text = np.asarray(heat.z), heat.text
    assert z.shape == (9, 25)
    assert "block: constant" in text[0][0] and z[0][0] == 1.0
    assert "block: language</b> (unimodal)" in text[1][0]
    assert "block: language×visual×acoustic</b> (trimodal)" in text[-1][-1]
    # every block is one outlined rectangle: 2 row groups x 4 column groups
    assert len(f.layout.shapes) == 8
    assert any("8 of 12" in a.text for a in f.layout.annotations)
    veiled = figs.tfn_cube_figure(blocks, upto=1)
    filled = [s for s in veiled.layout.shapes if s.fillcolor]
    assert len(filled) == 4  # three bimodal blocks and the trimodal one
    # columns: the 1, visual alone, acoustic alone, then visual x acoustic, in index order
    assert "visual[0]" in text[0][1] and "acoustic: 1" in text[0][1]
    assert "visual: 1" in text[0][5] and "acoustic[0]" in text[0][5]
    assert z[1][9] == pytest.approx(blocks.cube[1, 1, 1])
    assert all(w in text[1][9] for w in ("language[0]", "visual[0]", "acoustic[0]"))


def test_tfn_blocks_figure_sizes_and_contributions():
    blocks = tfn_blocks()
    f = figs.tfn_blocks_figure(blocks)
    sizes, norms = f.data
    assert list(sizes.y) == blocks.blocks
    assert list(sizes.x) == [blocks.sizes[b] for b in blocks.blocks]
    np.testing.assert_allclose(norms.x, np.linalg.norm(blocks.contributions, axis=1))
    assert "score without it" in sizes.hovertemplate


def test_mfm_flow_stages_light_up_in_order():
    cls = model_class("mfm")
    torch.manual_seed(0)
    names = ["hand", "print", "label", "text"]
    specs = {m: SPECS[m] for m in names}
    model = cls(cls.config_class(zy_dim=4, za_dim=3, hidden=16, factor_dim=8), specs).eval()
    x, mate = digits_inputs(0), digits_inputs(1)
    flow = sp.mfm_flow(model, {m: x[m] for m in names}, {m: mate[m] for m in names})
    frames = [figs.mfm_flow_figure(flow, k, specs, partner="sample 7") for k in range(5)]
    for k, f in enumerate(frames):
        shared, *private = f.data  # Z_y, then one strip per modality with a private factor
        assert len(private) == 3 and shared.customdata[0][0] == "Z_y[0]"
        assert (shared.opacity == 1.0) == (k >= 1)
        assert all((p.opacity == 1.0) == (k >= 2) for p in private)
        outputs = [im.opacity for im in f.layout.images[1::2]]  # input, output per picture row
        assert all((o == 1.0) == (k >= 3) for o in outputs)
        swapped = [a.text for a in f.layout.annotations if "← sample 7" in (a.text or "")]
        assert len(swapped) == (3 if k == 4 else 0)
    # the swap stage draws the partner's private factors and the swapped decodes
    np.testing.assert_allclose(frames[4].data[1].z[0], flow.partner_private["hand"])
    np.testing.assert_allclose(frames[3].data[1].z[0], flow.private["hand"])
    assert frames[4].layout.images[1].source != frames[3].layout.images[1].source
    words = [(a.text or "").replace("<br>", " ") for a in frames[0].layout.annotations]
    assert "target of the head, not an input" in words
