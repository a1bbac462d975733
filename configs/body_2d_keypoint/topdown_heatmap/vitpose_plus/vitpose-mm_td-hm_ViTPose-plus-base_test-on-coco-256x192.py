# ViTPose+-B tested on COCO val2017 (on the person detections of the ViTPose
# papers) alone, with expert and head 'coco' of a six-dataset checkpoint (e.g.
# the released ViTPose+-B, converted). test_cfg.dataset also makes the model's
# dataset_meta, used by the visualiser and mmpose's inference API, that of
# coco. The test set is the plain dataset (not the multi-dataset wrapper), so
# mmpose's inference_topdown can use this config.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
model = dict(test_cfg=dict(dataset='coco'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root={{_base_.val_coco.data_root}},
        ann_file={{_base_.val_coco.ann_file}},
        bbox_file={{_base_.val_coco.bbox_file}},
        data_prefix={{_base_.val_coco.data_prefix}},
        test_mode=True,
        pipeline={{_base_.val_coco.pipeline}}))
test_evaluator = dict(
    metrics=[{{_base_.coco_metric}}],
    datasets=[{{_base_.val_coco}}])
