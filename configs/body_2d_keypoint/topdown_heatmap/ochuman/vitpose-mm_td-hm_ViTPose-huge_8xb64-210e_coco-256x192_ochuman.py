# ViTPose-H (1280/32/16) trained on COCO, tested on OCHuman; the original
# keeps drop path 0.3 at every size.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192_ochuman.py']
model = dict(backbone=dict(arch='huge'), head=dict(in_channels=1280))
