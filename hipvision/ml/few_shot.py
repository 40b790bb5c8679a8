"""How a retrain fine-tunes on a clinic's few corrected radiographs.

The one-click Retrain starts from the active model and usually has 3-20 corrected images.
Trained like the phantom model (30 epochs over the images, the best validation epoch kept),
it over-fits the first ones and picks its epoch on one validation image's luck. A
`FewShotPlan` instead sets, from the number of images:
- a fixed sample budget (the run's time on CPU), spread over a few epochs;
- both hips of every image as stage-2 crops, several jittered crops per hip;
- strong augmentation: scale and field-of-view (zoomed) views, rotation, exposure, noise;
- phantoms mixed in (a quarter of each epoch) so stage 1 keeps finding hips in framings the
  clinic's images do not show;
- a frozen stem (its filters suit radiographs already; it is the costly part on CPU);
- no per-epoch validation: the last (EMA-averaged) weights are the model.
Above `FEW_SHOT_MAX` images the whole network trains, longer, with fewer phantoms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from hipvision.ml.data import AugmentConfig, Sample

FEW_SHOT_MAX = 20  # more corrected images than this: validate and keep the best epoch as usual
PHANTOM_SEED = 0x5EED  # fixed: every retrain mixes in the same phantoms
PHANTOM_SIZE = 512

# Stronger than the phantom model's: six images must stand for a clinic's every framing and exposure.
FEW_SHOT_AUGMENT = AugmentConfig(rotate_deg=15.0, scale=0.25, shift=0.12, crop_jitter=0.3, crop_scale=0.18,
                                 crop_rotate_deg=15.0, gamma=0.5, contrast=0.35, brightness=0.12, noise=0.06,
                                 blur=0.4, zoom=0.5, zoom_jitter=0.15)


@dataclass(frozen=True)
class FewShotPlan:
    images: int  # corrected real images the plan was made for
    epochs: int
    samples_per_epoch: int
    crops_per_hip: int
    lr: float
    freeze: str
    keep: str
    phantoms: int  # phantom images mixed in
    phantom_share: float  # of each epoch's samples
    ema_decay: float
    augment: AugmentConfig

    def __post_init__(self) -> None:
        for name in ("images", "epochs", "samples_per_epoch", "crops_per_hip"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"FewShotPlan.{name} must be a positive int, got {v!r}")
        if not 0.0 <= self.phantom_share < 1.0:
            raise ValueError(f"FewShotPlan.phantom_share must be in [0, 1), got {self.phantom_share!r}")
        if self.phantoms < 0:
            raise ValueError(f"FewShotPlan.phantoms must be >= 0, got {self.phantoms!r}")

    @property
    def few_shot(self) -> bool:
        return self.images <= FEW_SHOT_MAX

    @property
    def total_samples(self) -> int:
        return self.epochs * self.samples_per_epoch

    def train_fields(self) -> dict:
        """The TrainConfig fields this plan sets."""
        return {"epochs": self.epochs, "min_samples_per_epoch": self.samples_per_epoch,
                "crops_per_hip": self.crops_per_hip, "lr": self.lr, "freeze": self.freeze, "keep": self.keep,
                "ema": True, "ema_decay": self.ema_decay, "augment": self.augment, "warmup_epochs": 0.5,
                "patience": 0}

    def summary(self) -> str:
        kind = "few-shot fine-tune" if self.few_shot else "fine-tune"
        frozen = {"none": "", "stem": ", stem frozen", "backbone": ", backbone frozen"}[self.freeze]
        return (f"{kind} for {self.images} corrected images: {self.epochs} epochs x {self.samples_per_epoch} "
                f"samples{frozen}, {self.phantoms} phantoms mixed in")

    def with_epochs(self, epochs: int) -> FewShotPlan:
        """The same budget per epoch, for `epochs` epochs (the user's --epochs)."""
        return replace(self, epochs=epochs)


def plan_for(n_images: int) -> FewShotPlan:
    """The plan for a retrain on `n_images` corrected real images (train and validation)."""
    if n_images < 1:
        raise ValueError(f"a retrain needs at least one corrected image, got {n_images}")
    # ~25 samples per image (a 6-image run: 150 samples, ~40 s on 2 cores), at least 100, at
    # most 1,500. The last weights are kept in every case: choosing an epoch on the validation
    # images would flatter the new model when they then judge it against the old one.
    total = min(1500, max(100, 25 * n_images))
    few = n_images <= FEW_SHOT_MAX
    epochs = 5 if few else 8
    return FewShotPlan(images=n_images, epochs=epochs, samples_per_epoch=-(-total // epochs), crops_per_hip=1,
                       lr=3e-4, freeze="stem" if few else "none", keep="last", phantoms=16,
                       phantom_share=0.25 if few else 0.15, ema_decay=0.98 if few else 0.995,
                       augment=FEW_SHOT_AUGMENT)


@functools.lru_cache(maxsize=2)
def _phantom_cases(n: int) -> tuple:
    from hipvision.phantom import PhantomConfig, derived_seed, render_phantom

    config = PhantomConfig(size=PHANTOM_SIZE, wide_fraction=0.5)
    return tuple(render_phantom(derived_seed(PHANTOM_SEED, i), config) for i in range(n))


def phantom_samples(n: int) -> list[Sample]:
    """`n` labelled phantoms (pelvis-framed and wide views) as in-memory training samples."""
    return [Sample(image=c.pixels, landmarks=c.landmarks, mapping=c.mapping, spacing=c.spacing,
                   name=f"phantom {i}", split="train", source="phantom")
            for i, c in enumerate(_phantom_cases(n))]
