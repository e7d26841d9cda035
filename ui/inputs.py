"""Widgets for the user's own sample: draw, upload, type, pick, record.

Each widget's value goes through the pure adapters in `mmviz/inputs.py`; what they converted
is shown as a caption, what they refused as an error in that modality's column only, so a bad
upload never stops the rest of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
import torch

from mmviz.data.base import DataError, ModalitySpec
from mmviz.inputs import (
    IMAGE_TYPES,
    Converted,
    image_from_bytes,
    image_from_canvas,
    label_input,
    mark_unknown,
    text_to_tokens,
    wav_to_spectrogram,
)

NONE = "—"


@dataclass
class OwnSample:
    """The user's inputs: a full batch of one (given values, else the test sample's) and which
    modalities the user actually gave."""

    inputs: dict[str, torch.Tensor]
    given: list[str]
    notes: dict[str, Converted] = field(default_factory=dict)


def _show_notes(conv: Converted) -> None:
    for n in conv.notes:
        if n.level == "warning":
            st.warning(n.message)
        else:
            st.caption("ℹ️ " + n.message)


def _canvas(key: str):
    """The drawing canvas' RGBA array (None if nothing drawn); raises ImportError if absent."""
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=16,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=196,
        width=196,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    return None if result is None else result.image_data


def _image_widget(m: str, spec: ModalitySpec, key: str) -> Converted | None:
    grey_digit = tuple(spec.shape) == (1, 28, 28)
    how = (
        st.radio(f"{m}", ["draw", "upload", NONE], key=f"{key}_{m}_how", horizontal=True)
        if grey_digit
        else st.radio(f"{m}", ["upload", NONE], key=f"{key}_{m}_how", horizontal=True)
    )
    if how == NONE:
        return None
    if how == "draw":
        try:
            rgba = _canvas(f"{key}_{m}_canvas")
        except Exception as e:  # noqa: BLE001 - a missing/broken optional component
            st.info(
                f"The drawing canvas is unavailable ({type(e).__name__}); install "
                "`streamlit-drawable-canvas==0.13.0` or upload an image instead."
            )
            return None
        if rgba is None or rgba.max(initial=0) == 0:
            st.caption("Draw one digit, white on black, then release the mouse.")
            return None
        return image_from_canvas(rgba, spec)
    up = st.file_uploader(
        f"image for `{m}`",
        type=list(IMAGE_TYPES),
        key=f"{key}_{m}_file",
        help="A photo or scan of one digit (hand or print), PNG/JPEG, up to 5 MB. It is made "
        "grey or colour, cropped and resized as the model expects.",
    )
    if up is None:
        return None
    return image_from_bytes(up.getvalue(), spec)


def _record_rate() -> int:
    """The microphone's sample rate: the `sound` modality's (8 kHz), one st.audio_input takes."""
    from mmviz.data import audio

    return audio.RATE


def _sound_widget(m: str, spec: ModalitySpec, key: str) -> Converted | None:
    how = st.radio(f"{m}", ["upload", "record", NONE], key=f"{key}_{m}_how", horizontal=True)
    if how == NONE:
        return None
    if how == "record":
        # recorded at the modality's own rate (8 kHz): no resampling, and the same WAV reader
        rec = st.audio_input(
            f"record `{m}`",
            key=f"{key}_{m}_rec",
            sample_rate=_record_rate(),
            help="Record a keypad tone (or any sound) from the microphone; the loudest 0.53 s "
            "are kept.",
        )
        data = None if rec is None else rec.getvalue()
    else:
        up = st.file_uploader(
            f"WAV for `{m}`",
            type=["wav"],
            key=f"{key}_{m}_file",
            help="A .wav (PCM up to 32-bit or float, also WAVE_FORMAT_EXTENSIBLE), any rate, "
            "mono or stereo, under 30 s: it is mixed to mono, resampled to 8 kHz and its "
            "loudest 0.53 s kept.",
        )
        data = None if up is None else up.getvalue()
    if data is None:
        return None
    return wav_to_spectrogram(data, spec)


def own_sample(
    specs: dict[str, ModalitySpec],
    modalities: list[str],
    base: dict[str, torch.Tensor],
    key: str = "own",
) -> OwnSample:
    """A column per modality (at most three to a row, so the canvas and the phrase box keep
    a usable width) with the widget its kind needs; returns the batch to use."""
    inputs = dict(base)
    given: list[str] = []
    notes: dict[str, Converted] = {}
    cols = [c for start in range(0, len(modalities), 3) for c in st.columns(3)]
    for col, m in zip(cols, modalities, strict=False):
        spec = specs[m]
        with col:
            conv: Converted | None = None
            try:
                if spec.kind == "image":
                    conv = _image_widget(m, spec, key)
                elif spec.kind == "tokens":
                    text = st.text_input(
                        f"{m}", key=f"{key}_{m}_text", placeholder="e.g. the digit seven / sieben"
                    )
                    if text.strip():
                        conv = text_to_tokens(text, spec)
                        st.markdown("reads: " + mark_unknown(conv.tensor.numpy(), spec))
                elif spec.kind == "categorical":
                    names = [NONE, *(spec.vocab or ())]
                    pick = st.selectbox(f"{m}", names, key=f"{key}_{m}_pick")
                    if pick != NONE:
                        conv = label_input(pick, spec)
                elif spec.kind == "spectrogram":
                    conv = _sound_widget(m, spec, key)
                else:
                    st.caption(f"`{m}` ({spec.kind}) cannot be entered by hand")
            except DataError as e:
                st.error(f"`{m}`: {e}")
                conv = None
            if conv is not None:
                _show_notes(conv)
                inputs[m] = conv.tensor.unsqueeze(0)
                given.append(m)
                notes[m] = conv
    return OwnSample(inputs, given, notes)
