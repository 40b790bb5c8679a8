"""`hipvision generate PROJECT --method ddpm|dreambooth|conditional --train|--sample`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="train a diffusion generator and/or add generated training images to a project",
        description="Diffusion data augmentation. --train fits the project's generator of METHOD on its real "
                    "training images (resumes when a checkpoint exists); --sample generates N images, checks each "
                    "with the active keypoint model (the quality gate) and adds the accepted ones to the training "
                    "split as synthetic images. conditional images come with exact labels; ddpm/dreambooth images "
                    "are pre-labelled by the model and wait for review.")
    p.add_argument("project", help="project folder")
    p.add_argument("--method", required=True, choices=("ddpm", "dreambooth", "conditional"))
    p.add_argument("--train", action="store_true", help="train (or resume training) the generator")
    p.add_argument("--sample", action="store_true", help="generate images into the project")
    p.add_argument("-n", type=int, default=16, help="images to generate (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    p.add_argument("--generator", help="generator folder (default: .hipvision/models/generators/<method>)")
    g = p.add_argument_group("generator training")
    g.add_argument("--resolution", type=int, help="generator resolution (ddpm default 128, conditional 64, "
                   "dreambooth 512); with --sample on dreambooth: output size")
    g.add_argument("--unet-size", default="small", choices=("tiny", "small", "base"))
    g.add_argument("--framing", default="crop", choices=("crop", "whole"),
                   help="conditional: hip crops composited into radiographs (default) or whole radiographs")
    g.add_argument("--epochs", type=int, default=50)
    g.add_argument("--max-steps", type=int, help="optimisation steps (overrides --epochs)")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--lr", type=float, help="learning rate (default 2e-4; dreambooth 1e-4)")
    g.add_argument("--warmup", type=int, default=100, help="lr warm-up steps")
    g.add_argument("--no-ema", action="store_true")
    g.add_argument("--mixed-precision", default="auto", choices=("auto", "no", "fp16", "bf16"))
    g.add_argument("--checkpoint-every", type=int, default=500, help="steps between resume checkpoints")
    g.add_argument("--no-resume", action="store_true", help="start training from scratch")
    g.add_argument("--variants", type=int, default=8, help="conditional: jittered training crops per hip")
    d = p.add_argument_group("dreambooth")
    d.add_argument("--base-model", help="local diffusers Stable Diffusion folder (with model_index.json)")
    d.add_argument("--prompt", help="instance prompt (default 'a sks canine hip radiograph')")
    d.add_argument("--prior-preservation", action="store_true")
    d.add_argument("--class-prompt", default="a canine hip radiograph")
    d.add_argument("--class-images", type=int, default=50)
    d.add_argument("--rank", type=int, default=4, help="LoRA rank")
    s = p.add_argument_group("sampling")
    s.add_argument("--scheduler", default="ddim", choices=("ddpm", "ddim"))
    s.add_argument("--steps", type=int, help="denoising steps (default: ddim 25, ddpm 1000 as in the poster)")
    s.add_argument("--guidance", type=float, help="guidance scale (conditional 2.0, dreambooth 5.0)")
    s.add_argument("--na-dist", default="uniform:75:115",
                   help="conditional: NA of generated hips, uniform:LO:HI | normal:MEAN:SD | data")
    s.add_argument("--no-gate", action="store_true", help="accept every image (not recommended)")
    s.add_argument("--gate-na", type=float, default=6.0, help="reject when |NA - condition| exceeds this (deg)")
    s.add_argument("--gate-radii", type=float, default=0.5,
                   help="reject when a landmark is farther than this many head radii from its condition")
    s.add_argument("--min-confidence", type=float, default=0.5, help="ddpm/dreambooth: reject below this")
    p.set_defaults(func=run)


def _bar(desc: str):
    from hipvision.commands._progress import tqdm_progress

    return tqdm_progress(desc)


def _train_config(args):
    from dataclasses import replace

    from hipvision.ml.diffusion.conditional import ConditionalConfig
    from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
    from hipvision.ml.diffusion.dreambooth import DreamBoothConfig
    from hipvision.ml.diffusion.generation import GeneratorTrainConfig

    res = args.resolution or {"ddpm": 128, "conditional": 64, "dreambooth": 512}[args.method]
    common = dict(batch_size=args.batch_size, warmup_steps=args.warmup, mixed_precision=args.mixed_precision,
                  checkpoint_every=args.checkpoint_every, resume=not args.no_resume, seed=args.seed, device=args.device)
    train = DenoiserTrainConfig(resolution=res if args.method != "dreambooth" else 64, unet_size=args.unet_size,
                                epochs=args.epochs, max_steps=args.max_steps, ema=not args.no_ema,
                                learning_rate=args.lr or 2e-4, **common)
    db = DreamBoothConfig()
    if args.method == "dreambooth":
        db = DreamBoothConfig(resolution=res, instance_prompt=args.prompt or db.instance_prompt,
                              class_prompt=args.class_prompt, prior_preservation=args.prior_preservation,
                              num_class_images=args.class_images, rank=args.rank, learning_rate=args.lr or 1e-4,
                              max_steps=args.max_steps or 400, **{**common, "batch_size": min(args.batch_size, 4)})
    cond = replace(ConditionalConfig(), framing=args.framing, variants=args.variants)
    return GeneratorTrainConfig(project=args.project, method=args.method, train=train, conditional=cond,
                                dreambooth=db, base_model=args.base_model, out=args.generator)


def run(args) -> int:
    from hipvision.cli import CommandError
    from hipvision.ml.diffusion.dreambooth import BaseModelError
    from hipvision.ml.diffusion.gate import GateConfig
    from hipvision.ml.diffusion.generation import GenerateConfig, generate_into_project, train_generator

    if not (args.train or args.sample):
        raise CommandError("say what to do: --train, --sample, or both")
    try:
        if args.train:
            cfg = _train_config(args)
            bar, progress = _bar(f"train {args.method}")
            try:
                result = train_generator(cfg, progress=progress)
            finally:
                bar.close()
            resumed = f" (resumed at step {result.resumed_from})" if result.resumed_from else ""
            print(f"trained {args.method} generator: {result.steps} steps{resumed}, loss {result.final_loss:.4f}, "
                  f"{result.seconds:.0f} s -> {result.path}")
        if args.sample:
            steps = args.steps or (1000 if args.scheduler == "ddpm" else 25)
            gate = GateConfig(enabled=not args.no_gate, max_point_radii=args.gate_radii, max_na_deg=args.gate_na,
                              min_confidence=args.min_confidence)
            gcfg = GenerateConfig(project=args.project, method=args.method, n=args.n, seed=args.seed,
                                  scheduler=args.scheduler, steps=steps, guidance=args.guidance, na_dist=args.na_dist,
                                  generator=args.generator, framing=args.framing, gate=gate,
                                  resolution=args.resolution if args.method == "dreambooth" else None,
                                  prompt=args.prompt, device=args.device, batch_size=min(args.batch_size, 16))
            bar, progress = _bar(f"generate {args.method}")
            try:
                report = generate_into_project(gcfg, progress=progress)
            finally:
                bar.close()
            print(report.summary())
    except BaseModelError as exc:
        raise CommandError(str(exc)) from None
    return 0
