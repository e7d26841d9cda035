"""Hostile user input: every adapter in mmviz/inputs.py (and read_wav / encode_text) either
converts it to a well-formed model input or refuses it with a DataError that says what is wrong,
quickly. Never another exception, never a hang, never Pillow's bomb guard switched off.

Property-based (hypothesis) over random bytes, mutated and truncated files, odd image modes,
odd text and odd WAV headers; `tests/test_inputs.py` holds the example-based cases.
"""

from __future__ import annotations

import ast
import io
import re
import struct
import time
import zlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from mmviz.data import audio
from mmviz.data.base import DataError, ModalitySpec
from mmviz.data.digits import TEXT_LEN, TEXT_VOCAB, encode_text
from mmviz.data.digits import specs as digit_specs
from mmviz.inputs import (
    MAX_UPLOAD_BYTES,
    Converted,
    image_from_bytes,
    image_from_canvas,
    label_input,
    text_to_tokens,
    wav_to_spectrogram,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL")  # "Corrupt EXIF data"...
# the WAV reader's scipy modules load here: their first import (seconds on a busy machine) is
# not what the time limit of a hostile input measures
assert scipy.io.wavfile and scipy.signal
ROOT = Path(__file__).resolve().parent.parent
SPECS = digit_specs()
HAND, PRINT, LABEL, TEXT, SOUND = (SPECS[m] for m in ("hand", "print", "label", "text", "sound"))
WORDS = ModalitySpec(
    "words", "tokens", (4,), "categorical", "int64", None, ("<pad>", "<unk>", "good", "bad")
)
TIME_LIMIT_S = 2.0  # per adapter call, on a busy 2-core machine
MAX_MESSAGE = 600  # a refusal is a sentence or two, never an echo of a huge input

FAST = settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# What each adapter's refusals say; a DataError must match one (so it explains the problem).
IMAGE_REASONS = (
    "empty",
    "not an image",
    "truncated or corrupt",
    "megapixels",
    "too large to decode",
    "no digit is visible",
    r"\d MB",
)
CANVAS_REASONS = ("canvas is empty", "canvas sent an array", "no digit is visible")
TEXT_REASONS = ("type a phrase", "at most", "characters")
LABEL_REASONS = ("unknown class", "outside 0")
WAV_REASONS = (
    "empty",
    r"\d MB",
    "not a readable WAV",
    "WAV header says",
    "samples are \\d+ bytes wide",
    "WAV samples of type",
    "holds no audio",
    "recording is silent",
    r"recording is [\d.]+ s long",
)


def call(fn, *args):
    """fn(*args) -> ("ok", result) or ("refused", message); any other exception fails the test,
    and so does a call slower than TIME_LIMIT_S."""
    t0 = time.perf_counter()
    try:
        result = ("ok", fn(*args))
    except DataError as e:
        result = ("refused", str(e))
    elapsed = time.perf_counter() - t0
    assert elapsed < TIME_LIMIT_S, f"{fn.__name__} took {elapsed:.2f} s"
    return result


def check_refusal(message: str, reasons: tuple[str, ...]) -> None:
    assert 0 < len(message) <= MAX_MESSAGE, f"refusal of {len(message)} chars: {message[:200]}"
    assert any(re.search(r, message) for r in reasons), f"unexplained refusal: {message}"


def check_converted(out: Converted, spec: ModalitySpec) -> None:
    """A model-ready sample of `spec`: right shape, dtype and value range; notes well formed."""
    t = out.tensor
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == tuple(spec.shape)
    if spec.dtype == "int64":
        assert t.dtype == torch.int64
        assert int(t.min()) >= 0 and int(t.max()) < spec.num_classes
    else:
        assert t.dtype == torch.float32 and bool(torch.isfinite(t).all())
        lo, hi = spec.value_range or (0.0, 1.0)
        assert float(t.min()) >= lo and float(t.max()) <= hi
    for n in out.notes:
        assert n.level in ("info", "warning") and 0 < len(n.message) <= 2 * MAX_MESSAGE


def image_outcome(data: bytes, spec: ModalitySpec = HAND) -> str:
    kind, value = call(image_from_bytes, data, spec)
    if kind == "ok":
        check_converted(value, spec)
    else:
        check_refusal(value, IMAGE_REASONS)
    return kind


# ---- images: files ---------------------------------------------------------------------------
def encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def digit_image(size: tuple[int, int] = (40, 40)) -> Image.Image:
    im = Image.new("L", size, 255)
    w, h = size
    ImageDraw.Draw(im).line(
        [(w // 4, h // 5), (3 * w // 4, h // 5), (w // 2, 4 * h // 5)], fill=0, width=max(1, w // 8)
    )
    return im


FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "ICO", "PPM")
SEEDS = {fmt: encode(digit_image().convert("RGB"), fmt) for fmt in FORMATS}
MAGICS = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x01\x00",
    b"P6\n",
    b"8BPS",
]


@FAST
@given(st.binary(max_size=4096), st.sampled_from([b"", *MAGICS]), st.sampled_from([HAND, PRINT]))
def test_random_bytes_as_image(data, magic, spec):
    image_outcome(magic + data, spec)


@FAST
@given(
    st.sampled_from(FORMATS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
    st.floats(0.0, 1.0),
    st.sampled_from([HAND, PRINT]),
)
def test_mutated_image_files(fmt, flips, keep, spec):
    """A valid file with random bytes overwritten and its tail cut: decoders see bad data."""
    blob = bytearray(SEEDS[fmt])
    for where, byte in flips:
        blob[min(int(where * len(blob)), len(blob) - 1)] = byte
    image_outcome(bytes(blob[: max(1, int(keep * len(blob)))]), spec)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_truncation_of_an_image(fmt):
    """Cuts at ~40 points through each format: converted (trailing bytes unused) or refused."""
    blob = SEEDS[fmt]
    assert image_outcome(blob) == "ok"
    for cut in sorted(set(np.linspace(1, len(blob) - 1, 40).astype(int))):
        image_outcome(blob[:cut])


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def declared_png(w: int, h: int, idat: bytes = zlib.compress(b"\x00" * 64)) -> bytes:
    """A PNG whose header declares w x h 8-bit grey pixels, with `idat` as its pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "w, h, reason",
    [
        (5000, 5000, "5000x5000"),  # over mmviz's own limit, under Pillow's
        (10000, 10000, "megapixels|too large"),  # over Pillow's warning threshold
        (100_000, 100_000, "too large to decode"),  # Pillow's DecompressionBombError
        (2**31 - 1, 1, "megapixels|too large"),
        (1, 2**31 - 1, "megapixels|too large"),
    ],
)
def test_declared_huge_png_is_refused_before_decoding(w, h, reason):
    data = declared_png(w, h)
    assert len(data) < 200  # the bomb: a tiny file declaring billions of pixels
    kind, message = call(image_from_bytes, data, HAND)
    assert kind == "refused" and re.search(reason, message), message


def test_bombs_in_other_formats_are_refused():
    gif = bytearray(SEEDS["GIF"])
    gif[6:10] = struct.pack("<HH", 65535, 65535)  # logical screen
    gif_frame = bytes(gif).find(b",")  # image descriptor: its size too
    gif[gif_frame + 5 : gif_frame + 9] = struct.pack("<HH", 65535, 65535)
    bmp = bytearray(SEEDS["BMP"])
    bmp[18:26] = struct.pack("<ii", 60000, 60000)
    for data in (bytes(gif), bytes(bmp)):
        assert image_outcome(data) == "refused"


def test_largest_accepted_image_decodes_in_time():
    """4096x4096 of compressed zeros (a 16 KB 'zip bomb' that is within limits) decodes, is
    shrunk, and is refused only because it shows no digit."""
    data = declared_png(4096, 4096, zlib.compress(b"\x00" * (4096 * 4097), 9))
    assert len(data) < 50_000
    kind, message = call(image_from_bytes, data, HAND)
    assert kind == "refused" and "no digit" in message


def test_pillow_bomb_guard_stays_on():
    """Nothing in the package switches off Pillow's decompression-bomb check."""
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 2**27
    offenders = []
    for path in [
        *ROOT.glob("mmviz/**/*.py"),
        *ROOT.glob("ui/*.py"),
        *ROOT.glob("pages/*.py"),
        ROOT / "app.py",
    ]:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign | ast.AugAssign)
                else []
            )
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr == "MAX_IMAGE_PIXELS":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (  # warnings.simplefilter("ignore", Image.DecompressionBombWarning) and the like
                isinstance(node, ast.Call)
                and any("DecompressionBomb" in ast.unparse(a) for a in node.args)
                and any(isinstance(a, ast.Constant) and a.value == "ignore" for a in node.args)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"Pillow's bomb guard is changed at {offenders}"


# ---- images: modes -------------------------------------------------------------------------------
MODES = (
    "1",
    "L",
    "P",
    "RGB",
    "RGBA",
    "LA",
    "PA",
    "I;16",
    "I;16B",
    "I",
    "F",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "RGBX",
)
SAVABLE = {"PNG", "TIFF", "GIF", "BMP", "WEBP", "JPEG"}


def moded(mode: str, pixels: np.ndarray) -> Image.Image:
    """An image of `mode` from (h, w) uint8 pixels, with a real range in each mode."""
    if mode in ("I;16", "I;16B"):  # (Pillow's convert() to I;16B would clip at 255)
        wide = pixels.astype(np.uint16) * 257
        order = "<u2" if mode == "I;16" else ">u2"
        return Image.frombytes(mode, wide.shape[::-1], wide.astype(order).tobytes())
    if mode == "I":
        return Image.fromarray(pixels.astype(np.int32) * 65793)
    if mode == "F":
        return Image.fromarray(pixels.astype(np.float32) / 255.0)
    grey = Image.fromarray(pixels, "L")
    if mode == "LA":
        return Image.merge("LA", (grey, grey))
    if mode == "PA":
        return grey.convert("P").convert("PA")
    return grey.convert(mode)


def saved(im: Image.Image) -> list[bytes]:
    out = []
    for fmt in sorted(SAVABLE):
        try:
            out.append(encode(im, fmt))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # this format cannot hold this mode
    return out


@FAST
@given(
    st.sampled_from(MODES),
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48)),
    st.sampled_from([HAND, PRINT]),
)
def test_any_mode_any_size_converts_or_is_refused(mode, pixels, spec):
    try:
        im = moded(mode, pixels)
    except (ValueError, KeyError, TypeError):
        return  # Pillow cannot build this combination in memory either
    files = saved(im)
    assert files, f"no format saved mode {mode}"
    for data in files:
        image_outcome(data, spec)


