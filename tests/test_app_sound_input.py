"""The sound input of "your own input": a WAV upload or a microphone recording (st.audio_input
at the `sound` modality's 8 kHz), both read by the same WAV reader."""

import io

import numpy as np
from scipy.io import wavfile
from streamlit.testing.v1 import AppTest

from mmviz.data import audio


def _script():
    import streamlit as st

    from mmviz.data.digits import specs
    from ui.inputs import _sound_widget

    conv = _sound_widget("sound", specs()["sound"], "t")
    if conv is not None:
        st.markdown(f"shape {tuple(conv.tensor.shape)}")
        for note in conv.notes:
            st.markdown(f"note: {note.message}")


def _tone_wav(rate: int, dtype=np.float32) -> bytes:
    t = np.arange(int(0.6 * rate)) / rate
    f1, f2 = audio.DTMF[8]
    x = 0.3 * (np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t))
    buf = io.BytesIO()
    wavfile.write(buf, rate, x.astype(dtype) if dtype is np.float32 else (x * 32767).astype(dtype))
    return buf.getvalue()


def _texts(at: AppTest) -> str:
    return " | ".join(str(m.value) for m in at.markdown)


def test_the_microphone_records_at_the_sound_rate_and_is_read_like_an_upload():
    at = AppTest.from_function(_script, default_timeout=60)
    at.run()
    at.radio(key="t_sound_how").set_value("record").run()
    mic = at.audio_input(key="t_sound_rec")
    assert mic.sample_rate == audio.RATE == 8000
    assert not at.markdown  # nothing recorded yet
    mic.upload("recording.wav", _tone_wav(8000)).run()  # what the browser sends: a WAV
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "shape (1, 32, 32)" in _texts(at) and "resampled" not in _texts(at)


def test_a_float_wav_upload_is_read_and_resampled():
    at = AppTest.from_function(_script, default_timeout=60)
    at.run()
    assert at.radio(key="t_sound_how").value == "upload"
    at.file_uploader(key="t_sound_file").upload("tone.wav", _tone_wav(44100), "audio/wav").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "shape (1, 32, 32)" in _texts(at)
    assert "resampled from 44100 Hz to 8000 Hz" in _texts(at)
