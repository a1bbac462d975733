# Knowledge-token and heatmap distillation together, ViTPose-B -> ViTPose-S.
_base_ = ['./vitpose-mm_kd-heatmap_ViTPose-base-to-small_8xb64-210e_coco-256x192.py']

model = dict(
    knowledge_token='work_dirs/vitpose-mm_kd-token-stage1_ViTPose-base_8xb64-10e_'
    'coco-256x192/knowledge_token.pth')
