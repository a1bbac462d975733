# Bottom-up ViTPose (AE) small enough for a 2-core CPU: 192/4/6 at
# 384x384 with 64-channel deconvolutions (96x96 heatmaps), from random
# init, on the tiny real COCO set of ../shared/data/coco (4 images, 14
# annotated people), trained and evaluated on the same images without
# ground-truth boxes. benchmarks/overfit_bottomup_tiny.py drives it. One
# iteration of the 4 images per epoch. Whole images, long side fitted into
# 384 and padded, in training (scale_type='long', no random affine: the run
# memorises 4 images) and in testing (resize_mode='fit'); no drop
# path and no layer-wise lr decay (nothing is pretrained), a high lr and a
# tag loss weight of 1e-2 instead of 1e-3 (with 1e-3 the tags of all
# people stay equal for 150+ epochs and AP stays near 0). The tools take
# `--cfg-options data_root=PATH/`; the default is relative to the
# repository root.
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']

train_cfg = dict(max_epochs=600, val_interval=25)
optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(num_layers=4, layer_decay_rate=1.0))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=600, milestones=[550], gamma=0.1,
         by_epoch=True),
]
# The lr above is for one process of 4 images (--auto-scale-lr).
auto_scale_lr = dict(base_batch_size=4)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=-1))

codec = dict(
    _base_.codec, input_size=(384, 384), heatmap_size=(96, 96))
model = dict(
    backbone=dict(
        arch=None,
        embed_dim=192,
        depth=4,
        num_heads=6,
        img_size=(384, 384),
        drop_path_rate=0.),
    head=dict(
        in_channels=192,
        deconv_out_channels=(64, 64),
        tag_loss=dict(type='ViTPoseAELoss', loss_weight=1e-2),
        decoder=dict(codec, heatmap_size=codec['input_size'])))

data_root = '../shared/data/coco/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(
        type='BottomupRandomAffine',
        input_size=codec['input_size'],
        scale_type='long',
        shift_factor=0.,
        scale_factor=(1.0, 1.0),
        rotate_factor=0.,
        shear_factor=0.),
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
        resize_mode='fit'),
    dict(
        type='PackPoseInputs',
        meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                   'img_shape', 'input_size', 'input_center', 'input_scale',
                   'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                   'skeleton_links')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
