# Fine-tuning a COCO-trained ViTPose on MPII's 16 keypoints (docs/finetune.md):
# the main-job model's backbone and deconvolutions are loaded from
# `load_from`; its 17-row final layer cannot fit 16 keypoints, so it is
# re-initialised, and the 12 body joints both sets have start from the
# checkpoint's rows (keypoint_map: (COCO index, MPII index) pairs; pelvis,
# thorax, upper neck and head top have no COCO twin and start random).
#   python -m vitpose_mm.tools.train THIS_CONFIG \
#       --cfg-options load_from=work_dirs/main_job/epoch_100.pth
# On the tiny shared MPII set (5 people) the model is trained and evaluated
# on the same people, with their boxes; PCK normalised by the box (PCKh
# needs MPII's head boxes, which that set does not carry).
_base_ = ['../coco_tiny/vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py']

load_from = None  # the COCO checkpoint: set it, e.g. with --cfg-options
fine_tune = dict(keypoint_map=[
    (16, 0), (14, 1), (12, 2), (11, 3), (13, 4), (15, 5),  # legs, hips
    (10, 10), (8, 11), (6, 12), (5, 13), (7, 14), (9, 15),  # arms
])
train_cfg = dict(max_epochs=30, val_interval=10)
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
model = dict(head=dict(out_channels=16))

data_root = '../shared/data/mpii/'
dataset = dict(
    type='MpiiDataset',
    data_mode='topdown',
    data_root=data_root,
    ann_file='test_mpii.json',
    data_prefix=dict(img=''))
auto_scale_lr = dict(base_batch_size=5)
train_dataloader = dict(batch_size=5, dataset=dataset)
val_dataloader = dict(batch_size=5, dataset=dict(dataset, bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PCKAccuracy', thr=0.2)
test_evaluator = val_evaluator
