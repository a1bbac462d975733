# ViTPose-B at 384x288 (ViTPose paper, Sec. 3.3 "resolution" and the
# input-resolution ablation of Sec. 4.2): a 24x18 token grid. The codec,
# the two codec-dependent transforms and the head decoder follow the input
# size; sigma and the DARK blur kernel grow with the heatmap as in mmpose's
# 384x288 configs (sigma 3, kernel 17). Start from MAE weights through
# model.backbone.init_cfg, or fine-tune a 256x192 ViTPose checkpoint with
# load_from: the backbone resizes pos_embed from 16x12 to 24x18 when it
# loads it (ViTPoseBackbone.fit_pos_embed).
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

codec = dict(
    type='ViTPoseUDPHeatmap', input_size=(288, 384), heatmap_size=(72, 96),
    sigma=3, blur_kernel_size=17)
model = dict(
    backbone=dict(img_size=(384, 288)), head=dict(decoder=codec))

train_pipeline = [
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine'
    else dict(t, encoder=codec) if t['type'] == 'GenerateTarget' else t
    for t in _base_.train_pipeline
]
val_pipeline = [
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine'
    else t for t in _base_.val_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
