# 8x8 window attention at 1/8 resolution with Swin's shifted windows:
# every second block shifts its windows by 4 tokens (ViTPose paper,
# Sec. 3.3, the "shift window" mechanism).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base-ratio2-window_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(attn_types=['window', 'shift_window'] * 6))
