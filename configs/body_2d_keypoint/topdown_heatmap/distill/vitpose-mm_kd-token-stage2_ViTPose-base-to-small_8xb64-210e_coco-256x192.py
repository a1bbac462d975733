# Knowledge-token distillation, stage 2: the frozen token of ViTPose-B
# (stage 1), mapped from width 768 to 384, is appended to the tokens of a
# ViTPose-S student trained with the ViTPose-S recipe.
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py']

model = dict(
    type='ViTPoseDistiller',
    knowledge_token='work_dirs/vitpose-mm_kd-token-stage1_ViTPose-base_8xb64-10e_'
    'coco-256x192/knowledge_token.pth')
custom_hooks = [dict(type='ViTPoseExportHook', filename='student_only.pth')]
