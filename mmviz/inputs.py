"""A user's own inputs (upload, drawing, typing, recording) turned into one sample of a modality.

Every adapter returns a `Converted`: the tensor shaped like `spec.shape` (a model input, no
batch axis) plus notes saying what was converted (resized, made grey, resampled, unknown
words). Input that cannot sensibly be converted raises `DataError` whose message says what was
wrong and what is expected, so the page can show it and keep everything else running. Pure:
no Streamlit here, so each case is unit-tested with bad bytes directly.
"""

from __future__ import annotations

import contextlib
import io
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from mmviz.data.base import DataError, ModalitySpec

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # matches .streamlit/config.toml server.maxUploadSize
MAX_PIXELS = 4096 * 4096  # larger images are refused before decoding (memory, time)
WORK_SIZE = 512  # large images are shrunk to this before any per-pixel work
MAX_WAV_SECONDS = 30.0
MAX_WORD_CHARS = 40  # a phrase may be this many characters per word slot, no longer
IMAGE_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff")
IMAGE_HINT = "upload a PNG or JPEG image (at most 5 MB and 4096x4096 pixels)"
WAV_HINT = "upload a .wav file (PCM or float, mono or stereo, any rate) under 30 s"
MNIST_BOX = 20  # MNIST digits are scaled into a 20x20 box and centred by mass in 28x28

Level = Literal["info", "warning"]


