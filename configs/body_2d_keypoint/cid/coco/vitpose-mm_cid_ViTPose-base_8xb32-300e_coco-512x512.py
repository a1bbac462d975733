# Bottom-up ViTPose-B with mmpose's CID head (contextual instance
# decoupling) instead of associative embedding: the same backbone, data,
# optimiser and schedule as the AE base, so groupings compare on one ViT.
# The ViT's 1/16 map reaches the head's 1/4 resolution through mmpose's
# FeatureMapProcessor (ReLU + bilinear x4), as ViTPoseUpsampleNeck. Codec,
# losses and test settings are mmpose's CID-HRNet-w32 ones.
_base_ = ['../../../_base_/vitpose_ae_coco-512x512.py']

codec = dict(
    type='DecoupledHeatmap', input_size=(512, 512), heatmap_size=(128, 128))
model = dict(
    neck=dict(type='ViTPoseUpsampleNeck', scale_factor=4.0),
    head=dict(
        _delete_=True,
        type='CIDHead',
        in_channels=768,
        num_keypoints=17,
        gfd_channels=32,
        coupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        decoupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        contrastive_loss=dict(
            type='InfoNCELoss', temperature=0.05, loss_weight=1.0),
        decoder=codec),
    train_cfg=dict(max_train_instances=200),
    test_cfg=dict(
        _delete_=True,
        multiscale_test=False,
        flip_test=True,
        shift_heatmap=False,
        align_corners=False))

# The base's training pipeline with this codec's targets (mmengine
# replaces lists whole, so the base's one still holds the base's codec).
train_pipeline = [
    dict(step, encoder=codec) if step['type'] == 'GenerateTarget' else step
    for step in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(nms_mode='oks_nms', nms_thr=0.8, score_mode='keypoint')
test_evaluator = val_evaluator
