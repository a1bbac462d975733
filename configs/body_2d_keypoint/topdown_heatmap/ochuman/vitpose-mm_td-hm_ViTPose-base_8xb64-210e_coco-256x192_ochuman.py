# ViTPose-B trained on COCO, validated and tested on OCHuman (heavy
# occlusion; COCO's 17 keypoints and OKS sigmas) with ground-truth boxes:
# the original ochuman/ViTPose_base_ochuman_256x192.py (COCO train2017,
# no UDP, OCHuman val for model selection, OCHuman test for the numbers).
# OCHuman has no pose training split. mmpose's OCHumanDataset and
# CocoMetric, reported as ochuman/AP.
_base_ = ['../../../_base_/vitpose_single-dataset-msra-256x192.py']

data_root = 'data/ochuman/'
default_hooks = dict(checkpoint=dict(save_best='ochuman/AP'))
val_dataloader = dict(
    dataset=dict(
        type='OCHumanDataset', data_root=data_root,
        ann_file='annotations/ochuman_coco_format_val_range_0.00_1.00.json',
        bbox_file=None, data_prefix=dict(img='images/')))
test_dataloader = dict(
    dataset=dict(
        type='OCHumanDataset', data_root=data_root,
        ann_file='annotations/ochuman_coco_format_test_range_0.00_1.00.json',
        bbox_file=None, data_prefix=dict(img='images/')))
val_evaluator = dict(
    ann_file=data_root +
    'annotations/ochuman_coco_format_val_range_0.00_1.00.json',
    prefix='ochuman')
test_evaluator = dict(
    ann_file=data_root +
    'annotations/ochuman_coco_format_test_range_0.00_1.00.json',
    prefix='ochuman')
