# Stage 2 on the real tiny COCO set: a 96/4/4 student (half the width of the
# 192/4/6 teacher, so the token goes through the fixed width projection)
# learns from random init with the frozen stage-1 token and the teacher's
# heatmaps, then is evaluated with CocoMetric as a plain ViTPose. A smoke
# run, not a benchmark.
_base_ = ['../coco_tiny/vitpose-mm_td-hm_ViTPose-tiny_1xb14-300e_coco-tiny-overfit-'
          '128x96.py']

model = dict(
    type='ViTPoseDistiller',
    backbone=dict(embed_dim=96, depth=4, num_heads=4),
    head=dict(in_channels=96),
    teacher=dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', embed_dim=192, depth=4,
                      num_heads=6, img_size=(128, 96), qkv_bias=True),
        head=dict(type='HeatmapHead', in_channels=192, out_channels=17,
                  deconv_out_channels=(64, 64),
                  deconv_kernel_sizes=(4, 4))),
    teacher_checkpoint='work_dirs/teacher_tiny.pth',
    knowledge_token='work_dirs/vitpose-mm_kd-token-stage1_ViTPose-tiny_1xb14-20e_'
    'coco-tiny-128x96/knowledge_token.pth',
    heatmap_distill_loss=dict(type='KeypointMSELoss', loss_weight=1.))

train_cfg = dict(max_epochs=100, val_interval=25)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01,
         by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=100, milestones=[80], gamma=0.1,
         by_epoch=True),
]
custom_hooks = [dict(type='ViTPoseExportHook', filename='student_only.pth')]