def _short(value: object, limit: int = 32) -> str:
    """repr() of a user's value, cut to `limit` characters: messages never echo a huge input."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…"


@dataclass
class Note:
    """Something the adapter changed or noticed; `warning` when the result may be poor."""

    level: Level
    message: str


@dataclass
class Converted:
    """One sample for one modality, ready for a model, and what was done to get it."""

    tensor: torch.Tensor
    notes: list[Note] = field(default_factory=list)
    wave: np.ndarray | None = None  # the 8 kHz clip behind a sound input, for playback

    def info(self, message: str) -> None:
        self.notes.append(Note("info", message))

    def warn(self, message: str) -> None:
        self.notes.append(Note("warning", message))


# ---- images ----------------------------------------------------------------------------------
def _check_bytes(data: bytes | None, what: str, hint: str) -> bytes:
    if data is None or len(data) == 0:
        raise DataError(f"the {what} is empty; {hint}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(
            f"the {what} is {len(data) / 2**20:.1f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB "
            f"is accepted: {hint}"
        )
    return bytes(data)


def _open_image(data: bytes) -> tuple[Image.Image, list[str]]:
    """Decode with size checks before the pixels are read; returns the image and notes."""
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_PIXELS or w < 1 or h < 1:
                raise DataError(
                    f"the image is {w}x{h} pixels ({w * h / 1e6:.1f} megapixels); at most "
                    f"{MAX_PIXELS / 1e6:.1f} megapixels are accepted: scale it down first"
                )
            if getattr(im, "n_frames", 1) > 1:
                notes.append("the file holds several frames: the first one is used")
            if im.format == "JPEG":
                im.draft(im.mode, (WORK_SIZE, WORK_SIZE))  # decode at reduced size: fast
            im.load()
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"this file is not an image Pillow can read; {IMAGE_HINT}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"the image is too large to decode safely ({e}); {IMAGE_HINT}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise DataError(
            f"the image file is truncated or corrupt ({e}); re-export it, {IMAGE_HINT}"
        ) from None
    with contextlib.suppress(OSError, ValueError, SyntaxError):
        im = ImageOps.exif_transpose(im) or im  # photos taken sideways
    if max(im.size) > WORK_SIZE:
        notes.append(f"large image ({im.size[0]}x{im.size[1]}) shrunk before conversion")
        im.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    return im, notes


def _to_float(im: Image.Image) -> tuple[np.ndarray, list[str]]:
    """(H, W, C) float in [0, 1] with C in {1, 3}, from any Pillow mode (16-bit, palette, alpha)."""
    notes: list[str] = []
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        peak = float(a.max(initial=0))
        # 32-bit "I" images often hold 8-bit values (Pillow opens some PNGs so): scale by the
        # smallest usual range that holds them, or the image would come out black
        if mode.startswith("I;16"):
            top = 65535.0
        else:
            top = next((t for t in (255.0, 65535.0) if peak <= t), peak)
        bits = {255.0: "8", 65535.0: "16"}.get(top, "32")
        notes.append(
            f"{'16' if mode.startswith('I;16') else '32'}-bit image ({bits}-bit values) "
            "scaled to [0, 1]"
        )
        return np.clip(a / top, 0.0, 1.0)[..., None], notes
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        top = max(1.0, float(a.max(initial=0)))
        return np.clip(a / top, 0.0, 1.0)[..., None], notes
    if mode == "1":
        im = im.convert("L")
    if mode in ("P", "PA"):
        im = im.convert("RGBA")
        notes.append("palette image converted to RGB")
    if im.mode in ("LA", "La", "RGBA", "RGBa"):
        a = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
        rgb, alpha = a[..., :3], a[..., 3:]
        if alpha.min() < 1.0:
            # fill transparency with the colour that contrasts with the strokes: light strokes
            # on a transparent background go on black, dark strokes on white
            opaque = alpha[..., 0] > 0.5
            lum = rgb @ np.array([0.299, 0.587, 0.114])
            light = bool(opaque.any() and lum[opaque].mean() > 0.5)
            bg = 0.0 if light else 1.0
            rgb = rgb * alpha + bg * (1.0 - alpha)
            notes.append(f"transparent background filled with {'black' if light else 'white'}")
        return rgb, notes
    if im.mode == "L":
        return (np.asarray(im, dtype=np.float64) / 255.0)[..., None], notes
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0, notes


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """(H, W) float -> (h, w) with Lanczos (antialiased when shrinking)."""
    im = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(im.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float64)


def _mnist_like(grey: np.ndarray, polarity: str, out: Converted) -> np.ndarray:
    """A grey digit of any size -> 28x28 as MNIST was made: light ink on black, the digit
    scaled into a 20x20 box and centred by its centre of mass. Without this a photo of a digit
    on paper (dark on light, off-centre) looks nothing like what the model was trained on."""
    g = grey.astype(np.float64)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if polarity == "auto" and np.median(border) > 0.5:
        g = 1.0 - g
        border = 1.0 - border
        out.info("dark ink on a light background: inverted to MNIST's light ink on black")
    from scipy.ndimage import uniform_filter

    # the brightest 3x3 neighbourhood: thin strokes count, single noisy pixels do not
    lo, hi = float(np.median(border)), float(uniform_filter(g, 3, mode="nearest").max())
    if hi - lo < 0.15:
        raise DataError(
            "no digit is visible: the image is almost uniform. Draw or photograph one digit, "
            "with clear contrast between ink and background"
        )
    g = np.clip((g - lo) / (hi - lo), 0.0, 1.0)
    rows, cols = np.flatnonzero(g.max(axis=1) > 0.25), np.flatnonzero(g.max(axis=0) > 0.25)
    g = g[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = g.shape
    s = MNIST_BOX / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    g = np.clip(_resize(g, nh, nw), 0.0, 1.0)
    canvas = np.zeros((28, 28))
    mass = g.sum() + 1e-9
    cy = (g.sum(axis=1) * np.arange(nh)).sum() / mass
    cx = (g.sum(axis=0) * np.arange(nw)).sum() / mass
    top = int(np.clip(round(14 - cy), 0, 28 - nh))
    left = int(np.clip(round(14 - cx), 0, 28 - nw))
    canvas[top : top + nh, left : left + nw] = g
    out.info("cropped to the digit, scaled into 20x20 and centred in 28x28, as MNIST was")
    return canvas


def _fit_image(rgb: np.ndarray, spec: ModalitySpec, out: Converted, polarity: str) -> np.ndarray:
    """(H, W, C) float in [0, 1] -> spec.shape (channels first), converting what is sensible."""
    if spec.kind != "image" or len(spec.shape) != 3:
        raise DataError(f"modality {spec.name!r} is {spec.kind}, not an image")
    c, h, w = spec.shape
    if c == 1:
        if rgb.shape[-1] == 3:
            if np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max() > 2 / 255:
                out.info("colour image converted to grey (luminance)")
            grey = rgb @ np.array([0.299, 0.587, 0.114])
        else:
            grey = rgb[..., 0]
        if (h, w) == (28, 28):
            return _mnist_like(grey, polarity, out)[None]
        if grey.shape != (h, w):
            out.info(f"resized from {grey.shape[1]}x{grey.shape[0]} to {w}x{h}")
            grey = _resize(grey, h, w)
        return np.clip(grey, 0.0, 1.0)[None]
    if c != 3:
        raise DataError(f"modality {spec.name!r} has {c} channels; only 1 or 3 are supported")
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
        out.info("grey image: the three colour channels are copies of it")
    ih, iw = rgb.shape[:2]
    if abs(ih / iw - h / w) > 0.05:  # centre-crop to the model's aspect ratio first
        if ih / iw > h / w:
            nh = round(iw * h / w)
            rgb = rgb[(ih - nh) // 2 : (ih - nh) // 2 + nh]
        else:
            nw = round(ih * w / h)
            rgb = rgb[:, (iw - nw) // 2 : (iw - nw) // 2 + nw]
        out.info(f"centre-cropped from {iw}x{ih} to the model's aspect ratio")
    if rgb.shape[:2] != (h, w):
        out.info(f"resized from {rgb.shape[1]}x{rgb.shape[0]} to {w}x{h}")
        rgb = np.stack([_resize(rgb[..., k], h, w) for k in range(3)], axis=-1)
    return np.clip(rgb, 0.0, 1.0).transpose(2, 0, 1)


def image_from_bytes(data: bytes | None, spec: ModalitySpec) -> Converted:
    """An uploaded image file -> one sample of image modality `spec`.

    Accepts any format Pillow reads, any mode (palette, alpha, 16-bit, CMYK) and any size up to
    MAX_PIXELS; converts colour/grey, resizes and, for 28x28 grey digits, normalises like MNIST.
    """
    data = _check_bytes(data, "uploaded image", IMAGE_HINT)
    im, opened = _open_image(data)
    rgb, mode_notes = _to_float(im)
    out = Converted(torch.zeros(()), [Note("info", n) for n in opened + mode_notes])
    arr = _fit_image(rgb, spec, out, polarity="auto")
    out.tensor = torch.from_numpy(arr.astype(np.float32))
    return out


def image_from_canvas(rgba: np.ndarray | None, spec: ModalitySpec) -> Converted:
    """A drawing canvas' RGBA array (light strokes on a dark or transparent background).

    An empty canvas (nothing drawn) is a DataError asking for a drawing rather than a blank input.
    """
    empty = "the canvas is empty: draw a digit (large, in the middle), then release the mouse"
    if rgba is None:
        raise DataError(empty)
    try:
        a = np.asarray(rgba)
    except (TypeError, ValueError):
        raise DataError(
            "the canvas sent an array of no fixed shape; expected (H, W, 4) RGBA"
        ) from None
    if a.ndim != 3 or a.shape[-1] not in (3, 4) or a.shape[0] < 8 or a.shape[1] < 8:
        raise DataError(f"the canvas sent an array of shape {a.shape}; expected (H, W, 4) RGBA")
    if a.dtype.kind not in "biuf" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
        what = "non-finite values" if a.dtype.kind == "f" else f"dtype {a.dtype}"
        raise DataError(f"the canvas sent an array with {what}; expected RGBA numbers in 0..255")
    a = a.astype(np.float64) / (255.0 if a.dtype == np.uint8 or a.max(initial=0) > 1 else 1.0)
    rgb = a[..., :3]
    alpha = a[..., 3] if a.shape[-1] == 4 else np.ones(a.shape[:2])
    ink = (rgb @ np.array([0.299, 0.587, 0.114])) * alpha  # over black
    if ink.max(initial=0) < 0.15:
        raise DataError(empty)
    out = Converted(torch.zeros(()))
    if spec.shape[0] == 3:
        arr = _fit_image(np.repeat(ink[..., None], 3, axis=-1), spec, out, "light_on_dark")
    else:
        arr = _fit_image(ink[..., None], spec, out, "light_on_dark")
    out.tensor = torch.from_numpy(arr.astype(np.float32))
    return out


# ---- text and labels ---------------------------------------------------------------------------
def _digits_vocab(spec: ModalitySpec) -> bool:
    from mmviz.data.digits import TEXT_LEN, TEXT_VOCAB

    return spec.vocab == TEXT_VOCAB and spec.shape == (TEXT_LEN,)


def text_to_tokens(text: str | None, spec: ModalitySpec) -> Converted:
    """A typed phrase -> token ids; unknown words become <unk> (id 1) and are listed in a note."""
    if spec.kind != "tokens" or not spec.vocab or len(spec.shape) != 1:
        raise DataError(f"modality {spec.name!r} is {spec.kind}, not text")
    example = "e.g. 'the digit seven', 'sieben' or '7'"
    text = "" if text is None else str(text)
    if len(text) > MAX_WORD_CHARS * spec.shape[0]:
        raise DataError(
            f"the phrase is {len(text)} characters long; at most "
            f"{MAX_WORD_CHARS * spec.shape[0]} characters ({spec.shape[0]} words) fit, {example}"
        )
    # invisible characters that come along when pasting (RTL marks, zero-width spaces, NUL,
    # other control characters) are neither words nor parts of one
    text = "".join(
        " " if unicodedata.category(c) == "Cc" else c
        for c in text
        if unicodedata.category(c) != "Cf"
    )
    if not text.strip():
        raise DataError(f"type a phrase for {spec.name!r}, {example}")
    words = "".join(" " if c in ".,!?;:\"'()[]" else c for c in text.lower()).split()
    if len(words) > spec.shape[0]:  # said here, briefly, rather than echoing the phrase
        raise DataError(f"the phrase has {len(words)} words; at most {spec.shape[0]} fit")
    if _digits_vocab(spec):
        from mmviz.data.digits import encode_text

        ids, unknown = encode_text(text)
    else:
        index = {w: i for i, w in enumerate(spec.vocab)}
        ids = np.zeros(spec.shape[0], dtype=np.int64)
        unknown = []
        for k, w in enumerate(words):
            if index.get(w, 1) <= 1:  # typing "<pad>" or "<unk>" is not a word either
                unknown.append(w)
            ids[k] = max(index.get(w, 1), 1)
    out = Converted(torch.from_numpy(np.asarray(ids, dtype=np.int64)))
    if unknown:
        known = int((np.asarray(ids) > 1).sum())
        shown = ", ".join(_short(w) for w in unknown[:8]) + (
            f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
        )
        msg = f"not in the vocabulary, read as <unk>: {shown}" + (
            "" if known else f". No word is known, so the model sees nothing useful; {example}"
        )
        out.warn(msg)
    return out


def mark_unknown(ids: np.ndarray, spec: ModalitySpec) -> str:
    """The phrase as the model reads it, unknown words shown as <unk> (markdown, marked red)."""
    from mmviz.explore import tokens_to_text

    words = tokens_to_text(np.asarray(ids), spec, cut_at_pad=False).split()
    return " ".join(":red[**&lt;unk&gt;**]" if w == "<unk>" else w for w in words)


def label_input(value: int | str, spec: ModalitySpec) -> Converted:
    """A picked class (index or name) -> the categorical modality's id."""
    if spec.kind != "categorical" or not spec.vocab:
        raise DataError(f"modality {spec.name!r} is {spec.kind}, not a label")
    names = list(spec.vocab)
    if isinstance(value, str) and value in names:
        i = names.index(value)
    else:
        try:
            i = int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
            raise DataError(
                f"unknown class {_short(value)}; choose one of {', '.join(names)}"
            ) from None
    if not 0 <= i < len(names):
        raise DataError(f"class {_short(i)} is outside 0..{len(names) - 1}")
    return Converted(torch.tensor(i, dtype=torch.int64))


