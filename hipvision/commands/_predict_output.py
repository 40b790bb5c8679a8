"""What `hipvision predict` writes: each prediction with its review status, so that a doubtful
one (low confidence, impossible geometry: annotation/plausibility.py) is never printed as a
measurement. Its landmarks stay (a starting point to correct), its NA does not: the CSV's
na_deg is empty and the JSON's na_deg null, the model's numbers kept apart under
na_deg_doubtful. The same rule the window applies before a person has reviewed a prediction."""

from __future__ import annotations

import csv
import io
import json

from hipvision.annotation.plausibility import Assessment
from hipvision.core.interchange import CSV_COLUMNS, AnnotatedImage, csv_rows

PREDICT_COLUMNS = CSV_COLUMNS + ("status", "concerns")


def assessments(done: list) -> dict[str, Assessment]:
    """name -> what is doubtful about its prediction (an empty assessment: nothing)."""
    return {name: pred.assessment() for name, pred in done}


def status(a: Assessment) -> str:
    return "doubtful" if a.doubtful else "predicted"


def predict_csv(done: list, verdicts: dict[str, Assessment]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PREDICT_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for name, pred in done:
        a = verdicts[name]
        for row in csv_rows([AnnotatedImage(image=name, landmarks=pred.landmarks)]):
            if a.doubtful:
                row["na_deg"] = ""
            writer.writerow({**row, "status": status(a), "concerns": a.summary()})
    return buf.getvalue()


def predict_json(done: list, verdicts: dict[str, Assessment], model_id: str, trained_on: str) -> str:
    items = []
    for name, pred in done:
        a = verdicts[name]
        item = {"image": name, "model": model_id, "trained_on": trained_on, "status": status(a),
                "concerns": [c.text for c in a.concerns], "landmarks": pred.landmarks.to_dict(),
                "na_deg": {side: None for side in pred.na} if a.doubtful else pred.na,
                "confidence": pred.confidence, "low_confidence": pred.low_confidence,
                "image_size": list(pred.image_size)}
        if a.doubtful:
            item["na_deg_doubtful"] = pred.na
        items.append(item)
    return json.dumps(items, indent=1) + "\n"


def doubtful_lines(verdicts: dict[str, Assessment], printable) -> list[str]:
    """The stderr lines that name every doubtful prediction and what to do about it."""
    bad = [(name, a) for name, a in verdicts.items() if a.doubtful]
    if not bad:
        return []
    lines = [f"{len(bad)} of {len(verdicts)} prediction(s) are doubtful and carry no NA: place their hips with "
             f"--heads X1,Y1,X2,Y2 (near each femoral head) or with P in the app"]
    lines += [f"  {printable(name)}: {a.summary()}" for name, a in bad]
    return lines
