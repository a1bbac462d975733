"""Tiny model sizes and the seeded backbone builder the model tests share
(the role of mmpose's ``mmpose/testing/_utils.py``): a 64x48 input, 16x16
patches -> a 4x3 token grid of width 32."""
from typing import Optional

import torch

#: A ViTPose backbone small enough for a CPU test.
TINY_VIT = dict(img_size=(64, 48), embed_dim=32, depth=2, num_heads=4,
                mlp_ratio=2)
#: The same with three ViTPose+ experts of 8 rows each.
TINY_MOE = dict(TINY_VIT, num_expert=3, part_features=8)


def tiny_backbone(cls: Optional[type] = None, *, base: dict = TINY_VIT,
                  eval: bool = False, seed: int = 0, **kwargs):
    """``cls(**base, **kwargs)`` (default :class:`ViTPoseBackbone`) built
    after ``torch.manual_seed(seed)`` and ``init_weights()``; in eval mode
    when ``eval``."""
    from vitpose_mm.models import ViTPoseBackbone
    torch.manual_seed(seed)
    model = (cls or ViTPoseBackbone)(**{**base, **kwargs})
    model.init_weights()
    return model.eval() if eval else model


#: The backbone that shrinks a whole config for a seconds-long run (the
#: config keeps its input size, MLP ratio and head).
TINY_CONFIG_BACKBONE = dict(embed_dim=32, depth=2, num_heads=2)


def shrink_topdown(cfg, data_root, input_size, datasets: dict,
                   batch_size: int = 2) -> dict:
    """Shrink a top-down heatmap config, in place, for a one-epoch run on
    a shared tiny set: :data:`TINY_CONFIG_BACKBONE` at ``input_size``, a
    16-channel head, the codec at ``input_size`` with a 1/4 heatmap
    (pipelines and decoder alike), and each loader in ``datasets`` reading
    ``data_root`` (image paths relative to it) with its extra dataset keys.

    Args:
        cfg (Config): A run config (``load_run_config``).
        data_root (str | Path): The shared set's folder.
        input_size (tuple): (w, h) crop size in pixels.
        datasets (dict): Loader name (``'train_dataloader'`` ...) -> dataset
            keys to set (``ann_file``, ``bbox_file`` ...).
        batch_size (int): Of every loader in ``datasets``.

    Returns:
        dict: The codec used.
    """
    w, h = input_size
    cfg.model.backbone.update(TINY_CONFIG_BACKBONE, img_size=(h, w))
    codec = dict(cfg.codec, input_size=(w, h), heatmap_size=(w // 4, h // 4))
    cfg.model.head.update(in_channels=32, deconv_out_channels=(16, 16),
                          decoder=codec)
    if 'paramwise_cfg' in cfg.optim_wrapper:  # the layer-decay recipes
        cfg.optim_wrapper.paramwise_cfg.num_layers = \
            TINY_CONFIG_BACKBONE['depth']
    for loader, extra in datasets.items():
        section = cfg[loader]
        section.update(batch_size=batch_size, num_workers=0,
                       persistent_workers=False)
        section.dataset.update({'data_root': str(data_root),
                                'data_prefix': dict(img=''), **extra})
        for step in section.dataset.pipeline:
            if step['type'] == 'TopdownAffine':
                step['input_size'] = codec['input_size']
            if step['type'] == 'GenerateTarget':
                step['encoder'] = codec
    return codec