@pytest.mark.parametrize("mode", MODES)
def test_a_clear_digit_in_every_mode_is_read(mode):
    """A dark '7' on white in any mode and lossless format becomes a bright MNIST-like digit."""
    pixels = np.asarray(digit_image((40, 40)))
    im = moded(mode, pixels)
    for fmt in ("PNG", "TIFF"):
        try:
            data = encode(im, fmt)
        except (OSError, ValueError, KeyError):
            continue
        kind, out = call(image_from_bytes, data, HAND)
        assert kind == "ok", f"{mode} {fmt}: {out}"
        check_converted(out, HAND)
        x = out.tensor[0].numpy()
        assert x.max() > 0.9 and x[:3].max() < 0.1, f"{mode} {fmt}: not a light digit on black"


# ---- canvas ------------------------------------------------------------------------------------
CANVAS_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64, np.bool_]


@FAST
@given(
    st.sampled_from(CANVAS_DTYPES).flatmap(
        lambda dt: hnp.arrays(
            dt,
            hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=40),
            elements=None if dt is not np.float64 else st.floats(allow_nan=True),
        )
    ),
    st.sampled_from([HAND, PRINT]),
)
def test_canvas_arrays(a, spec):
    kind, value = call(image_from_canvas, a, spec)
    if kind == "ok":
        check_converted(value, spec)
    else:
        check_refusal(value, CANVAS_REASONS)


