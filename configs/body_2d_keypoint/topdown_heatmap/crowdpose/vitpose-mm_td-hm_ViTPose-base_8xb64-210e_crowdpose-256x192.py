# ViTPose-B on CrowdPose alone (the original crowdpose/
# ViTPose_base_crowdpose_256x192.py), 14 keypoints, mmpose's
# CrowdPoseDataset and CocoMetric with the crowd IoU (AP easy / medium /
# hard), detection boxes at test time.
_base_ = ['../../../_base_/vitpose_single-dataset-256x192.py']

data_root = 'data/crowdpose/'
model = dict(head=dict(out_channels=14))
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))
train_dataloader = dict(
    dataset=dict(
        type='CrowdPoseDataset', data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        type='CrowdPoseDataset', data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_test.json',
        bbox_file=data_root + 'annotations/det_for_crowd_test_0.1_0.5.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
    use_area=False, iou_type='keypoints_crowd', prefix='crowdpose')
test_evaluator = val_evaluator
