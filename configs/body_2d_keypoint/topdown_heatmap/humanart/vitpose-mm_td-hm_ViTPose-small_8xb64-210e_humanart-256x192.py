# ViTPose-S (384/12/12) on Human-Art, mmpose's size delta:
# drop path 0.1, layer decay 0.8.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_humanart-256x192.py']
model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    head=dict(in_channels=384))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.8))
