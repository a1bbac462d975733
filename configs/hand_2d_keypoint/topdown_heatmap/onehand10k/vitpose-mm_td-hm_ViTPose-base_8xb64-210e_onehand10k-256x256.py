# ViTPose-B on OneHand10K. The original repo has no OneHand10K config, so
# this is its hand recipe (vitpose_hand-256x192.py: Adam, MSRA targets,
# shifted flip test, PCK / AUC / EPE) with mmpose 1.3.2's OneHand10K recipe
# where they differ (configs/hand_2d_keypoint/topdown_heatmap/onehand10k/
# td-hm_hrnetv2-w18_8xb64-210e_onehand10k-256x256.py): 256x256 input (a
# 16x16 token grid), 64x64 heatmaps, the annotation's hand box padded 1.25x,
# the base's 210 epochs with steps at 170 and 200. mmpose's OneHand10KDataset.
_base_ = ['../../../_base_/vitpose_hand-256x192.py']

codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64),
    sigma=2)
model = dict(backbone=dict(img_size=(256, 256)), head=dict(decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=180,
         scale_factor=(0.7, 1.3)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
dataset_type = 'OneHand10KDataset'
data_root = 'data/onehand10k/'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/onehand10k_train.json',
        data_prefix=dict(img=''), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root,
        ann_file='annotations/onehand10k_test.json',
        data_prefix=dict(img=''), pipeline=val_pipeline))
test_dataloader = val_dataloader
