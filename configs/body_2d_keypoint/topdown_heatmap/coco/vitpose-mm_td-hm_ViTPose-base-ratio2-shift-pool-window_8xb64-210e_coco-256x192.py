# 8x8 window attention at 1/8 resolution with both mechanisms of the
# ViTPose paper (Sec. 3.3): pooled keys in every block, windows shifted by
# 4 tokens in every second block.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base-ratio2-window_8xb64-210e_coco-256x192.py']

model = dict(
    backbone=dict(attn_types=['pool_window', 'shift_pool_window'] * 6))
