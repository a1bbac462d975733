# ViTPose+ six-dataset recipe (ViTPose++, TPAMI'23, Sec. 3.4): one ViTPose+
# backbone whose FFNs have one expert per dataset, one heatmap head per
# dataset, trained jointly on COCO, AIC, MPII, AP-10K, APT-36K and
# COCO-WholeBody. From the original configs/body/2d_kpt_sview_rgb_img/
# topdown_heatmap/coco/vitPose+_*_coco+aic+mpii+ap10k+apt36k+wholebody_
# 256x192_udp.py: AdamW lr 1e-3, weight decay 0.1, layer-wise lr decay, 210
# epochs with steps at 170 and 200, 500 warm-up iterations, grad clip 1.0,
# 128 samples per GPU (8 GPUs assumed by auto_scale_lr, as in the COCO
# recipe), datasets concatenated (sampled in proportion to their size).
# ViTPose+-B here; the other sizes are deltas.
#
# Expert / head order is that of the released checkpoints:
# 0 coco (17 keypoints), 1 aic (14), 2 mpii (16), 3 ap10k (17),
# 4 apt36k (17), 5 wholebody (133).
#
# On purpose unlike the original: every train pipeline uses UDP (the
# original's AIC, AP-10K, APT-36K and COCO-WholeBody pipelines use the plain
# affine and targets, while all six are decoded with UDP); no target is padded
# to 133 keypoints; all six datasets are validated (the original validates
# COCO only).
_base_ = ['../../../../_base_/vitpose_coco-256x192.py']

optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=1024)

model = dict(
    type='ViTPosePlusEstimator',
    backbone=dict(type='ViTPosePlusBackbone', num_expert=6),
    datasets=[
        dict(name='coco', dataset_type='CocoDataset'),
        dict(name='aic', dataset_type='AicDataset',
             head=dict(out_channels=14)),
        dict(name='mpii', dataset_type='MpiiDataset',
             head=dict(out_channels=16)),
        dict(name='ap10k', dataset_type='AP10KDataset'),
        dict(name='apt36k', dataset_type='ViTPoseAPT36KDataset'),
        dict(name='wholebody', dataset_type='CocoWholeBodyDataset',
             head=dict(out_channels=133)),
    ])

# Per-dataset pipelines: each stamps its dataset_index, which
# PackPoseInputs keeps (mmpose's default meta_keys + 'dataset_index').
pack_inputs = dict(
    type='PackPoseInputs',
    meta_keys=('id', 'img_id', 'img_path', 'category_id', 'crowd_index',
               'ori_shape', 'img_shape', 'input_size', 'input_center',
               'input_scale', 'flip', 'flip_direction', 'flip_indices',
               'raw_ann_info', 'dataset_name', 'dataset_index'))
train_start = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
]
half_body = [dict(type='RandomHalfBody')]
train_end = [
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}},
         use_udp=True),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    pack_inputs,
]
val_steps = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}},
         use_udp=True),
    pack_inputs,
]


def _index(i):
    # Not a config key: mmengine drops functions from the parsed config.
    return [dict(type='ViTPoseSetDatasetIndex', dataset_index=i)]


coco_train_pipeline = _index(0) + train_start + half_body + train_end
aic_train_pipeline = _index(1) + train_start + half_body + train_end
# MPII without half-body crops, as the original.
mpii_train_pipeline = _index(2) + train_start + train_end
ap10k_train_pipeline = _index(3) + train_start + half_body + train_end
apt36k_train_pipeline = _index(4) + train_start + half_body + train_end
wholebody_train_pipeline = _index(5) + train_start + half_body + train_end
coco_val_pipeline = _index(0) + val_steps
aic_val_pipeline = _index(1) + val_steps
mpii_val_pipeline = _index(2) + val_steps
ap10k_val_pipeline = _index(3) + val_steps
apt36k_val_pipeline = _index(4) + val_steps
wholebody_val_pipeline = _index(5) + val_steps

