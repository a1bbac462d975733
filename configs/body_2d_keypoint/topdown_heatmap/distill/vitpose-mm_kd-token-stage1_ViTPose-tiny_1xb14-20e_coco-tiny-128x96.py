# Stage 1 of knowledge-token distillation on the real tiny COCO set
# (../shared/data/coco, 14 people) for a CPU run in about a minute: the
# teacher is the 192/4/6 ViTPose of the overfit config, trained first (e.g.
# by benchmarks/overfit_coco_tiny.py) and converted to a weights-only file
# (python -m vitpose_mm.tools.convert_checkpoint CKPT
# work_dirs/teacher_tiny.pth --unsafe-pickle). A smoke run of the two-stage
# recipe, not a benchmark.
_base_ = ['../coco_tiny/vitpose-mm_td-hm_ViTPose-tiny_1xb14-300e_coco-tiny-overfit-'
          '128x96.py']

model = dict(
    type='ViTPoseKnowledgeTokenLearner',
    teacher_checkpoint='work_dirs/teacher_tiny.pth',
    num_tokens=1)

train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=5, start_factor=0.1, by_epoch=False)
]
default_hooks = dict(logger=dict(interval=5))
custom_hooks = [dict(type='ViTPoseExportHook', filename='knowledge_token.pth')]
