# ViTPose-B at 1/8 feature resolution (32x24 tokens) with 8x8 window
# attention in every block, relative position embeddings inside windows
# (ViTPose paper, Sec. 3.3 "attention type"; the "window" row of its
# attention-type ablation). No exchange between windows: the baseline that
# the shifted and pooling windows improve on.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base-ratio2_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(attn_types='window', window_size=8))
