# Knowledge-token distillation, stage 2 (ViTPose paper, Sec. 3.4): the
# token learned on the frozen ViTPose-L in stage 1 is frozen, mapped to
# width 768 by a fixed norm-keeping projection, appended to the patch
# tokens of a ViTPose-B student, and the student trains with the full
# ViTPose-B recipe on the ground-truth loss. The token is used in training
# only; checkpoints hold the plain ViTPose-B, also exported weights-only to
# work_dirs/<this config>/student_only.pth.
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

model = dict(
    type='ViTPoseDistiller',
    knowledge_token='work_dirs/vitpose-mm_kd-token-stage1_ViTPose-large_8xb64-10e_'
    'coco-256x192/knowledge_token.pth')
custom_hooks = [dict(type='ViTPoseExportHook', filename='student_only.pth')]
