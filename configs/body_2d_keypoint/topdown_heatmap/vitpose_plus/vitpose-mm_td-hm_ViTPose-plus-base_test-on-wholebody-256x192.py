# ViTPose+-B tested on COCO-WholeBody val2017 (on the person detections of the
# ViTPose papers) alone, with expert and head 'wholebody' of a six-dataset
# checkpoint (e.g. the released ViTPose+-B, converted). test_cfg.dataset also
# makes the model's dataset_meta, used by the visualiser and mmpose's inference
# API, that of wholebody. The test set is the plain dataset (not the multi-
# dataset wrapper), so mmpose's inference_topdown can use this config.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
model = dict(test_cfg=dict(dataset='wholebody'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoWholeBodyDataset',
        data_root={{_base_.val_wholebody.data_root}},
        ann_file={{_base_.val_wholebody.ann_file}},
        bbox_file={{_base_.val_wholebody.bbox_file}},
        data_prefix={{_base_.val_wholebody.data_prefix}},
        test_mode=True,
        pipeline={{_base_.val_wholebody.pipeline}}))
test_evaluator = dict(
    metrics=[{{_base_.wholebody_metric}}],
    datasets=[{{_base_.val_wholebody}}])
