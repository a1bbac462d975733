# ViTPose-S (384/12/12) on AIC: the original keeps drop path 0.3.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_aic-256x192.py']
model = dict(backbone=dict(arch='small'), head=dict(in_channels=384))
