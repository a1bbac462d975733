# The ViTPose optimiser, shared by the top-down and bottom-up bases (the
# original configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/
# ViTPose_*_coco_256x192.py): AdamW lr 5e-4, weight decay 0.1, layer-wise
# lr decay 0.75 over 12 blocks (the size configs change both), grad clip
# 1.0; the best checkpoint by COCO AP is kept. Each base sets its epochs,
# warm-up and lr steps (param_scheduler) and its batch size.
# AdamW runs torch's fused kernel (same update, one kernel per parameter
# group instead of a loop of element-wise ops; CPU and GPU): 'fused=True'.
_base_ = ['./default_runtime.py']

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1,
        fused=True),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2),
)
default_hooks = dict(
    checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=1))
