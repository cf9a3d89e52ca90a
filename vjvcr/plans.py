"""Every step's runs, declared once (``vjvcr.runs.grid``); whatever trains them reads them from here.

    table1          the four Table-1 variants on MovingMNIST          (01_pretrain)
    ceiling         the supervised ceiling beside them                 (01_pretrain)
    clevrer         the Table-1 variants and the ceiling on CLEVRER    (01_pretrain)
    reconstruction  Fig. 5's pair, trained longer                      (04_reconstructions)
    latent          the latent-variable models of Table 2 / Fig. 3     (05_latent)
    latent_ceiling  Table 2's supervised ceiling (the switch label)    (05_latent)
    cater           the latent models of Fig. 2                        (06_cater_actions)
    cater_ceiling   Fig. 2's supervised ceiling (the action labels)    (06_cater_actions)
    study    the claim-1 study's ablations and scaling points   (07_claim1_study)
    sweep    the VC-weight sweep                                 (not part of run_all)

``STEP_RUNS`` says which declarations a step trains; ``runs_for(ctx, step)`` is that list, the
one ``python -m vjvcr step``, torchrun and the cluster launcher train.
"""
from __future__ import annotations

from dataclasses import replace

from .config import TrainConfig
from .context import Context
from .datasets import ClipSet, MovingMNISTSet
from .runconfig import VARIANTS, Options
from .runs import Run, grid, unique

TABLE1_VARIANTS = tuple(VARIANTS)  # vjvcr, vjvcr_dec, gen_vc, gen
CLEVRER_VARIANTS = TABLE1_VARIANTS
LATENT_MODELS = ("vjvcr", "gen")  # VJ-VCR without decoder (representation energy), generative without VC
CATER_MODELS = ("vjvcr", "gen")


