# Bottom-up ViTPose-B with associative embedding (AE) on COCO at 512x512:
# the whole image, no person detector. The size configs under
# configs/body_2d_keypoint/associative_embedding/coco/ are deltas on this
# file (backbone arch, drop path, layer decay, head width).
# What the ViTPose++ paper fixes and what we chose: see the docstring of
# vitpose_mm/models/heads/ae_head.py. The optimiser and layer-wise decay are
# the top-down ViTPose ones (vitpose_optimizer.py); the schedule is
# AE-HRNet's (mmpose, 300 epochs, steps at 200 and 260).
_base_ = ['./vitpose_optimizer.py']

train_cfg = dict(max_epochs=300, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=300, milestones=[200, 260],
         gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=256)

# One codec for the targets (128x128 heatmaps, 1/4 of the input) and, at
# the input size, for decoding (the head restores the heatmaps to the
# image size first, as mmpose's AE-HRNet config).
codec = dict(
    type='ViTPoseAssociativeEmbedding',
    input_size=(512, 512),
    heatmap_size=(128, 128),
    sigma=2,
    decode_topk=30,
    decode_center_shift=0.5,
    decode_keypoint_order=[
        0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16
    ],
    decode_max_instances=30)

model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ViTPoseBackbone',
        arch='base',
        img_size=(512, 512),
        patch_size=16,
        qkv_bias=True,
        drop_path_rate=0.3,
        # Test images keep their aspect ratio (BottomupResize 'expand').
        dynamic_img_size=True),
    head=dict(
        type='ViTPoseAEHead',
        in_channels=768,
        num_keypoints=17,
        tag_dim=1,
        decoder=dict(codec, heatmap_size=codec['input_size'])),
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        shift_heatmap=False,
        restore_heatmap_size=True,
        align_corners=False))

data_root = 'data/coco/'
dataset_type = 'CocoDataset'
data_mode = 'bottomup'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='ViTPoseBottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(
        type='BottomupResize',
        input_size=codec['input_size'],
        size_factor=32,
        resize_mode='expand'),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                   'img_shape', 'input_size', 'input_center', 'input_scale',
                   'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                   'skeleton_links')),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
# Test images differ in size: one per batch.
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# No ground-truth boxes: instance scores come from the grouped keypoints.
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json',
    nms_mode='none',
    score_mode='bbox')
test_evaluator = val_evaluator
