import pytest

from hipvision.ml.diffusion.unet_layouts import levels_for, unet_config


@pytest.mark.parametrize("res,lowest", [(32, 8), (64, 8), (128, 8), (256, 8), (512, 16)])
@pytest.mark.parametrize("size", ["tiny", "small", "base"])
def test_attention_only_at_the_lowest_resolution(res, lowest, size):
    cfg = unet_config(res, 5, 1, size)
    down, up = cfg["down_block_types"], cfg["up_block_types"]
    assert len(down) == len(up) == len(cfg["block_out_channels"]) == levels_for(res)
    assert [d.startswith("Attn") for d in down] == [False] * (len(down) - 1) + [True]
    assert [u.startswith("Attn") for u in up] == [True] + [False] * (len(up) - 1)
    assert res // 2 ** (len(down) - 1) == lowest
    assert all(c % cfg["norm_num_groups"] == 0 for c in cfg["block_out_channels"])


def test_layout_builds_and_keeps_the_shape():
    import torch
    from diffusers import UNet2DModel

    unet = UNet2DModel(**unet_config(64, 5, 1, "tiny")).eval()
    with torch.no_grad():
        out = unet(torch.randn(2, 5, 64, 64), torch.tensor([3, 700])).sample
    assert out.shape == (2, 1, 64, 64)
    attn = [n for n, _ in unet.named_modules() if n.endswith("attentions.0")]
    # down block 3 (8 px), the mid block and up block 0 (8 px): nowhere else
    assert sorted(attn) == ["down_blocks.3.attentions.0", "mid_block.attentions.0", "up_blocks.0.attentions.0"]


@pytest.mark.parametrize("kw,msg", [
    (dict(resolution=100), "resolution"), (dict(resolution=1024), "resolution"), (dict(resolution=16), "resolution"),
    (dict(resolution=64, size="huge"), "size"), (dict(resolution=64, in_channels=0), "in_channels"),
])
def test_bad_layout_requests_name_the_field(kw, msg):
    with pytest.raises(ValueError, match=msg):
        unet_config(**kw)