def shorter(tc: TrainConfig, steps: int) -> TrainConfig:
    """``tc`` for ``steps`` steps, its warm-up cut to at most a tenth of them."""
    return replace(tc, steps=steps, warmup_steps=min(tc.warmup_steps, steps // 10))


def table1(ctx: Context) -> list[Run]:
    return grid(ctx, MovingMNISTSet(ctx.profile.data, "train"), TABLE1_VARIANTS)


def ceiling(ctx: Context) -> list[Run]:
    """The same encoder and budget as the Table-1 runs, trained on the speed label (``vjvcr.supervised``)."""
    return grid(ctx, MovingMNISTSet(ctx.profile.data, "train"), ["supervised"])


def clevrer(ctx: Context) -> list[Run]:
    """The Table-1 variants on every training clip; the supervised ceiling on the first half of the training
    videos only (its speed probe is fitted on the second half, which no ceiling saw), trained as the profile's
    ``clevrer_ceiling`` says (longer than the models in the quick profile: see its comment)."""
    p = ctx.profile
    kw = dict(name="clevrer_{variant}_seed{seed}", model=p.video_model)
    return (grid(ctx, ClipSet("clevrer", "train", p.clevrer), CLEVRER_VARIANTS, train=p.video_train, **kw)
            + grid(ctx, ClipSet("clevrer", "train", p.clevrer, part="first_half"), ["supervised"],
                   train=p.clevrer_ceiling or p.video_train, options=Options(label=p.clevrer_label), **kw))


def reconstruction(ctx: Context) -> list[Run]:
    """Fig. 5's pair, the generative model without VC and VJ-VCR with decoder, first seed, trained for
    ``analysis.fig5_steps`` (none when 0: Fig. 5 then shows the Table-1 runs), of ``analysis.fig5_model``'s
    widths (default: the profile's model)."""
    p, an = ctx.profile, ctx.profile.analysis
    if not an.fig5_steps:
        return []
    train = replace(shorter(p.train, an.fig5_steps), batch_size=an.fig5_batch_size)
    return grid(ctx, MovingMNISTSet(p.data, "train"), ["gen", "vjvcr_dec"], seeds=[min(ctx.run_seeds)],
                name="fig5_{variant}_seed{seed}", train=train, model=an.fig5_model)


def latent_options(ctx: Context) -> dict[str, Options]:
    lc = ctx.profile.latent
    return {"discrete": Options(latent="discrete", latent_dim=5, wta_epsilon=lc.wta_epsilon),
            "sparse": Options(latent="sparse", latent_dim=lc.sparse_dim, lam=lc.lam_train,
                              fista_steps=lc.fista_steps_train, step_size=lc.step_size),
            "none": Options()}


def latent(ctx: Context, *, with_baseline: bool = True) -> list[Run]:
    """Latent models on stochastic MovingMNIST: VJ-VCR with each latent (and none, the baseline of Fig. 3),
    the generative model with the latents the profile gives it."""
    p, lc = ctx.profile, ctx.profile.latent
    ds = MovingMNISTSet(p.data, "train", stochastic=True)
    runs = []
    for variant in LATENT_MODELS:
        for kind, options in latent_options(ctx).items():
            if (kind == "none" and (variant != "vjvcr" or not with_baseline)) or \
                    (variant == "gen" and kind not in (*lc.generative_latents, "none")):
                continue
            seeds = [min(ctx.run_seeds)] if kind == "none" else None  # the baseline is drawn for Fig. 3's first seed
            runs += grid(ctx, ds, [variant], name=f"latent_{{variant}}_{kind}_seed{{seed}}", seeds=seeds,
                         data=replace(p.data, num_digits=1), train=shorter(p.train, lc.steps), options=options)
    return runs


def latent_ceiling(ctx: Context) -> list[Run]:
    """Table 2's supervised ceiling: the same encoder trained on the switch label itself (``vjvcr.supervised``)."""
    p, lc = ctx.profile, ctx.profile.latent
    return grid(ctx, MovingMNISTSet(p.data, "train", stochastic=True), ["supervised"],
                name="latent_supervised_switch_seed{seed}", data=replace(p.data, num_digits=1),
                train=shorter(p.train, lc.steps), options=Options(label="switch"))


def cater(ctx: Context) -> list[Run]:
    p, cl = ctx.profile, ctx.profile.cater_latent
    options = Options(latent="sparse", latent_dim=cl.latent_dim, lam=cl.lam_train, fista_steps=cl.fista_steps_train,
                      step_size=cl.step_size, lam_relative=True)
    return grid(ctx, ClipSet("cater", "train", p.cater), CATER_MODELS, name="cater_{variant}_seed{seed}",
                model=p.video_model, train=shorter(p.video_train, cl.steps), options=options)


def cater_ceiling(ctx: Context) -> list[Run]:
    """Fig. 2's supervised ceiling: the CATER encoder trained on the clips' action labels themselves."""
    p, cl = ctx.profile, ctx.profile.cater_latent
    return grid(ctx, ClipSet("cater", "train", p.cater), ["supervised"], name="cater_supervised_seed{seed}",
                model=p.video_model, train=shorter(p.video_train, cl.steps), options=Options(label="actions"))


# ----------------------------------------------------------------------------- the claim-1 study

# name -> (what it changes, overrides of the reference VJ-VCR: "train"/"model" fields, "options")
ABLATIONS = {
    "reference": ("the profile's VJ-VCR: VC per time step, a = b = 1, gradients through h_y", {}),
    "vc_batch_time": ("VC statistics over batch x time", dict(options=dict(vc_stats="batch_time"))),
    "vc_25_1": ("a = 25, b = 1 (VICReg's ratio)", dict(train=dict(var_weight=25.0, cov_weight=1.0))),
    "vc_weak": ("a = b = 0.1 (weak VC)", dict(train=dict(var_weight=0.1, cov_weight=0.1))),
    "d_below_batch": ("d = 32, below the batch of 64", dict(model=dict(dim=32))),
    "d_above_batch": ("d = 128, above the batch of 64", dict(model=dict(dim=128))),
    "global_pool": ("global average pooling (one vector per frame, d = 64)", dict(model=dict(pool=1))),
    "stopgrad": ("stop-gradient on h_y", dict(options=dict(target="stopgrad"))),
    "ema_teacher": ("EMA target encoder instead of VC (m = 0.99)",
                    dict(train=dict(var_weight=0.0, cov_weight=0.0), options=dict(target="ema", ema_decay=0.99))),
    "sigreg": ("SIGReg instead of VC (LeJEPA's weight 0.05; 256 directions, 17 knots)",
               dict(options=dict(regulariser="sigreg", sigreg_slices=256))),
}
# the models the scaling and slow-feature parts follow: name -> (variant, overrides of the reference)
SCALING = {"vjvcr": ("vjvcr", {}), "vc_batch_time": ("vjvcr", ABLATIONS["vc_batch_time"][1]),
           "gen": ("gen", {}), "ema_teacher": ("vjvcr", ABLATIONS["ema_teacher"][1]),
           "sigreg": ("vjvcr", ABLATIONS["sigreg"][1])}
SLOW_FEATURE_MODELS = ("vjvcr", "ema_teacher", "sigreg", "gen")
DISTRACTORS = ("static_noise", "dynamic_noise")


def _setting(ctx: Context, variant: str, name: str, overrides: dict, steps: int | None = None,
             distractor: str = "none") -> list[Run]:
    """The runs of one study setting; where it equals a Table-1 run, that run itself (shared, not retrained)."""
    p = ctx.profile
    train = replace(p.train, **overrides.get("train", {}))
    data = replace(p.data, distractor=distractor)
    runs = grid(ctx, MovingMNISTSet(data, "train"), [variant], name=f"{name}_seed{{seed}}", data=data,
                model=replace(p.model, **overrides.get("model", {})),
                train=shorter(train, steps) if steps is not None else train,
                options=Options(**overrides.get("options", {})), parent=ctx.runs_dir / "study")
    shared = {r.cfg.hash(): r for r in table1(ctx)}
    return [shared.get(r.cfg.hash(), r) for r in runs]


def ablations(ctx: Context) -> dict[str, list[Run]]:
    """VJ-VCR under each open choice, one at a time (the reference is the Table-1 run itself)."""
    return {name: _setting(ctx, "vjvcr", name, overrides) for name, (_, overrides) in ABLATIONS.items()}


def scaling(ctx: Context) -> dict[tuple[str, int], list[Run]]:
    """(model, steps) -> runs of every ``SCALING`` model at every step count of the profile's study; a point
    that trains exactly as an ablation does (e.g. SIGReg at the profile's own steps) is that ablation's run."""
    same = {r.cfg.hash(): r for runs in ablations(ctx).values() for r in runs}
    return {(name, steps): [same.get(r.cfg.hash(), r) for r in _setting(ctx, variant, f"scaling_{name}_{steps}",
                                                                         overrides, steps)]
            for steps in ctx.profile.study.scaling_steps for name, (variant, overrides) in SCALING.items()}


def slow_features(ctx: Context) -> dict[tuple[str, str], list[Run]]:
    """(model, distractor) -> runs on MovingMNIST with a noise distractor fixed over the clip or new every frame."""
    return {(name, kind): _setting(ctx, SCALING[name][0], f"{kind}_{name}", SCALING[name][1], distractor=kind)
            for kind in DISTRACTORS for name in SLOW_FEATURE_MODELS}


def study(ctx: Context) -> list[Run]:
    """Every study run, cheapest first and seed by seed, so that a study cut short has every model at its
    shorter points: the ablations and the slow-feature test (1,000 steps), then the scaling points by steps."""
    short = [r for part in (ablations(ctx), slow_features(ctx)) for runs in part.values() for r in runs]
    points = sorted(((steps, r.seed, k, r) for k, ((_, steps), runs) in enumerate(scaling(ctx).items()) for r in runs),
                    key=lambda t: t[:3])
    return unique(short + [r for *_, r in points])


# ----------------------------------------------------------------------------- the VC-weight sweep

SWEEP_AB = ((25.0, 1.0), (10.0, 1.0), (5.0, 1.0), (5.0, 0.2), (1.0, 1.0), (1.0, 0.04))
SWEEP_G = (1.0, 10.0, 50.0)


def sweep(ctx: Context, seed: int = 0) -> list[Run]:
    """VJ-VCR over (a, b), then VJ-VCR with decoder over g (one seed; scored on a validation split)."""
    p, ds = ctx.profile, MovingMNISTSet(ctx.profile.data, "train")
    parent = ctx.data_dir / "runs" / f"sweep-{p.name}"
    runs = []
    for a, b in SWEEP_AB:
        runs += grid(ctx, ds, ["vjvcr"], seeds=[seed], name=f"vjvcr_a{a:g}_b{b:g}", parent=parent,
                     train=replace(p.train, var_weight=a, cov_weight=b))
    for g in SWEEP_G:
        runs += grid(ctx, ds, ["vjvcr_dec"], seeds=[seed], name=f"vjvcr_dec_g{g:g}", parent=parent,
                     train=replace(p.train, pix_weight=g))
    return runs


# ----------------------------------------------------------------------------- what each step trains

PLANS = {"table1": table1, "ceiling": ceiling, "clevrer": clevrer, "reconstruction": reconstruction,
         "latent": latent, "latent_ceiling": latent_ceiling, "cater": cater, "cater_ceiling": cater_ceiling,
         "study": study, "sweep": sweep}
STEP_RUNS = {"pretrain": ("table1", "ceiling", "clevrer"), "reconstructions": ("reconstruction",),
             "latent": ("latent", "latent_ceiling"), "cater": ("cater", "cater_ceiling"), "clevrer": ("clevrer",),
             "study": ("table1", "ceiling", "study"), "sweep": ("sweep",)}
VIDEO_PLANS = ("clevrer", "cater", "cater_ceiling")
NOTEBOOK_STEPS = {"01_pretrain": "pretrain", "04_reconstructions": "reconstructions", "05_latent": "latent",
                  "06_cater_actions": "cater", "07_claim1_study": "study"}  # the notebooks that train


def planned_folders(ctx: Context, sections) -> set:
    """The run folders that the steps (or notebooks, by name) in ``sections`` train."""
    steps = {NOTEBOOK_STEPS.get(s, s) for s in sections} & set(STEP_RUNS)
    return {r.folder for step in sorted(steps) for r in runs_for(ctx, step)}


def runs_for(ctx: Context, step: str) -> list[Run]:
    """Every run ``step`` trains (CLEVRER and CATER left out under ``skip_video``)."""
    if step not in STEP_RUNS:
        raise ValueError(f"step {step!r} trains nothing; steps that train: {', '.join(STEP_RUNS)}")
    return unique([r for plan in STEP_RUNS[step] if not (ctx.skip_video and plan in VIDEO_PLANS)
                   for r in PLANS[plan](ctx)])
