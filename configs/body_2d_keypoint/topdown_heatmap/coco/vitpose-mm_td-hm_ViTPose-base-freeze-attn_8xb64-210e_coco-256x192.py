# Partial fine-tuning of ViTPose-B (ViTPose paper, Sec. 3.3 "finetuning"
# and its partial-finetuning ablation): the MHSA modules (norm1 + attn) of
# all blocks keep their pre-trained weights; FFNs, last norm and head
# train. Frozen parameters stay in eval mode and get no optimizer state.
# Meant to start from pre-trained weights (model.backbone.init_cfg).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

model = dict(backbone=dict(freeze_attn=True))
