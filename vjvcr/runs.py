"""The run planner: a grid of (variant, seed, options) on one dataset -> runs, each a RunConfig and a folder.

``grid`` is the one place where runs are made; every step declares its runs with it in
``vjvcr.plans``, and the notebooks, ``python -m vjvcr step``, torchrun (``vjvcr.ddp``) and the
cluster launcher (``vjvcr.launch``) all train from those declarations. Planning reads no data: a
run's data id comes from its dataset's parameters (``vjvcr.datasets``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import DataConfig, ModelConfig, TrainConfig, VideoDataConfig, VideoModelConfig
from .context import Context
from .datasets import ClipSet, MovingMNISTSet
from .errors import NotTrainedError
from .runconfig import Options, RunConfig


@dataclass(frozen=True)
class Run:
    """One training run: what it trains (``cfg``), where (``folder``) and on what (``dataset``)."""

    name: str  # e.g. "vjvcr_seed0"; the folder is the name plus the first 8 characters of the config's hash
    cfg: RunConfig
    folder: Path
    dataset: MovingMNISTSet | ClipSet

    @property
    def label(self) -> str | None:
        """The label the run trains on (the supervised ceiling's), or None."""
        return self.cfg.options.label if self.cfg.variant == "supervised" else None

    @property
    def variant(self) -> str:
        return self.cfg.variant

    @property
    def seed(self) -> int:
        return self.cfg.seed


def grid(ctx: Context, dataset: MovingMNISTSet | ClipSet, variants, *, name: str = "{variant}_seed{seed}",
         seeds=None, model: ModelConfig | VideoModelConfig | None = None, train: TrainConfig | None = None,
         data: DataConfig | VideoDataConfig | None = None, options: Options = Options(),
         parent: Path | None = None) -> list[Run]:
    """The runs of ``variants`` x ``seeds`` (default: the context's seeds) on ``dataset``.

    Variants the context was not asked for (``--variants``) are left out. The sections default to
    the profile's MovingMNIST ones; a run's folder is ``parent`` (default: the profile's runs
    folder) / ``name`` formatted with the variant and seed, plus 8 characters of the config's hash,
    so changing a setting trains into a new folder beside the old one.
    """
    p = ctx.profile
    data_id = dataset.id(ctx.data_dir)
    runs = []
    for variant in [v for v in variants if ctx.wants(v)]:
        for seed in seeds if seeds is not None else ctx.run_seeds:
            cfg = RunConfig(variant=variant, seed=seed, data=data or dataset_config(dataset), model=model or p.model,
                            train=train or p.train, data_id=data_id, options=options)
            folder = (parent or ctx.runs_dir) / f"{name.format(variant=variant, seed=seed)}-{cfg.hash()[:8]}"
            runs.append(Run(name.format(variant=variant, seed=seed), cfg, folder, dataset))
    return runs


def dataset_config(dataset: MovingMNISTSet | ClipSet) -> DataConfig | VideoDataConfig:
    return dataset.data if isinstance(dataset, MovingMNISTSet) else dataset.cfg


def unique(runs: list[Run]) -> list[Run]:
    """``runs`` without repeats (the same folder planned twice, e.g. a study point equal to a Table-1 run)."""
    seen, out = set(), []
    for r in runs:
        if r.folder not in seen:
            seen.add(r.folder)
            out.append(r)
    return out


def require_trained(runs: list[Run], notebook: str, command: str) -> None:
    """Refuse, naming the notebook to run first, when a run has no checkpoint yet."""
    missing = [r for r in runs if not (r.folder / "last.pt").exists()]
    if missing:
        raise NotTrainedError(f"{len(missing)} run(s) are not trained yet (e.g. {missing[0].folder.name}); run "
                              f"{notebook} first (./run_all.sh --only {notebook[:2]}, or python -m vjvcr step "
                              f"{command})")