@pytest.mark.parametrize(
    "a",
    [
        np.full((64, 64, 4), np.nan),
        np.full((64, 64, 4), np.inf),
        np.full((64, 64, 4), "x"),
        np.zeros((64, 64, 4), dtype=object),
        np.ones((64, 64, 4), dtype=complex),
        np.array([]),
    ],
    ids=["nan", "inf", "str", "object", "complex", "empty"],
)
def test_canvas_non_numbers_refused(a):
    kind, message = call(image_from_canvas, a, HAND)
    assert kind == "refused"
    check_refusal(message, CANVAS_REASONS)


def test_canvas_stroke_with_nan_elsewhere_is_refused_or_clean():
    a = np.zeros((64, 64, 4), dtype=np.float64)
    a[10:50, 30:34] = 1.0
    a[0, 0, 0] = np.nan
    kind, value = call(image_from_canvas, a, HAND)
    if kind == "ok":
        check_converted(value, HAND)
    else:
        check_refusal(value, CANVAS_REASONS)


# ---- text --------------------------------------------------------------------------------------
SPECIAL = [
    "\x00",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\u200f",
    "\u200e",
    "\u202e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u0301",
    "🙂",
    "👨‍👩‍👧",
    "🇩🇪",
    "\U0010ffff",
    "\u2028",
    "\x85",
    "ß",
    "İ",
    "ﬁ",
    "７",
    "seven",
    "sieben",
    "7",
    " ",
    "!",
    "'",
]
texts = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.text(max_size=12), st.sampled_from(TEXT_VOCAB)),
    max_size=12,
).map("".join)


