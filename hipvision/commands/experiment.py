"""`hipvision experiment PROJECT --backbones A,B,C --out DIR [--protocol poster]`: the poster's Table 2."""

from __future__ import annotations

import shlex
import sys

from hipvision.commands.train import add_synthetic_mix_args
from hipvision.ml.poster_config import POOLS, POSTER_PER_REAL


def register(sub) -> None:
    p = sub.add_parser(
        "experiment", help="NA error of each backbone trained without vs with conditional synthetic images",
        description="Runs the poster's Table 2 on the project's fixed real splits: each backbone is trained on "
                    "K labelled real training images without and with N conditional synthetic images (same seed, "
                    "same number of optimisation steps) and measured on the REAL test split only (and on "
                    "--external-test). --more-real M adds the reference of M more real images. Writes "
                    "results.md, results.csv and experiment.json to --out; a re-run reuses what it can. "
                    "The project itself is not changed.")
    p.add_argument("project")
    p.add_argument("--backbones", required=True,
                   help="comma-separated backbone names (see `hipvision models`), or a preset: poster18 (the "
                        "poster's SqueezeNet, EfficientNet, DenseNet161 and 15 more ImageNet CNNs), poster-cpu "
                        "(squeezenet1_1, efficientnet_b0, resnet18 at 128 px: two CPU cores)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--protocol", choices=("ours", "poster"), default="ours",
                   help="ours: our two-stage heatmap model per backbone (default); poster: the poster's protocol "
                        "(one network on the whole image, MSE regression, kept by validation loss, fine-tuned), "
                        "with DDPM/DreamBooth and conditional synthetic arms and our model's rows beside it")
    p.add_argument("--synthetic", type=int, help="synthetic images for the 'with' arm (ours: default 120; "
                                                 "poster: default --per-real x labelled)")
    p.add_argument("--labelled", type=int, default=40, help="labelled real training images (0 = all)")
    p.add_argument("--more-real", type=int, default=0, metavar="N",
                   help="also train each backbone on the labelled images plus N other REAL training images "
                        "(same budget): the reference that shows what more real data would give")
    p.add_argument("--epochs", type=int, default=10)
    add_synthetic_mix_args(p, "the synthetic images in the 'with' arm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--input-size", type=int, help="whole-image input (default 256; 128 with --backbones poster-cpu)")
    p.add_argument("--crop-size", type=int, default=96, help="keypoint stage-2 crop input")
    p.add_argument("--no-pretrained", action="store_true", help="random init (no ImageNet weights)")
    p.add_argument("--generator", help="use this trained conditional generator instead of training one")
    p.add_argument("--external-test", metavar="FOLDER",
                   help="also measure every model on this labelled folder (annotations.json) of real images "
                        "none of them trained on: an independent test set larger than the project's test split")
    p.add_argument("--gen-resolution", type=int, default=64, help="generator crop resolution")
    p.add_argument("--gen-size", default="small", choices=("tiny", "small", "base"))
    p.add_argument("--gen-steps", type=int, default=3000, help="generator optimisation steps")
    p.add_argument("--gen-batch-size", type=int, default=16)
    p.add_argument("--na-dist", default="uniform:75:115")
    p.add_argument("--sample-steps", type=int, default=25, help="DDIM steps per synthetic image")
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--no-gate", action="store_true", help="use every synthetic image (no quality gate)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="CPU threads")
    add_poster_args(p)
    p.set_defaults(func=run)


