# ViTPose-B on AI Challenger alone (the original aic/
# ViTPose_base_aic_256x192.py: no UDP, ground-truth boxes at test time),
# 14 keypoints, mmpose's AicDataset and CocoMetric with AIC's OKS sigmas and
# use_area=False (AIC annotations carry no segment area; mmpose's aic
# configs do the same), reported as aic/AP.
_base_ = ['../../../_base_/vitpose_single-dataset-msra-256x192.py']

data_root = 'data/aic/'
model = dict(head=dict(out_channels=14))
default_hooks = dict(checkpoint=dict(save_best='aic/AP'))
train_dataloader = dict(
    dataset=dict(
        type='AicDataset', data_root=data_root,
        ann_file='annotations/aic_train.json',
        data_prefix=dict(img='ai_challenger_keypoint_train_20170902/'
                         'keypoint_train_images_20170902/')))
val_dataloader = dict(
    dataset=dict(
        type='AicDataset', data_root=data_root,
        ann_file='annotations/aic_val.json', bbox_file=None,
        data_prefix=dict(img='ai_challenger_keypoint_validation_20170911/'
                         'keypoint_validation_images_20170911/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/aic_val.json', use_area=False,
    prefix='aic')
test_evaluator = val_evaluator
