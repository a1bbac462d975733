# ViTPose-L (1024/24/16) on Human-Art, mmpose's size delta:
# drop path 0.5, layer decay 0.8.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_humanart-256x192.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.5),
    head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.8))
