# Output (heatmap) distillation from a frozen ViTPose-B into a ViTPose-S
# student: MSE(S(X), K_gt) + 1.0 * MSE(S(X), T(X)), ViTPose-S recipe.
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py']

model = dict(
    type='ViTPoseDistiller',
    teacher=dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', arch='base',
                      img_size=(256, 192), qkv_bias=True),
        head=dict(type='HeatmapHead', in_channels=768, out_channels=17,
                  deconv_out_channels=(256, 256),
                  deconv_kernel_sizes=(4, 4))),
    teacher_checkpoint='checkpoints/vitpose-b_coco-256x192.pth',
    heatmap_distill_loss=dict(type='KeypointMSELoss', loss_weight=1.))
custom_hooks = [dict(type='ViTPoseExportHook', filename='student_only.pth')]
