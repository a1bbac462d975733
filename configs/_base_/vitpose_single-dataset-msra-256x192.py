# The original repo's single-dataset recipe without UDP, as its AIC,
# CrowdPose and OCHuman configs have it (configs/body/2d_kpt_sview_rgb_img/
# topdown_heatmap/{aic,crowdpose,ochuman}/ViTPose_*_256x192.py): plain
# TopDownAffine and TopDownGenerateTarget(sigma=2), i.e. mmpose's
# MSRAHeatmap targets and quarter-offset decoding (post_process='default'),
# and a flip test that shifts the flipped heatmap one pixel
# (shift_heatmap=True). The Adam schedule is the single-dataset base's.
_base_ = ['./vitpose_single-dataset-256x192.py']

codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
    sigma=2)
model = dict(
    head=dict(decoder=codec),
    test_cfg=dict(shift_heatmap=True))

train_pipeline = [
    dict(t, use_udp=False) if t['type'] == 'TopdownAffine'
    else dict(t, encoder=codec) if t['type'] == 'GenerateTarget' else t
    for t in _base_.train_pipeline
]
val_pipeline = [
    dict(t, use_udp=False) if t['type'] == 'TopdownAffine' else t
    for t in _base_.val_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
