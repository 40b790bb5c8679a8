"""`hipvision predict IMAGE|FOLDER...`: landmarks and Norberg angles from the keypoint model."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict hip landmarks and Norberg angles of radiographs",
                       description="Runs the keypoint model (both stages, flip test-time augmentation) on each "
                                   "image and writes the flat CSV (image,side,head_x,head_y,head_r,rim_x,rim_y,"
                                   "na_deg; patient sides) or JSON with confidences. Folders are searched "
                                   "recursively for radiographs. A file that cannot be read or predicted "
                                   "(corrupt, non-finite pixels, a name that is not valid UTF-8) is "
                                   "reported on stderr as 'FILE: reason' and left out; the others are "
                                   "still written. Exit status: 0 all predicted, 1 some files left out, "
                                   "2 none predicted or a usage error.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE|FOLDER")
    p.add_argument("--model", help="a .safetensors model, 'default' (the bundled one), or a project model "
                                   "id/name with --project; default: the project's active model, else the bundled one")
    p.add_argument("--project", help="project folder whose active model (and per-image side mapping) to use")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", help="write here instead of standard output")
    p.add_argument("--patient-right-on", choices=("image-left", "image-right"), default="image-left",
                   help="where the patient's right hip is on the image (default: image-left, the VD convention)")
    p.add_argument("--heads", metavar="X1,Y1,X2,Y2",
                   help="rough femoral-head centres (a click each; full-resolution pixels, image-left head "
                        "first): stage 2 refines centre, radius and rim from there. One IMAGE only")
    p.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation (faster)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--batch-size", type=int, default=4)
    p.set_defaults(func=run)


def collect_images(inputs: list[str]) -> list[tuple[str, object]]:
    """(display name, path) of every radiograph named or found under a folder, in order."""
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.core.radiograph import is_radiograph_file

    out = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*")
                           if not any(part.startswith(".") for part in f.relative_to(p).parts)
                           and is_radiograph_file(f))
            if not found:
                raise CommandError(f"{p}: no radiographs (PNG, JPEG, TIFF, DICOM) in this folder")
            out += [((Path(arg) / f.relative_to(p)).as_posix(), f) for f in found]
        elif p.exists():
            out.append((arg, p))
        else:
            raise CommandError(f"{arg}: no such file or folder")
    return out


def parse_heads(text: str):
    """'X1,Y1,X2,Y2' -> ((x1, y1), (x2, y2)); a CommandError naming the problem otherwise."""
    from hipvision.cli import CommandError
    from hipvision.core.geometry import GeometryError, head_clicks

    try:
        v = [float(t) for t in text.split(",")]
    except ValueError:
        raise CommandError(f"--heads must be four numbers X1,Y1,X2,Y2, got {text!r}") from None
    if len(v) != 4:
        raise CommandError(f"--heads must be four numbers X1,Y1,X2,Y2, got {text!r}")
    try:
        return head_clicks([v[:2], v[2:]])
    except GeometryError as exc:
        raise CommandError(f"--heads: {exc}") from None


def printable(name: str) -> str:
    """`name` safe for a UTF-8 stream: undecodable bytes of a POSIX file name (held as
    surrogate escapes) become `\xff`, so reporting a bad name cannot itself crash."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte (Windows)
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def split_unwritable_names(images: list) -> tuple[list, list[tuple[str, str]]]:
    """(images whose name the UTF-8 CSV/JSON can hold, (name, reason) of the others).

    Checked before any work: such a name used to fail only at the final write, losing every
    prediction. Writing it escaped would give a row no reader can match back to the file."""
    ok, bad = [], []
    for name, path in images:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            bad.append((name, "file name is not valid UTF-8; rename the file to predict it"))
        else:
            ok.append((name, path))
    return ok, bad


def _reason(exc: Exception) -> str:
    from hipvision.core.radiograph import RadiographError

    if isinstance(exc, RadiographError):
        return exc.reason
    return f"{type(exc).__name__}: {exc}"


def predict_isolated(predictor, images: list, mappings: list, batch_size: int, report) -> list:
    """(name, Prediction) for every image that predicts; report(name, reason) for each other.

    A batch runs whole when it can (the fast path); when anything in it fails, its images
    are redone one at a time so one bad file costs only itself."""
    from tqdm import tqdm

    done = []
    bar = tqdm(total=len(images), unit="img", desc="predict", file=sys.stderr, leave=False,
               disable=len(images) < 2)
    for i in range(0, len(images), batch_size):
        part, maps = images[i:i + batch_size], mappings[i:i + batch_size]
        try:
            done += zip([n for n, _ in part], predictor.predict_batch([p for _, p in part], maps))
        except Exception:  # noqa: BLE001 (isolated below, file by file, with the reason)
            for (name, path), mp in zip(part, maps):
                try:
                    done.append((name, predictor.predict(path, mp)))
                except Exception as exc:  # noqa: BLE001 (one unreadable file must not stop the rest)
                    report(name, _reason(exc))
        bar.update(len(part))
    bar.close()
    return done


def run(args) -> int:

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.atomic import write_text_atomic
    from hipvision.core.landmarks import SideMapping
    from hipvision.ml.checkpoint import CheckpointError
    from hipvision.ml.predict import Predictor

    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    found = collect_images(args.inputs)
    images, unnamed = split_unwritable_names(found)
    heads = parse_heads(args.heads) if args.heads else None
    if heads is not None and len(found) != 1:
        raise CommandError(f"--heads places the hips of one image; {len(found)} were given")
    failed: list[str] = []

    def report(name: str, reason: str) -> None:
        failed.append(name)
        tqdm.write(f"{printable(name)}: {reason}", file=sys.stderr)

    for name, reason in unnamed:
        report(name, reason)
    if not images:
        raise CommandError("no image could be predicted")
    project = None
    if args.project:
        from hipvision.core.store import Project

        project = Project.open(args.project, create=False)
    try:
        predictor = Predictor.resolve(args.model, project, device=args.device, tta=not args.no_tta)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    print(f"model: {predictor.description}", file=sys.stderr)
    default_mapping = SideMapping(right_on_image_left=args.patient_right_on == "image-left")
    mappings = []
    for _, path in images:
        rec = project.image_by_path(project.rel_path(path)) if project is not None else None
        mappings.append(rec.mapping if rec is not None else default_mapping)

    if heads is not None:
        try:
            done = [(images[0][0], predictor.predict(images[0][1], mappings[0], heads=heads))]
        except ValueError as exc:
            raise CommandError(f"{printable(images[0][0])}: {exc}") from None
    else:
        done = predict_isolated(predictor, images, mappings, args.batch_size, report)
    if not done:
        raise CommandError(f"none of the {len(found)} image(s) could be predicted (reasons above)")

    from hipvision.commands._predict_output import assessments, doubtful_lines, predict_csv, predict_json

    verdicts = assessments(done)
    if args.format == "csv":
        text = predict_csv(done, verdicts)
    else:
        text = predict_json(done, verdicts, predictor.model_id, predictor.trained_on)
    for line in doubtful_lines(verdicts, printable):
        print(line, file=sys.stderr)
    if args.out:
        write_text_atomic(args.out, text)
        print(f"wrote {args.out} ({len(done)} images)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if failed:
        print(f"{len(failed)} of {len(found)} image(s) left out (reasons above)", file=sys.stderr)
        return 1
    return 0
