# Smoke run of the six-dataset ViTPose+ recipe on CPU: a tiny ViTPose+
# (64/2/4, 6 experts of 16 channels) from random init, a few iterations on
# the tiny real sets of ../shared/data (46 people: 14 COCO, 9 AIC, 5 MPII,
# 2 AP-10K, 2 "APT-36K", 14 COCO-WholeBody), then each dataset's metric on
# the same people with ground-truth boxes. It checks the wiring, not
# accuracy.
# There is no tiny APT-36K set: the AP-10K one (same format and keypoints)
# stands in, read by ViTPoseAPT36KDataset, so that expert 4 and its head run.
# MPII is scored by PCK@0.05 of the box size, as the tiny set has no head
# boxes for PCKh.
# The tools take `--cfg-options data_root=PATH/`; the default is relative to
# the repository root.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
# The lr is for one process of 16 samples (--auto-scale-lr).
auto_scale_lr = dict(base_batch_size=16)

data_root = '../shared/data/'

model = dict(
    backbone=dict(arch=None, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2,
                  part_features=16, drop_path_rate=0.),
    head=dict(in_channels=64, deconv_out_channels=(32, 32)))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=2))

# 3 iterations per epoch.
train_cfg = dict(max_epochs=3, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=3, start_factor=0.1, by_epoch=False),
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=-1))

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=[
        dict(type='CocoDataset', data_root=data_root + 'coco/',
             ann_file='test_coco.json', data_prefix=dict(img=''),
             pipeline={{_base_.coco_train_pipeline}}),
        dict(type='AicDataset', data_root=data_root + 'aic/',
             ann_file='test_aic.json', data_prefix=dict(img=''),
             pipeline={{_base_.aic_train_pipeline}}),
        dict(type='MpiiDataset', data_root=data_root + 'mpii/',
             ann_file='test_mpii.json', data_prefix=dict(img=''),
             pipeline={{_base_.mpii_train_pipeline}}),
        dict(type='AP10KDataset', data_root=data_root + 'ap10k/',
             ann_file='test_ap10k.json', data_prefix=dict(img=''),
             pipeline={{_base_.ap10k_train_pipeline}}),
        dict(type='ViTPoseAPT36KDataset', data_root=data_root + 'ap10k/',
             ann_file='test_ap10k.json', data_prefix=dict(img=''),
             pipeline={{_base_.apt36k_train_pipeline}}),
        dict(type='CocoWholeBodyDataset', data_root=data_root + 'coco/',
             ann_file='test_coco_wholebody.json', data_prefix=dict(img=''),
             pipeline={{_base_.wholebody_train_pipeline}}),
    ]))

val_coco = dict(
    type='CocoDataset', data_root=data_root + 'coco/',
    ann_file='test_coco.json', data_prefix=dict(img=''), test_mode=True,
    pipeline={{_base_.coco_val_pipeline}})
val_aic = dict(
    type='AicDataset', data_root=data_root + 'aic/', ann_file='test_aic.json',
    data_prefix=dict(img=''), test_mode=True,
    pipeline={{_base_.aic_val_pipeline}})
val_mpii = dict(
    type='MpiiDataset', data_root=data_root + 'mpii/',
    ann_file='test_mpii.json', data_prefix=dict(img=''), test_mode=True,
    pipeline={{_base_.mpii_val_pipeline}})
val_ap10k = dict(
    type='AP10KDataset', data_root=data_root + 'ap10k/',
    ann_file='test_ap10k.json', data_prefix=dict(img=''), test_mode=True,
    pipeline={{_base_.ap10k_val_pipeline}})
val_apt36k = dict(
    type='ViTPoseAPT36KDataset', data_root=data_root + 'ap10k/',
    ann_file='test_ap10k.json', data_prefix=dict(img=''), test_mode=True,
    pipeline={{_base_.apt36k_val_pipeline}})
val_wholebody = dict(
    type='CocoWholeBodyDataset', data_root=data_root + 'coco/',
    ann_file='test_coco_wholebody.json', data_prefix=dict(img=''),
    test_mode=True, pipeline={{_base_.wholebody_val_pipeline}})
val_datasets = [val_coco, val_aic, val_mpii, val_ap10k, val_apt36k,
                val_wholebody]
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=val_datasets))
test_dataloader = val_dataloader

val_evaluator = dict(
    metrics=[
        dict(type='CocoMetric', prefix='coco',
             ann_file=data_root + 'coco/test_coco.json'),
        dict(type='CocoMetric', prefix='aic', use_area=False,
             ann_file=data_root + 'aic/test_aic.json'),
        dict(type='PCKAccuracy', prefix='mpii', thr=0.05, norm_item='bbox'),
        dict(type='CocoMetric', prefix='ap10k',
             ann_file=data_root + 'ap10k/test_ap10k.json'),
        dict(type='CocoMetric', prefix='apt36k',
             ann_file=data_root + 'ap10k/test_ap10k.json'),
        dict(type='CocoWholeBodyMetric', prefix='wholebody',
             ann_file=data_root + 'coco/test_coco_wholebody.json'),
    ],
    datasets=val_datasets)
test_evaluator = val_evaluator
