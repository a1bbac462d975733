# Knowledge-token distillation, stage 1 (ViTPose paper, Sec. 3.4): one
# learnable token is appended to the patch tokens of a trained ViTPose-L,
# which stays frozen (eval mode, no gradients, no optimizer state), and only
# the token learns, on the COCO ground-truth heatmap loss. The paper trains
# it "for several epochs"; 10 epochs at the base lr (the token is a head-
# level parameter for the layer-decay constructor and is not weight-
# decayed) are our choice. The token is written to
# work_dirs/<this config>/knowledge_token.pth for stage 2.
# teacher_checkpoint: a weights-only ViTPose-L file (a released original
# checkpoint, or a training checkpoint converted with
# `python -m vitpose_mm.tools.convert_checkpoint SRC DST --unsafe-pickle`).
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-large_8xb64-210e_coco-256x192.py']

model = dict(
    type='ViTPoseKnowledgeTokenLearner',
    teacher_checkpoint='checkpoints/vitpose-l_coco-256x192.pth',
    num_tokens=1)

train_cfg = dict(max_epochs=10, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=10, milestones=[8], gamma=0.1,
         by_epoch=True),
]
custom_hooks = [dict(type='ViTPoseExportHook', filename='knowledge_token.pth')]
