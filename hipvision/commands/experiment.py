"""`hipvision experiment PROJECT --backbones A,B,C --out DIR`: the poster's Table 2."""

from __future__ import annotations

import shlex
import sys

from hipvision.commands.train import add_synthetic_mix_args


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
    p.add_argument("--backbones", required=True, help="comma-separated backbone names (see `hipvision info`)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--synthetic", type=int, default=120, help="synthetic images for the 'with' arm")
    p.add_argument("--labelled", type=int, default=40, help="labelled real training images (0 = all)")
    p.add_argument("--more-real", type=int, default=0, metavar="N",
                   help="also train each backbone on the labelled images plus N other REAL training images "
                        "(same budget): the reference that shows what more real data would give")
    p.add_argument("--epochs", type=int, default=10)
    add_synthetic_mix_args(p, "the synthetic images in the 'with' arm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--input-size", type=int, default=256, help="keypoint stage-1 input")
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
    p.set_defaults(func=run)


def run(args) -> int:
    from hipvision.commands.generate import _bar
    from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
    from hipvision.ml.experiment import ExperimentConfig, run_experiment

    gen = DenoiserTrainConfig(resolution=args.gen_resolution, unet_size=args.gen_size, batch_size=args.gen_batch_size,
                              max_steps=args.gen_steps, warmup_steps=min(200, max(1, args.gen_steps // 10)),
                              checkpoint_every=1000, seed=args.seed, device=args.device)
    cfg = ExperimentConfig(
        backbones=tuple(args.backbones.split(",")), out=args.out, synthetic=args.synthetic,
        labelled=args.labelled or None, more_real=args.more_real, synthetic_share=args.synthetic_share,
        synthetic_until=args.synthetic_until, seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
        input_size=args.input_size, crop_size=args.crop_size, pretrained=not args.no_pretrained,
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
