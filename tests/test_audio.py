"""DTMF synthesis, the fixed spectrogram, Griffin-Lim and WAV I/O.

Frequencies are checked with a plain FFT of the whole waveform (independent of the STFT used by
the spectrogram); the normalisation is checked against its closed form.
"""

from __future__ import annotations

import io
import wave as wavelib

import numpy as np
import pytest

from mmviz.data import audio
from mmviz.data.base import DataError

ROWS = np.array(audio.DTMF_ROWS)
COLS = np.array(audio.DTMF_COLS)
KEYPAD = {pair: d for d, pair in audio.DTMF.items()}


def tone(digit, loudness=-10.0, noise=0.0, pitch=0.0, onset=0.05, duration=0.35, seed=0):
    return audio.synthesize(digit, duration, loudness, noise, pitch, onset, seed)


def decode_spectrogram(spec: np.ndarray) -> int:
    """Digit from the strongest time-averaged bin of the low and of the high DTMF band."""
    f = audio.bin_frequencies()
    db = audio.DB_MIN + np.asarray(spec).reshape(32, 32) * (audio.DB_MAX - audio.DB_MIN)
    power = (10.0 ** (db / 10.0)).mean(axis=1)
    low = f < 1075.0  # halfway between 941 and 1209 Hz
    f_low = f[low][np.argmax(power[low])]
    f_high = f[~low][np.argmax(power[~low])]
    pair = (ROWS[np.argmin(abs(ROWS - f_low))], COLS[np.argmin(abs(COLS - f_high))])
    return KEYPAD[(float(pair[0]), float(pair[1]))]


def test_keypad_table_is_the_telephone_standard():
    # rows top to bottom, columns left to right; 0 sits under 8
    keypad = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    for r, row in enumerate(keypad):
        for c, d in enumerate(row):
            assert audio.DTMF[d] == (ROWS[r], COLS[c])
    assert audio.DTMF[0] == (941.0, 1336.0)
    assert len(set(audio.DTMF.values())) == 10


@pytest.mark.parametrize("pitch", [-0.015, 0.0, 0.015])
def test_waveform_contains_the_two_keypad_frequencies(pitch):
    for d in range(10):
        x = tone(d, pitch=pitch, noise=0.0)
        assert x.shape == (audio.CLIP_LEN,) and x.dtype == np.float32
        mag = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1.0 / audio.RATE)
        low = (freqs > 600) & (freqs < 1075)
        high = (freqs > 1075) & (freqs < 1600)
        f_low, f_high = freqs[low][mag[low].argmax()], freqs[high][mag[high].argmax()]
        row, col = audio.DTMF[d]
        resolution = audio.RATE / len(x)  # ~1.9 Hz
        assert abs(f_low - row * (1 + pitch)) <= resolution
        assert abs(f_high - col * (1 + pitch)) <= resolution
        # nothing outside the two tones but leakage: 99% of the energy within +-20 Hz of them
        near = (abs(freqs - row * (1 + pitch)) < 20) | (abs(freqs - col * (1 + pitch)) < 20)
        assert (mag[near] ** 2).sum() > 0.99 * (mag**2).sum()


def test_synthesis_is_a_pure_function_of_factors_and_batches_equal_singles():
    args = dict(
        digit=np.array([3, 7, 0]),
        duration=np.array([0.2, 0.3, 0.4]),
        loudness=np.array([-6.0, -12.0, -20.0]),
        noise=np.array([0.01, 0.002, 0.03]),
        pitch=np.array([0.01, -0.01, 0.0]),
        onset=np.array([0.0, 0.05, 0.1]),
        seed=np.array([11, 12, 13]),
    )
    batch = audio.synthesize(**args)
    for i in range(3):
        single = audio.synthesize(**{k: v[i] for k, v in args.items()})
        np.testing.assert_array_equal(single, batch[i])
    other_seed = audio.synthesize(**{**args, "seed": np.array([14, 15, 16])})
    assert not np.allclose(other_seed, batch)


def test_envelope_follows_onset_and_duration():
    x = tone(5, onset=0.1, duration=0.25, noise=0.0)
    t = np.arange(audio.CLIP_LEN) / audio.RATE
    assert np.all(x[t < 0.1] == 0.0)
    assert np.all(x[t > 0.35] == 0.0)
    inside = (t > 0.12) & (t < 0.33)
    peak = 10 ** (-10.0 / 20.0)  # the two-tone sum peaks at 10^(L/20)
    assert 0.8 * peak < np.abs(x[inside]).max() <= peak + 1e-6


