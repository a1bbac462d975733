# ViTPose-B at 576x432 (ViTPose paper, Sec. 3.3 "resolution"; the paper's
# largest input, used by ViTPose-G): a 36x27 token grid, 972 tokens. Same
# delta as the 384x288 config; sigma grows with the heatmap (2 at 64x48 ->
# 4.5 at 144x108), the DARK blur kernel with it (6 * sigma, odd: 27).
# A 256x192 or 384x288 ViTPose checkpoint loads with its pos_embed resized
# to 36x27.
_base_ = ['./vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-384x288.py']

codec = dict(
    type='ViTPoseUDPHeatmap', input_size=(432, 576), heatmap_size=(108, 144),
    sigma=4.5, blur_kernel_size=27)
model = dict(
    backbone=dict(img_size=(576, 432)), head=dict(decoder=codec))

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
