# ViTPose-B on CrowdPose alone (the original crowdpose/
# ViTPose_base_crowdpose_256x192.py: no UDP, half-body crops of people with
# more than 6 visible keypoints), 14 keypoints, mmpose's CrowdPoseDataset
# and CocoMetric with the crowd IoU (AP easy / medium / hard), detection
# boxes at test time.
_base_ = ['../../../_base_/vitpose_single-dataset-msra-256x192.py']

data_root = 'data/crowdpose/'
model = dict(head=dict(out_channels=14))
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))
train_dataloader = dict(
    dataset=dict(
        type='CrowdPoseDataset', data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/'),
        pipeline=[
            dict(t, min_total_keypoints=7) if t['type'] == 'RandomHalfBody'
            else t for t in _base_.train_pipeline
        ]))
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
