"""Telephone-keypad (DTMF) tones: synthesis, a fixed 32x32 spectrogram, Griffin-Lim, WAV I/O.

The spectrogram uses one FIXED normalisation (dB clipped to [DB_MIN, DB_MAX] mapped to [0, 1])
rather than per-clip max-normalisation, so loudness and noise level stay visible to the models
and the mapping can be undone exactly for Griffin-Lim. The frequency crop (bins 20..51 of a
256-point STFT at 8 kHz, 625..1594 Hz at 31.25 Hz/bin) keeps all seven DTMF frequencies at least
two bins apart. Rows of a spectrogram are frequency bins (row 0 = lowest), columns are frames:
display with the origin at the bottom.
"""

from __future__ import annotations

import io
import struct
import warnings
import wave as wavelib
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import gcd

import numpy as np

from mmviz.data.base import DataError

RATE = 8000
NPERSEG = 256
HOP = 128
N_FRAMES = 32
N_BINS = 32
BIN_LO = 20  # first kept FFT bin: 20 * 31.25 = 625 Hz
CLIP_LEN = NPERSEG + (N_FRAMES - 1) * HOP  # 4224 samples = 0.528 s: exactly 32 frames
DB_MIN = -70.0
DB_MAX = -10.0
MAX_SOURCE_RATE = 768_000  # highest sample rate read: a header may claim 4 GHz (a resampling bomb)
FADE_S = 0.005  # raised-cosine fade so tone edges do not click or smear across frequencies

DTMF_ROWS = (697.0, 770.0, 852.0, 941.0)
DTMF_COLS = (1209.0, 1336.0, 1477.0)
# digit -> (row frequency, column frequency) on the telephone keypad
DTMF: dict[int, tuple[float, float]] = {
    1: (697.0, 1209.0),
    2: (697.0, 1336.0),
    3: (697.0, 1477.0),
    4: (770.0, 1209.0),
    5: (770.0, 1336.0),
    6: (770.0, 1477.0),
    7: (852.0, 1209.0),
    8: (852.0, 1336.0),
    9: (852.0, 1477.0),
    0: (941.0, 1336.0),
}

# style ranges: small enough that a tone stays inside its DTMF bin neighbourhood and in the clip
DURATION_RANGE = (0.20, 0.40)  # seconds of tone
ONSET_RANGE = (0.0, 0.10)  # seconds of silence before the tone
LOUDNESS_RANGE = (-20.0, -6.0)  # dBFS peak of the two-tone sum
NOISE_RANGE = (0.002, 0.03)  # std of white noise (log-uniform)
PITCH_RANGE = (-0.015, 0.015)  # relative frequency shift


def bin_frequencies() -> np.ndarray:
    """Centre frequency (Hz) of each spectrogram row."""
    return (BIN_LO + np.arange(N_BINS)) * RATE / NPERSEG


def synthesize(
    digit: np.ndarray | int,
    duration: np.ndarray | float,
    loudness: np.ndarray | float,
    noise: np.ndarray | float,
    pitch: np.ndarray | float,
    onset: np.ndarray | float,
    seed: np.ndarray | int,
) -> np.ndarray:
    """DTMF waveform(s) of CLIP_LEN samples at 8 kHz, a pure function of the factors.

    All arguments broadcast over a batch; a scalar call returns one (CLIP_LEN,) wave. `seed`
    fixes the tones' start phases and the noise, so a stored sample can be regenerated exactly
    for playback instead of storing every waveform.
    """
    scalar = np.ndim(digit) == 0
    digit, duration, loudness, noise, pitch, onset, seed = (
        np.atleast_1d(np.asarray(a)) for a in (digit, duration, loudness, noise, pitch, onset, seed)
    )
    n = max(len(a) for a in (digit, duration, loudness, noise, pitch, onset, seed))
    digit, duration, loudness, noise, pitch, onset, seed = (
        np.broadcast_to(a, (n,)) for a in (digit, duration, loudness, noise, pitch, onset, seed)
    )
    if np.any((digit < 0) | (digit > 9)):
        raise DataError("DTMF digit must be in 0..9")
    table = np.array([DTMF[d] for d in range(10)])  # (10, 2)
    freqs = table[digit.astype(np.int64)] * (1.0 + pitch[:, None])  # (n, 2)
    t = np.arange(CLIP_LEN) / RATE
    phases = np.empty((n, 2))
    noise_wave = np.empty((n, CLIP_LEN))
    for i in range(n):
        rng = np.random.default_rng(int(seed[i]))
        phases[i] = rng.uniform(0.0, 2 * np.pi, size=2)
        noise_wave[i] = rng.standard_normal(CLIP_LEN)
    amp = 10.0 ** (loudness / 20.0) / 2.0  # each tone; the sum peaks at 10^(L/20)
    # phase in cycles, reduced to [0, 1) in float64, then a float32 sine (30x faster than float64
    # and still ~1e-7 accurate after the reduction)
    cycles = freqs[:, :, None] * t + phases[:, :, None] / (2 * np.pi)
    cycles -= np.floor(cycles)
    tones = np.sin((2 * np.pi * cycles).astype(np.float32)).sum(axis=1, dtype=np.float64)
    tt = t[None, :] - onset[:, None]  # time since onset
    fade = np.clip(np.minimum(tt, duration[:, None] - tt) / FADE_S, 0.0, 1.0)
    envelope = 0.5 - 0.5 * np.cos(np.float32(np.pi) * fade.astype(np.float32))
    out = amp[:, None] * envelope * tones + noise[:, None] * noise_wave
    out = out.astype(np.float32)
    return out[0] if scalar else out


