# ViTPose-B on MPII alone (the original mpii/ViTPose_base_mpii_256x192.py:
# UDP targets, no half-body crops, flip test without shift, ground-truth
# boxes), 16 keypoints, mmpose's MpiiDataset and PCKh metric
# (MpiiPCKAccuracy, head-normalised, reported as 'PCK' in percent).
_base_ = ['../../../_base_/vitpose_single-dataset-256x192.py']

data_root = 'data/mpii/'
model = dict(head=dict(out_channels=16))
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
train_dataloader = dict(
    dataset=dict(
        type='MpiiDataset', data_root=data_root,
        ann_file='annotations/mpii_train.json',
        data_prefix=dict(img='images/'),
        pipeline=[
            t for t in _base_.train_pipeline if t['type'] != 'RandomHalfBody'
        ]))
val_dataloader = dict(
    dataset=dict(
        type='MpiiDataset', data_root=data_root,
        ann_file='annotations/mpii_val.json',
        headbox_file=data_root + 'annotations/mpii_gt_val.mat',
        bbox_file=None, data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='MpiiPCKAccuracy')
test_evaluator = val_evaluator
