# Bottom-up ViTPose-B with mmpose's DEKR head (disentangled keypoint
# regression) instead of associative embedding: the same backbone, data,
# optimiser and schedule as the AE base, so groupings compare on one ViT.
# The ViT's 1/16 map reaches the head's 1/4 resolution through mmpose's
# FeatureMapProcessor (ReLU + bilinear x4, the ViTPose simple decoder's
# upsampling), as ViTPoseUpsampleNeck (contiguous output for DEKR's
# deformable convolutions). Codec, losses and test settings are mmpose's
# DEKR-HRNet-w32 ones; its keypoint rescore net is left out (its weights
# are a download trained on HRNet outputs).
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']

codec = dict(
    type='SPR',
    input_size=(512, 512),
    heatmap_size=(128, 128),
    sigma=(4, 2),
    minimal_diagonal_length=32**0.5,
    generate_keypoint_heatmaps=True,
    decode_max_instances=30)
model = dict(
    neck=dict(type='ViTPoseUpsampleNeck', scale_factor=4.0),
    head=dict(
        _delete_=True,
        type='DEKRHead',
        in_channels=768,
        num_keypoints=17,
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(
            type='SoftWeightSmoothL1Loss',
            use_target_weight=True,
            supervise_empty=False,
            beta=1 / 9,
            loss_weight=0.002),
        decoder=codec),
    test_cfg=dict(
        _delete_=True,
        multiscale_test=False,
        flip_test=True,
        nms_dist_thr=0.05,
        shift_heatmap=True,
        align_corners=False))

# The base's training pipeline with this codec's targets (mmengine
# replaces lists whole, so the base's one still holds the base's codec).
train_pipeline = [
    dict(step, encoder=codec) if step['type'] == 'GenerateTarget' else step
    for step in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(score_mode='keypoint')
test_evaluator = val_evaluator