# ---- sound ---------------------------------------------------------------------------------------
def wav_header(data: bytes) -> tuple[int, int, int, float]:
    """(channels, sample width in bytes, rate, seconds) of WAV bytes, or DataError."""
    from mmviz.data import audio

    layout = audio.wav_layout(data)
    return layout.channels, layout.width, layout.rate, layout.frames / layout.rate


def wav_to_spectrogram(data: bytes | None, spec: ModalitySpec) -> Converted:
    """An uploaded WAV -> the `sound` spectrogram: mixed to mono, resampled to 8 kHz, the
    loudest 0.53 s kept (or padded), then the dataset's fixed 32x32 log-magnitude transform."""
    from mmviz.data import audio

    if spec.kind != "spectrogram" or tuple(spec.shape) != (1, audio.N_BINS, audio.N_FRAMES):
        raise DataError(f"modality {spec.name!r} is not the digits sound spectrogram")
    data = _check_bytes(data, "uploaded sound", WAV_HINT)
    layout = audio.wav_layout(data)
    channels, rate, seconds = layout.channels, layout.rate, layout.frames / layout.rate
    if seconds > MAX_WAV_SECONDS:
        raise DataError(f"the recording is {seconds:.1f} s long; {WAV_HINT}")
    wave, _ = audio.read_wav(layout, audio.RATE)
    out = Converted(torch.zeros(()))
    if channels > 1:
        out.info(f"{channels} channels mixed down to mono")
    if rate != audio.RATE:
        out.info(f"resampled from {rate} Hz to {audio.RATE} Hz")
    clip_s = audio.CLIP_LEN / audio.RATE
    if len(wave) > audio.CLIP_LEN:
        out.info(f"{len(wave) / audio.RATE:.2f} s long: the loudest {clip_s:.2f} s are kept")
    elif len(wave) < audio.CLIP_LEN:
        out.info(f"{len(wave) / audio.RATE:.2f} s long: padded with silence to {clip_s:.2f} s")
    clip = audio.fit_clip(wave)
    if np.abs(clip).max(initial=0) < 1e-3:
        raise DataError("the recording is silent; record a keypad tone (or any sound) and retry")
    spec01 = audio.spectrogram(clip)[None]
    if spec01.max() <= 0.0:
        out.warn("nothing between 625 and 1594 Hz, where the keypad tones are: expect noise")
    out.tensor = torch.from_numpy(spec01.astype(np.float32))
    out.wave = clip.astype(np.float32)
    return out