def text_outcome(text, spec: ModalitySpec = TEXT) -> str:
    kind, value = call(text_to_tokens, text, spec)
    if kind == "ok":
        check_converted(value, spec)
    else:
        check_refusal(value, TEXT_REASONS)
    return kind


@FAST
@given(texts, st.sampled_from([TEXT, WORDS]))
def test_any_text(text, spec):
    text_outcome(text, spec)


@FAST
@given(texts)
def test_encode_text_any_text(text):
    try:
        ids, unknown = encode_text(text)
    except DataError as e:
        assert "words" in str(e)
        return
    assert ids.shape == (TEXT_LEN,) and ids.dtype == np.int64
    assert ids.min() >= 0 and ids.max() < len(TEXT_VOCAB)
    assert all(isinstance(w, str) and w for w in unknown)
    assert int((ids == 1).sum()) >= len(unknown)  # (a typed "<unk>" is a known token)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "seven " * 20_000,
        "\x00" * 100_000,
        "🙂" * 100_000,
        "\u200f" * 50_000 + "seven",
        "sieben" + "\u0301" * 100_000,
    ],
    ids=["one-long-word", "many-words", "nul", "emoji", "rtl", "combining"],
)
def test_very_long_text(text):
    text_outcome(text, TEXT)
    text_outcome(text, WORDS)


@pytest.mark.parametrize(
    "text",
    [
        "\tsieben\n",
        "sieben\x00",
        "\u200fsieben\u200e",
        "\ufeffsieben",
        "sie\u200bben",
        "\u202esieben\u202c",
        "\x1bsieben\x7f",
        "\u2066sieben\u2069",
    ],
    ids=["tab", "nul", "rtl-mark", "bom", "zero-width-space", "rtl-override", "esc-del", "isolate"],
)
def test_invisible_characters_around_a_known_word(text):
    """Characters one cannot see (pasted along with a word) do not make it unknown."""
    out = text_to_tokens(text, TEXT)
    ids = out.tensor
    assert int(ids[0]) == TEXT_VOCAB.index("sieben") and int(ids[1:].sum()) == 0
    assert out.notes == []


@pytest.mark.parametrize("text", ["\u200f", "\x00\x00", "\ufeff \u200b", "\u2028\x85"])
def test_only_invisible_characters_asks_for_a_phrase(text):
    kind, message = call(text_to_tokens, text, TEXT)
    assert kind == "refused" and "type a phrase" in message


# ---- labels --------------------------------------------------------------------------------------
@FAST
@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.none(),
        st.booleans(),
        st.binary(max_size=5),
        st.sampled_from(
            [
                "7",
                " 7 ",
                "1e3",
                "٣",
                "9" * 4000,
                "9" * 5000,
                10**4000,
                float("inf"),
                -float("inf"),
                7.9,
                np.int64(3),
                np.float32("nan"),
            ]
        ),
    )
)
def test_any_label(value):
    kind, out = call(label_input, value, LABEL)
    if kind == "ok":
        check_converted(out, LABEL)
    else:
        check_refusal(out, LABEL_REASONS)


# ---- WAV -----------------------------------------------------------------------------------------
def make_wav(samples: np.ndarray, rate: int, channels: int, width: int) -> bytes:
    """PCM WAV from float samples in [-1, 1] (frames x channels), any width 1-4 bytes."""
    x = np.clip(samples, -1, 1).reshape(-1)
    if width == 1:
        raw = np.round(x * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(x * 32767).astype("<i2").tobytes()
    elif width == 3:
        v = np.round(x * 8388607).astype("<i4")
        raw = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], -1).astype(np.uint8).tobytes()
    else:
        raw = np.round(x * 2147483647).astype("<i4").tobytes()
    return wav_bytes_raw(raw, rate, channels, width)


