"""What `hipvision experiment --protocol poster` reports: the poster's Table 2 in its own form
(per backbone NA MAPE without / with / improvement, the average improvement), our two-stage
model's rows beside it, as markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

from hipvision.ml.experiment_report import improvement
from hipvision.ml.poster_config import POOL_ARMS, POSTER_MEAN_IMPROVEMENT

ARM_TITLES = {"with": "with DDPM/DreamBooth", "with_conditional": "with conditional"}


@dataclass
class PosterArm:
    model: str  # "poster" (single stage, regression) | "ours" (two-stage heatmap)
    backbone: str
    arm: str  # "without" | "with" | "with_conditional"
    synthetic: int
    test: dict  # summarise() on the real test split
    external: dict
    pretrained: bool | None
    selected_epoch: int | None  # poster: main phase, by validation loss
    finetune_epoch: int | None  # poster: 0 = the fine-tune kept the selected weights
    val_loss: float | None
    reused: bool
    seconds: float
    checkpoint: str


def make_rows(arms: list[PosterArm], with_arms: list[str], labelled: int, synthetic: int) -> list[dict]:
    """One row per (model, backbone): MAPE and MAE without and with each synthetic arm. An arm
    that was not trained (its pool came out empty) reads None: null in the JSON, an empty CSV
    cell, "—" in the table (NaN would print as "nan" and is not valid JSON)."""
    rows = []
    keys = list(dict.fromkeys((a.model, a.backbone) for a in arms))
    for model, bb in keys:
        by = {a.arm: a for a in arms if (a.model, a.backbone) == (model, bb)}
        a0 = by["without"]
        init = "ImageNet" if a0.pretrained else "scratch" if a0.pretrained is not None else "?"
        r = {"model": model, "backbone": bb, "init": init, "mape_without": a0.test["na_mape"],
             "mae_without": a0.test["na_mae"], "test_hips": a0.test["hips"], "labelled": labelled,
             "synthetic": synthetic}
        for w in with_arms:
            a1 = by.get(w)
            if a1 is None:
                r.update({f"{k}_{w}{pct}": None for k in ("mape", "mae") for pct in ("", "_improvement_pct")})
                if a0.external:
                    r.update({f"ext_mape_{w}_improvement_pct": None, f"ext_mape_{w}": None})
                continue
            r.update({f"mape_{w}": a1.test["na_mape"], f"mape_{w}_improvement_pct":
                      improvement(a0.test["na_mape"], a1.test["na_mape"]),
                      f"mae_{w}": a1.test["na_mae"], f"mae_{w}_improvement_pct":
                      improvement(a0.test["na_mae"], a1.test["na_mae"])})
            if a0.external:
                r.update({f"ext_mape_{w}_improvement_pct": improvement(a0.external["na_mape"],
                                                                       a1.external["na_mape"]),
                          f"ext_mape_{w}": a1.external["na_mape"]})
        if a0.external:
            r["ext_mape_without"] = a0.external["na_mape"]
        rows.append(r)
    return rows


@dataclass
class PosterResult:
    rows: list[dict]
    arms: list[PosterArm]
    with_arms: list[str]
    labelled: int
    val_images: int
    test_images: int
    input_size: int
    epochs: int
    finetune_epochs: int
    finetune_lr_factor: float
    samples_per_epoch: int
    pools: list  # poster_synthetic.Pool
    label_model: str
    gate: str
    ours_backbone: str | None
    seconds: float
    external: str = ""
    files: dict = field(default_factory=dict)

    def mean_improvement(self, arm: str, model: str = "poster", prefix: str = "") -> float:
        """Mean over the measured rows; NaN when there are none (the report says "not measured")."""
        vals = [v for r in self.rows if r["model"] == model
                and (v := r.get(f"{prefix}mape_{arm}_improvement_pct")) is not None]
        return float(np.mean(vals)) if vals else float("nan")

    def not_measured(self) -> dict[str, str]:
        """Arm -> why no model was trained with it: its pool holds no image that passed the gate."""
        return {POOL_ARMS[p.name]: f"0 of {p.generated} generated images passed the gate; no arm trained "
                                   "(it would repeat 'without')" for p in self.pools if not p.samples}

    def _pool_text(self) -> list[str]:
        out = []
        skipped = self.not_measured()
        for p in self.pools:
            by = ", ".join(f"{v} {k}" for k, v in p.by_source.items())
            arm = POOL_ARMS[p.name]
            how = ("labelled by the label model, kept by the gate" if p.name == "unconditional"
                   else "exact labels (the condition), vetted by the gate")
            line = (f"- *{ARM_TITLES[arm]}*: not measured: {skipped[arm]}." if arm in skipped else
                    f"- *{ARM_TITLES[arm]}*: {len(p.samples)} of {p.requested} requested images ({by}; "
                    f"{p.generated} generated, {p.generated - len(p.samples)} rejected), {how}.")
            out.append(line + "".join(f" {n}." for n in p.notes))
        return out

    def _table(self, prefix: str = "") -> list[str]:
        head = "| model | backbone | init | MAPE without (%) |"
        rule = "|---|---|---|---|"
        for w in self.with_arms:
            head += f" MAPE {ARM_TITLES[w]} (%) | improvement |"
            rule += "---|---|"
        lines = [head, rule]
        for r in self.rows:
            if prefix and f"{prefix}mape_without" not in r:
                continue
            name = "poster (1 stage, MSE)" if r["model"] == "poster" else "ours (2 stages, heatmap)"
            line = f"| {name} | {r['backbone']} | {r['init']} | {r[prefix + 'mape_without']:.2f} |"
            for w in self.with_arms:
                line += (f" {_cell(r.get(f'{prefix}mape_{w}'), '.2f')} |"
                         f" {_cell(r.get(f'{prefix}mape_{w}_improvement_pct'), '+.1f', ' %')} |")
            lines.append(line)
        lines.append("")
        n = sum(r["model"] == "poster" for r in self.rows)
        skipped = self.not_measured()
        for w in self.with_arms:
            if w in skipped:
                lines.append(f"Average improvement {ARM_TITLES[w]}: not measured: {skipped[w]}.")
                continue
            ours = self.mean_improvement(w, "ours", prefix)
            lines.append(f"Average improvement {ARM_TITLES[w]}, poster protocol ({n} backbones): "
                         f"{_cell(self.mean_improvement(w, prefix=prefix), '+.1f', ' %')} (the poster: "
                         f"+{POSTER_MEAN_IMPROVEMENT} %)"
                         + (f"; our two-stage model: {_cell(ours, '+.1f', ' %')}." if self.ours_backbone else "."))
        return lines

    def markdown(self, command: str = "") -> str:
        lines = ["# The poster's Table 2 under the poster's protocol: NA MAPE on the real test split", ""]
        if command:
            lines += [f"Command: `{command}`", ""]
        budget = self.epochs + self.finetune_epochs
        lines += [
            f"{self.labelled} labelled real training images, {self.val_images} real validation images (model "
            f"selection), {self.test_images} real test images (every number below). Improvement = lower MAPE "
            "than without, in percent (positive = better), as the poster reports it.", "",
            f"- *poster*: one network on the whole image letterboxed to {self.input_size} px, regressing the 4 "
            f"keypoints and 2 head radii with MSE; kept at the epoch of lowest validation loss of {self.epochs}, "
            f"then fine-tuned {self.finetune_epochs} epochs at {self.finetune_lr_factor:g} x lr and kept by "
            "validation loss again. Prediction: that single network, no crop stage.",
            f"- *ours*: the app's two-stage heatmap model ({self.ours_backbone}), {budget} epochs, kept by "
            "validation NA MAE." if self.ours_backbone else "- *ours*: left out.",
            f"- Every arm: {budget} epochs of {self.samples_per_epoch} samples (real images repeated under "
            "augmentation without synthetic ones), same seed; synthetic images mixed in by count.",
            *self._pool_text(),
            f"- Label model: {self.label_model}. Gate: {self.gate}.", ""]
        if not self.rows:
            return "\n".join(lines) + "\n"
        lines += self._table()
        if self.external:
            lines += ["", f"## Independent test set: {self.external}", ""] + self._table("ext_")
        lines += ["", f"Total {self.seconds / 60:.1f} min."]
        return "\n".join(lines) + "\n"

    def csv_text(self) -> str:
        """One line per row; an arm not measured is an empty cell."""
        buf = io.StringIO()
        cols = list(dict.fromkeys(k for r in self.rows for k in r))
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
        return buf.getvalue()


def _cell(v: float | None, fmt: str, unit: str = "") -> str:
    """A number for the table, or "—" for one not measured (None or NaN: never "nan %")."""
    return "—" if v is None or not np.isfinite(v) else f"{v:{fmt}}{unit}"
