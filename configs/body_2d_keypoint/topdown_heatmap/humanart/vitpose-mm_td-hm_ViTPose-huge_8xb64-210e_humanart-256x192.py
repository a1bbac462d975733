# ViTPose-H (1280/32/16) on Human-Art, mmpose's size delta:
# drop path 0.55, layer decay 0.85.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_humanart-256x192.py']
model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.55),
    head=dict(in_channels=1280))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.85))
