# ViTPose-H (classic decoder) trained with fully sharded data parallelism:
# mmengine's FlexibleRunner + FSDPStrategy shard parameters, gradients and
# AdamW state over the GPUs, and each backbone block recomputes its
# activations in the backward pass (use_checkpoint). The recipe (lr,
# layer decay 0.85, schedule, 8x64 batch) is that of
# vitpose-mm_td-hm_ViTPose-huge_8xb64-210e_coco-256x192.py. Needs GPUs (FSDP places
# each rank on cuda:LOCAL_RANK) and a launcher, e.g.
#   torchrun --nproc_per_node 8 -m vitpose_mm.tools.train CONFIG \
#       --launcher pytorch
# See docs/scale.md.
_base_ = ['./vitpose-mm_td-hm_ViTPose-huge_8xb64-210e_coco-256x192.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        # One FSDP unit per transformer block (~19.7M parameters each); the
        # patch embedding and the head (~5M) stay in the root unit.
        auto_wrap_policy=dict(
            type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy',
            min_num_params=int(1e7)),
        # Keep per-parameter names and tensors, so that the layer-wise lr
        # decay constructor still finds backbone.blocks.N.
        use_orig_params=True),
    # Checkpoints hold full, unsharded weights that load without FSDP.
    state_dict_cfg='full')

model = dict(backbone=dict(use_checkpoint=True))
