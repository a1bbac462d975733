# ViTPose-H (1280/32/16) on InterHand2.6M: the original
# ViTPose_huge_interhand2d_all_256x192.py
# changes only the backbone size and the head's input channels (drop path
# stays 0.3; the recipe has no layer-wise decay).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-60e_interhand2d-256x192.py']
model = dict(backbone=dict(arch='huge'), head=dict(in_channels=1280))
