# Overfit config of benchmarks/overfit_coco_tiny.py: the main-job model
# trained until COCO AP on the 14 people it learns from (ground-truth boxes,
# flip test) is >= 0.7, usually by epoch 150-200, where the benchmark
# stops. The lr stays high until then.
_base_ = ['./vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py']

train_cfg = dict(max_epochs=300, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=300,
        milestones=[250, 285],
        gamma=0.1,
        by_epoch=True),
]
