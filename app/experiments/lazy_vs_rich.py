"""Lazy training: wide or strongly scaled networks reach a fit while their weights barely move.

A two-layer ReLU network f(x) = (1/√m) Σ aⱼ relu(wⱼ·x) in the NTK parametrisation is centred
by an antisymmetric initialisation (every hidden unit has a twin with the opposite output
weight, so f ≡ 0 at initialisation) and scaled by α as in Chizat, Oyallon & Bach (2019): the
model is α·f and the loss (1/α²)·½·mean(α·f − y)². After a fixed number of full-batch
gradient-descent steps the relative change ‖W_T − W_0‖ / ‖W_0‖ of the hidden weights is
measured across widths m (Jacot et al.: it shrinks like 1/√m) and across α (Chizat et al.:
it shrinks like 1/α). The control uses the mean-field parametrisation, where it does not
shrink with width.
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from app.experiments.base import (
    Check,
    Experiment,
    Params,
    Progress,
    Result,
    check,
    not_applicable,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_SLOPE_BAND = (-0.6, -0.4)  # log-log slope of the relative change vs width (theory −1/2)
ALPHA_SLOPE_BAND = (-1.1, -0.85)  # log-log slope of the relative change vs α (theory −1)
MIN_GRID_POINTS = 3  # distinct grid values needed to fit a slope
TEACHER_GAIN = 3.0  # y = tanh(3·β·x): a smooth, clearly nonlinear single-index target
PROGRESS_EVERY = 50  # GD steps between progress reports within one training run

Width = Annotated[int, Field(ge=8, le=16_384)]
Scale = Annotated[float, Field(ge=0.01, le=1_000.0)]

WIDTHS = [64, 128, 256, 512, 1024, 2048, 4096]
ALPHAS = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]


class LazyVsRichParams(Params):
    n_train: int = Field(100, ge=10, le=1_000, description="Training examples n.")
    input_dim: int = Field(10, ge=1, le=100, description="Input dimension d.")
    widths: list[Width] = Field(
        default_factory=lambda: list(WIDTHS),
        min_length=2,
        max_length=20,
        description="Hidden widths m of the width sweep (even: units come in antisymmetric twins).",
    )
    alphas: list[Scale] = Field(
        default_factory=lambda: list(ALPHAS),
        min_length=2,
        max_length=30,
        description="Output scales α of the α sweep.",
    )
    alpha_width: Width = Field(1024, description="Hidden width used in the α sweep (even).")
    width_sweep_alpha: Scale = Field(1.0, description="α used in the width sweep.")
    steps: int = Field(300, ge=10, le=20_000, description="Full-batch GD steps per network.")
    lr: float = Field(
        1.0, gt=0.0, le=10.0, description="GD step size (multiplied by m in the mean-field case)."
    )
    parametrisation: Literal["ntk", "mean_field"] = Field(
        "ntk",
        description="ntk: output scaled by 1/√m (the claim); mean_field: 1/m, step × m (control).",
    )

    @field_validator("widths")
    @classmethod
    def widths_are_even(cls, widths: list[int]) -> list[int]:
        if any(m % 2 for m in widths):
            raise ValueError("every width must be even (units come in antisymmetric twins)")
        return widths

    @field_validator("alpha_width")
    @classmethod
    def alpha_width_is_even(cls, width: int) -> int:
        if width % 2:
            raise ValueError("alpha_width must be even (units come in antisymmetric twins)")
        return width


def teacher_data(
    params: LazyVsRichParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs on the unit sphere; standardised targets y = tanh(3·β·x), β a random unit vector."""
    x = rng.standard_normal((params.n_train, params.input_dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    beta = rng.standard_normal(params.input_dim)
    y = np.tanh(TEACHER_GAIN * x @ (beta / np.linalg.norm(beta)))
    return x, (y - y.mean()) / y.std()


def antisymmetric_init(
    width: int, dim: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hidden weights W ~ N(0, I) and output weights a ~ N(0, 1), each unit with a twin (w, −a)."""
    half_w = rng.standard_normal((width // 2, dim))
    half_a = rng.standard_normal(width // 2)
    return np.vstack([half_w, half_w]), np.concatenate([half_a, -half_a])


def train(
    x: np.ndarray,
    y: np.ndarray,
    width: int,
    alpha: float,
    params: LazyVsRichParams,
    rng: np.random.Generator,
    tick: Callable[[int], None],
) -> dict[str, float]:
    """GD on (1/α²)·½·mean(α·f − y)²; relative weight changes and the final training MSE."""
    n = len(x)
    w, a = antisymmetric_init(width, x.shape[1], rng)
    w0, a0 = w.copy(), a.copy()
    if params.parametrisation == "ntk":
        scale, lr = 1.0 / np.sqrt(width), params.lr
    else:
        scale, lr = 1.0 / width, params.lr * width
    mse = float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(params.steps):
            pre = x @ w.T
            hidden = np.maximum(pre, 0.0)
            f = scale * (hidden @ a)
            mse = float(np.mean((alpha * f - y) ** 2))
            if not np.isfinite(mse):
                break  # diverged: the changes below become undefined
            residual = (alpha * f - y) / alpha  # ∂loss/∂f times n
            grad_a = scale * (hidden.T @ residual) / n
            grad_w = scale * ((pre > 0) * residual[:, None]).T @ x * a[:, None] / n
            a -= lr * grad_a
            w -= lr * grad_w
            if (t + 1) % PROGRESS_EVERY == 0:
                tick(PROGRESS_EVERY)
        tick(params.steps % PROGRESS_EVERY)
        f = scale * (np.maximum(x @ w.T, 0.0) @ a)
        mse = float(np.mean((alpha * f - y) ** 2))
        hidden_change = np.linalg.norm(w - w0) / np.linalg.norm(w0)
        total_change = np.sqrt(np.sum((w - w0) ** 2) + np.sum((a - a0) ** 2)) / np.sqrt(
            np.sum(w0**2) + np.sum(a0**2)
        )
    if not np.isfinite(mse):
        return {"hidden_change": float("nan"), "total_change": float("nan"), "mse": float("nan")}
    return {"hidden_change": float(hidden_change), "total_change": float(total_change), "mse": mse}


def _max_defined(values: list[float]) -> float | None:
    """The largest finite value (diverged runs are counted separately), or None."""
    defined = [v for v in values if np.isfinite(v)]
    return max(defined) if defined else None


def loglog_slope(grid: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of log(value) vs log(grid); None if a value is undefined or ≤ 0."""
    v = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        return None
    return float(np.polyfit(np.log(grid), np.log(v), 1)[0])


def slope_check(
    name: str, what: str, grid: list[float], values: list[float], band: tuple[float, float]
) -> tuple[float | None, Check]:
    low, high = band
    description = f"log-log slope of the relative hidden-weight change vs {what} in [{low}, {high}]"
    if len(set(grid)) < MIN_GRID_POINTS:
        why = f"fewer than {MIN_GRID_POINTS} distinct values of {what}"
        return None, not_applicable(name, description, why)
    slope = loglog_slope(grid, values)
    return slope, check(name, description, slope, lambda s: low <= s <= high)


def run(params: LazyVsRichParams, seed: int, progress: Progress) -> Result:
    data_rng, width_rng, alpha_rng = np.random.default_rng(seed).spawn(3)
    x, y = teacher_data(params, data_rng)
    widths = sorted(set(params.widths))
    alphas = sorted(set(params.alphas))
    # Work ∝ width × steps: used only to make the progress fraction roughly linear in time.
    total = params.steps * (sum(widths) + len(alphas) * params.alpha_width)
    done = 0

    def ticker(width: int, label: str) -> Callable[[int], None]:
        def tick(steps: int) -> None:
            nonlocal done
            done += steps * width
            progress(min(done / total, 1.0), label)

        return tick

    by_width = [
        train(x, y, m, params.width_sweep_alpha, params, width_rng, ticker(m, f"width {m}"))
        for m in widths
    ]
    m_alpha = params.alpha_width
    by_alpha = [
        train(x, y, m_alpha, al, params, alpha_rng, ticker(m_alpha, f"α {al:g}")) for al in alphas
    ]
    width_change = [r["hidden_change"] for r in by_width]
    alpha_change = [r["hidden_change"] for r in by_alpha]
    width_slope, width_check = slope_check(
        "width_slope", "width", [float(m) for m in widths], width_change, WIDTH_SLOPE_BAND
    )
    alpha_slope, alpha_check = slope_check(
        "alpha_slope", "α", alphas, alpha_change, ALPHA_SLOPE_BAND
    )
    metrics = {
        "width_slope": width_slope,
        "alpha_slope": alpha_slope,
        "width_slope_all_weights": loglog_slope(widths, [r["total_change"] for r in by_width]),
        "alpha_slope_all_weights": loglog_slope(alphas, [r["total_change"] for r in by_alpha]),
        "change_at_smallest_width": width_change[0],
        "change_at_largest_width": width_change[-1],
        "change_at_smallest_alpha": alpha_change[0],
        "change_at_largest_alpha": alpha_change[-1],
        "max_final_mse": _max_defined([r["mse"] for r in by_width + by_alpha]),
        "diverged_runs": float(sum(not np.isfinite(r["mse"]) for r in by_width + by_alpha)),
        "initial_mse": float(np.mean(y**2)),
        "mean_field": float(params.parametrisation == "mean_field"),
    }
    series = {
        "widths": widths,
        "width_change": width_change,
        "width_mse": [r["mse"] for r in by_width],
        "alphas": alphas,
        "alpha_change": alpha_change,
        "alpha_mse": [r["mse"] for r in by_alpha],
        "alpha_width": params.alpha_width,
        "width_sweep_alpha": params.width_sweep_alpha,
        "parametrisation": params.parametrisation,
    }
    return Result.judged(metrics, series, [width_check, alpha_check])


def _fitted_line(ax, grid: list[float], values: list, slope: float | None, label: str) -> None:
    """The least-squares power law through the points, if the slope is defined."""
    if slope is None:
        return
    g = np.asarray(grid, dtype=float)
    v = np.asarray(values, dtype=float)
    intercept = np.mean(np.log(v) - slope * np.log(g))
    ax.plot(g, np.exp(intercept) * g**slope, "k--", lw=1, label=f"{label}: slope {slope:.2f}")


def _plot_sweep(
    ax, grid: list, values: list, slope: float | None, band: tuple, xlabel: str
) -> None:
    points = [(g, v) for g, v in zip(grid, values, strict=True) if v is not None and v > 0]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, "o", ms=5, label="measured")
        _fitted_line(ax, list(xs), list(ys), slope, f"fit (target [{band[0]}, {band[1]}])")
        # At least a decade of y range, so a flat curve does not look steep.
        middle = np.sqrt(min(ys) * max(ys))
        ax.set_ylim(min(min(ys), middle / 3.2) / 1.2, max(max(ys), middle * 3.2) * 1.2)
    diverged = [g for g, v in zip(grid, values, strict=True) if v is None]
    if diverged:
        where = ", ".join(f"{g:g}" for g in diverged)
        ax.plot([], [], " ", label=f"diverged (no value) at {where}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("‖W_T − W_0‖ / ‖W_0‖ (hidden layer)")
    ax.legend(fontsize="small")


def plot(result: Result, fig: "Figure") -> None:
    series, metrics = result.series, result.metrics
    name = "NTK" if series.get("parametrisation") == "ntk" else "mean-field"
    ax = fig.add_subplot(1, 2, 1)
    _plot_sweep(
        ax,
        series["widths"],
        series["width_change"],
        metrics.get("width_slope"),
        WIDTH_SLOPE_BAND,
        "hidden width m",
    )
    ax.set_title(f"Width sweep ({name}, α = {series['width_sweep_alpha']:g})")
    ax = fig.add_subplot(1, 2, 2)
    _plot_sweep(
        ax,
        series["alphas"],
        series["alpha_change"],
        metrics.get("alpha_slope"),
        ALPHA_SLOPE_BAND,
        "output scale α",
    )
    ax.set_title(f"α sweep ({name}, m = {series['alpha_width']})")
    fig.suptitle(f"Lazy vs rich training (verdict: {result.verdict})")


EXPERIMENT = Experiment(
    name="lazy_vs_rich",
    title="Lazy training: wide or large-α networks barely move their weights",
    claim=(
        "In the NTK parametrisation a network fits its data while each weight moves less the "
        "wider it is (relative change ∝ 1/√width), and scaling a centred model's output by α "
        "makes the change shrink like 1/α: training becomes lazy, close to a linear model in "
        "its parameters."
    ),
    references=[
        "Jacot, Gabriel & Hongler (2018). Neural tangent kernel: convergence and generalization "
        "in neural networks. NeurIPS 2018.",
        "Chizat, Oyallon & Bach (2019). On lazy training in differentiable programming. "
        "NeurIPS 2019.",
        "Mei, Montanari & Nguyen (2018). A mean field view of the landscape of two-layer neural "
        "networks. PNAS 115(33).",
    ],
    description=(
        "n = 100 inputs uniform on the unit sphere in d = 10, targets y = tanh(3·β·x) for a "
        "random unit vector β, standardised. Two-layer ReLU network f(x) = (1/√m) Σ aⱼ "
        "relu(wⱼ·x), wⱼ ~ N(0, I), aⱼ ~ N(0, 1), with both layers trained. The model is centred "
        "by the antisymmetric (doubling) trick: units come in twins (w, a) and (w, −a), so "
        "f = 0 at initialisation without changing the expected tangent kernel. As in Chizat "
        "et al. the model is α·f and the loss (1/α²)·½·mean(α·f − y)², whose linearised "
        "gradient flow fits at the same rate for every α. Each network gets the same fixed "
        "training: 300 full-batch GD "
        "steps with step size 1 (quick; the training MSE falls from 1 to at most about 0.025 "
        "for every network), and the measured quantity is ‖W_T − W_0‖_F / ‖W_0‖_F of the hidden "
        "layer (the change of all weights is reported too). Width sweep: m = 64 … 4096 at "
        "α = 1; α sweep: α = 0.1 … 100 at m = 1024; a fresh initialisation for every network. "
        "Scaled down: the papers study the infinite-width limit and real data; a synthetic "
        "target and a hundred points keep every network to a fraction of a second. The full "
        "preset trains 2,000 steps, uses 13 widths (factor √2 apart) and 13 values of α, and "
        "runs the α sweep at m = 2048."
    ),
    signature=(
        "Fitting a straight line to log(relative hidden-weight change) against log(width) "
        "gives a slope between −0.6 and −0.4 (theory: −1/2); against log(α) a slope between "
        "−1.1 and −0.85 (theory: −1)."
    ),
    control=(
        "The mean-field parametrisation: the output is scaled by 1/m instead of 1/√m and the "
        "step size is multiplied by m, so every unit moves by an amount that does not depend "
        "on the width (the regime in which features are learnt). The relative change then "
        "stays flat across widths (slope near 0, which fails the width condition); at small α "
        "the large mean-field steps may also diverge, which makes the α slope undefined."
    ),
    params=LazyVsRichParams,
    run=run,
    plot=plot,
    full={
        "steps": 2000,
        "widths": [64, 90, 128, 182, 256, 362, 512, 724, 1024, 1448, 2048, 2896, 4096],
        "alphas": [0.1, 0.18, 0.32, 0.56, 1.0, 1.8, 3.2, 5.6, 10.0, 18.0, 32.0, 56.0, 100.0],
        "alpha_width": 2048,
    },
    control_params={"parametrisation": "mean_field"},
)