def test_spectrogram_shape_range_and_dtmf_peaks():
    rng = np.random.default_rng(0)
    for d in range(10):
        x = tone(d, loudness=rng.uniform(-20, -6), noise=0.02, pitch=rng.uniform(-0.015, 0.015))
        s = audio.spectrogram(x)
        assert s.shape == (32, 32) and s.dtype == np.float32
        assert s.min() >= 0.0 and s.max() <= 1.0
        assert decode_spectrogram(s) == d


def test_fixed_normalisation_makes_loudness_visible_by_its_closed_form():
    # without noise, +6 dB of loudness raises every tone bin by 6 / (DB_MAX - DB_MIN)
    quiet = audio.spectrogram(tone(8, loudness=-18.0))
    loud = audio.spectrogram(tone(8, loudness=-12.0))
    unclipped = (quiet > 0.05) & (loud < 0.95)
    assert unclipped.sum() > 50
    expected = 6.0 / (audio.DB_MAX - audio.DB_MIN)
    np.testing.assert_allclose(loud[unclipped] - quiet[unclipped], expected, atol=1e-4)
    # silence is the floor, not a stretched noise floor
    assert np.all(audio.spectrogram(np.zeros(audio.CLIP_LEN)) == 0.0)


def test_spectrogram_rejects_wrong_length():
    with pytest.raises(DataError, match="wave_to_input_spectrogram"):
        audio.spectrogram(np.zeros(1000))


@pytest.mark.parametrize("digit", [0, 1, 5, 9])
def test_griffin_lim_reconstructs_the_spectrogram(digit):
    spec = audio.spectrogram(tone(digit, loudness=-12.0, noise=0.01, seed=digit))
    x = audio.griffin_lim(spec[None], n_iter=60)
    assert x.shape == (audio.CLIP_LEN,) and x.dtype == np.float32
    again = audio.spectrogram(x)
    r = np.corrcoef(spec.ravel(), again.ravel())[0, 1]
    assert r > 0.9
    assert decode_spectrogram(again) == digit
    # the phase search helps: a random-phase inversion fits worse
    crude = audio.spectrogram(audio.griffin_lim(spec, n_iter=1))
    assert r > np.corrcoef(spec.ravel(), crude.ravel())[0, 1]


def test_wav_round_trip_is_exact_to_16_bits():
    x = tone(4, loudness=-6.0, noise=0.01)
    data = audio.wav_bytes(x)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    y, rate = audio.read_wav(data)
    assert rate == audio.RATE and y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= 1.0 / 32767 + 1e-6
    # out-of-range samples are clipped, not wrapped around
    y, _ = audio.read_wav(audio.wav_bytes(np.array([2.0, -2.0, 0.5])))
    np.testing.assert_allclose(y, [32767 / 32768, -32767 / 32768, 0.5], atol=1e-4)


