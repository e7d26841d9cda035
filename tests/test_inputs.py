"""The user-input adapters (mmviz/inputs.py): good input converted, bad input a clear DataError."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmviz.data import audio
from mmviz.data.base import DataError
from mmviz.data.digits import specs as digit_specs
from mmviz.inputs import (
    MAX_UPLOAD_BYTES,
    image_from_bytes,
    image_from_canvas,
    label_input,
    mark_unknown,
    text_to_tokens,
    wav_to_spectrogram,
)

SPECS = digit_specs()
HAND, PRINT, LABEL, TEXT, SOUND = (SPECS[m] for m in ("hand", "print", "label", "text", "sound"))


def png(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def drawn_digit(size=(120, 90), mode="L", ink=0, paper=255, offset=(10, 5)) -> Image.Image:
    """A '7'-ish stroke drawn off-centre, dark on light like a photo of paper."""
    im = Image.new(mode, size, paper)
    d = ImageDraw.Draw(im)
    x, y = offset
    d.line([(x + 20, y + 15), (x + 60, y + 15), (x + 35, y + 75)], fill=ink, width=8)
    return im


def notes(conv) -> str:
    return " | ".join(n.message for n in conv.notes)


# ---- images --------------------------------------------------------------------------------
def test_photo_of_dark_digit_becomes_mnist_like():
    out = image_from_bytes(png(drawn_digit()), HAND)
    x = out.tensor.numpy()
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
    assert x[0, :2].max() < 0.05 and x[0, :, :2].max() < 0.05  # black margins like MNIST
    mass = x[0] / x[0].sum()
    cy = (mass.sum(axis=1) * np.arange(28)).sum()
    cx = (mass.sum(axis=0) * np.arange(28)).sum()
    assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5  # centred by mass
    assert "inverted" in notes(out)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (png(drawn_digit())[:200], "truncated or corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not an image"),
    ],
)
def test_bad_image_bytes(data, expected):
    with pytest.raises(DataError, match=expected):
        image_from_bytes(data, HAND)


def test_huge_image_refused_before_decoding():
    big = png(Image.new("1", (5000, 5000), 0))
    assert len(big) < MAX_UPLOAD_BYTES
    with pytest.raises(DataError, match="5000x5000"):
        image_from_bytes(big, HAND)


def test_upload_over_size_limit():
    with pytest.raises(DataError, match="MB"):
        image_from_bytes(b"\x89PNG" + b"\x00" * (MAX_UPLOAD_BYTES + 1), HAND)


def test_large_but_acceptable_image_is_shrunk():
    out = image_from_bytes(png(drawn_digit(size=(2000, 1500), offset=(900, 700))), HAND)
    assert out.tensor.shape == (1, 28, 28) and "shrunk" in notes(out)


def test_rgba_dark_strokes_on_transparent():
    im = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(40, 10), (40, 70)], fill=(0, 0, 0, 255), width=8)
    out = image_from_bytes(png(im), HAND)
    assert "filled with white" in notes(out) and out.tensor.max() > 0.9


def test_rgba_light_strokes_on_transparent():
    im = Image.new("RGBA", (80, 80), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(40, 10), (40, 70)], fill=(255, 255, 255, 255), width=8)
    out = image_from_bytes(png(im), HAND)
    assert "filled with black" in notes(out) and out.tensor.max() > 0.9


def test_palette_and_16_bit_and_colour_images():
    pal = drawn_digit().convert("P")
    assert "palette" in notes(image_from_bytes(png(pal), HAND))
    arr16 = (np.asarray(drawn_digit(), dtype=np.uint16) * 257).astype(np.uint16)
    im16 = Image.fromarray(arr16)
    assert im16.mode.startswith("I;16")
    out16 = image_from_bytes(png(im16), HAND)
    assert "16-bit" in notes(out16) and out16.tensor.max() > 0.9
    colour = drawn_digit(mode="RGB", ink=(200, 0, 0), paper=(250, 250, 120))
    out = image_from_bytes(png(colour, "JPEG"), HAND)
    assert "converted to grey" in notes(out) and out.tensor.shape == (1, 28, 28)


def test_grey_image_for_colour_modality():
    out = image_from_bytes(png(drawn_digit(size=(64, 40))), PRINT)
    x = out.tensor.numpy()
    assert x.shape == (3, 32, 32)
    assert np.allclose(x[0], x[1]) and np.allclose(x[1], x[2])
    assert "copies" in notes(out) and "centre-cropped" in notes(out)


def test_uniform_image_has_no_digit():
    with pytest.raises(DataError, match="no digit is visible"):
        image_from_bytes(png(Image.new("L", (50, 50), 128)), HAND)


def test_canvas():
    with pytest.raises(DataError, match="canvas is empty"):
        image_from_canvas(None, HAND)
    with pytest.raises(DataError, match="canvas is empty"):
        image_from_canvas(np.zeros((280, 280, 4), dtype=np.uint8), HAND)
    with pytest.raises(DataError, match="shape"):
        image_from_canvas(np.zeros((280, 280), dtype=np.uint8), HAND)
    a = np.zeros((280, 280, 4), dtype=np.uint8)
    a[60:220, 130:150] = 255  # a white "1", fully opaque
    out = image_from_canvas(a, HAND)
    assert out.tensor.shape == (1, 28, 28) and out.tensor.max() > 0.9
    assert "inverted" not in notes(out)  # the canvas is already light on dark


# ---- text and labels -----------------------------------------------------------------------
def test_text_unknown_words_marked():
    out = text_to_tokens("the digit banana", TEXT)
    ids = out.tensor.numpy()
    assert ids.shape == (6,) and ids[2] == 1 and ids[0] > 1 and ids[3:].sum() == 0
    assert [n.level for n in out.notes] == ["warning"] and "'banana'" in notes(out)
    assert ":red[" in mark_unknown(ids, TEXT) and "digit" in mark_unknown(ids, TEXT)


def test_text_good_accents_and_errors():
    assert text_to_tokens("FÜNF!", TEXT).notes == []
    assert text_to_tokens("funf", TEXT).tensor[0] == text_to_tokens("fünf", TEXT).tensor[0]
    assert "No word is known" in notes(text_to_tokens("xyz qqq", TEXT))
    with pytest.raises(DataError, match="type a phrase"):
        text_to_tokens("   ", TEXT)
    with pytest.raises(DataError, match="at most 6"):
        text_to_tokens("one two three four five six seven", TEXT)
    with pytest.raises(DataError, match="not text"):
        text_to_tokens("seven", HAND)


def test_text_generic_vocabulary():
    from mmviz.data.base import ModalitySpec

    spec = ModalitySpec(
        "words", "tokens", (4,), "categorical", "int64", None, ("<pad>", "<unk>", "good", "bad")
    )
    out = text_to_tokens("good very bad", spec)
    assert out.tensor.tolist() == [2, 1, 3, 0] and "'very'" in notes(out)


def test_label():
    assert int(label_input("7", LABEL).tensor) == 7
    assert int(label_input(3, LABEL).tensor) == 3
    for bad in (12, -1, "seven", None):
        with pytest.raises(DataError):
            label_input(bad, LABEL)


# ---- sound ---------------------------------------------------------------------------------
def wav(x: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> bytes:
    x = np.clip(np.asarray(x, dtype=np.float64), -1, 1)
    if channels > 1:
        x = np.repeat(x[:, None], channels, axis=1).reshape(-1)
    if width == 2:
        frames = np.round(x * 32767).astype("<i2").tobytes()
    else:
        frames = np.round(x * 127 + 128).astype(np.uint8).tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def tone(rate: int, seconds: float, digit: int = 7, start: float = 0.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    f1, f2 = audio.DTMF[digit]
    x = 0.25 * (np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t))
    return np.where(t >= start, x, 0.0)


def test_wav_stereo_44k_long_is_converted():
    out = wav_to_spectrogram(wav(tone(44100, 1.5, start=0.7), 44100, channels=2), SOUND)
    s = out.tensor.numpy()
    assert s.shape == (1, 32, 32) and s.dtype == np.float32
    text = notes(out)
    assert "mixed down" in text and "resampled from 44100" in text and "loudest" in text
    freqs = audio.bin_frequencies()
    energy = s[0].mean(axis=1)
    for f in audio.DTMF[7]:  # both keypad frequencies of 7 stand out
        assert energy[np.argmin(abs(freqs - f))] > np.median(energy) + 0.2
    assert out.wave is not None and len(out.wave) == audio.CLIP_LEN


def test_wav_short_8bit_is_padded():
    out = wav_to_spectrogram(wav(tone(8000, 0.1), 8000, width=1), SOUND)
    assert out.tensor.shape == (1, 32, 32) and "padded" in notes(out)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "empty"),
        (b"RIFF\x00\x00\x00\x00WAVEgarbage", "not a readable WAV"),
        (b"definitely not audio" * 10, "not a readable WAV"),
        (wav(np.zeros(8000), 8000), "silent"),
        (wav(tone(8000, 31.0), 8000), "31.0 s"),
    ],
)
def test_bad_wav(data, expected):
    with pytest.raises(DataError, match=expected):
        wav_to_spectrogram(data, SOUND)


def test_wav_for_wrong_modality():
    with pytest.raises(DataError, match="not the digits sound"):
        wav_to_spectrogram(wav(tone(8000, 0.5), 8000), HAND)


def test_32_bit_image_holding_8_bit_values_is_not_black():
    """A mode "I" file (here TIFF) may hold values 0..255; dividing by 65535 made it black."""
    grey = np.asarray(drawn_digit(), dtype=np.int32)  # 0..255 in a 32-bit image
    im = Image.fromarray(grey)
    assert im.mode == "I"
    out = image_from_bytes(png(im, "TIFF"), HAND)
    x = out.tensor.numpy()
    assert x.max() > 0.9 and x[0, :2].max() < 0.05  # a light digit on black, as from mode L
    reference = image_from_bytes(png(drawn_digit()), HAND).tensor.numpy()
    np.testing.assert_allclose(x, reference, atol=0.02)
    assert "8-bit values" in notes(out)


@pytest.mark.parametrize("typed", ["<pad>", "<unk>"])
def test_typing_a_special_token_reads_as_an_unknown_word(typed):
    """A typed "<pad>" must not become the padding id in the middle of the phrase."""
    out = text_to_tokens(f"the {typed} seven", TEXT)
    ids = out.tensor.numpy()
    assert ids[1] == 1 and ids[0] > 1 and ids[2] > 1 and ids[3:].sum() == 0
    assert typed in notes(out)
