# Knowledge-token and heatmap distillation together (the combined row of
# the ViTPose paper's distillation ablation, Sec. 3.4 / 4.2): the ViTPose-B
# student carries the frozen stage-1 token of ViTPose-L and learns the
# ground truth plus the teacher's heatmaps.
_base_ = ['./vitpose-mm_kd-heatmap_ViTPose-large-to-base_8xb64-210e_coco-256x192.py']

model = dict(
    knowledge_token='work_dirs/vitpose-mm_kd-token-stage1_ViTPose-large_8xb64-10e_'
    'coco-256x192/knowledge_token.pth')
