# APT-36K metainfo: Yang et al., "APT-36K: A Large-scale Benchmark for Animal
# Pose Estimation and Tracking", NeurIPS 2022 Datasets and Benchmarks.
# APT-36K annotates the 17 keypoints of AP-10K (two eyes, nose, neck, root of
# tail, and shoulder/elbow/front paw, hip/knee/back paw per side) in AP-10K's
# order and COCO-style format, and the original ViTPose(+) trains and tests
# it as `AnimalAP10KDataset` with AP-10K's dataset_info
# (configs/animal/2d_kpt_sview_rgb_img/topdown_heatmap/apt36k/ of
# ViTAE-Transformer/ViTPose). So everything (keypoints, flip pairs, skeleton,
# joint weights, OKS sigmas) is inherited from mmpose's AP-10K metainfo; only
# the dataset name and the paper differ.
_base_ = ['mmpose::_base_/datasets/ap10k.py']

dataset_info = dict(
    dataset_name='apt36k',
    paper_info=dict(
        author='Yang, Yuxiang and Yang, Junjie and Xu, Yufei and '
        'Zhang, Jing and Lan, Long and Tao, Dacheng',
        title='APT-36K: A Large-scale Benchmark for Animal Pose Estimation '
        'and Tracking',
        container='Advances in Neural Information Processing Systems '
        '(NeurIPS 2022) Track on Datasets and Benchmarks',
        year='2022',
        homepage='https://github.com/pandorgan/APT-36K',
    ))
