"""Uniform convergence can be vacuous while the test error is tiny (Nagarajan & Kolter 2019).

Their linear construction: an input is x = (x₁, x₂) with a class signal x₁ = 2y·u in K
dimensions (u a fixed unit vector) and isotropic Gaussian noise x₂ in D ≫ m dimensions.
Three linear learners (one gradient step from zero, logistic-loss gradient descent, the
hard-margin SVM) classify fresh data almost perfectly, yet misclassify every point of S′,
the training set with its noise part negated. S′ is itself a typical training set (the noise
is symmetric), so any uniform bound over the classifiers the algorithm outputs must be at
least their error on S′: close to 1.

All three learners start from zero (or are the SVM), so w = Σ cᵢ xᵢ stays in the span of the
training inputs: they are fitted in the dual coordinates c on the 2m × 2m Gram matrices, and
only the test set touches D-dimensional vectors, a block at a time.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import scipy.linalg
import scipy.optimize
from pydantic import Field, field_validator

from app.experiments.base import Experiment, Params, Progress, Result, check

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Step = Callable[[str], None]  # reports one finished unit of work

LEARNERS = ("one_gd_step", "logistic_gd", "hard_margin_svm")
LEARNER_LABELS = {
    "one_gd_step": "one GD step",
    "logistic_gd": "logistic GD",
    "hard_margin_svm": "hard-margin SVM",
}
MAX_TEST_ERROR = 0.05  # every learner must generalise at least this well ...
MIN_SPRIME_ERROR = 0.99  # ... while misclassifying at least this fraction of S′
PAPER_NOISE_DIM = 20_000
PAPER_NOISE_TOTAL_VARIANCE = 1024.0  # s²: E‖x₂‖² in the paper's construction
TEST_BLOCK_ENTRIES = 4_000_000  # test rows × D generated at once, to bound memory
SVM_JITTER = 1e-12  # relative ridge on the SVM dual, so D < 2m (singular Gram) still factorises

PerClass = Annotated[int, Field(ge=2, le=128)]


class UniformConvergenceParams(Params):
    signal_dim: int = Field(10, ge=1, le=100, description="K: dimensions of the class signal.")
    noise_dim: int = Field(
        PAPER_NOISE_DIM,
        ge=1,
        le=40_000,
        description="D: dimensions of the Gaussian noise (the control uses 50).",
    )
    noise_coordinate_variance: float = Field(
        PAPER_NOISE_TOTAL_VARIANCE / PAPER_NOISE_DIM,
        ge=0.0,
        le=10.0,
        description="Variance of each noise coordinate: s²/D with s² = 1024 and D = 20,000 "
        "(0.0512). The control keeps it while shrinking D.",
    )
    per_class_sizes: list[PerClass] = Field(
        [16, 32, 64],
        min_length=1,
        max_length=6,
        description="Training examples per class m (2m in all), one training set per m.",
    )
    draws: int = Field(1, ge=1, le=20, description="Independent training sets per m.")
    n_test: int = Field(2000, ge=100, le=20_000, description="Fresh test points.")
    logistic_steps: int = Field(
        2000, ge=1, le=20_000, description="Full-batch gradient steps of logistic GD."
    )

    @field_validator("per_class_sizes")
    @classmethod
    def _distinct_sorted(cls, sizes: list[int]) -> list[int]:
        if len(set(sizes)) != len(sizes):
            raise ValueError("per-class sizes must be distinct")
        return sorted(sizes)


class Construction:
    """The data distribution: x = (2y·u, x₂) with x₂ ~ N(0, v·I_D), y uniform on ±1."""

    def __init__(self, params: UniformConvergenceParams, rng: np.random.Generator) -> None:
        direction = rng.standard_normal(params.signal_dim)
        self.u = direction / np.linalg.norm(direction)
        self.noise_dim = params.noise_dim
        self.noise_std = float(np.sqrt(params.noise_coordinate_variance))

    def signal(self, y: np.ndarray) -> np.ndarray:
        return 2.0 * y[:, None] * self.u[None, :]

    def noise(self, count: int, rng: np.random.Generator) -> np.ndarray:
        return self.noise_std * rng.standard_normal((count, self.noise_dim))


def one_gd_step(y: np.ndarray) -> np.ndarray:
    """w = Σ yᵢxᵢ: the first gradient step from zero on the logistic loss (up to its size)."""
    return y.copy()


def logistic_gd(gram: np.ndarray, y: np.ndarray, steps: int) -> tuple[np.ndarray, float]:
    """Full-batch GD on the mean logistic loss from w = 0, in dual coordinates (w = Σ cᵢxᵢ).

    The step 4n/λ_max(G) is 1/L for the loss's smoothness constant L = λ_max(G)/(4n).
    Returns c and the final training loss.
    """
    n = len(y)
    step = 4.0 * n / float(np.linalg.eigvalsh(gram)[-1])
    coef = np.zeros(n)
    for _ in range(steps):
        margins = y * (gram @ coef)
        coef += step / n * y * _sigmoid(-margins)
    return coef, float(np.mean(np.logaddexp(0.0, -y * (gram @ coef))))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def hard_margin_svm(gram: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The homogeneous hard-margin SVM (min ‖w‖ s.t. yᵢ w·xᵢ ≥ 1) through its dual.

    The dual min ½αᵀQα − 1ᵀα over α ≥ 0, Q = (yyᵀ)∘G, equals a non-negative least-squares
    problem ½‖Lᵀα − L⁻¹1‖² with Q = LLᵀ, solved exactly by NNLS. Returns c = α∘y.
    """
    q = np.outer(y, y) * gram
    q[np.diag_indices_from(q)] += SVM_JITTER * float(np.max(np.diag(q)))
    lower = np.linalg.cholesky(q)
    target = scipy.linalg.solve_triangular(lower, np.ones(len(y)), lower=True)
    alpha, _ = scipy.optimize.nnls(lower.T, target, maxiter=50 * len(y))
    return alpha * y