def _wav(frames: np.ndarray, rate: int, width: int = 2) -> bytes:
    """WAV bytes from (n, channels) float frames, written independently of audio.wav_bytes."""
    frames = np.atleast_2d(frames.T).T
    if width == 2:
        raw = np.round(frames * 32767).astype("<i2").tobytes()
    else:
        raw = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    buf = io.BytesIO()
    with wavelib.open(buf, "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return buf.getvalue()


def test_read_wav_resamples_16k_to_8k_keeping_the_frequency():
    t = np.arange(16000) / 16000.0  # one second at 16 kHz
    x = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    y, rate = audio.read_wav(_wav(x, 16000))
    assert rate == 8000 and len(y) == 8000
    mag = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.fft.rfftfreq(len(y), 1 / 8000)[mag.argmax()] == pytest.approx(1000.0, abs=1.0)
    mid = slice(1000, 7000)  # away from the resampling filter's edges
    assert np.abs(y[mid]).max() == pytest.approx(0.5, abs=0.02)


def test_read_wav_mixes_stereo_and_reads_8_bit():
    t = np.arange(800) / 8000.0
    x = 0.4 * np.sin(2 * np.pi * 697.0 * t)
    y, _ = audio.read_wav(_wav(np.stack([x, x], axis=1), 8000))
    np.testing.assert_allclose(y, x, atol=2e-4)
    y, _ = audio.read_wav(_wav(np.stack([x, -x], axis=1), 8000))
    np.testing.assert_allclose(y, 0.0, atol=2e-4)
    y, _ = audio.read_wav(_wav(x, 8000, width=1))
    np.testing.assert_allclose(y, x, atol=1.0 / 127)


@pytest.mark.parametrize(
    "data",
    [b"", b"not a wav file at all", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\x00" * 64],
)
def test_read_wav_rejects_garbage(data):
    with pytest.raises(DataError, match="WAV"):
        audio.read_wav(data)


def test_read_wav_rejects_an_empty_recording():
    with pytest.raises(DataError, match="no audio"):
        audio.read_wav(_wav(np.zeros((0, 1)), 8000))


def test_input_spectrogram_finds_the_tone_in_a_long_recording():
    x = tone(6, loudness=-10.0, noise=0.0, onset=0.0, duration=0.4)
    long = np.zeros(20000, dtype=np.float32)
    long[12000 : 12000 + len(x)] = x
    spec = audio.wave_to_input_spectrogram(long)
    assert spec.shape == (1, 32, 32) and spec.dtype == np.float32
    clip = audio.fit_clip(long)
    assert len(clip) == audio.CLIP_LEN
    assert (clip**2).sum() == pytest.approx((x.astype(np.float64) ** 2).sum(), rel=1e-6)
    assert decode_spectrogram(spec[0]) == 6
    short = audio.wave_to_input_spectrogram(x[:1000])
    assert short.shape == (1, 32, 32)
    assert decode_spectrogram(short[0]) == 6


def _legacy_stft(wave: np.ndarray) -> np.ndarray:
    """The STFT as audio.py computed it before ShortTimeFFT: scipy's legacy `stft`."""
    from scipy import signal

    _, _, z = signal.stft(
        wave, fs=audio.RATE, window="hann", nperseg=audio.NPERSEG,
        noverlap=audio.NPERSEG - audio.HOP, boundary=None, padded=False,
    )  # fmt: skip
    return z


@pytest.mark.parametrize("n", [audio.CLIP_LEN, audio.NPERSEG, audio.NPERSEG + 5, 8000])
def test_short_time_fft_gives_the_legacy_stft(n):
    """scipy.signal.ShortTimeFFT in place of the legacy stft: the same frames and magnitudes
    (the complex values too), for one wave and a batch."""
    rng = np.random.default_rng(n)
    waves = rng.normal(0, 0.1, size=(3, n))
    waves[0, : min(n, audio.CLIP_LEN)] += tone(7, loudness=-6.0)[: min(n, audio.CLIP_LEN)]
    new, old = audio._stft(waves), _legacy_stft(waves)
    assert new.shape == old.shape
    np.testing.assert_allclose(np.abs(new), np.abs(old), rtol=0, atol=1e-12)
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-12)
    np.testing.assert_allclose(audio._stft(waves[0]), old[0], rtol=0, atol=1e-12)


def test_spectrogram_is_unchanged_by_short_time_fft():
    """The `sound` modality's 32x32 spectrogram is what the legacy stft made (the shipped
    checkpoints learned from it)."""
    x = np.stack([tone(d, loudness=-12.0, noise=0.01) for d in range(10)])
    mag = np.abs(_legacy_stft(x.astype(np.float64)))[..., audio.BIN_LO : audio.BIN_LO + 32, :]
    db = 20.0 * np.log10(np.maximum(mag, 1e-12))
    old = (np.clip(db, audio.DB_MIN, audio.DB_MAX) - audio.DB_MIN) / (audio.DB_MAX - audio.DB_MIN)
    np.testing.assert_allclose(audio.spectrogram(x), old.astype(np.float32), atol=1e-6)


def test_inverse_short_time_fft_round_trips_away_from_the_edges():
    x = tone(3, loudness=-6.0, noise=0.01).astype(np.float64)
    y = audio._istft(audio._stft(x))
    assert y.shape == x.shape
    np.testing.assert_allclose(y[audio.HOP : -audio.HOP], x[audio.HOP : -audio.HOP], atol=1e-9)
