# Bottom-up ViTPose-B (AE) on CrowdPose at 512x512: the COCO base with 14
# keypoints, CrowdPose's grouping order (top of head, neck, shoulders, hips,
# then the limbs) and CrowdPose's metric (AP by crowd index, no boxes).
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']

codec = dict(
    _base_.codec,
    decode_keypoint_order=[12, 13, 0, 1, 6, 7, 2, 3, 4, 5, 8, 9, 10, 11])
model = dict(
    head=dict(
        num_keypoints=14,
        decoder=dict(codec, heatmap_size=codec['input_size'])))

data_root = 'data/crowdpose/'
dataset_type = 'CrowdPoseDataset'
# The base's training pipeline with this codec's targets (mmengine
# replaces lists whole, so the base's one still holds the base's codec).
train_pipeline = [
    dict(step, encoder=codec) if step['type'] == 'GenerateTarget' else step
    for step in _base_.train_pipeline
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_test.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
    nms_mode='none',
    score_mode='bbox',
    use_area=False,
    iou_type='keypoints_crowd',
    prefix='crowdpose')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))
