"""Uniform convergence over a norm ball vs over interpolators (Yang, Bai & Mei 2021).

Random ReLU features φ(x) = relu(Wx) − 0.4 of Gaussian inputs, a noisy linear teacher, and the
min-norm interpolating readout a_min. Against its population risk R we set two bounds that
a uniform-convergence argument could use, both over the ball ‖a‖ ≤ 1.1‖a_min‖:
U = sup (R(a) − R̂(a)) over the whole ball, and T = sup R(a) over the interpolators in it.
Both are maximisations of a quadratic over a ball (a trust-region problem), solved exactly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

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

FEATURE_SHIFT = 0.4  # φ = relu(Wx) − 0.4 roughly centres the features (E relu = ‖w‖/√(2π))
T_OVER_R_MAX = 2.5  # the bound over interpolators stays within this factor of the risk ...
U_OVER_R_MIN = 4.0  # ... while the bound over the whole ball exceeds the risk by this factor
MIN_NORM_SLACK = 1.1  # the signature is judged at this ball; smaller makes T/R ≤ 2.5 easier
MAX_FEATURES = 3200  # an N × N eigendecomposition per grid point: keep it to seconds
MC_BLOCK = 2000  # fresh points per block in the Monte Carlo check, to bound memory

Step = Callable[[str], None]  # reports one finished unit of work


class UniformConvergenceGapParams(Params):
    input_dim: int = Field(30, ge=2, le=200, description="Input dimension d.")
    noise_std: float = Field(0.5, ge=0.0, le=5.0, description="Label noise σ.")
    sample_sizes: list[Annotated[int, Field(ge=10, le=3200)]] = Field(
        [100, 200],
        min_length=1,
        max_length=4,
        description="Training-set sizes n; the growth of U with n needs at least two.",
    )
    fixed_features: int | None = Field(
        None,
        ge=1,
        le=MAX_FEATURES,
        description="If set, every n uses this many features instead of the N/n grid "
        "(the control uses N = 50, far fewer than n: a least-squares fit, not an interpolator).",
    )
    feature_ratios: list[Annotated[float, Field(ge=0.01, le=16.0)]] = Field(
        [2.0, 4.0, 8.0],
        min_length=1,
        max_length=10,
        description="Grid of N/n (random features per training example); N ≤ 3200, and "
        "N = round(N/n · n) > n for every n, so that the interpolators form a family T can be "
        "taken over. Ignored when fixed_features is set.",
    )
    norm_slack: float = Field(
        1.1,
        ge=MIN_NORM_SLACK,
        le=3.0,
        description="Radius of the ball as a multiple of ‖a_min‖; at least "
        f"{MIN_NORM_SLACK:g}, the radius the signature's thresholds are set for: a smaller "
        "ball only makes T/R ≤ 2.5 easier, and as it tends to 1 the interpolators in it "
        "shrink to a_min alone and T/R → 1 holds trivially.",
    )
    draws: int = Field(
        1, ge=1, le=20, description="Independent draws (teacher, W, data) averaged per point."
    )
    mc_points: int = Field(
        20_000,
        ge=1000,
        le=100_000,
        description="Fresh points of the Monte Carlo cross-check of R (the exact moments are "
        "used for R, T and U).",
    )

    @field_validator("sample_sizes")
    @classmethod
    def _distinct_sorted(cls, sizes: list[int]) -> list[int]:
        if len(set(sizes)) != len(sizes):
            raise ValueError("sample sizes must be distinct")
        return sorted(sizes)

    @field_validator("feature_ratios")
    @classmethod
    def _features_bounded(cls, ratios: list[float], info: ValidationInfo) -> list[float]:
        ratios = sorted(set(ratios))
        if info.data.get("fixed_features") is not None:
            return ratios  # the grid is not used: every n has fixed_features features
        sizes = info.data.get("sample_sizes")
        if not sizes:  # sample_sizes itself was refused
            return ratios
        if round(max(sizes) * max(ratios)) > MAX_FEATURES:
            raise ValueError(f"max(n)·max(N/n) must be ≤ {MAX_FEATURES} features")
        for n in sizes:
            if round(ratios[0] * n) <= n:
                raise ValueError(
                    f"every N/n must give N > n (got N = {round(ratios[0] * n)} at n = {n}): "
                    "with N ≤ n there are no interpolators to bound (set fixed_features for "
                    "the classical regime)"
                )
        return ratios


@dataclass(frozen=True)
class Moments:
    """The population quantities that make the risk a quadratic in the readout a:
    R(a) = aᵀ Σ a − 2 aᵀ c + E y²."""

    second: np.ndarray  # Σ = E φ(x) φ(x)ᵀ
    cross: np.ndarray  # c = E φ(x) y
    label_power: float  # E y²

    def risk(self, readout: np.ndarray) -> float:
        quad = readout @ self.second @ readout
        return float(quad - 2.0 * readout @ self.cross + self.label_power)


def relu_features(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.maximum(x @ weights.T, 0.0) - FEATURE_SHIFT


def population_moments(weights: np.ndarray, beta: np.ndarray, noise_std: float) -> Moments:
    """Exact moments for x ~ N(0, I), y = βᵀx + noise (no Monte Carlo error).

    E relu(uᵀx) relu(vᵀx) is the first-order arc-cosine kernel
    ‖u‖‖v‖ (sin θ + (π − θ) cos θ) / 2π, E relu(wᵀx) = ‖w‖/√(2π) and E relu(wᵀx) x = w/2.
    """
    norms = np.linalg.norm(weights, axis=1)
    cosines = np.clip(weights @ weights.T / np.outer(norms, norms), -1.0, 1.0)
    angles = np.arccos(cosines)
    kernel = np.outer(norms, norms) * (np.sin(angles) + (np.pi - angles) * cosines) / (2 * np.pi)
    means = norms / np.sqrt(2 * np.pi)
    second = kernel - FEATURE_SHIFT * (means[:, None] + means[None, :]) + FEATURE_SHIFT**2
    cross = weights @ beta / 2.0  # the shift drops out: E y = 0
    return Moments(second, cross, float(beta @ beta + noise_std**2))


def maximise_on_ball(
    matrix: np.ndarray, linear: np.ndarray, constant: float, radius: float
) -> float:
    """max of vᵀ A v + 2 bᵀ v + const over ‖v‖ ≤ radius, A symmetric: exact.

    At the maximiser (μI − A) v = b with μ ≥ max(λ_max(A), 0) and μ(radius − ‖v‖) = 0.
    In the eigenbasis v_i = b_i / (μ − λ_i); ‖v(μ)‖ falls with μ, so μ is found by bisection.
    The hard case (b orthogonal to the top eigenvector, ‖v(λ_max)‖ < radius) is completed by
    moving along the top eigenvector up to the boundary.
    """
    if matrix.shape[0] == 0:
        return constant
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    b = eigenvectors.T @ linear
    top = eigenvalues[-1]

    def norm_at(mu: float) -> float:
        return float(np.linalg.norm(b / (mu - eigenvalues)))

    if top < 0.0 and norm_at(0.0) <= radius:  # concave, interior maximiser
        v = b / -eigenvalues
    else:
        low = max(top, 0.0)
        high = low + np.linalg.norm(b) / radius + 1e-12 * max(1.0, abs(top))
        for _ in range(200):
            mid = 0.5 * (low + high)
            if mid in (low, high):
                break
            low, high = (mid, high) if norm_at(mid) > radius else (low, mid)
        v = b / (high - eigenvalues)
        shortfall = radius**2 - float(v @ v)
        if shortfall > 0.0:  # the hard case: fill the ball along the top eigenvector
            v[-1] += np.copysign(np.sqrt(shortfall), b[-1] if b[-1] != 0 else 1.0)
    return float(eigenvalues @ v**2 + 2.0 * b @ v + constant)


def monte_carlo_risk(
    weights: np.ndarray,
    beta: np.ndarray,
    readout: np.ndarray,
    noise_std: float,
    points: int,
    rng: np.random.Generator,
) -> float:
    """Mean (y − φ(x)ᵀa)² over fresh points: an independent check of the exact moments."""
    total = 0.0
    for start in range(0, points, MC_BLOCK):
        size = min(MC_BLOCK, points - start)
        x = rng.standard_normal((size, len(beta)))
        y = x @ beta + noise_std * rng.standard_normal(size)
        total += float(np.sum((y - relu_features(x, weights) @ readout) ** 2))
    return total / points


def gap_at(
    n: int,
    n_features: int,
    params: UniformConvergenceGapParams,
    rng: np.random.Generator,
    step: Step,
) -> dict[str, float]:
    """R, T and U for one draw of teacher, features and training set; `step` is called
    between the two eigendecompositions (each takes seconds at N in the thousands)."""
    d, sigma = params.input_dim, params.noise_std
    beta = rng.standard_normal(d) / np.sqrt(d)
    weights = rng.standard_normal((n_features, d)) / np.sqrt(d)
    x = rng.standard_normal((n, d))
    y = x @ beta + sigma * rng.standard_normal(n)
    phi = relu_features(x, weights)
    moments = population_moments(weights, beta, sigma)

    # One SVD gives the min-norm (or least-squares) fit and the null space of Φ.
    left, singular, right_t = np.linalg.svd(phi, full_matrices=n_features > n)
    rank = int(np.sum(singular > singular[0] * max(n, n_features) * np.finfo(float).eps))
    readout = right_t[:rank].T @ ((left[:, :rank].T @ y) / singular[:rank])
    risk = moments.risk(readout)
    radius = params.norm_slack * float(np.linalg.norm(readout))

    # U: R(a) − R̂(a) = aᵀ(Σ − ΦᵀΦ/n)a − 2aᵀ(c − Φᵀy/n) + (E y² − ‖y‖²/n).
    uniform = maximise_on_ball(
        moments.second - phi.T @ phi / n,
        -(moments.cross - phi.T @ y / n),
        moments.label_power - float(y @ y) / n,
        radius,
    )
    step("U solved")
    # T: interpolators a_min + Zv; a_min ⟂ null(Φ), so ‖a‖² = ‖a_min‖² + ‖v‖².
    null_basis = right_t[rank:].T
    interpolators = float("nan")  # undefined: no family of interpolators to take T over
    if has_interpolators(n, n_features) and null_basis.shape[1] > 0:
        sigma_z = moments.second @ null_basis
        interpolators = maximise_on_ball(
            null_basis.T @ sigma_z,
            sigma_z.T @ readout - null_basis.T @ moments.cross,
            risk,
            float(np.sqrt(max(radius**2 - readout @ readout, 0.0))),
        )
    mc = monte_carlo_risk(weights, beta, readout, sigma, params.mc_points, rng)
    return {
        "risk": risk,
        "interpolator_bound": interpolators,
        "uniform_bound": uniform,
        "risk_monte_carlo": mc,
        "train_mse": float(np.mean((phi @ readout - y) ** 2)),
    }


def has_interpolators(n: int, n_features: int) -> bool:
    """With N > n features the n training points are interpolated by a whole affine family
    a_min + null(Φ); with N ≤ n there is at most one fit, and T has nothing to range over."""
    return n_features > n


def feature_counts(params: UniformConvergenceGapParams, n: int) -> list[int]:
    if params.fixed_features is not None:
        return [params.fixed_features]
    return sorted({max(1, round(r * n)) for r in params.feature_ratios})


def run(params: UniformConvergenceGapParams, seed: int, progress: Progress) -> Result:
    rng = np.random.default_rng(seed)
    plan = [(n, count) for n in params.sample_sizes for count in feature_counts(params, n)]
    total = len(plan) * params.draws
    curves: dict[int, dict[str, list[float]]] = {}
    for index, (n, count) in enumerate(plan):
        draws = []
        for draw in range(params.draws):
            done = index * params.draws + draw
            where = f"n = {n}, N = {count}, draw {draw + 1}/{params.draws}"

            def halfway(message: str, done: int = done, where: str = where) -> None:
                progress((done + 0.5) / total, f"{where}: {message}")

            draws.append(gap_at(n, count, params, rng, halfway))
            progress((done + 1) / total, where)
        curve = curves.setdefault(n, {"feature_ratio": []})
        curve["feature_ratio"].append(count / n)
        for key in draws[0]:
            curve.setdefault(key, []).append(float(np.mean([d[key] for d in draws])))
    metrics = summarise(curves)
    metrics["points_without_interpolators"] = sum(
        not has_interpolators(n, count) for n, count in plan
    )
    checks = signature_checks(metrics, params.sample_sizes)
    series = {"curves": [{"n": n, **curve} for n, curve in curves.items()]}
    return Result.judged(metrics, series, checks)


def summarise(curves: dict[int, dict[str, list[float]]]) -> dict[str, float | None]:
    """Ratios per grid point (means over draws), their extremes, and how U moves with n."""
    ratios_t, ratios_u, mc_errors = [], [], []
    metrics: dict[str, float | None] = {}
    mean_uniform = {}
    for n, curve in curves.items():
        risk = np.array(curve["risk"])
        t_over_r = np.array(curve["interpolator_bound"], dtype=float) / risk  # NaN: no T
        u_over_r = np.array(curve["uniform_bound"]) / risk
        ratios_t.extend(t_over_r)
        ratios_u.extend(u_over_r)
        mc_errors.extend(np.abs(np.array(curve["risk_monte_carlo"]) / risk - 1.0))
        mean_uniform[n] = float(np.mean(curve["uniform_bound"]))
        metrics[f"risk_n{n}"] = float(risk.mean())
        metrics[f"t_over_r_n{n}"] = _nan_stat(np.mean, t_over_r)
        metrics[f"u_over_r_n{n}"] = float(u_over_r.mean())
        metrics[f"uniform_bound_n{n}"] = mean_uniform[n]
        metrics[f"max_train_mse_n{n}"] = float(np.max(curve["train_mse"]))
    sizes = sorted(curves)
    metrics["max_t_over_r"] = _nan_stat(np.max, np.array(ratios_t))
    metrics["min_u_over_r"] = float(np.min(ratios_u))
    metrics["mean_t_over_r"] = _nan_stat(np.mean, np.array(ratios_t))
    metrics["mean_u_over_r"] = float(np.mean(ratios_u))
    # U at the largest n over U at the smallest, each averaged over the N grid.
    metrics["u_growth_ratio"] = (
        mean_uniform[sizes[-1]] / mean_uniform[sizes[0]] if len(sizes) > 1 else None
    )
    metrics["max_risk_monte_carlo_rel_error"] = float(np.max(mc_errors))
    return metrics


def _nan_stat(stat: Callable[[np.ndarray], float], values: np.ndarray) -> float | None:
    """The statistic over the defined (non-NaN) values; None if there are none."""
    defined = values[np.isfinite(values)]
    return float(stat(defined)) if defined.size else None


def signature_checks(metrics: dict[str, float | None], sizes: list[int]) -> list[Check]:
    growth = "U (mean over the N grid) larger at the largest n than at the smallest n"
    tight = f"T/R ≤ {T_OVER_R_MAX:g} at every grid point"
    missing = metrics["points_without_interpolators"]
    checks = [
        not_applicable(
            "interpolator_bound_tight",
            tight,
            f"{missing} grid point(s) with N ≤ n have no family of interpolators to bound",
        )
        if missing
        else check(
            "interpolator_bound_tight",
            tight,
            metrics["max_t_over_r"],
            lambda v: v <= T_OVER_R_MAX,
        ),
        check(
            "uniform_bound_loose",
            f"U/R ≥ {U_OVER_R_MIN:g} at every grid point",
            metrics["min_u_over_r"],
            lambda v: v >= U_OVER_R_MIN,
        ),
    ]
    if len(sizes) > 1:
        checks.append(
            check(
                "uniform_bound_grows_with_n", growth, metrics["u_growth_ratio"], lambda v: v > 1.0
            )
        )
    else:
        checks.append(not_applicable("uniform_bound_grows_with_n", growth, "only one n"))
    return checks


def plot(result: Result, fig: "Figure") -> None:
    """R, T and U against N/n (left) and the ratios T/R, U/R with their thresholds (right)."""
    import matplotlib
    import matplotlib.ticker

    curves = result.series["curves"]
    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.8, max(len(curves), 1)))
    values, ratios = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    styles = {"risk": ("o-", "R"), "interpolator_bound": ("s--", "T"), "uniform_bound": ("^:", "U")}
    for colour, curve in zip(colours, curves, strict=True):
        x = curve["feature_ratio"]
        bound = np.array(curve["interpolator_bound"], dtype=float)  # NaN where T is undefined
        has_t = bool(np.isfinite(bound).any())
        for key, (style, label) in styles.items():
            if key == "interpolator_bound" and not has_t:
                continue
            values.plot(
                x,
                np.array(curve[key], dtype=float),
                style,
                color=colour,
                ms=4,
                label=f"{label}, n = {curve['n']}",
            )
        risk = np.array(curve["risk"])
        if has_t:
            ratios.plot(x, bound / risk, "s--", color=colour, ms=4, label=f"T/R, n = {curve['n']}")
        ratios.plot(
            x,
            np.array(curve["uniform_bound"]) / risk,
            "^:",
            color=colour,
            ms=4,
            label=f"U/R, n = {curve['n']}",
        )
    ratios.axhline(T_OVER_R_MAX, color="grey", lw=0.8, ls="--", label=f"T/R = {T_OVER_R_MAX:g}")
    ratios.axhline(U_OVER_R_MIN, color="black", lw=0.8, ls=":", label=f"U/R = {U_OVER_R_MIN:g}")
    grid = sorted({x for curve in curves for x in curve["feature_ratio"]})
    for ax, what in ((values, "population risk / bound"), (ratios, "bound / risk R")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(grid, labels=[f"{x:.3g}" for x in grid], minor=False)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel("random features per example N/n")
        ax.set_ylabel(what)
        ax.legend(fontsize="x-small")
    values.set_title("Risk R of the fit, bounds T and U")
    ratios.set_title("How loose each bound is")
    fig.suptitle(f"Uniform convergence gap (verdict: {result.verdict})")


EXPERIMENT = Experiment(
    name="uniform_convergence_gap",
    title="Uniform convergence over interpolators closes the gap",
    claim=(
        "For random-feature regression there is an exact, computable gap between the risk of "
        "the min-norm interpolator and the best uniform-convergence bound over a norm ball "
        "containing it, and restricting the uniform bound to interpolators closes that gap."
    ),
    references=[
        "Yang, Bai & Mei (2021). Exact gap between generalization error and uniform "
        "convergence in random feature models. ICML. arXiv:2103.04554",
    ],
    description=(
        "Inputs x ~ N(0, I_30), labels y = βᵀx + noise (β ~ N(0, I/d), σ = 0.5). Features "
        "φ(x) = relu(Wx) − 0.4 with the N rows of W drawn from N(0, I/d); the readout a_min "
        "is the min-norm interpolator of the n training points (numpy SVD). R is its "
        "population risk E(y − φᵀa)², noise included. Over the ball ‖a‖ ≤ 1.1‖a_min‖: "
        "U = sup of R(a) − R̂(a) (R̂ the training mean squared error) and T = sup of R(a) over "
        "the interpolators a_min + Zv (Z a null-space basis of the training features, "
        "‖v‖² ≤ 0.21‖a_min‖²). Both are maximisations of a quadratic over a ball, solved "
        "exactly by eigendecomposition and bisection on the Lagrange multiplier (hard case "
        "included). The population second moments are computed in closed form (arc-cosine "
        "kernel) rather than by Monte Carlo, which removes sampling error from the quadratic "
        "the suprema are taken over; R is cross-checked on 20,000 fresh points. Scaled down: "
        "Yang et al. derive the gap in the proportional limit N, n, d → ∞; here d = 30, "
        "n ∈ {100, 200} and N/n ∈ {2, 4, 8} (one draw per point) in the quick preset, "
        "N/n ∈ {2, 3, 4, 6, 8} with 4 draws averaged in the full one. T needs a family of "
        "interpolators to range over, so the N/n grid must give N > n at every n, and the "
        "ball must be at least the 1.1‖a_min‖ the thresholds are set for (a smaller one "
        "makes T smaller: on seed 0, max T/R is 1.98 at 1.1, 1.60 at 1.05 and 1.06 at 1.001, "
        "tending to 1 trivially); other values are refused. A grid point with N ≤ n "
        "(possible only with fixed_features) has no T, and T/R ≤ 2.5 is then not tested."
    ),
    signature=(
        "At every grid point the bound over interpolators stays close to the true risk "
        "(T/R at most 2.5) while the bound over the whole ball is loose (U/R at least 4); "
        "and U, averaged over the N/n grid, is larger at n = 200 than at n = 100, so the "
        "ball bound does not tighten with more data."
    ),
    control=(
        "The classical regime: N = 50 features for n ∈ {800, 1600} (10 draws averaged), so "
        "the readout is a least-squares fit that does not interpolate and T is undefined "
        "(its condition is not tested). Uniform convergence now works: U/R is small (about "
        "1.5 at n = 800, 1.1 at n = 1600) and U falls as n grows, so the U/R ≥ 4 and the "
        "growth conditions fail."
    ),
    params=UniformConvergenceGapParams,
    run=run,
    plot=plot,
    full={"feature_ratios": [2.0, 3.0, 4.0, 6.0, 8.0], "draws": 4},
    control_params={"sample_sizes": [800, 1600], "fixed_features": 50, "draws": 10},
)
