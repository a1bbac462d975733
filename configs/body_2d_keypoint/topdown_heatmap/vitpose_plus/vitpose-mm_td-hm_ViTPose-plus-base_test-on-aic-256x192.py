# ViTPose+-B tested on AIC validation alone, with expert and head 'aic' of a
# six-dataset checkpoint (e.g. the released ViTPose+-B, converted).
# test_cfg.dataset also makes the model's dataset_meta, used by the visualiser
# and mmpose's inference API, that of aic. The test set is the plain dataset
# (not the multi-dataset wrapper), so mmpose's inference_topdown can use this
# config.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
model = dict(test_cfg=dict(dataset='aic'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='AicDataset',
        data_root={{_base_.val_aic.data_root}},
        ann_file={{_base_.val_aic.ann_file}},
        data_prefix={{_base_.val_aic.data_prefix}},
        test_mode=True,
        pipeline={{_base_.val_aic.pipeline}}))
test_evaluator = dict(
    metrics=[{{_base_.aic_metric}}],
    datasets=[{{_base_.val_aic}}])