def add_poster_args(p) -> None:
    g = p.add_argument_group("--protocol poster")
    g.add_argument("--per-real", type=float, default=POSTER_PER_REAL,
                   help="generated images per labelled real image in each synthetic arm (the poster's 1,274 / 219)")
    g.add_argument("--finetune-epochs", type=int, default=5, help="fine-tune epochs after selection")
    g.add_argument("--finetune-lr-factor", type=float, default=0.1, help="fine-tune lr = this x --lr")
    g.add_argument("--poster-synthetic", default=",".join(POOLS),
                   help="synthetic arms: unconditional (DDPM + DreamBooth, labelled by the label model) and/or "
                        "conditional (exact labels)")
    g.add_argument("--label-model", help="labels DDPM/DreamBooth images and gates every synthetic image "
                                         "(default: the project's active model)")
    g.add_argument("--min-confidence", type=float, default=0.5, help="gate: lowest landmark confidence accepted")
    g.add_argument("--ddpm-generator", help="a trained DDPM generator folder (else one is trained)")
    g.add_argument("--ddpm-resolution", type=int, default=128)
    g.add_argument("--ddpm-steps", type=int, default=3000, help="DDPM optimisation steps")
    g.add_argument("--ddpm-scheduler", choices=("ddim", "ddpm"), default="ddim",
                   help="ddim: --sample-steps steps; ddpm: 1000 steps, as the poster")
    g.add_argument("--dreambooth-generator", help="a trained DreamBooth LoRA folder")
    g.add_argument("--base-model", help="Stable Diffusion folder to train DreamBooth on (else the app's setting; "
                                        "without one DDPM makes DreamBooth's share)")
    g.add_argument("--dreambooth-steps", type=int, default=400)
    g.add_argument("--dreambooth-resolution", type=int, default=512)
    g.add_argument("--ours-backbone", default="resnet18", help="our two-stage model beside the table ('none': off)")


def _poster_config(args):
    from hipvision.ml.poster_config import PosterConfig

    return PosterConfig(
        finetune_epochs=args.finetune_epochs, finetune_lr_factor=args.finetune_lr_factor, synthetic=args.synthetic,
        per_real=args.per_real, pools=tuple(args.poster_synthetic.split(",")), label_model=args.label_model,
        min_confidence=args.min_confidence, ddpm_generator=args.ddpm_generator, ddpm_resolution=args.ddpm_resolution,
        ddpm_steps=args.ddpm_steps, ddpm_scheduler=args.ddpm_scheduler, dreambooth_generator=args.dreambooth_generator,
        base_model=args.base_model, dreambooth_steps=args.dreambooth_steps,
        dreambooth_resolution=args.dreambooth_resolution,
        ours_backbone=None if args.ours_backbone.lower() == "none" else args.ours_backbone)


def run(args) -> int:
    from hipvision.commands.generate import _bar
    from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
    from hipvision.ml.experiment import ExperimentConfig, run_experiment
    from hipvision.ml.poster_config import PRESET_INPUT_SIZE, PosterConfig

    gen = DenoiserTrainConfig(resolution=args.gen_resolution, unet_size=args.gen_size, batch_size=args.gen_batch_size,
                              max_steps=args.gen_steps, warmup_steps=min(200, max(1, args.gen_steps // 10)),
                              checkpoint_every=1000, seed=args.seed, device=args.device)
    names = tuple(args.backbones.split(","))
    input_size = args.input_size or next((PRESET_INPUT_SIZE[n] for n in names if n in PRESET_INPUT_SIZE), 256)
    poster = _poster_config(args) if args.protocol == "poster" else PosterConfig()
    cfg = ExperimentConfig(
        backbones=names, out=args.out, synthetic=args.synthetic or 120, protocol=args.protocol, poster=poster,
        labelled=args.labelled or None, more_real=args.more_real, synthetic_share=args.synthetic_share,
        synthetic_until=args.synthetic_until, seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
        input_size=input_size, crop_size=args.crop_size, pretrained=not args.no_pretrained,
        threads=args.threads, generator=args.generator, external_test=args.external_test, generator_train=gen,
        na_dist=args.na_dist,
        sample_steps=args.sample_steps, guidance=args.guidance, gate=not args.no_gate, device=args.device)
    # The exact command goes into the report (only when this process was started as it).
    command = "hipvision " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["experiment"] else ""
    bar, progress = _bar("experiment")
    try:
        result = run_experiment(cfg, args.project, progress=progress, command=command)
    finally:
        bar.close()
    print(result.markdown(command))
    print(f"written: {result.files['markdown']}, {result.files['csv']}")
    return 0