def _signal():
    """scipy.signal, imported on first use: it takes ~0.8 s, which a cached load should not pay."""
    from scipy import signal

    return signal


@lru_cache(maxsize=1)
def _sft():
    """The one short-time Fourier transform of the `sound` modality: a periodic Hann window of
    NPERSEG samples every HOP samples, scaled to magnitude (the window sums to 1).

    `scipy.signal.ShortTimeFFT` replaces the legacy `scipy.signal.stft`/`istft` pair; with
    `phase_shift=None` and slices 1..N_FRAMES (slice p is centred on sample p * HOP, so slice 1
    is the legacy first frame, samples 0..NPERSEG) it gives the legacy values exactly.
    """
    signal = _signal()
    return signal.ShortTimeFFT(
        signal.windows.hann(NPERSEG, sym=False),
        hop=HOP,
        fs=RATE,
        mfft=NPERSEG,
        scale_to="magnitude",
        phase_shift=None,
    )


def _frames(n: int) -> int:
    """How many whole NPERSEG frames, HOP apart, a wave of n samples holds."""
    return max(0, (n - NPERSEG) // HOP + 1)


def _stft(wave: np.ndarray) -> np.ndarray:
    """(..., NPERSEG // 2 + 1, frames) STFT of whole frames only (no boundary padding)."""
    wave = np.asarray(wave, dtype=np.float64)
    return _sft().stft(wave, p0=1, p1=1 + _frames(wave.shape[-1]))


def _istft(z: np.ndarray) -> np.ndarray:
    """The wave of STFT frames `z` (as `_stft` gives them): (frames - 1) * HOP + NPERSEG samples.

    Only whole frames are given, so the first and last half-window are covered by one
    window each and come back attenuated, which is fine for Griffin-Lim's playback.
    """
    frames = z.shape[-1]
    full = np.zeros((*z.shape[:-1], frames + 2), dtype=np.complex128)
    full[..., 1 : frames + 1] = z  # the slices centred before and after: no signal there
    return _sft().istft(full, k1=(frames - 1) * HOP + NPERSEG)


def spectrogram(wave: np.ndarray) -> np.ndarray:
    """(..., CLIP_LEN) waveform(s) -> (..., 32, 32) normalised log-magnitude in [0, 1]."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.shape[-1] != CLIP_LEN:
        raise DataError(
            f"waveform has {wave.shape[-1]} samples, the spectrogram needs {CLIP_LEN}; "
            "use wave_to_input_spectrogram for recordings of any length"
        )
    mag = np.abs(_stft(wave))[..., BIN_LO : BIN_LO + N_BINS, :]
    db = 20.0 * np.log10(np.maximum(mag, 1e-12))
    return ((np.clip(db, DB_MIN, DB_MAX) - DB_MIN) / (DB_MAX - DB_MIN)).astype(np.float32)


def spectrogram_to_magnitude(spec01: np.ndarray) -> np.ndarray:
    """Undo the normalisation: full (129, 32) STFT magnitude, zero outside the kept bins.

    Values at the floor (0) become silence rather than DB_MIN, because the floor stands for
    "at most DB_MIN".
    """
    spec = np.asarray(spec01, dtype=np.float64).reshape(N_BINS, N_FRAMES)
    mag = 10.0 ** ((DB_MIN + np.clip(spec, 0.0, 1.0) * (DB_MAX - DB_MIN)) / 20.0)
    mag[spec <= 0.0] = 0.0
    full = np.zeros((NPERSEG // 2 + 1, N_FRAMES))
    full[BIN_LO : BIN_LO + N_BINS] = mag
    return full


def griffin_lim(spec01: np.ndarray, n_iter: int = 60, seed: int = 0) -> np.ndarray:
    """A CLIP_LEN waveform whose spectrogram approximates `spec01` ((32,32) or (1,32,32)).

    Griffin-Lim keeps the target magnitude and re-estimates only the phase by alternating
    ISTFT and STFT; the random initial phase is seeded so playback is reproducible.
    """
    mag = spectrogram_to_magnitude(spec01)
    rng = np.random.default_rng(seed)
    z = mag * np.exp(2j * np.pi * rng.random(mag.shape))
    for _ in range(max(1, int(n_iter))):
        x = _istft(z)[:CLIP_LEN]
        est = _stft(x)
        z = mag * np.exp(1j * np.angle(est))
    x = _istft(z)[:CLIP_LEN]
    if len(x) < CLIP_LEN:
        x = np.pad(x, (0, CLIP_LEN - len(x)))
    return x.astype(np.float32)


def wav_bytes(wave: np.ndarray, rate: int = RATE) -> bytes:
    """Mono 16-bit PCM WAV file contents (what a browser audio player takes)."""
    x = np.clip(np.asarray(wave, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pcm = np.round(x * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wavelib.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


WAV_HINT = (
    "upload a .wav file: PCM (8 to 32-bit) or 32/64-bit float, mono or stereo, any rate; "
    "export as WAV from any editor"
)


@dataclass(frozen=True)
class WavLayout:
    """What a WAV file's header says, and where its whole frames lie (`wav_layout`)."""

    fmt: int  # wFormatTag: 1 PCM, 3 IEEE float, 0xFFFE WAVE_FORMAT_EXTENSIBLE, ...
    channels: int
    rate: int
    width: int  # bytes per sample (the container, as nBlockAlign / nChannels)
    frames: int  # whole frames present (a cut file or a lying data size: what is there)
    clean: bytes  # the same file rewritten with only its fmt and data chunks, sizes true


def wav_layout(data: bytes) -> WavLayout:
    """Walk a RIFF/RIFX WAV's chunks and check its header, without decoding a sample.

    The file is rewritten with its `fmt ` chunk and the whole frames of its `data` chunk, and
    sizes that say what is really there, so a truncated download (cut mid-sample) or a data
    size claiming 4 GB is read as far as it goes; anything else odd is a DataError.
    """
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise DataError(f"not a readable WAV file (no RIFF/WAVE header); {WAV_HINT}")
    order = "<" if data[:4] == b"RIFF" else ">"
    pos, fmt_chunk, body = 12, None, None
    while pos + 8 <= len(data) and body is None:
        cid, (size,) = data[pos : pos + 4], struct.unpack(order + "I", data[pos + 4 : pos + 8])
        if cid == b"fmt ":
            fmt_chunk = data[pos + 8 : pos + 8 + size]
        elif cid == b"data":
            body = (pos + 8, size)
        pos += 8 + size + (size & 1)
    if fmt_chunk is None or len(fmt_chunk) < 16:
        raise DataError(f"not a readable WAV file (no format chunk); {WAV_HINT}")
    if body is None:
        raise DataError(f"not a readable WAV file (no data chunk); {WAV_HINT}")
    fmt, channels, rate, _, align, _ = struct.unpack(order + "HHIIHH", fmt_chunk[:16])
    if channels < 1 or not 0 < rate <= MAX_SOURCE_RATE or align < channels:
        raise DataError(
            f"WAV header says {channels} channels at {rate} Hz, {align} bytes a frame; {WAV_HINT}"
        )
    width = align // channels
    start, size = body
    n = min(size, len(data) - start)
    n -= n % align
    if n <= 0:
        raise DataError(f"WAV file holds no audio samples; {WAV_HINT}")
    fmt_part = fmt_chunk + b"\0" * (len(fmt_chunk) & 1)
    chunks = (
        b"WAVE"
        + b"fmt "
        + struct.pack(order + "I", len(fmt_chunk))
        + fmt_part
        + b"data"
        + struct.pack(order + "I", n)
        + data[start : start + n]
        + b"\0" * (n & 1)
    )
    clean = data[:4] + struct.pack(order + "I", len(chunks)) + chunks
    return WavLayout(int(fmt), int(channels), int(rate), int(width), n // align, clean)


def decode_wav(data: bytes | WavLayout) -> tuple[np.ndarray, int]:
    """((frames, channels) float64 samples in [-1, 1], rate) of WAV bytes, at the file's rate.

    Decoded by `scipy.io.wavfile`: integer PCM of any depth up to 64 bits (24-bit included),
    32- and 64-bit IEEE float, and WAVE_FORMAT_EXTENSIBLE headers around either, which phones
    and audio editors write and Python's `wave` module refuses. Compressed encodings (ADPCM,
    mu-law, ...) are a DataError naming the format.
    """
    from scipy.io import wavfile

    layout = data if isinstance(data, WavLayout) else wav_layout(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            _, x = wavfile.read(io.BytesIO(layout.clean))
    except (ValueError, TypeError, struct.error, OSError, EOFError, ZeroDivisionError) as e:
        # TypeError: numpy has no dtype for the container the header claims (9+ bytes)
        raise DataError(f"not a readable WAV file ({e or type(e).__name__}); {WAV_HINT}") from e
    x = np.asarray(x)
    if x.dtype.kind == "f":
        x = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    elif x.dtype.kind == "u":  # 8-bit and less: unsigned around 128
        x = (x.astype(np.float64) - 128.0) / 128.0
    elif x.dtype.kind == "i":  # left-justified in its container: scale by the container
        x = x.astype(np.float64) / float(2 ** (8 * x.dtype.itemsize - 1))
    else:
        raise DataError(f"WAV samples of type {x.dtype} cannot be read; {WAV_HINT}")
    x = x.reshape(len(x), -1) if x.ndim > 1 else x[:, None]
    if x.size == 0:
        raise DataError(f"WAV file holds no audio samples; {WAV_HINT}")
    return np.clip(x, -1.0, 1.0), layout.rate


def read_wav(data: bytes | WavLayout, rate: int = RATE) -> tuple[np.ndarray, int]:
    """(mono float32 wave in [-1, 1], rate) from WAV bytes: stereo mixed down, resampled to
    `rate` (see `decode_wav` for the encodings read; anything else is a DataError)."""
    x, src_rate = decode_wav(data)
    x = x.mean(axis=1)
    if src_rate != rate:
        x = _signal().resample_poly(x, *_resample_ratio(int(rate), int(src_rate)))
    return np.clip(x, -1.0, 1.0).astype(np.float32), int(rate)


def _resample_ratio(rate: int, src_rate: int) -> tuple[int, int]:
    """(up, down) for resample_poly: exact for every usual rate (44100 -> 80/441), else the
    nearest ratio with a denominator up to 1000. An odd rate such as 767999 Hz would otherwise
    need a filter of millions of taps (seconds of work) for a pitch change of 1e-6."""
    g = gcd(rate, src_rate)
    up, down = rate // g, src_rate // g
    if max(up, down) > 1000:
        near = Fraction(up, down).limit_denominator(1000)
        if near > 0:
            up, down = near.numerator, near.denominator
    return up, down


def fit_clip(wave: np.ndarray) -> np.ndarray:
    """Pad (at the end) or crop a wave to CLIP_LEN, keeping its loudest CLIP_LEN stretch.

    Recordings start with silence and run long; the loudest window is where the tone is.
    """
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    if len(x) <= CLIP_LEN:
        return np.pad(x, (0, CLIP_LEN - len(x)))
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    window = energy[CLIP_LEN:] - energy[:-CLIP_LEN]
    start = int(np.argmax(window))
    return x[start : start + CLIP_LEN]


def wave_to_input_spectrogram(wave: np.ndarray) -> np.ndarray:
    """Any-length 8 kHz wave -> (1, 32, 32) float32 model input for the `sound` modality."""
    return spectrogram(fit_clip(wave))[None]
