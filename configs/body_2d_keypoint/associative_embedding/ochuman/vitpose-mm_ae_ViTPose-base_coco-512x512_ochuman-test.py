# Test-only: the COCO-trained bottom-up ViTPose-B (AE) on OCHuman (heavy
# occlusion, COCO's 17 keypoints), whole images, no boxes. OCHuman has no
# training split for pose; use `tools/test.py` with a COCO checkpoint.
_base_ = ['../coco/vitpose-mm_ae_ViTPose-base_8xb32-300e_coco-512x512.py']

data_root = 'data/ochuman/'
val_dataloader = dict(
    dataset=dict(
        type='OCHumanDataset',
        data_root=data_root,
        ann_file='annotations/ochuman_coco_format_test_range_0.00_1.00.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root +
    'annotations/ochuman_coco_format_test_range_0.00_1.00.json')
test_evaluator = val_evaluator
