"""Which backbone layers a run leaves untrained, and keeping them so.

Few-shot fine-tuning on a handful of a clinic's radiographs: the stem's edge and texture
filters already suit radiographs, and training them on six images buys over-fitting and
costs the most compute (the backward pass through the two highest-resolution stages). A
frozen part also keeps its BatchNorm statistics: batches of a few images would otherwise
overwrite the running means the whole network was trained with.
"""

from __future__ import annotations

import torch


def frozen_modules(net: torch.nn.Module, freeze: str) -> list[torch.nn.Module]:
    """The modules of a KeypointNet that `freeze` ("none", "stem", "backbone") leaves alone."""
    if freeze == "none":
        return []
    body = net.backbone.net
    if freeze == "backbone":
        return [body]
    # "stem": every top-level child up to and including the one that makes the first
    # feature map (timm's feature_info names it); a backbone without that record (the
    # torchvision SqueezeNet) has its first half of children frozen instead.
    children = list(body.named_children())
    info = getattr(body, "feature_info", None)
    first = info.module_name()[0].split(".")[0] if info is not None and hasattr(info, "module_name") else None
    names = [n for n, _ in children]
    stop = names.index(first) + 1 if first in names else max(1, len(children) // 2)
    return [m for _, m in children[:stop]]


def apply_freeze(nets, freeze: str) -> int:
    """Stop gradients into the frozen parts of each net; the number of frozen parameters."""
    n = 0
    for net in nets:
        for m in frozen_modules(net, freeze):
            for p in m.parameters():
                p.requires_grad_(False)
                n += p.numel()
    return n


def hold_frozen_statistics(nets, freeze: str) -> None:
    """After model.train(): put the frozen parts back in eval mode (BatchNorm uses and keeps
    its running statistics). Called at the start of every epoch."""
    for net in nets:
        for m in frozen_modules(net, freeze):
            m.eval()
