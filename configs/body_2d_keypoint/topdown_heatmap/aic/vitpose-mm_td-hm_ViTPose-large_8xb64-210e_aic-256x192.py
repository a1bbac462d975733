# ViTPose-L (1024/24/16) on AIC, drop path 0.55 as the original.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_aic-256x192.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.55),
    head=dict(in_channels=1024))
