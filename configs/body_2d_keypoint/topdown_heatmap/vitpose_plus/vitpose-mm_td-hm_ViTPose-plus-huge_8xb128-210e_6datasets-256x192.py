# ViTPose+-H (1280/32/16, 6 experts of 320 channels): drop path 0.55, layer
# decay 0.8 over 32 layers.
_base_ = ['./_base_/vitpose-plus_6datasets-256x192.py']
model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.55),
    head=dict(in_channels=1280))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.8))
