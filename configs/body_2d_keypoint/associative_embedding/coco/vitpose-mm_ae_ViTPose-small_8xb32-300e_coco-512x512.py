# Bottom-up ViTPose-S (384/12/12), AE: drop path 0.1, layer decay 0.8.
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    head=dict(in_channels=384))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.8))