def wav_bytes_raw(raw: bytes, rate: int, channels: int, width: int, fmt: int = 1) -> bytes:
    """A RIFF/WAVE file with the given header fields (any values, unchecked) and data bytes."""
    fmt_chunk = struct.pack(
        "<HHIIHH",
        fmt,
        channels & 0xFFFF,
        rate & 0xFFFFFFFF,
        (rate * channels * width) & 0xFFFFFFFF,
        (channels * width) & 0xFFFF,
        (8 * width) & 0xFFFF,
    )
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt_chunk
        + b"data"
        + struct.pack("<I", len(raw))
        + raw
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def dtmf(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(max(0, int(rate * seconds))) / rate
    f1, f2 = audio.DTMF[5]
    x = 0.3 * (np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t))
    return np.repeat(x[:, None], channels, axis=1)


def wav_outcome(data: bytes) -> str:
    kind, value = call(wav_to_spectrogram, data, SOUND)
    if kind == "ok":
        check_converted(value, SOUND)
        assert value.wave is not None and value.wave.shape == (audio.CLIP_LEN,)
        assert np.isfinite(value.wave).all() and np.abs(value.wave).max() <= 1.0
    else:
        check_refusal(value, WAV_REASONS)
    # read_wav alone (no size or length limits in front of it) must hold up as well
    if len(data) <= MAX_UPLOAD_BYTES:
        kind2, value2 = call(audio.read_wav, data, audio.RATE)
        if kind2 == "ok":
            x, rate = value2
            assert rate == audio.RATE and x.dtype == np.float32 and x.ndim == 1 and len(x) > 0
            assert np.isfinite(x).all() and np.abs(x).max() <= 1.0
        else:
            check_refusal(value2, WAV_REASONS)
    return kind


RATES = [
    1,
    2,
    3,
    100,
    4000,
    8000,
    11025,
    22050,
    44100,
    44101,
    48000,
    65521,
    96000,
    192000,
    384000,
    767999,
    2**31 - 1,
    2**32 - 1,
]


@FAST
@given(
    st.one_of(st.sampled_from(RATES), st.integers(1, 2**32 - 1)),
    st.integers(1, 8),
    st.integers(1, 4),
    st.floats(0.0, 0.7),
)
def test_wav_any_rate_width_channels(rate, channels, width, seconds):
    seconds = min(seconds, 20_000 / rate)  # keep the file small
    wav_outcome(make_wav(dtmf(rate, seconds, channels), rate, channels, width))


@pytest.mark.parametrize(
    "rate, channels, width, expect",
    [
        (1, 1, 2, "ok|refused"),
        (8000, 1, 1, "ok"),
        (8000, 1, 2, "ok"),
        (8000, 1, 3, "ok"),
        (8000, 1, 4, "ok"),
        (192000, 2, 2, "ok"),
        (44100, 6, 3, "ok"),
        (48000, 8, 4, "ok"),
    ],
)
def test_wav_reference_cases(rate, channels, width, expect):
    """A real keypad tone at each width, rate and channel count is read (1 Hz: whatever)."""
    seconds = 0.6 if rate > 1 else 20
    kind = wav_outcome(make_wav(dtmf(rate, seconds, channels), rate, channels, width))
    assert re.fullmatch(expect, kind)


@FAST
@given(
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
    st.binary(max_size=2000),
)
def test_wav_nonsense_headers(fmt, rate, channels, bits, raw):
    width = max(1, (bits + 7) // 8)
    data = bytearray(wav_bytes_raw(raw, rate, channels, width, fmt))
    struct.pack_into("<H", data, 34, bits)
    wav_outcome(bytes(data))


@FAST
@given(
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6),
    st.floats(0.0, 1.0),
)
def test_wav_mutated_and_truncated(flips, keep):
    blob = bytearray(make_wav(dtmf(8000, 0.3), 8000, 1, 2))
    for where, byte in flips:
        blob[min(int(where * len(blob)), len(blob) - 1)] = byte
    wav_outcome(bytes(blob[: max(1, int(keep * len(blob)))]))


@FAST
@given(st.binary(max_size=3000), st.sampled_from([b"", b"RIFF", b"RIFF\x10\x00\x00\x00WAVE"]))
def test_wav_random_bytes(data, prefix):
    assert wav_outcome(prefix + data) == "refused"


def test_wav_partial_last_frame_is_read():
    """A data chunk cut mid-sample (a truncated download) keeps its whole frames."""
    for width in (1, 2, 3, 4):
        blob = make_wav(dtmf(8000, 0.3, 2), 8000, 2, width)
        for cut in range(1, 2 * width):
            assert wav_outcome(blob[:-cut]) == "ok", (width, cut)


