# Main-job config (scripts/main_job.sh): a ViTPose narrower and shallower
# than ViTPose-S (192/4/6, classic decoder with 64-channel deconvolutions)
# at 128x96, from random init, for a few minutes on a 2-core CPU, on the
# tiny real COCO set of ../shared/data/coco (4 images, 14 annotated
# people); trained and evaluated on the same people with their ground-truth
# boxes. ViTPose-S at 256x192 is many times slower an iteration there and
# still had AP 0 after 20 iterations; this model learns visibly in 100.
# Learning from scratch on 14 people: no drop path, no half-body crops,
# mild box jitter, a high lr without layer-wise decay (no pretrained layers
# to protect). The tools take `--cfg-options data_root=PATH/`; the default
# is relative to the repository root.
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py']

# One iteration per epoch: warm-up in iterations, steps in epochs.
train_cfg = dict(max_epochs=100, val_interval=25)
optim_wrapper = dict(
    # AdamW's fused kernel comes from the base config.
    optimizer=dict(lr=3e-3, weight_decay=0.01),
    paramwise_cfg=dict(num_layers=4, layer_decay_rate=1.0))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=100,
        milestones=[90],
        gamma=0.1,
        by_epoch=True),
]
# The lr above is for one process of 14 samples (--auto-scale-lr).
auto_scale_lr = dict(base_batch_size=14)
# The last checkpoint and the best one.
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=-1))

codec = dict(
    type='ViTPoseUDPHeatmap',
    input_size=(96, 128),
    heatmap_size=(24, 32),
    sigma=2)
model = dict(
    backbone=dict(
        arch=None,
        embed_dim=192,
        depth=4,
        num_heads=6,
        img_size=(128, 96),
        drop_path_rate=0.),
    head=dict(in_channels=192, deconv_out_channels=(64, 64), decoder=codec))

data_root = '../shared/data/coco/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.05,
        scale_factor=(0.95, 1.05),
        rotate_factor=5.),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=14,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=14,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='test_coco.json',
        bbox_file=None,
        data_prefix=dict(img=''),
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
