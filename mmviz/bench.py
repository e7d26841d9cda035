"""Benchmarks that back the papers' efficiency claims with numbers measured here.

`bench_fusion` reproduces the LMF paper's comparison (Liu et al., ACL 2018, Table 3: parameters,
training and inference samples/s) for TFN vs LMF with identical sub-networks and output layers,
so any difference comes from the fusion layer alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

# Sub-network and fusion sizes per preset. "default" is each config's defaults (the app's
# sizes); "tiny" is for tests and quick checks.
FUSION_SIZES: dict[str, dict[str, Any]] = {
    "default": {},
    "tiny": {"embed_dim": 8, "token_dim": 8, "sequence_dim": 4, "fusion_dim": 8, "rank": 2},
}


def _throughput(fn: Callable[[], None], steps: int, batch_size: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return steps * batch_size / (time.perf_counter() - start)


def bench_fusion(
    sizes: str = "default",
    repeats: int = 5,
    batch_size: int = 32,
    seed: int = 0,
    steps: int = 20,
    num_threads: int | None = None,
) -> dict[str, Any]:
    """TFN vs LMF: fusion and total parameters, training and inference samples/s.

    Both models are built in one process with the same sizes and measured alternately
    (TFN train, LMF train, TFN inference, LMF inference, then again) so that load from other
    processes hits both alike; each figure is the median over `repeats` measurements of
    `steps` batches. Training is forward + backward + Adam step on random sentiment-shaped data
    (batch 32 by default, as the LMF reference); inference is the forward pass under no_grad.

    `ratios` are LMF's advantage, so > 1 means LMF is better: parameters TFN/LMF, throughput
    LMF/TFN. `num_threads` sets torch's thread count for the run (None leaves it).
    """
    from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
    from mmviz.models.fusion import LMF, TFN, FusionConfig, LMFConfig

    if sizes not in FUSION_SIZES:
        raise ValueError(f"unknown sizes {sizes!r}; choose from: {', '.join(FUSION_SIZES)}")
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        specs = sentiment_like_specs()
        size = FUSION_SIZES[sizes]
        shared = {k: v for k, v in size.items() if k != "rank"}
        lmf_extra = {"rank": size["rank"]} if "rank" in size else {}
        models = {
            "tfn": TFN(FusionConfig(seed=seed, **shared), specs),
            "lmf": LMF(LMFConfig(seed=seed, **shared, **lmf_extra), specs),
        }
        gen = torch.Generator().manual_seed(seed)
        inputs, targets = random_sentiment_batch(specs, batch_size, gen)
        optims = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}

        def train_step(name: str) -> Callable[[], None]:
            model, opt = models[name], optims[name]

            def step() -> None:
                loss, _ = model.loss(inputs, targets, 0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            return step

        def infer_step(name: str) -> Callable[[], None]:
            model = models[name]

            def step() -> None:
                with torch.no_grad():
                    model.predict(inputs)

            return step

        runs: dict[str, dict[str, list[float]]] = {k: {"train": [], "infer": []} for k in models}
        for name, model in models.items():  # warm-up: allocator, Adam state, kernels
            model.train()
            train_step(name)()
            model.eval()
            infer_step(name)()
        for _ in range(repeats):
            for mode in ("train", "infer"):
                for name, model in models.items():
                    model.train(mode == "train")
                    fn = train_step(name) if mode == "train" else infer_step(name)
                    runs[name][mode].append(_throughput(fn, steps, batch_size))

        result: dict[str, Any] = {
            "sizes": sizes,
            "config": {k: m.config.to_dict() for k, m in models.items()},
            "batch_size": batch_size,
            "repeats": repeats,
            "steps": steps,
            "threads": torch.get_num_threads(),
        }
        for name, model in models.items():
            result[name] = {
                "fusion_params": model.fusion_parameter_count(),
                "total_params": model.parameter_count(),
                "train_samples_per_s": statistics.median(runs[name]["train"]),
                "infer_samples_per_s": statistics.median(runs[name]["infer"]),
                "train_runs": runs[name]["train"],
                "infer_runs": runs[name]["infer"],
            }
        tfn, lmf = result["tfn"], result["lmf"]
        result["ratios"] = {
            "fusion_params": tfn["fusion_params"] / lmf["fusion_params"],
            "total_params": tfn["total_params"] / lmf["total_params"],
            "train": lmf["train_samples_per_s"] / tfn["train_samples_per_s"],
            "inference": lmf["infer_samples_per_s"] / tfn["infer_samples_per_s"],
        }
        return result
    finally:
        torch.set_num_threads(old_threads)


# ---------------------------------------------------------------------------------------------
# Interpretation
# ---------------------------------------------------------------------------------------------
INTERPRET_SIZES: dict[str, dict[str, Any]] = {
    "default": {"samples": 2000, "latent_dims": 64, "factors": 15, "repeats": 5, "mvae": {}},
    "tiny": {
        "samples": 200,
        "latent_dims": 8,
        "factors": 4,
        "repeats": 2,
        "mvae": {"latent_dim": 8, "hidden": 32, "enc_layers": 1, "dec_layers": 1},
    },
}


def _digits_like_specs() -> dict[str, Any]:
    """The five `digits` modalities' specs (the dataset module's own when importable)."""
    try:
        from mmviz.data.digits import specs

        return specs()
    except Exception:  # noqa: BLE001 - the digits module is optional for timing
        from mmviz.data.base import ModalitySpec

        words = ("<pad>", "<unk>") + tuple(f"w{i}" for i in range(60))
        return {
            "hand": ModalitySpec("hand", "image", (1, 28, 28), "bernoulli", value_range=(0, 1)),
            "print": ModalitySpec("print", "image", (3, 32, 32), "bernoulli", value_range=(0, 1)),
            "label": ModalitySpec(
                "label",
                "categorical",
                (),
                "categorical",
                "int64",
                vocab=tuple(str(d) for d in range(10)),
            ),
            "text": ModalitySpec("text", "tokens", (6,), "categorical", "int64", vocab=words),
            "sound": ModalitySpec(
                "sound", "spectrogram", (1, 32, 32), "bernoulli", value_range=(0, 1)
            ),
        }


def _random_inputs(specs: dict[str, Any], n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for m, s in specs.items():
        if s.dtype.startswith("int"):
            low = 2 if s.kind == "tokens" else 0
            out[m] = torch.randint(low, s.num_classes, (n, *s.shape), generator=gen)
        else:
            out[m] = torch.rand((n, *s.shape), generator=gen)
    return out


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: imports, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_interpret(sizes: str = "default", seed: int = 0, num_threads: int | None = 1) -> dict:
    """Milliseconds (median of repeats) of the interpretation backend's main operations.

    - ig_lmf_ms: IntegratedGradients (32 steps) for one sample of a fresh LMF on
      sentiment-shaped inputs (target < 300 ms); shapley_lmf_ms: its exact modality Shapley;
    - ig_mvae_ms, shapley_mvae5_ms: the same on an MVAE with the five digits-shaped
      modalities (the Shapley value of the generated label's log-probability over 4 inputs,
      and of a latent dimension over all 5: 32 coalitions; target < 300 ms);
    - disentanglement_ms: MI matrix + MIG + SAP + DCI for `samples` x `latent_dims` latents
      and `factors` factors (target < 5 s for 2,000 x 64 x 15);
    - pid_pair_ms: BROJA PID of one modality pair over `samples` samples (3-valued cues;
      target < 5 s).
    Untrained weights: the timings do not depend on training. `num_threads` sets torch's
    threads for the run (None leaves it).
    """
    import numpy as np

    from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
    from mmviz.interpret.attributions import Attributor, GeneratedClass, LatentDim, Prediction
    from mmviz.interpret.information import disentanglement
    from mmviz.interpret.pid import pid_from_samples
    from mmviz.interpret.shapley import modality_shapley
    from mmviz.models.fusion import LMF, LMFConfig

    if sizes not in INTERPRET_SIZES:
        raise ValueError(f"unknown sizes {sizes!r}; choose from: {', '.join(INTERPRET_SIZES)}")
    size = INTERPRET_SIZES[sizes]
    reps = size["repeats"]
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        result: dict[str, Any] = {"sizes": sizes, "threads": torch.get_num_threads()}
        gen = torch.Generator().manual_seed(seed)
        specs = sentiment_like_specs()
        fusion = FUSION_SIZES[sizes]
        lmf = LMF(LMFConfig(seed=seed, **fusion), specs).eval()
        one, _ = random_sentiment_batch(specs, 1, gen)
        ig = Attributor("IntegratedGradients", n_steps=32)
        result["ig_lmf_ms"] = _median_ms(lambda: ig.attribute(lmf, one, Prediction()), reps)
        result["shapley_lmf_ms"] = _median_ms(
            lambda: modality_shapley(lmf, one, Prediction()), reps
        )

        try:
            from mmviz.models.mvae import MVAE, MVAEConfig
        except ImportError as e:
            result["mvae"] = f"skipped: {e}"
        else:
            dspecs = _digits_like_specs()
            mvae = MVAE(MVAEConfig(seed=seed, **size["mvae"]), dspecs).eval()
            x = _random_inputs(dspecs, 1, gen)
            result["ig_mvae_ms"] = _median_ms(
                lambda: ig.attribute(mvae, x, GeneratedClass("label")), reps
            )
            result["shapley_mvae4_ms"] = _median_ms(
                lambda: modality_shapley(mvae, x, GeneratedClass("label")), reps
            )
            result["shapley_mvae5_ms"] = _median_ms(
                lambda: modality_shapley(mvae, x, LatentDim("z", 0), players=list(dspecs)), reps
            )

        rng = np.random.default_rng(seed)
        n, d, k = size["samples"], size["latent_dims"], size["factors"]
        z = rng.standard_normal((n, d))
        factors = {f"f{j}": rng.integers(0, 2 + j % 9, n) for j in range(k - k // 5)}
        factors.update({f"c{j}": rng.standard_normal(n) for j in range(k // 5)})
        kinds = {f: ("continuous" if f.startswith("c") else "categorical") for f in factors}
        result["disentanglement_ms"] = _median_ms(
            lambda: disentanglement(z, factors, kinds, seed=seed), max(1, reps // 2)
        )
        x1, x2 = rng.integers(0, 3, n), rng.integers(0, 3, n)
        y = (x1 + x2 + (rng.random(n) < 0.1)) % 2
        result["pid_pair_ms"] = _median_ms(lambda: pid_from_samples(x1, x2, y, "broja"), reps)
        result["samples"], result["latent_dims"], result["factors"] = n, d, k
        return result
    finally:
        torch.set_num_threads(old_threads)


# ---------------------------------------------------------------------------------------------
# Step-by-step explainers
# ---------------------------------------------------------------------------------------------
STEPPER_SIZES: dict[str, dict[str, Any]] = {
    # the shipped checkpoints' sizes (mvae_digits5, mopoe_digits5, lmf/tfn_sentiment)
    "default": {
        "mvae": {"latent_dim": 32, "hidden": 128, "enc_layers": 2, "dec_layers": 3},
        "mopoe": {"latent_dim": 32, "hidden": 128, "enc_layers": 2, "dec_layers": 2},
        "mfm": {"zy_dim": 16, "za_dim": 8, "factor_dim": 32, "hidden": 64, "dec_layers": 2},
        "fusion": {"fusion_dim": 16},
        "rank": 4,
        "repeats": 5,
    },
    "tiny": {
        "mvae": {"latent_dim": 8, "hidden": 32, "enc_layers": 1, "dec_layers": 1},
        "mopoe": {"latent_dim": 8, "hidden": 32, "enc_layers": 1, "dec_layers": 1},
        "mfm": {"zy_dim": 4, "za_dim": 3, "factor_dim": 8, "hidden": 16},
        "fusion": FUSION_SIZES["tiny"] | {"rank": 2},
        "rank": 2,
        "repeats": 2,
    },
}


def _as_streamlit_sends(fig: Any) -> str:
    """What `st.plotly_chart` does with a figure before sending it: a dict, then JSON."""
    import plotly.io

    return plotly.io.to_json(fig.to_dict(), validate=False)


def _timed_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of this process) of `fn` over `repeats` runs. CPU time
    is what a frame costs the server; wall time also counts waiting for a busy machine."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def bench_steppers(sizes: str = "default", seed: int = 0, num_threads: int | None = 1) -> dict:
    """Milliseconds per frame of the step-by-step explainers (target: <= 100 ms a frame).

    A frame is what a stepper's fragment does on each step: draw that step's figures and turn
    each into the JSON `st.plotly_chart` sends. The steps themselves (`poe_steps`,
    `lmf_rank_terms`, `tfn_blocks`) are computed once per sample and settings and cached by
    the app: they are timed separately ("compute"). For every stepper, the median over its
    steps of each step's median over `repeats` runs, the slowest step, and the CPU time.
    Models at the shipped checkpoints' sizes, untrained (timings do not depend on training),
    on random digits- and sentiment-shaped inputs; all five digits modalities observed, so
    the MoPoE mixture has 31 components (32 steps); MFM's data flow has 5 stages.
    """
    from mmviz.data.random_inputs import random_sentiment_batch, sentiment_like_specs
    from mmviz.models.fusion import LMF, TFN, FusionConfig, LMFConfig
    from mmviz.models.mfm import MFM, MFMConfig
    from mmviz.models.mopoe import MoPoE, MoPoEConfig
    from mmviz.models.mvae import MVAE, MVAEConfig
    from mmviz.plots import steppers as figs
    from mmviz.steppers import MFM_STAGES, lmf_rank_terms, mfm_flow, poe_steps, tfn_blocks

    if sizes not in STEPPER_SIZES:
        raise ValueError(f"unknown sizes {sizes!r}; choose from: {', '.join(STEPPER_SIZES)}")
    size = STEPPER_SIZES[sizes]
    reps = size["repeats"]
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        result: dict[str, Any] = {"sizes": sizes, "threads": torch.get_num_threads()}
        gen = torch.Generator().manual_seed(seed)
        dspecs = _digits_like_specs()
        x = _random_inputs(dspecs, 1, gen)
        observed = list(dspecs)

        def frames(name: str, count: int, frame: Callable[[int], None]) -> None:
            per_step = [_timed_ms(lambda s=s: frame(s), reps) for s in range(count)]
            walls, cpus = [w for w, _ in per_step], [c for _, c in per_step]
            result[f"{name}_frame_ms"] = statistics.median(walls)
            result[f"{name}_frame_max_ms"] = max(walls)
            result[f"{name}_frame_cpu_ms"] = statistics.median(cpus)
            result[f"{name}_steps"] = count

        for name, cls, cfg in (("poe", MVAE, MVAEConfig), ("mixture", MoPoE, MoPoEConfig)):
            model = cls(cfg(seed=seed, **size["mvae" if name == "poe" else "mopoe"]), dspecs)
            model.eval()
            result[f"{name}_compute_ms"] = _timed_ms(
                lambda m=model: poe_steps(m, x, observed, 0), reps
            )[0]
            steps = poe_steps(model, x, observed, 0)

            def poe_frame(s: int, steps=steps) -> None:
                for fig in (
                    figs.density_figure(steps, s),
                    figs.shares_figure(steps, s),
                    figs.thumbnails_figure(steps, s, dspecs),
                ):
                    _as_streamlit_sends(fig)

            frames(name, steps.steps, poe_frame)

        mfm = MFM(MFMConfig(seed=seed, **size["mfm"]), dspecs).eval()
        mate = _random_inputs(dspecs, 1, gen)
        result["mfm_compute_ms"] = _timed_ms(lambda: mfm_flow(mfm, x, mate), reps)[0]
        flow = mfm_flow(mfm, x, mate)
        frames(
            "mfm",
            len(MFM_STAGES),
            lambda k: _as_streamlit_sends(figs.mfm_flow_figure(flow, k, dspecs)),
        )

        specs = sentiment_like_specs()
        one, _ = random_sentiment_batch(specs, 1, gen)
        fusion = {k: v for k, v in size["fusion"].items() if k != "rank"}
        lmf = LMF(LMFConfig(seed=seed, rank=size["rank"], **fusion), specs).eval()
        tfn = TFN(FusionConfig(seed=seed, **fusion), specs).eval()
        result["lmf_compute_ms"] = _timed_ms(lambda: lmf_rank_terms(lmf, one), reps)[0]
        ranks = lmf_rank_terms(lmf, one)

        def lmf_frame(k: int) -> None:
            _as_streamlit_sends(figs.lmf_convergence_figure(ranks, k))
            _as_streamlit_sends(figs.lmf_fused_figure(ranks, k))

        frames("lmf", ranks.rank + 1, lmf_frame)
        result["tfn_compute_ms"] = _timed_ms(lambda: tfn_blocks(tfn, one), reps)[0]
        blocks = tfn_blocks(tfn, one)

        def tfn_frame(k: int) -> None:
            _as_streamlit_sends(figs.tfn_cube_figure(blocks, upto=k))
            _as_streamlit_sends(figs.tfn_blocks_figure(blocks))

        frames("tfn", len(blocks.modalities) + 1, tfn_frame)
        result["frame_budget_ms"] = 100
        return result
    finally:
        torch.set_num_threads(old_threads)