def test_wav_zero_length_and_lying_lengths():
    assert wav_outcome(make_wav(np.zeros((0, 1)), 8000, 1, 2)) == "refused"
    # the data chunk claims 4 GB but holds 0.3 s: read what is there or refuse, quickly
    blob = bytearray(make_wav(dtmf(8000, 0.3), 8000, 1, 2))
    struct.pack_into("<I", blob, 40, 2**32 - 1)
    wav_outcome(bytes(blob))
    # a 31 s recording (under 5 MB) is refused by its length, naming it
    kind, message = call(wav_to_spectrogram, make_wav(dtmf(8000, 31), 8000, 1, 2), SOUND)
    assert kind == "refused" and "31.0 s" in message


def test_wav_longest_accepted_recording_is_fast():
    """29 s at 44.1 kHz, 8-bit mono (1.3 MB) with the tone at the end: converted in time."""
    x = dtmf(44100, 29.0)
    x[:-44100] *= 0.01
    kind, out = call(wav_to_spectrogram, make_wav(x, 44100, 1, 1), SOUND)
    assert kind == "ok" and "loudest" in " ".join(n.message for n in out.notes)


@pytest.mark.parametrize("fmt", [2, 0, 7, 0x55])
def test_wav_unsupported_encodings_are_refused(fmt):
    """ADPCM, unknown, mu-law, MP3: refused, naming the format, with the hint."""
    data = wav_bytes_raw(np.ones(800, dtype="<f4").tobytes(), 8000, 1, 4, fmt)
    kind, message = call(wav_to_spectrogram, data, SOUND)
    assert kind == "refused"
    check_refusal(message, WAV_REASONS)
    assert "Unknown wave file format" in message


def extensible_wav(raw: bytes, rate: int, channels: int, width: int, sub: int, bits: int) -> bytes:
    """A WAVE_FORMAT_EXTENSIBLE file (40-byte fmt chunk) whose sub-format GUID is `sub`
    (1 PCM, 3 IEEE float), written by hand as phones and DAWs write them."""
    guid = struct.pack("<I", sub) + b"\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack(
        "<HHIIHHHHI", 0xFFFE, channels, rate, rate * channels * width, channels * width,
        8 * width, 22, bits, (1 << channels) - 1,
    ) + guid  # fmt: skip
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(raw)) + raw
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_wav_float32_is_read_and_resampled():
    """A 32-bit float WAV at 44.1 kHz (what `wave` refused): read, resampled to 8 kHz."""
    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, 44100, dtmf(44100, 0.6).astype(np.float32))
    data = buf.getvalue()
    assert struct.unpack("<H", data[20:22])[0] == 3  # IEEE float
    assert wav_outcome(data) == "ok"
    out = wav_to_spectrogram(data, SOUND)
    assert "resampled from 44100 Hz to 8000 Hz" in " ".join(n.message for n in out.notes)
    x, rate = audio.read_wav(data)
    assert rate == 8000 and len(x) == round(0.6 * 8000)
    assert np.abs(x[1000:-1000]).max() == pytest.approx(0.6, abs=0.03)  # 0.3 + 0.3 peak


@pytest.mark.parametrize(
    ("sub", "width", "dtype", "scale"),
    [(1, 2, "<i2", 32767), (1, 4, "<i4", 2**31 - 1), (3, 4, "<f4", 1.0)],
)
def test_wav_extensible_is_read(sub, width, dtype, scale):
    """WAVE_FORMAT_EXTENSIBLE around 16/32-bit PCM and float, stereo at 48 kHz."""
    x = dtmf(48000, 0.5, channels=2)
    raw = (x * scale).astype(dtype).tobytes()
    data = extensible_wav(raw, 48000, 2, width, sub, 8 * width)
    assert wav_outcome(data) == "ok"
    y, rate = audio.read_wav(data)
    assert rate == 8000 and len(y) == 4000
    ref, _ = audio.read_wav(make_wav(x, 48000, 2, 2))  # the same tone as plain 16-bit PCM
    assert np.abs(y - ref).max() < 1e-3


def test_wav_float_with_nan_and_huge_values_is_clipped():
    x = dtmf(8000, 0.5).astype(np.float32)
    x[::50] = np.nan
    x[1::50] = np.inf
    x[2::50] = 1e30
    data = wav_bytes_raw(x.tobytes(), 8000, 1, 4, 3)
    assert wav_outcome(data) == "ok"
