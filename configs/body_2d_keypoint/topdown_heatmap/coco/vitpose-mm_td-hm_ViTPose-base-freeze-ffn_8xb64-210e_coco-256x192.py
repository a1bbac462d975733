# Partial fine-tuning of ViTPose-B (ViTPose paper, Sec. 3.3 "finetuning"):
# the FFNs (norm2 + mlp) of all blocks, and, as in the original, the patch
# embedding and pos_embed keep their pre-trained weights; MHSA, last norm
# and head train. Meant to start from pre-trained weights
# (model.backbone.init_cfg).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(freeze_ffn=True))
