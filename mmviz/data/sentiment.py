"""Synthetic word-aligned sentiment utterances (language, visual, acoustic), CMU-MOSI style.

Every utterance is built from a known recipe (`interaction`) so that redundancy, uniqueness,
synergy and within-language interactions are ground truth rather than guesses:

- redundant: words, face and voice all show the score's polarity;
- unique_language / unique_visual / unique_acoustic: only that stream shows it, the others
  are neutral (neutral words; face and voice with no polarity cue);
- synergy (sarcasm): language polarity L and a sarcasm flag A are independent fair coins;
  sarcasm shows as a flat, low-energy voice and a head shake (no smile or frown); the score's
  sign is L if A = 0 else -L, so no stream alone tells the sign, language with either the voice
  or the face does;
- negation: "not" + a sentiment word (polarity flipped) plus a plain word of the opposite
  lexicon polarity, so both words agree on the meaning but a bag of words sees one positive
  and one negative word: only word order tells the sign.

Visual and acoustic features are standardised per feature over real (non-PAD) words; PAD steps
are exactly zero in every stream.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Mapping

import numpy as np

from mmviz.data.base import SPLITS, DataError, ModalitySpec, MultimodalDataset, version_hash
from mmviz.data.cache import load_or_build

GENERATOR_VERSION = "sentiment-1"
NAME = "sentiment"
T = 20  # words per utterance (padded)
MIN_WORDS = 8
MAG_RANGE = (0.3, 3.0)  # |score|; below 0.5 rounds to the neutral 7-class label

INTERACTIONS = (
    "redundant",
    "unique_language",
    "unique_visual",
    "unique_acoustic",
    "synergy",
    "negation",
)
DEFAULT_MIX: dict[str, float] = {
    "redundant": 0.3,
    "unique_language": 0.1,
    "unique_visual": 0.1,
    "unique_acoustic": 0.1,
    "synergy": 0.2,
    "negation": 0.2,
}
# visual/acoustic: std of per-word Gaussian noise before standardisation (cues are ~1-3);
# language: probability that each word is replaced by <unk>.
DEFAULT_NOISE: dict[str, float] = {"language": 0.0, "visual": 0.6, "acoustic": 0.6}

VISUAL_FEATURES = (
    "smile",
    "frown",
    "brow_raise",
    "head_nod",
    "head_shake",
    "gaze_away",
    "eye_widen",
    "lip_press",
)
ACOUSTIC_FEATURES = ("pitch_mean", "pitch_range", "energy", "speaking_rate", "jitter", "pause")

POSITIVE: dict[int, tuple[str, ...]] = {
    1: ("good", "nice", "fine", "pleasant", "decent", "enjoyable", "fun", "solid", "sweet", "cute"),
    2: (
        "great",
        "love",
        "loved",
        "beautiful",
        "funny",
        "charming",
        "impressive",
        "wonderful",
        "excellent",
        "touching",
    ),
    3: (
        "amazing",
        "awesome",
        "brilliant",
        "fantastic",
        "incredible",
        "perfect",
        "masterpiece",
        "outstanding",
        "superb",
        "stunning",
    ),
}
NEGATIVE: dict[int, tuple[str, ...]] = {
    1: ("bad", "boring", "dull", "weak", "poor", "bland", "silly", "messy", "flat", "forgettable"),
    2: (
        "hate",
        "hated",
        "awful",
        "stupid",
        "annoying",
        "ugly",
        "lame",
        "pointless",
        "disappointing",
        "painful",
    ),
    3: (
        "terrible",
        "horrible",
        "worst",
        "disgusting",
        "atrocious",
        "unbearable",
        "garbage",
        "pathetic",
        "dreadful",
        "abysmal",
    ),
}
NEUTRAL = (
    "the",
    "a",
    "it",
    "was",
    "and",
    "i",
    "this",
    "movie",
    "is",
    "of",
    "to",
    "that",
    "film",
    "um",
    "uh",
    "in",
    "he",
    "she",
    "they",
    "plot",
    "story",
    "actor",
    "actress",
    "acting",
    "scene",
    "scenes",
    "ending",
    "music",
    "director",
    "script",
    "character",
    "characters",
    "were",
    "an",
    "on",
    "with",
    "for",
    "we",
    "you",
    "my",
    "his",
    "her",
    "think",
    "thought",
    "felt",
    "saw",
    "watched",
    "just",
    "about",
    "kind",
    "of",
    "thing",
    "things",
    "part",
    "whole",
    "time",
    "guy",
    "people",
    "there",
    "what",
    "when",
    "then",
    "also",
    "some",
    "all",
    "one",
    "first",
    "end",
    "camera",
    "cast",
    "dialogue",
    "effects",
    "theater",
    "seen",
    "went",
    "see",
    "know",
    "mean",
    "basically",
    "honestly",
    "actually",
    "yeah",
    "well",
    "lot",
    "bit",
    "again",
    "did",
)
NEUTRAL = tuple(dict.fromkeys(NEUTRAL))  # drop repeats, keep order (frequency rank)
INTENSIFIERS = ("very", "really", "so")
NEGATOR = "not"
CONTRAST = "but"
PAD, UNK = "<pad>", "<unk>"

VOCAB: tuple[str, ...] = (
    PAD,
    UNK,
    *NEUTRAL,
    *INTENSIFIERS,
    NEGATOR,
    CONTRAST,
    *(w for s in (1, 2, 3) for w in POSITIVE[s]),
    *(w for s in (1, 2, 3) for w in NEGATIVE[s]),
)
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
# word -> signed strength (+1..+3 positive, -1..-3 negative); absent words are neutral
LEXICON: dict[str, int] = {
    **{w: s for s, ws in POSITIVE.items() for w in ws},
    **{w: -s for s, ws in NEGATIVE.items() for w in ws},
}

# Zipf-like frequencies for filler words so utterances look like speech, not uniform salad.
_NEUTRAL_IDS = [WORD_ID[w] for w in NEUTRAL]
_NEUTRAL_CUM = np.cumsum(1.0 / (np.arange(len(NEUTRAL)) + 3.0)).tolist()

_VI = {f: i for i, f in enumerate(VISUAL_FEATURES)}
_AI = {f: i for i, f in enumerate(ACOUSTIC_FEATURES)}


# ---- parameters ------------------------------------------------------------------------------
def _resolve_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    """Validated, normalised recipe proportions; recipes not named get 0."""
    if mix is None:
        mix = DEFAULT_MIX
    if not isinstance(mix, Mapping):
        raise DataError(f"mix must be a dict recipe -> proportion, got {type(mix).__name__}")
    unknown = [k for k in mix if k not in INTERACTIONS]
    if unknown:
        raise DataError(
            f"unknown recipe {', '.join(map(repr, unknown))} in mix; "
            f"choose from: {', '.join(INTERACTIONS)}"
        )
    vals = {}
    for k in INTERACTIONS:
        v = mix.get(k, 0.0)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise DataError(f"mix[{k!r}] must be a number, got {v!r}") from None
        if not math.isfinite(v) or v < 0:
            raise DataError(f"mix[{k!r}] must be a finite number >= 0, got {v!r}")
        vals[k] = v
    total = sum(vals.values())
    if total <= 0:
        raise DataError("mix gives every recipe proportion 0: give at least one a positive value")
    return {k: v / total for k, v in vals.items()}


def _resolve_noise(noise: Mapping[str, float] | None) -> dict[str, float]:
    """Defaults overridden by `noise`; language is a probability, the others are stds."""
    out = dict(DEFAULT_NOISE)
    if noise is None:
        return out
    if not isinstance(noise, Mapping):
        raise DataError(f"noise must be a dict modality -> level, got {type(noise).__name__}")
    for k, v in noise.items():
        if k not in DEFAULT_NOISE:
            raise DataError(
                f"unknown modality {k!r} in noise; choose from: {', '.join(DEFAULT_NOISE)}"
            )
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise DataError(f"noise[{k!r}] must be a number, got {v!r}") from None
        if not math.isfinite(v) or v < 0 or (k == "language" and v > 1):
            what = "a probability in [0, 1]" if k == "language" else "a finite std >= 0"
            raise DataError(f"noise[{k!r}] must be {what}, got {v!r}")
        out[k] = v
    return out


def _check_count(name: str, n: object, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


# ---- language --------------------------------------------------------------------------------
def _sentiment_phrase(r: random.Random, polarity: int, strength: int, intensify: bool) -> list[int]:
    """[intensifier] word with this signed lexicon polarity and strength."""
    words = POSITIVE[strength] if polarity > 0 else NEGATIVE[strength]
    phrase = [WORD_ID[r.choice(INTENSIFIERS)]] if intensify else []
    return phrase + [WORD_ID[r.choice(words)]]


def _filler(r: random.Random, n: int) -> list[int]:
    """n neutral word ids drawn from the Zipf-like filler distribution."""
    top, last = _NEUTRAL_CUM[-1], len(_NEUTRAL_CUM) - 1
    return [_NEUTRAL_IDS[min(bisect_right(_NEUTRAL_CUM, r.random() * top), last)] for _ in range(n)]


def _assemble(r: random.Random, length: int, units: list[list[int]]) -> tuple[list[int], list[int]]:
    """Insert multi-word units into neutral filler at random gaps; return tokens and unit starts.

    Units never end in "not", so a filler "not" can never land before a sentiment word.
    """
    n_fill = length - sum(len(u) for u in units)
    filler = _filler(r, n_fill)
    gaps = sorted((r.randint(0, n_fill), r.random(), i) for i in range(len(units)))
    tokens: list[int] = []
    starts = [0] * len(units)
    prev = 0
    for gap, _, i in gaps:
        tokens.extend(filler[prev:gap])
        prev = gap
        starts[i] = len(tokens)
        tokens.extend(units[i])
    tokens.extend(filler[prev:])
    return tokens, starts


def _language(
    r: random.Random, recipe: str, lang_pol: int, level: int, length: int
) -> tuple[list[int], int]:
    """Token ids (unpadded) and the step of the key sentiment word (-1 if none)."""
    strength, intensify = level // 2 + 1, bool(level % 2)
    units: list[list[int]] = []
    key_unit, key_offset = -1, 0
    if recipe in ("redundant", "unique_language", "synergy"):
        units.append(_sentiment_phrase(r, lang_pol, strength, intensify))
        key_unit, key_offset = 0, len(units[0]) - 1
        if r.random() < 0.3:  # a second, weaker word of the same polarity
            units.append(_sentiment_phrase(r, lang_pol, 1, False))
    elif recipe == "negation":
        # "not <lang_pol word>" and a plain word of the opposite polarity: same meaning, but a
        # bag of words sees one positive and one negative word whatever the sign.
        units.append([WORD_ID[NEGATOR], *_sentiment_phrase(r, lang_pol, strength, False)])
        units.append(_sentiment_phrase(r, -lang_pol, strength, intensify))
        key_unit, key_offset = 0, 1
    if r.random() < 0.15:  # a harmless "not" before a neutral word ("did not see")
        units.append([WORD_ID[NEGATOR], _filler(r, 1)[0]])
    if r.random() < 0.15:
        units.append([WORD_ID[CONTRAST]])
    tokens, starts = _assemble(r, length, units)
    key = starts[key_unit] + key_offset if key_unit >= 0 else -1
    return tokens, key


# ---- build -----------------------------------------------------------------------------------
def _bump(key: np.ndarray, lengths: np.ndarray, width: float = 1.0) -> np.ndarray:
    """(n, T) Gaussian bump around each key step (zero where key < 0 or beyond the length)."""
    t = np.arange(T)[None, :]
    w = np.exp(-0.5 * ((t - key[:, None]) / width) ** 2)
    w[np.abs(t - key[:, None]) > 2] = 0.0
    w[key < 0] = 0.0
    w[t >= lengths[:, None]] = 0.0
    return w


def _standardise(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-feature zero mean / unit std over real words; PAD steps stay exactly zero."""
    real = x[mask]
    mu, sd = real.mean(axis=0), real.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return (((x - mu) / sd) * mask[..., None]).astype(np.float32)


