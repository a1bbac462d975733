# Knowledge-token distillation, stage 1, with a frozen ViTPose-B teacher
# (for a ViTPose-S student): the ViTPose-L stage-1 config with the
# ViTPose-B size delta.
_base_ = ['./vitpose-mm_kd-token-stage1_ViTPose-large_8xb64-10e_coco-256x192.py']

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.3),
    head=dict(in_channels=768),
    teacher_checkpoint='checkpoints/vitpose-b_coco-256x192.pth')
optim_wrapper = dict(paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75))
