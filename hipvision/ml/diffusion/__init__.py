"""Diffusion data augmentation: generators trained on a project's real training images.

Entry points (what the CLI and the GUI engine call; see generation.py):
- generation.train_generator(GeneratorTrainConfig, *, progress, cancel, preview=None) -> TrainedGenerator
- generation.generate_into_project(GenerateConfig, *, progress, cancel, preview=None) -> GenerateReport
- experiment.run_experiment(ExperimentConfig, project, *, progress, cancel, preview=None) -> ExperimentResult
Methods: `ddpm` (unconditional, the poster's), `dreambooth` (LoRA on a local Stable Diffusion),
`conditional` (landmark-conditioned: images come with exact labels). Lower-level pieces:
unet_layouts, training (the denoiser loop), sampling, condition_maps, na_sampling, imaging,
conditional, ddpm, dreambooth, gate, into_project. Importing this package is cheap; torch and
diffusers load inside the functions that need them.
"""