def _build(
    seed: int,
    n_train: int,
    n_valid: int,
    n_test: int,
    mix: dict[str, float],
    noise: dict[str, float],
    version: str,
) -> MultimodalDataset:
    n = n_train + n_valid + n_test
    rng = np.random.default_rng([seed, 7001])
    r = random.Random(int(rng.integers(2**63)))

    recipe = rng.choice(len(INTERACTIONS), size=n, p=[mix[k] for k in INTERACTIONS])
    sign = rng.choice(np.array([-1, 1]), size=n)
    mag = rng.uniform(*MAG_RANGE, size=n)
    lengths = rng.integers(MIN_WORDS, T + 1, size=n)
    sarcasm = np.zeros(n, dtype=np.int64)
    is_syn = recipe == INTERACTIONS.index("synergy")
    sarcasm[is_syn] = rng.integers(0, 2, size=int(is_syn.sum()))
    # words' expressed intensity: 3 strengths x optional intensifier, noisy in magnitude
    frac = (mag - MAG_RANGE[0]) / (MAG_RANGE[1] - MAG_RANGE[0])
    level = np.clip(np.floor(frac * 6 + rng.normal(0, 0.3, n)), 0, 5).astype(int)

    names = np.array(INTERACTIONS)[recipe]
    pol_l = np.zeros(n, dtype=np.int64)
    pol_v = np.zeros(n, dtype=np.int64)
    pol_a = np.zeros(n, dtype=np.int64)
    for i, name in enumerate(INTERACTIONS):
        sel = recipe == i
        if name in ("redundant", "unique_language"):
            pol_l[sel] = sign[sel]
        if name in ("redundant", "unique_visual"):
            pol_v[sel] = sign[sel]
        if name in ("redundant", "unique_acoustic"):
            pol_a[sel] = sign[sel]
        if name == "negation":
            pol_l[sel] = -sign[sel]
    # synergy: L and A independent fair coins; sign = L if not sarcastic else -L
    flip = rng.choice(np.array([-1, 1]), size=n)
    pol_l[is_syn] = flip[is_syn]
    sign[is_syn] = np.where(sarcasm[is_syn] == 1, -flip[is_syn], flip[is_syn])

    language = np.zeros((n, T), dtype=np.int64)
    key_step = np.full(n, -1, dtype=np.int64)
    for j in range(n):
        toks, key = _language(r, str(names[j]), int(pol_l[j]), int(level[j]), int(lengths[j]))
        language[j, : len(toks)] = toks
        key_step[j] = key
    mask = np.arange(T)[None, :] < lengths[:, None]
    # visual/acoustic-only recipes: the cue peaks at a random word
    no_key = key_step < 0
    key_step[no_key] = (rng.random(int(no_key.sum())) * lengths[no_key]).astype(np.int64)
    if noise["language"] > 0:
        corrupt = (rng.random((n, T)) < noise["language"]) & mask
        language[corrupt] = WORD_ID[UNK]

    bump = _bump(key_step, lengths)
    amp = (0.8 + 0.6 * mag)[:, None]  # cue strength grows with intensity

    # visual: speaker style + per-word noise + sign-free gestures, then cues
    nv = len(VISUAL_FEATURES)
    vis = rng.normal(0, 0.3, (n, 1, nv)) + rng.normal(0, noise["visual"], (n, T, nv))
    for f in ("brow_raise", "gaze_away"):
        vis[..., _VI[f]] += 1.5 * (rng.random((n, T)) < 0.1)
    pos_v, neg_v = (pol_v > 0)[:, None], (pol_v < 0)[:, None]
    vis[..., _VI["smile"]] += pos_v * amp * bump
    vis[..., _VI["eye_widen"]] += pos_v * 0.7 * amp * bump
    vis[..., _VI["head_nod"]] += pos_v * 0.7 * amp * bump
    vis[..., _VI["frown"]] += neg_v * amp * bump
    vis[..., _VI["lip_press"]] += neg_v * 0.8 * amp * bump
    vis[..., _VI["head_shake"]] += sarcasm[:, None] * 3.0 * bump

    # acoustic: same structure; sarcasm = flat (low pitch range), low-energy voice throughout
    na = len(ACOUSTIC_FEATURES)
    aco = rng.normal(0, 0.3, (n, 1, na)) + rng.normal(0, noise["acoustic"], (n, T, na))
    aco[..., _AI["pause"]] += 1.5 * (rng.random((n, T)) < 0.1)
    pos_a, neg_a = (pol_a > 0)[:, None], (pol_a < 0)[:, None]
    aco[..., _AI["pitch_mean"]] += (pos_a * 1.0 - neg_a * 1.0) * amp * bump
    aco[..., _AI["energy"]] += pos_a * 0.8 * amp * bump
    aco[..., _AI["speaking_rate"]] -= neg_a * 0.8 * amp * bump
    aco[..., _AI["pause"]] += neg_a * 0.8 * amp * bump
    sarc = sarcasm[:, None].astype(float)
    aco[..., _AI["pitch_range"]] -= 1.2 * sarc
    aco[..., _AI["energy"]] -= 1.0 * sarc

    visual = _standardise(vis, mask)
    acoustic = _standardise(aco, mask)

    score = np.clip(sign * mag, -3.0, 3.0).astype(np.float32)
    targets = {
        "score": score,
        "binary": (score >= 0).astype(np.int64),
        "class7": (np.rint(score).astype(np.int64) + 3),
    }
    factors = {
        "interaction": recipe.astype(np.int64),
        "polarity_language": pol_l,
        "polarity_visual": pol_v,
        "polarity_acoustic": pol_a,
        "sarcasm": sarcasm,
        "negated": (names == "negation").astype(np.int64),
        "intensity": mag.astype(np.float32),
        "length": lengths.astype(np.int64),
        "key_step": key_step,
    }
    kinds = {k: "categorical" for k in factors}
    kinds["intensity"] = "continuous"
    bounds = np.cumsum([0, n_train, n_valid, n_test])
    splits = {s: np.arange(bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}

    def vrange(x: np.ndarray) -> tuple[float, float] | None:
        return (float(x.min()), float(x.max())) if x.size else None

    specs = {
        "language": ModalitySpec(
            "language",
            "tokens",
            (T,),
            "categorical",
            dtype="int64",
            vocab=VOCAB,
            description=f"the utterance's words, one token per step, right-padded to {T}",
        ),
        "visual": ModalitySpec(
            "visual",
            "sequence",
            (T, nv),
            "gaussian",
            value_range=vrange(visual),
            description="per-word facial features (standardised): " + ", ".join(VISUAL_FEATURES),
        ),
        "acoustic": ModalitySpec(
            "acoustic",
            "sequence",
            (T, na),
            "gaussian",
            value_range=vrange(acoustic),
            description="per-word prosody (standardised): " + ", ".join(ACOUSTIC_FEATURES),
        ),
    }
    info = {
        "description": "synthetic word-aligned sentiment utterances (CMU-MOSI style) built "
        "from known recipes: redundant, unique per modality, synergy (sarcasm), negation",
        "interactions": list(INTERACTIONS),
        "visual_features": list(VISUAL_FEATURES),
        "acoustic_features": list(ACOUSTIC_FEATURES),
        "lexicon": dict(LEXICON),
        "intensifiers": list(INTENSIFIERS),
        "negator": NEGATOR,
        "contrast": CONTRAST,
        "max_len": T,
        "mix": mix,
        "noise": noise,
        "factor_notes": {
            "polarity_language": "lexicon polarity of the key word before negation (0: none)",
            "key_step": "step of the key sentiment word (the negated word for negation), or "
            "where the visual/acoustic cue peaks when language is neutral",
            "sarcasm": "synergy samples only: flat low-energy voice + head shake flip the sign",
        },
    }
    return MultimodalDataset(
        name=NAME,
        version=version,
        seed=seed,
        specs=specs,
        data={"language": language, "visual": visual, "acoustic": acoustic},
        targets=targets,
        target="score",
        factors=factors,
        factor_kinds=kinds,
        splits=splits,
        info=info,
    )


def sentiment_version(
    seed: int = 0,
    n_train: int = 6000,
    n_valid: int = 1000,
    n_test: int = 2000,
    mix: dict[str, float] | None = None,
    noise: dict[str, float] | None = None,
) -> str:
    """The version `load_sentiment` builds with these parameters, without building it."""
    params = {
        "seed": _check_count("seed", seed, 0),
        "n_train": _check_count("n_train", n_train, 1),
        "n_valid": _check_count("n_valid", n_valid, 0),
        "n_test": _check_count("n_test", n_test, 0),
        "mix": _resolve_mix(mix),
        "noise": _resolve_noise(noise),
    }
    return version_hash(GENERATOR_VERSION, params)


def load_sentiment(
    seed: int = 0,
    use_cache: bool = True,
    n_train: int = 6000,
    n_valid: int = 1000,
    n_test: int = 2000,
    mix: dict[str, float] | None = None,
    noise: dict[str, float] | None = None,
) -> MultimodalDataset:
    """The synthetic sentiment dataset for this seed and these parameters (cached on disk)."""
    seed = _check_count("seed", seed, 0)
    n_train = _check_count("n_train", n_train, 1)
    n_valid = _check_count("n_valid", n_valid, 0)
    n_test = _check_count("n_test", n_test, 0)
    mix_r, noise_r = _resolve_mix(mix), _resolve_noise(noise)
    version = sentiment_version(seed, n_train, n_valid, n_test, mix, noise)
    return load_or_build(
        NAME,
        version,
        lambda: _build(seed, n_train, n_valid, n_test, mix_r, noise_r, version),
        use_cache=use_cache,
    )


def decode(tokens: np.ndarray) -> str:
    """Token ids of one utterance as text (PAD dropped), for pages and debugging."""
    return " ".join(VOCAB[int(t)] for t in np.asarray(tokens).ravel() if int(t) != 0)


__all__ = [
    "ACOUSTIC_FEATURES",
    "DEFAULT_MIX",
    "DEFAULT_NOISE",
    "GENERATOR_VERSION",
    "INTERACTIONS",
    "LEXICON",
    "VISUAL_FEATURES",
    "VOCAB",
    "decode",
    "load_sentiment",
]
