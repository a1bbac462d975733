# Bottom-up ViTPose-L (1024/24/16), AE: drop path 0.5, layer decay 0.8.
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.5),
    head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.8))
