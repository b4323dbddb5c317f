"""The experiment file of ``tuneprep ablate`` (YAML, pydantic), and how a variant changes the base recipe.

    name: rt-selection
    recipe: ../sentiment/recipe.yaml      # the base recipe: input, steps, split (with a test split)
    test: {limit: 600, seed: 0}           # the ONE test set: the base recipe's test split (subsampled)
    model: minilm-l6                      # the encoder fast path; smollm2-135m with method: lora
    method: encoder
    train: {epochs: 3, batch_size: 16}    # any `tuneprep train` option except data/out/model/seed/limit
    seeds: [0, 1, 2]
    budgets: [250, 500, 1000, 2000]       # training records per cell: a learning curve per variant
    variants:
      random: {}                          # the base: the recipe as is, a seeded random `budget` records
      balance:
        add:
          - {op: select.balance, n: budget, strategy: equal}
      no-dedup:
        remove: [dedup.exact]
      longer:
        replace:
          filter.length: {min_words: 25}  # same op, these params replace/extend the base's
      small: {budget: 250}                # a fixed training budget for this variant

In a step's parameters the strings ``budget`` (or ``budget*K``) and ``seed`` stand for the
cell's budget (times K) and seed;
an op with a ``seed`` parameter that does not set it gets the cell's seed. The variant's steps
run on the pool: the base recipe's input minus the test records (and exact copies of their text),
so no variant step ever sees or changes the test set; each cell's training data is then cut to
the budget by a seeded random sample (the trainer's ``limit``).
The first variant is the baseline every other one is compared with (unless ``baseline:`` names
another).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tuneprep.recipe import Recipe, RecipeError, StepConfig, load_recipe

_SCALED = re.compile(r"^budget\s*\*\s*(\d+(?:\.\d+)?)$")  # "budget*2": twice the cell's budget


class AblateError(ValueError):
    """An experiment that cannot run as written (message names the file and key)."""


class TestSet(BaseModel):
    """The fixed test set: the base recipe's test split, optionally a seeded stratified subsample."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(None, ge=1)
    seed: int = 0


class Variant(BaseModel):
    """What a variant changes in the base recipe's steps (applied in this order: remove, replace, add)."""

    model_config = ConfigDict(extra="forbid")

    remove: list[str] = []
    """Ops (by name) to take out of the base steps."""
    replace: dict[str, dict[str, Any]] = {}
    """op name → parameters merged over that step's (the step stays where it is)."""
    add: list[dict[str, Any]] = []
    """Steps appended after the base steps, e.g. {op: select.balance, n: budget}."""
    budget: int | None = Field(None, ge=1)
    """Train on this many records in every cell of this variant (otherwise the experiment's budgets)."""
    description: str | None = None


class Experiment(BaseModel):
    """One ablation experiment."""

    model_config = ConfigDict(extra="forbid")

    name: str = "ablation"
    recipe: str
    """Base recipe file (relative to the experiment file); it must have a split with a test part."""
    test: TestSet = TestSet()
    model: str = "minilm-l6"
    method: Literal["encoder", "lora", "full", "probe"] = "encoder"
    """encoder: fine-tune the encoder with a classification head; lora/full: a causal LM (smollm2-135m);
    probe: a logistic regression on the frozen encoder's (cached) sentence embeddings — seconds per cell."""
    train: dict[str, Any] = {}
    """Extra `tuneprep train` options (epochs, batch_size, lr, max_length, threads...)."""
    seeds: list[int] = [0]
    budgets: list[int] = [1000]
    variants: dict[str, Variant]
    baseline: str | None = None
    out: str | None = None
    """Output directory (default: runs/ablate/<name>, relative to the working directory)."""
    eval_batch_size: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        if not self.variants:
            raise ValueError("variants: give at least one (the first is the baseline)")
        if self.baseline is not None and self.baseline not in self.variants:
            raise ValueError(f"baseline {self.baseline!r} is not a variant ({', '.join(self.variants)})")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: give distinct seeds")
        if not self.budgets or any(b < 1 for b in self.budgets):
            raise ValueError("budgets: give positive training sizes")
        forbidden = {"data", "out", "model", "seed", "limit", "task"} & set(self.train)
        if forbidden:
            raise ValueError(f"train: {sorted(forbidden)} are set by ablate per cell")
        if self.method == "probe" and set(self.train) - {"c"}:
            raise ValueError(f"train: method probe takes only c (inverse regularisation), not {sorted(set(self.train) - {'c'})}")
        return self

    @property
    def base_name(self) -> str:
        return self.baseline or next(iter(self.variants))

    def budgets_of(self, variant: str) -> list[int]:
        b = self.variants[variant].budget
        return [b] if b is not None else sorted(self.budgets)


def _subst(value: Any, budget: int, seed: int) -> Any:
    if value == "budget":
        return budget
    if isinstance(value, str) and (m := _SCALED.match(value)):
        return max(1, round(budget * float(m.group(1))))
    if value == "seed":
        return seed
    if isinstance(value, list):
        return [_subst(v, budget, seed) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, budget, seed) for k, v in value.items()}
    return value


def variant_steps(base: Recipe, variant: Variant, budget: int, seed: int) -> list[StepConfig]:
    """The variant's steps for one cell: base steps with removals, replacements and additions,
    placeholders filled, and the cell's seed given to every op that has a ``seed`` parameter."""
    from tuneprep.ops.base import get_op

    names = [s.op for s in base.steps]
    for op in list(variant.remove) + list(variant.replace):
        if op not in names:
            raise AblateError(f"variant changes {op!r}, which is not a step of the base recipe ({', '.join(names)})")
    steps: list[dict[str, Any]] = []
    for s in base.steps:
        if s.op in variant.remove:
            continue
        params = s.params()
        if s.op in variant.replace:
            params = {**params, **variant.replace[s.op]}
        steps.append({"op": s.op, **params})
    for i, add in enumerate(variant.add):
        if "op" not in add:
            raise AblateError(f"variant add[{i}]: a step needs 'op'")
        steps.append(copy.deepcopy(add))
    out = []
    for st in steps:
        st = _subst(st, budget, seed)
        cls = get_op(st["op"])
        if "seed" in cls.Params.model_fields and "seed" not in st:
            st["seed"] = seed
        out.append(StepConfig(**st))
    return out


def load_experiment(path: str | Path) -> tuple[Experiment, Recipe, Path]:
    """The experiment, its base recipe, and the experiment file's directory. Raises AblateError."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise AblateError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise AblateError(f"{path}: an experiment is a mapping (recipe, variants, seeds, budgets...)")
    try:
        exp = Experiment(**data)
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors())
        raise AblateError(f"{path}: {msgs}") from None
    rpath = (path.parent / exp.recipe) if not Path(exp.recipe).is_absolute() else Path(exp.recipe)
    try:
        recipe = load_recipe(rpath)
    except (RecipeError, OSError) as e:
        raise AblateError(f"{path}: recipe {exp.recipe}: {e}") from None
    if recipe.split is None or recipe.split.test <= 0:
        raise AblateError(f"{path}: the base recipe {rpath} has no test split; ablate scores every variant on "
                          "the base recipe's test split (add split: {train: 0.8, val: 0.1, test: 0.1})")
    for name, v in exp.variants.items():  # fail before any training: every variant must resolve
        try:
            variant_steps(recipe, v, max(exp.budgets_of(name)), exp.seeds[0])
        except (AblateError, KeyError, ValidationError) as e:
            raise AblateError(f"{path}: variants.{name}: {e}") from None
    return exp, recipe, path.parent
