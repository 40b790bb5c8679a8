"""`hipvision measure FILE.csv`: recompute na_deg for every row of a flat CSV."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("measure", help="recompute the Norberg angle of every row of a flat CSV",
                       description="Reads image,side,head_x,head_y,head_r,rim_x,rim_y[,na_deg]; writes the same "
                                   "rows with na_deg recomputed, plus grade and BVA-style points.")
    p.add_argument("csv")
    p.add_argument("--out", help="write here instead of standard output")
    p.add_argument("--normal-min", type=float, default=105.0)
    p.add_argument("--borderline-min", type=float, default=100.0)
    p.set_defaults(func=run)


def run(args) -> int:
    import csv
    import io

    from hipvision.cli import CommandError
    from hipvision.core.atomic import write_text_atomic
    from hipvision.core.grading import GradeThresholds, bva_points, grade_hint
    from hipvision.core.interchange import CSV_COLUMNS, InterchangeError, read_csv

    thresholds = GradeThresholds(normal_min=args.normal_min, borderline_min=args.borderline_min)
    try:
        items = read_csv(args.csv)
    except InterchangeError as exc:
        raise CommandError(str(exc)) from None  # one line naming the file and row, exit 2
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, "grade", "bva_points"])
    for item in items:
        for side in ("left", "right"):
            s = item.landmarks.side(side)
            na = item.landmarks.norberg_angle(side)
            writer.writerow([item.image, side, *(repr(v) for v in (s.head_x, s.head_y, s.head_r, s.rim_x, s.rim_y)),
                             repr(na), grade_hint(na, thresholds).value, bva_points(na)])
    if args.out:
        write_text_atomic(args.out, buf.getvalue())
        print(f"wrote {args.out} ({2 * len(items)} rows)")
    else:
        sys.stdout.write(buf.getvalue())
    return 0
