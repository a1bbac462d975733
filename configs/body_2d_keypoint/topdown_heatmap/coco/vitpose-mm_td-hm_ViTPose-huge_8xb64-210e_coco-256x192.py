# ViTPose-H (1280/32/16), classic decoder: drop path 0.55, layer decay 0.85.
_base_ = ['../../../_base_/vitpose_coco-256x192.py']
model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.55),
    head=dict(in_channels=1280))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.85))
