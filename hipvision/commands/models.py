"""`hipvision models [PROJECT]`: the backbone zoo, the bundled model and a project's models."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("models", help="list the backbone zoo and the trained models",
                       description="Lists the ImageNet backbones `train --backbone` accepts, the bundled default "
                                   "model, and (with PROJECT) the project's trained models; * marks the active one.")
    p.add_argument("project", nargs="?", help="project folder")
    p.add_argument("--json", action="store_true")
    p.add_argument("--clean", action="store_true",
                   help="delete what interrupted runs left in the project's models folder: unregistered models, "
                        "temporary files, older training states (never a registered model or a running job's files)")
    p.set_defaults(func=run)


def _metric(m: dict) -> str:
    v = m.get("val_na_mae_at_registration", m.get("val_na_mae"))
    return f"val NA MAE {v:.2f}°" if isinstance(v, (int, float)) else "no validation score"


def run(args) -> int:
    import json

    from hipvision.ml.checkpoint import CheckpointError, read_sidecar
    from hipvision.ml.predict import Predictor
    from hipvision.ml.zoo import DEFAULT_BACKBONE, ZOO

    zoo = [{"name": e.name, "family": e.family, "source": e.source, "note": e.note} for e in ZOO.values()]
    default = {"file": str(Predictor.default_path())}
    try:
        meta = read_sidecar(Predictor.default_path())
        default.update({"model_id": meta.get("model_id"), "backbone": meta["stage1"]["backbone"],
                        "trained_on": meta.get("trained_on"), "metrics": meta.get("metrics", {})})
    except CheckpointError as exc:
        default["error"] = str(exc)
    trained = []
    leftovers: list = []
    if args.clean and not args.project:
        from hipvision.cli import CommandError

        raise CommandError("--clean needs the PROJECT whose models folder to clean")
    if args.project:
        from hipvision.core.store import Project
        from hipvision.ml.leftovers import find_leftovers, remove_leftovers

        with Project.open(args.project, create=False) as project:
            leftovers = remove_leftovers(project) if args.clean else find_leftovers(project)
            for rec in project.models():
                trained.append({"id": rec.id, "name": rec.name, "backbone": rec.backbone, "kind": rec.kind,
                                "active": rec.active, "file": str(rec.abs_file), "created_at": rec.created_at,
                                "metrics": rec.metrics, "data_summary": rec.data_summary})
    if args.json:
        json.dump({"zoo": zoo, "default": default, "project_models": trained,
                   "removed" if args.clean else "leftovers": [{"file": str(x.path), "bytes": x.size, "why": x.why}
                                                              for x in leftovers]},
                  sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"Backbones ({len(zoo)}; train --backbone NAME):")
    for e in zoo:
        mark = " (default)" if e["name"] == DEFAULT_BACKBONE else ""
        note = f" — {e['note']}" if e["note"] else ""
        print(f"  {e['name']:<24} {e['family']:<15} {e['source']}{mark}{note}")
    print("\nBundled model:")
    if "error" in default:
        print(f"  missing: {default['error']}")
    else:
        label = "trained on synthetic phantoms" if default.get("trained_on") == "phantoms" else \
            f"trained on {default.get('trained_on')}"
        print(f"  {default['model_id']} ({default['backbone']}) — {label}; {_metric(default['metrics'])}")
        print(f"  {default['file']}")
    if args.project:
        print(f"\nProject models ({len(trained)}):")
        if not trained:
            print("  none yet: predictions use the bundled model (`hipvision train PROJECT`)")
        for m in trained:
            star = "*" if m["active"] else " "
            print(f" {star}{m['id']:>3}  {m['name']:<28} {m['backbone']:<16} {m['kind']:<8} {_metric(m['metrics'])}")
        if leftovers:
            mb = sum(x.size for x in leftovers) / 1e6
            if args.clean:
                print(f"\nRemoved {len(leftovers)} file(s) interrupted runs left ({mb:.1f} MB):")
            else:
                print(f"\nLeft by interrupted runs ({len(leftovers)} file(s), {mb:.1f} MB; "
                      f"`hipvision models {args.project} --clean` removes them):")
            for x in leftovers:
                print(f"  {x.path.name}  ({x.why})")
        elif args.clean:
            print("\nNothing to clean: no files of interrupted runs in the models folder")
    return 0
