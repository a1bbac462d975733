# Output (heatmap) distillation (ViTPose paper, Sec. 3.4): a ViTPose-B
# student learns the ground truth and the heatmaps of a frozen ViTPose-L on
# the same input, MSE(S(X), K_gt) + 1.0 * MSE(S(X), T(X)); full ViTPose-B
# recipe. The teacher is built from this dict and loaded from
# teacher_checkpoint; it is neither trained nor saved: checkpoints hold the
# plain ViTPose-B, also exported weights-only to student_only.pth.
_base_ = ['../coco/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py']

model = dict(
    type='ViTPoseDistiller',
    teacher=dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', arch='large',
                      img_size=(256, 192), qkv_bias=True),
        head=dict(type='HeatmapHead', in_channels=1024, out_channels=17,
                  deconv_out_channels=(256, 256),
                  deconv_kernel_sizes=(4, 4))),
    teacher_checkpoint='checkpoints/vitpose-l_coco-256x192.pth',
    heatmap_distill_loss=dict(type='KeypointMSELoss', loss_weight=1.))
custom_hooks = [dict(type='ViTPoseExportHook', filename='student_only.pth')]