def fit_training_set(
    params: UniformConvergenceParams, world: Construction, m: int, rng: np.random.Generator
) -> dict[str, Any]:
    """One training set of m examples per class, the three learners and their errors on S, S′."""
    y = np.repeat([1.0, -1.0], m)
    signal, noise = world.signal(y), world.noise(2 * m, rng)
    signal_gram, noise_gram = signal @ signal.T, noise @ noise.T
    gram = signal_gram + noise_gram
    # On S′ the noise is negated: x′ᵢ·xⱼ = x₁ᵢ·x₁ⱼ − x₂ᵢ·x₂ⱼ.
    sprime_gram = signal_gram - noise_gram
    logistic, logistic_loss = logistic_gd(gram, y, params.logistic_steps)
    coefs = {
        "one_gd_step": one_gd_step(y),
        "logistic_gd": logistic,
        "hard_margin_svm": hard_margin_svm(gram, y),
    }
    fitted: dict[str, Any] = {"m": m, "logistic_train_loss": logistic_loss, "learners": {}}
    for name, coef in coefs.items():
        w_signal, w_noise = signal.T @ coef, noise.T @ coef
        margins = y * (gram @ coef) / np.sqrt(w_signal @ w_signal + w_noise @ w_noise)
        fitted["learners"][name] = {
            "w_signal": w_signal,
            "w_noise": w_noise,
            "train_error": float(np.mean(y * (gram @ coef) <= 0)),
            "sprime_error": float(np.mean(y * (sprime_gram @ coef) <= 0)),
            "min_normalised_margin": float(margins.min()),
        }
    return fitted


