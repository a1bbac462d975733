# The original repo's ViTPose hand recipe (configs/hand/2d_kpt_sview_rgb_img/
# topdown_heatmap/interhand2d/ViTPose_*_interhand2d_all_256x192.py), its only
# hand task: the single-dataset optimiser (plain Adam lr 5e-4, no weight or
# layer-wise decay, no gradient clipping, 500 warm-up iterations), best kept
# by AUC; the schedule is the dataset config's (the base's 210 epochs, or
# InterHand2.6M's 60).
# Unlike the body recipe there is no UDP: plain (MSRA) Gaussian targets,
# sigma 2, the quarter-offset decoder (0.x post_process='default') and a
# flip test with the heatmap shift (shift_heatmap=True); no half-body
# augmentation, rotation up to 0.x's rot_factor=90 (mmpose 1.x's port of the
# hand configs writes it rotate_factor=180) and scale 0.7-1.3; crops are the
# hand box padded 1.5x (0.x InterHand2DDataset's padding). Metrics: mmpose's
# PCK@0.2 of the box size, AUC up to 30 pixels and EPE in pixels. Each dataset
# config sets its data; 21 keypoints.
_base_ = ['./vitpose_single-dataset-256x192.py']

default_hooks = dict(checkpoint=dict(save_best='AUC', rule='greater'))

codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
    sigma=2)
model = dict(
    head=dict(out_channels=21, decoder=codec),
    test_cfg=dict(shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.5),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=180,
         scale_factor=(0.7, 1.3)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.5),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# Ground-truth hand boxes at test time (no detector, as the original).
val_dataloader = dict(dataset=dict(bbox_file=None, pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='PCKAccuracy', thr=0.2),
    dict(type='AUC'),
    dict(type='EPE'),
]
test_evaluator = val_evaluator
