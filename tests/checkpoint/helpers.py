"""Tiny pose models and seeded random weights for the checkpoint tests."""
import torch
from mmpose.registry import MODELS
from mmengine.registry import DefaultScope
from torch import nn

#: Tiny sizes: 64x48 input -> 4x3 tokens -> 16x12 heatmaps.
TINY = dict(img_size=(64, 48), embed_dim=32, depth=2, num_heads=4)
NUM_KEYPOINTS = 5


def pose_model_cfg(decoder: str = 'classic',
                   num_keypoints: int = NUM_KEYPOINTS,
                   **backbone) -> dict:
    """Our TopdownPoseEstimator config with the ViTPose classic (two 256
    deconvs, 1x1 conv) or simple (ReLU, x4, 3x3 conv) decoder."""
    backbone = {**TINY, **backbone}
    head = dict(
        type='HeatmapHead',
        in_channels=backbone['embed_dim'],
        out_channels=num_keypoints)
    cfg = dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', **backbone),
        head=head)
    if decoder == 'classic':
        head.update(deconv_out_channels=(256, 256), deconv_kernel_sizes=(4, 4))
    elif decoder == 'simple':
        cfg['neck'] = dict(
            type='FeatureMapProcessor', scale_factor=4.0, apply_relu=True)
        head.update(
            deconv_out_channels=[],
            deconv_kernel_sizes=[],
            final_layer=dict(kernel_size=3, padding=1))
    else:
        raise ValueError(decoder)
    return cfg


def build_pose_model(decoder: str = 'classic', **kwargs) -> nn.Module:
    # mmpose's registry, whatever scope an earlier test left current (an
    # in-process mmdet detector makes 'mmdet' the default scope)
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(pose_model_cfg(decoder, **kwargs)).eval()


@torch.no_grad()
def randomise_(module: nn.Module, seed: int) -> nn.Module:
    """Seeded random values for every float parameter and buffer, so that
    no norm is an identity and no BN statistic is trivial."""
    gen = torch.Generator().manual_seed(seed)
    for name, t in list(module.named_parameters()) + list(
            module.named_buffers()):
        if not t.is_floating_point():
            continue
        noise = torch.randn(t.shape, generator=gen)
        if name.endswith('running_var'):
            t.copy_(0.5 + torch.rand(t.shape, generator=gen))
        elif t.dim() == 1 and name.endswith('weight'):  # LN / BN scale
            t.copy_(1 + 0.2 * noise)
        else:
            t.copy_(0.05 * noise)
    return module


@torch.no_grad()
def heatmaps(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, K, H/4, W/4) heatmaps of our pose model."""
    return model.eval()(x, None, mode='tensor')
