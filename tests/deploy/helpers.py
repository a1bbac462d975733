"""Tiny ViTPose / ViTPose+ models built from the shipped COCO configs.

The configs keep everything but the size: the pipeline, data
preprocessor, codec and flip test of ``configs/.../coco``; the backbone is
64 wide and 2 deep. BN statistics are random and the final layer is scaled
so that heatmaps reach O(1), as a trained model's do, which makes a 1e-4
tolerance meaningful.
"""
import copy
from pathlib import Path
from typing import Tuple

import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
COCO_CONFIGS = REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco'
TINY_BACKBONE = dict(arch=None, embed_dim=64, depth=2, num_heads=4,
                     mlp_ratio=2, drop_path_rate=0.)
# ViTPose+ with two datasets of 17 and 14 keypoints.
PLUS_DATASETS = [
    dict(name='coco', dataset_type='CocoDataset'),
    dict(name='aic', dataset_type='AicDataset', head=dict(out_channels=14)),
]


def _set_codec(node, codec: dict) -> None:
    """Point every TopdownAffine / GenerateTarget at ``codec``."""
    if isinstance(node, dict):
        if node.get('type') == 'TopdownAffine':
            node['input_size'] = codec['input_size']
        if node.get('type') == 'GenerateTarget':
            node['encoder'] = copy.deepcopy(codec)
        for value in node.values():
            _set_codec(value, codec)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _set_codec(value, codec)