def measure_test_errors(
    params: UniformConvergenceParams,
    world: Construction,
    fits: list[dict[str, Any]],
    rng: np.random.Generator,
    step: Step,
) -> None:
    """Error of every fitted classifier on one shared set of fresh points, added to `fits`."""
    classifiers = [fit["learners"][name] for fit in fits for name in LEARNERS]
    w_signal = np.stack([c["w_signal"] for c in classifiers], axis=1)
    w_noise = np.stack([c["w_noise"] for c in classifiers], axis=1)
    mistakes = np.zeros(len(classifiers))
    block = max(1, TEST_BLOCK_ENTRIES // params.noise_dim)
    for start in range(0, params.n_test, block):
        count = min(block, params.n_test - start)
        y = rng.choice([-1.0, 1.0], size=count)
        scores = world.signal(y) @ w_signal + world.noise(count, rng) @ w_noise
        mistakes += np.sum(y[:, None] * scores <= 0, axis=0)
        step(f"test points {start + count}/{params.n_test}")
    for classifier, wrong in zip(classifiers, mistakes, strict=True):
        classifier["test_error"] = float(wrong / params.n_test)


def run(params: UniformConvergenceParams, seed: int, progress: Progress) -> Result:
    rng = np.random.default_rng(seed)
    world = Construction(params, rng)
    sizes = params.per_class_sizes
    test_blocks = -(-params.n_test // max(1, TEST_BLOCK_ENTRIES // params.noise_dim))
    total = len(sizes) * params.draws + test_blocks
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        progress(done / total, message)

    fits = []
    for m in sizes:
        for draw in range(params.draws):
            fits.append(fit_training_set(params, world, m, rng))
            step(f"m = {m}: training set {draw + 1}/{params.draws} fitted")
    measure_test_errors(params, world, fits, rng, step)
    metrics, series = summarise(fits, sizes)
    checks = [
        check(
            "test_error_small",
            f"largest test error over every m and learner ≤ {MAX_TEST_ERROR}",
            metrics["max_test_error"],
            lambda e: e <= MAX_TEST_ERROR,
        ),
        check(
            "sprime_error_near_one",
            f"smallest error on S′ (noise negated) over every m and learner ≥ {MIN_SPRIME_ERROR}",
            metrics["min_sprime_error"],
            lambda e: e >= MIN_SPRIME_ERROR,
        ),
    ]
    metrics.update(
        noise_dim=params.noise_dim,
        noise_total_variance=params.noise_dim * params.noise_coordinate_variance,
    )
    return Result.judged(metrics, series, checks)


def summarise(
    fits: list[dict[str, Any]], sizes: list[int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Extremes over the grid (metrics) and per-m, per-learner means over draws (series)."""

    def values(key: str, m: int | None = None, learner: str | None = None) -> np.ndarray:
        return np.array(
            [
                fit["learners"][name][key]
                for fit in fits
                for name in LEARNERS
                if (m is None or fit["m"] == m) and (learner is None or name == learner)
            ]
        )

    metrics: dict[str, Any] = {
        "max_test_error": float(values("test_error").max()),
        "min_sprime_error": float(values("sprime_error").min()),
        "max_train_error": float(values("train_error").max()),
        "min_normalised_margin": float(values("min_normalised_margin").min()),
        "max_logistic_train_loss": max(fit["logistic_train_loss"] for fit in fits),
    }
    for name in LEARNERS:
        metrics[f"max_test_error_{name}"] = float(values("test_error", learner=name).max())
        metrics[f"min_sprime_error_{name}"] = float(values("sprime_error", learner=name).min())
    series: dict[str, Any] = {
        "per_class_sizes": sizes,
        "learners": list(LEARNERS),
        "max_test_error_allowed": MAX_TEST_ERROR,
        "min_sprime_error_required": MIN_SPRIME_ERROR,
    }
    for key in ("test_error", "sprime_error", "train_error"):
        series[key] = {
            name: [float(values(key, m, name).mean()) for m in sizes] for name in LEARNERS
        }
    return metrics, series


def plot(result: Result, fig: "Figure") -> None:
    """Grouped bars per m: test error (left) and error on S′ (right), one bar per learner."""
    series = result.series
    sizes, learners = series["per_class_sizes"], series["learners"]
    positions = np.arange(len(sizes))
    width = 0.8 / len(learners)
    panels = (
        ("test_error", "Test error (fresh points)", series["max_test_error_allowed"], "≤"),
        ("sprime_error", "Error on S′ (noise negated)", series["min_sprime_error_required"], "≥"),
    )
    for index, (key, title, threshold, sense) in enumerate(panels):
        ax = fig.add_subplot(1, 2, index + 1)
        for j, name in enumerate(learners):
            offset = (j - (len(learners) - 1) / 2) * width
            bars = ax.bar(positions + offset, series[key][name], width, label=LEARNER_LABELS[name])
            ax.bar_label(bars, fmt="%.3f", fontsize="x-small", rotation=90, padding=2)
        ax.axhline(
            threshold, color="grey", ls="--", lw=0.8, label=f"required: {sense} {threshold:g}"
        )
        ax.set_xticks(positions, [str(m) for m in sizes])
        ax.set_xlabel("training examples per class m")
        ax.set_ylabel("error (mean over training sets)")
        ax.set_ylim(0.0, 1.5)  # headroom for the bar labels and the legend
        ax.set_yticks(np.linspace(0.0, 1.0, 6))
        ax.set_title(title)
        ax.legend(fontsize="small", loc="upper left", ncols=2)
    dim = result.metrics.get("noise_dim")
    fig.suptitle(f"Uniform convergence failure, D = {dim} (verdict: {result.verdict})")


EXPERIMENT = Experiment(
    name="uniform_convergence_failure",
    title="Uniform convergence fails while test error is tiny",
    claim=(
        "In a simple high-dimensional linear construction, classifiers trained by gradient "
        "methods (and the max-margin classifier) reach near-zero test error yet misclassify "
        "almost all of a copy of the training set whose noise is flipped, so even a uniform "
        "bound restricted to the classifiers the algorithm actually outputs is vacuous."
    ),
    references=[
        "Nagarajan & Kolter (2019). Uniform convergence may be unable to explain "
        "generalization in deep learning. NeurIPS. arXiv:1902.04742",
    ],
    description=(
        "The linear construction of Nagarajan & Kolter: a label y = ±1 and an input "
        "x = (x₁, x₂) with x₁ = 2y·u in K = 10 dimensions (u a unit vector drawn once per run) "
        "and x₂ ~ N(0, s²/D · I) in D = 20,000 dimensions, s² = 1024, so ‖x₂‖ ≈ 32 dwarfs "
        "the signal ‖x₁‖ = 2. For m = 16, 32 and 64 examples per class, three linear "
        "classifiers through the origin are fitted: one gradient step from zero (w = Σ yᵢxᵢ), "
        "2,000 steps of full-batch gradient descent on the mean logistic loss from zero "
        "(step 1/smoothness), and the hard-margin SVM, solved exactly as a non-negative least-"
        "squares problem on the Cholesky factor of its 2m × 2m dual. All three live in the span "
        "of the training inputs and are fitted on Gram matrices. Test error is measured on "
        "2,000 fresh points; S′ is the training set with x₂ negated, which has the same "
        "distribution as a training set, so its error lower-bounds any uniform bound over the "
        "algorithm's outputs. Not scaled down: the paper's dimensions and noise level run in "
        "seconds. The full preset adds m = 48, ten independent training sets per m, 20,000 "
        "test points and 10,000 logistic steps."
    ),
    signature=(
        "Over every m and every learner, the test error is at most 0.05 while the error on S′ "
        "is at least 0.99: the metrics report the largest test error and the smallest S′ "
        "error over the grid, and both conditions must hold."
    ),
    control=(
        "Shrink the noise to D = 50 dimensions with the same per-coordinate variance "
        "(s² = 2.56): the noise no longer outweighs the signal, negating it changes little, "
        "and the classifiers classify S′ as well as the training set, so the S′ condition "
        "fails (error on S′ near 0)."
    ),
    params=UniformConvergenceParams,
    run=run,
    plot=plot,
    full={
        "per_class_sizes": [16, 32, 48, 64],
        "draws": 10,
        "n_test": 20_000,
        "logistic_steps": 10_000,
    },
    control_params={"noise_dim": 50},
)
