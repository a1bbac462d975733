# ViTPose+-B tested on APT-36K validation (split 1) alone, with expert and head
# 'apt36k' of a six-dataset checkpoint (e.g. the released ViTPose+-B,
# converted). test_cfg.dataset also makes the model's dataset_meta, used by the
# visualiser and mmpose's inference API, that of apt36k. The test set is the
# plain dataset (not the multi-dataset wrapper), so mmpose's inference_topdown
# can use this config.
_base_ = ['./vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py']
model = dict(test_cfg=dict(dataset='apt36k'))
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ViTPoseAPT36KDataset',
        data_root={{_base_.val_apt36k.data_root}},
        ann_file={{_base_.val_apt36k.ann_file}},
        data_prefix={{_base_.val_apt36k.data_prefix}},
        test_mode=True,
        pipeline={{_base_.val_apt36k.pipeline}}))
test_evaluator = dict(
    metrics=[{{_base_.apt36k_metric}}],
    datasets=[{{_base_.val_apt36k}}])