# Data: mmpose's layout of each dataset under data_root. COCO and
# COCO-WholeBody are tested on the person detections of the ViTPose
# papers, the others on ground-truth boxes.
data_root = 'data/'
coco_detections = (data_root + 'coco/person_detection_results/'
                   'COCO_val2017_detections_AP_H_56_person.json')
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='ViTPoseMultiDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[
            dict(type='CocoDataset', data_root=data_root + 'coco/',
                 ann_file='annotations/person_keypoints_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 pipeline=coco_train_pipeline),
            dict(type='AicDataset', data_root=data_root + 'aic/',
                 ann_file='annotations/aic_train.json',
                 data_prefix=dict(img='ai_challenger_keypoint_train_20170902/'
                                  'keypoint_train_images_20170902/'),
                 pipeline=aic_train_pipeline),
            dict(type='MpiiDataset', data_root=data_root + 'mpii/',
                 ann_file='annotations/mpii_train.json',
                 data_prefix=dict(img='images/'),
                 pipeline=mpii_train_pipeline),
            dict(type='AP10KDataset', data_root=data_root + 'ap10k/',
                 ann_file='annotations/ap10k-train-split1.json',
                 data_prefix=dict(img='data/'),
                 pipeline=ap10k_train_pipeline),
            dict(type='ViTPoseAPT36KDataset', data_root=data_root + 'apt36k/',
                 ann_file='annotations/train_annotations_1.json',
                 data_prefix=dict(img=''),
                 pipeline=apt36k_train_pipeline),
            dict(type='CocoWholeBodyDataset', data_root=data_root + 'coco/',
                 ann_file='annotations/coco_wholebody_train_v1.0.json',
                 data_prefix=dict(img='train2017/'),
                 pipeline=wholebody_train_pipeline),
        ]))

val_coco = dict(
    type='CocoDataset', data_root=data_root + 'coco/',
    ann_file='annotations/person_keypoints_val2017.json',
    bbox_file=coco_detections, data_prefix=dict(img='val2017/'),
    test_mode=True, pipeline=coco_val_pipeline)
val_aic = dict(
    type='AicDataset', data_root=data_root + 'aic/',
    ann_file='annotations/aic_val.json',
    data_prefix=dict(img='ai_challenger_keypoint_validation_20170911/'
                     'keypoint_validation_images_20170911/'),
    test_mode=True, pipeline=aic_val_pipeline)
val_mpii = dict(
    type='MpiiDataset', data_root=data_root + 'mpii/',
    ann_file='annotations/mpii_val.json',
    headbox_file=data_root + 'mpii/annotations/mpii_gt_val.mat',
    data_prefix=dict(img='images/'), test_mode=True,
    pipeline=mpii_val_pipeline)
val_ap10k = dict(
    type='AP10KDataset', data_root=data_root + 'ap10k/',
    ann_file='annotations/ap10k-val-split1.json',
    data_prefix=dict(img='data/'), test_mode=True,
    pipeline=ap10k_val_pipeline)
val_apt36k = dict(
    type='ViTPoseAPT36KDataset', data_root=data_root + 'apt36k/',
    ann_file='annotations/val_annotations_1.json', data_prefix=dict(img=''),
    test_mode=True, pipeline=apt36k_val_pipeline)
val_wholebody = dict(
    type='CocoWholeBodyDataset', data_root=data_root + 'coco/',
    ann_file='annotations/coco_wholebody_val_v1.0.json',
    bbox_file=coco_detections, data_prefix=dict(img='val2017/'),
    test_mode=True, pipeline=wholebody_val_pipeline)
val_datasets = [val_coco, val_aic, val_mpii, val_ap10k, val_apt36k,
                val_wholebody]
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ViTPoseMultiDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=val_datasets))
test_dataloader = val_dataloader

# One metric per dataset, routed by each sample's dataset_name; the
# prefixes keep their results apart (coco/AP, aic/AP, mpii/PCKh, ...).
coco_metric = dict(
    type='CocoMetric', prefix='coco',
    ann_file=data_root + 'coco/annotations/person_keypoints_val2017.json')
aic_metric = dict(
    type='CocoMetric', prefix='aic', use_area=False,
    ann_file=data_root + 'aic/annotations/aic_val.json')
mpii_metric = dict(type='MpiiPCKAccuracy', prefix='mpii')
ap10k_metric = dict(
    type='CocoMetric', prefix='ap10k',
    ann_file=data_root + 'ap10k/annotations/ap10k-val-split1.json')
apt36k_metric = dict(
    type='CocoMetric', prefix='apt36k',
    ann_file=data_root + 'apt36k/annotations/val_annotations_1.json')
wholebody_metric = dict(
    type='CocoWholeBodyMetric', prefix='wholebody',
    ann_file=data_root + 'coco/annotations/coco_wholebody_val_v1.0.json')
val_evaluator = dict(
    _delete_=True,
    type='MultiDatasetEvaluator',
    metrics=[coco_metric, aic_metric, mpii_metric, ap10k_metric,
             apt36k_metric, wholebody_metric],
    datasets=val_datasets)
test_evaluator = val_evaluator
