# 8x8 window attention at 1/8 resolution with pooling windows: each window
# also attends to the average-pooled key/value of every window (ViTPose
# paper, Sec. 3.3, the "pooling window" mechanism; 12 extra keys per
# window on the 4x3 window grid).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base-ratio2-window_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(attn_types='pool_window'))
