"""The search space, discovered by running the compiler's own knob declarations.

Fusion knobs come from the pass pipeline (`xltune.passes.pipeline_knobs`) for the Config chosen
so far — a policy can make new per-candidate knobs appear, so they are asked for again until no
new one shows up. Kernel knobs come from the backend (`backend.knobs(fused_module)`) for the
module the fusion choices produce. The autotuner never reaches into a pass: it only sees Knobs
and writes Configs.
"""
from __future__ import annotations

from xltune.config import Config, Knob

MAX_FUSION_ROUNDS = 8


class SearchSpace:
    def __init__(self, module, backend, pipeline: str | None = None):
        self.module = module
        self.backend = backend
        self.spec = pipeline or getattr(backend, "default_pipeline", None)
        self._fusion: dict[str, list[Knob]] = {}
        self._kernel: dict[str, list[Knob]] = {}

    @property
    def runs_passes(self) -> bool:
        return bool(getattr(self.backend, "runs_passes", False)) and bool(self.spec)

    def fusion_knobs(self, partial: Config) -> list[Knob]:
        """The pass pipeline's knobs given the choices made so far."""
        if not self.runs_passes:
            return []
        key = partial.to_json()
        if key not in self._fusion:
            from xltune.passes import pipeline_knobs
            self._fusion[key] = list(pipeline_knobs(self.module.clone(), self.spec, partial))
        return self._fusion[key]

    def kernel_knobs(self, fusion: Config) -> list[Knob]:
        """The backend's knobs for the module the fusion choices produce."""
        key = fusion.to_json()
        if key not in self._kernel:
            if self.runs_passes:
                from xltune.passes import run_pipeline
                fused = run_pipeline(self.module.clone(), self.spec, fusion, {}, {}, verify=False)
            else:
                fused = self.module
            self._kernel[key] = list(self.backend.knobs(fused))
        return self._kernel[key]

    def walk(self, choose) -> tuple[Config, list[Knob]]:
        """Make a Config knob by knob, define-by-run: choose(knob) -> value."""
        values: dict = {}
        seen: list[Knob] = []
        for _ in range(MAX_FUSION_ROUNDS):
            new = [k for k in self.fusion_knobs(Config(values)) if k.name not in values]
            if not new:
                break
            for k in new:
                values[k.name] = choose(k)
                seen.append(k)
        fusion = Config(values)
        for k in self.kernel_knobs(fusion):
            if k.name not in values:
                values[k.name] = choose(k)
                seen.append(k)
        return Config(values), seen

    def default(self) -> tuple[Config, list[Knob]]:
        """Every knob at its default (trial 0), and the knobs."""
        return self.walk(lambda k: k.default)

    def knobs_of(self, config: Config) -> list[Knob]:
        """The knobs that exist under `config`."""
        return self.walk(lambda k: config.get(k.name, k.default))[1]

    def minimal(self, config: Config) -> Config:
        """config without entries equal to their default or naming knobs that don't exist under it."""
        knobs = {k.name: k for k in self.knobs_of(config)}
        return Config({n: v for n, v in config.items() if n in knobs and knobs[n].default != v})


def suggest(trial, space: SearchSpace) -> tuple[Config, list[Knob]]:
    """The define-by-run half of the objective: one Optuna suggestion per knob that exists.

    A knob keeps its name when other choices change the module under it, but its choices may
    change with it (a row block limited by the row length a fusion choice leaves, say). Optuna
    allows one set of choices per parameter name and study, so a knob seen with other choices
    than the study first recorded is suggested as `name[choices]`."""
    def choose(k: Knob):
        if len(k.choices) == 1:
            return k.default
        choices = list(k.choices)
        try:
            return trial.suggest_categorical(k.name, choices)
        except ValueError as e:
            if "dynamic value space" not in str(e):
                raise
            return trial.suggest_categorical(param_name(k), choices)
    return space.walk(choose)


def param_name(k: Knob) -> str:
    """The Optuna parameter for a knob whose choices differ from the ones its name first had."""
    return f"{k.name}[{','.join(map(str, k.choices))}]"
