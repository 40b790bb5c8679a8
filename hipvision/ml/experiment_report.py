"""What `hipvision experiment` reports: per-arm results, the per-backbone rows, markdown and CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np

ARM_LABELS = {"without": "real only", "with": "with synthetic", "more_real": "with more real",
              "with_conditional": "with conditional synthetic"}  # the last: --protocol poster


@dataclass
class ArmResult:
    backbone: str
    arm: str  # "without" | "with" | "more_real"
    synthetic: int  # synthetic images used
    test: dict  # summarise() of the real test split
    val_na_mae: float | None
    steps: int
    seconds: float
    checkpoint: str
    external: dict = field(default_factory=dict)  # summarise() of the independent test set ({} without one)


def improvement(without: float, with_: float) -> float:
    """Percent lower error `with_` than `without` (negative: worse)."""
    return float((without - with_) / without * 100.0) if without > 0 else 0.0


def make_rows(backbones, arms: list[ArmResult], labelled: int, synthetic: int, more_real: int) -> list[dict]:
    """One row per backbone: NA MAE/MAPE without vs with (and more real, and on the
    independent test set, where those were run) and the improvement in percent."""
    rows = []
    for bb in backbones:
        by = {a.arm: a for a in arms if a.backbone == bb}
        a0, a1 = by["without"], by["with"]
        r = {"backbone": bb, "mae_without": a0.test["na_mae"], "mae_with": a1.test["na_mae"],
             "mae_improvement_pct": improvement(a0.test["na_mae"], a1.test["na_mae"]),
             "mape_without": a0.test["na_mape"], "mape_with": a1.test["na_mape"],
             "mape_improvement_pct": improvement(a0.test["na_mape"], a1.test["na_mape"]),
             "test_hips": a0.test["hips"], "labelled": labelled, "synthetic": synthetic}
        a2 = by.get("more_real")
        if a2 is not None:
            r.update({"mae_more_real": a2.test["na_mae"], "more_real": more_real,
                      "mae_more_real_improvement_pct": improvement(a0.test["na_mae"], a2.test["na_mae"])})
        if a0.external:
            r.update({"ext_mae_without": a0.external["na_mae"], "ext_mae_with": a1.external["na_mae"],
                      "ext_mae_improvement_pct": improvement(a0.external["na_mae"], a1.external["na_mae"]),
                      "ext_hips": a0.external["hips"]})
            if a2 is not None:
                r.update({"ext_mae_more_real": a2.external["na_mae"],
                          "ext_mae_more_real_improvement_pct": improvement(a0.external["na_mae"],
                                                                           a2.external["na_mae"])})
        rows.append(r)
    return rows


@dataclass
class ExperimentResult:
    rows: list[dict]  # see make_rows
    arms: list[ArmResult]
    labelled: int
    synthetic_generated: int
    synthetic_accepted: int
    gate_rejections: dict
    generator: str
    gate: str  # which model gated the synthetic images, with its limits ("off" without a gate)
    test_images: int
    seconds: float
    more_real: int = 0  # extra real images of the reference arm (0: no such arm)
    mix: str = ""  # how the synthetic images were mixed in (share, real-only fine-tune)
    external: str = ""  # the independent test set, described ("" without one)
    files: dict = field(default_factory=dict)

    def _table(self, prefix: str, with_mape: bool) -> list[str]:
        head = "| backbone | NA MAE without (°) | NA MAE with synthetic (°) | change |"
        rule = "|---|---|---|---|"
        if self.more_real:
            head += f" NA MAE with {self.more_real} more real (°) | change |"
            rule += "---|---|"
        if with_mape:
            head += " NA MAPE without (%) | NA MAPE with synthetic (%) | change |"
            rule += "---|---|---|"
        lines = [head, rule]
        for r in self.rows:
            line = (f"| {r['backbone']} | {r[prefix + 'mae_without']:.2f} | {r[prefix + 'mae_with']:.2f} | "
                    f"{-r[prefix + 'mae_improvement_pct']:+.1f} % |")
            if self.more_real:
                line += (f" {r[prefix + 'mae_more_real']:.2f} | "
                         f"{-r[prefix + 'mae_more_real_improvement_pct']:+.1f} % |")
            if with_mape:
                line += (f" {r['mape_without']:.2f} | {r['mape_with']:.2f} | "
                         f"{-r['mape_improvement_pct']:+.1f} % |")
            lines.append(line)
        mean = float(np.mean([r[prefix + "mae_improvement_pct"] for r in self.rows]))
        lines += ["", f"Mean NA MAE change with synthetic images: {-mean:+.1f} % (negative = better)."]
        if self.more_real:
            mean_real = float(np.mean([r[prefix + "mae_more_real_improvement_pct"] for r in self.rows]))
            lines[-1] += f" With {self.more_real} more real images instead: {-mean_real:+.1f} %."
        return lines

    def markdown(self, command: str = "") -> str:
        lines = ["# Diffusion augmentation: NA error on the real test split", ""]
        if command:
            lines += [f"Command: `{command}`", ""]
        lines += [f"{self.labelled} labelled real training images; {self.synthetic_accepted} conditional synthetic "
                  f"images ({self.synthetic_generated} generated, {self.synthetic_generated - self.synthetic_accepted} "
                  f"rejected by the gate), mixed in {self.mix or 'in proportion to their count'}; "
                  f"{self.test_images} real test images; same seed and number of steps for every arm of a backbone. "
                  f"Generator: {self.generator}. Gate: {self.gate}.", ""]
        if not self.rows:
            return "\n".join(lines) + "\n"
        lines += self._table("", with_mape=True)
        if self.external:
            lines += ["", f"## Independent test set: {self.external}", ""] + self._table("ext_", with_mape=False)
        lines += ["", f"Total {self.seconds / 60:.1f} min."]
        return "\n".join(lines) + "\n"

    def csv_text(self) -> str:
        buf = io.StringIO()
        cols = ["backbone", "mae_without", "mae_with", "mae_improvement_pct", "mape_without", "mape_with",
                "mape_improvement_pct", "test_hips", "labelled", "synthetic"]
        if self.more_real:
            cols += ["mae_more_real", "mae_more_real_improvement_pct", "more_real"]
        if self.external:
            cols += ["ext_mae_without", "ext_mae_with", "ext_mae_improvement_pct", "ext_hips"]
            if self.more_real:
                cols += ["ext_mae_more_real", "ext_mae_more_real_improvement_pct"]
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
        return buf.getvalue()