def tiny_config(decoder: str = 'classic', plus: bool = False,
                input_hw: Tuple[int, int] = (64, 48)) -> Config:
    """The shipped ViTPose-S COCO config with a tiny backbone.

    Args:
        decoder (str): ``'classic'`` (two 32-channel deconvs) or
            ``'simple'``.
        plus (bool): A ViTPose+ estimator with :data:`PLUS_DATASETS`.
        input_hw (tuple): Crop (H, W); heatmaps are a quarter of it.
    """
    suffix = '-simple' if decoder == 'simple' else ''
    cfg = Config.fromfile(
        COCO_CONFIGS / f'vitpose-mm_td-hm_ViTPose-small{suffix}_8xb64-210e_coco-'
        '256x192.py')
    h, w = input_hw
    codec = dict(type='ViTPoseUDPHeatmap', input_size=(w, h),
                 heatmap_size=(w // 4, h // 4), sigma=2)
    cfg.codec = codec
    _set_codec(cfg._cfg_dict, codec)
    cfg.model.backbone.update(TINY_BACKBONE, img_size=(h, w))
    cfg.model.head.update(in_channels=64, decoder=codec)
    if decoder == 'classic':
        cfg.model.head.deconv_out_channels = (32, 32)
    if plus:
        cfg.model.type = 'ViTPosePlusEstimator'
        cfg.model.backbone.update(type='ViTPosePlusBackbone', num_expert=2,
                                  part_features=16)
        cfg.model.datasets = copy.deepcopy(PLUS_DATASETS)
        cfg.model.test_cfg.dataset = 'coco'
    return cfg


def scale_heads(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Scale each head's final layer so that its heatmaps of ``x`` peak at
    1 (in absolute value), as a trained model's do; random init gives about
    0.01, where a 1e-4 tolerance would hide real differences."""
    plus = hasattr(model, 'heads')
    heads = list(model.heads.values()) if plus else [model.head]
    with torch.no_grad():
        index = torch.zeros(len(x), dtype=torch.long)
        feats = (model.extract_feat(x, index) if plus else
                 model.extract_feat(x))
        for head in heads:
            peak = head(feats).abs().max()
            head.final_layer.weight.div_(peak)
            head.final_layer.bias.div_(peak)


def tiny_model(cfg: Config, seed: int = 0) -> torch.nn.Module:
    """``mmpose.apis.init_model`` of ``cfg`` with seeded random weights,
    random BN statistics and heatmaps peaking at 1 on random crops, in
    eval mode on the CPU."""
    from mmpose.apis import init_model
    torch.manual_seed(seed)
    model = init_model(cfg, None, device='cpu').eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    scale_heads(model, torch.randn(2, 3, *cfg.model.backbone.img_size))
    return model.eval()


def coco_crops(cfg: Config, data_root) -> tuple:
    """The 14 annotated people of the tiny COCO set as model inputs.

    Returns:
        tuple: ``(inputs, data_samples, targets)``: (14, 3, H, W) crops
        after the config's data preprocessor, their packed samples (with
        the metainfo the estimator's ``predict`` needs) and (14, K, h, w)
        UDP target heatmaps of the ground-truth keypoints.
    """
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS, MODELS
    codec = cfg.codec
    pipeline = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=codec['input_size'],
             use_udp=True),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]
    dataset = DATASETS.build(
        dict(type='CocoDataset', data_root=str(data_root),
             ann_file='test_coco.json', data_mode='topdown',
             data_prefix=dict(img=''), pipeline=pipeline))
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    data = preprocessor(batch, False)
    targets = torch.stack(
        [s.gt_fields.heatmaps for s in data['data_samples']])
    return data['inputs'], data['data_samples'], targets


def fit_final_layer(model: torch.nn.Module, inputs: torch.Tensor,
                    targets: torch.Tensor, ridge: float = 1e-3) -> None:
    """Solve the head's final conv by ridge regression onto ``targets``.

    A linear probe on the random features: the heatmaps then peak near
    the true keypoints, as a trained model's do, so that decoded keypoints
    are well defined (a random head's flat maps have near-ties whose
    argmax any rounding flips).
    """
    final = model.head.final_layer
    feats = {}
    hook = final.register_forward_hook(
        lambda mod, args, out: feats.update(x=args[0]))
    with torch.no_grad():
        model(inputs, None, mode='tensor')
    hook.remove()
    k = final.kernel_size[0]
    cols = torch.nn.functional.unfold(feats['x'], k, padding=k // 2)
    a = cols.transpose(1, 2).reshape(-1, cols.shape[1]).double()
    a = torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype)], 1)
    y = targets.flatten(2).transpose(1, 2).reshape(
        -1, targets.shape[1]).double()
    eye = torch.eye(a.shape[1], dtype=a.dtype)
    sol = torch.linalg.solve(a.T @ a + ridge * eye, a.T @ y)
    with torch.no_grad():
        final.weight.copy_(sol[:-1].T.reshape(final.weight.shape))
        final.bias.copy_(sol[-1])


def fitted_coco_model(data_root) -> tuple:
    """A seeded tiny ViTPose (simple decoder, 256x192) whose final conv is
    fitted (:func:`fit_final_layer`) to the real COCO crops of
    ``data_root``: ``(model, inputs, samples)`` with (N, 3, 256, 192)
    ``inputs`` and their data samples (:func:`coco_crops`)."""
    cfg = tiny_config('simple', input_hw=(256, 192))
    model = tiny_model(cfg)
    inputs, samples, targets = coco_crops(cfg, data_root)
    fit_final_layer(model, inputs, targets)
    return model, inputs, samples


def peak_margin(heatmaps: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """How clearly each heatmap's maximum wins: (peak - the largest value
    more than ``radius`` pixels from it) / peak, shape (B, K).

    A keypoint whose margin is near 0 has two near-equal peaks, and any
    rounding (bf16, another BLAS, onnxruntime) may move it to the other.
    """
    B, K, H, W = heatmaps.shape
    peak, arg = heatmaps.reshape(B, K, -1).max(-1)
    ys, xs = (arg // W)[..., None, None], (arg % W)[..., None, None]
    yy = torch.arange(H).view(1, 1, H, 1)
    xx = torch.arange(W).view(1, 1, 1, W)
    near = ((yy - ys).abs() <= radius) & ((xx - xs).abs() <= radius)
    outside = heatmaps.masked_fill(near, float('-inf')).reshape(
        B, K, -1).max(-1).values
    return (peak - outside) / peak.abs().clamp_min(1e-6)
