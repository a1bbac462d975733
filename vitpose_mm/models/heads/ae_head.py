"""Bottom-up ViTPose head: heatmaps and associative-embedding tags.

ViTPose++ (TPAMI'23, arXiv 2212.04246) says that the same plain ViT encoder
and lightweight decoder decode keypoints "in either a top-down or a bottom-up
manner" from the whole image and reports a bottom-up ViTPose on COCO. What it
does not pin down here, and what we chose:

- Grouping: associative embedding (Newell et al., NIPS'17), the only
  bottom-up method of mmpose 0.x, the code base of the original ViTPose
  repository; no bottom-up config was released there (its issues #39, #103,
  #105 ask for one).
- Decoder: the ViTPose classic decoder (two 4x4 deconvolutions, 256
  channels, then a 1x1 conv), so a 512x512 input (32x32 tokens) gives
  128x128 maps, the 1/4 resolution of HigherHRNet / AE-HRNet; the 1x1 conv
  predicts K heatmaps and K * L tag maps (L = ``tag_dim``, 1).
- Losses: heatmap MSE masked by ``BottomupGetHeatmapMask`` (crowd and
  keypoint-less people are not penalised) without per-keypoint weights, and
  the pull / push tag losses of
  :class:`~vitpose_mm.models.losses.ViTPoseAELoss`
  with mmpose 0.x's weight 1e-3.
- Inference: mmpose's ``AssociativeEmbeddingHead.predict`` (flip test with
  the tags of the flipped image, heatmaps restored to the input size) and
  mmpose's AE decoder through the codec.

Difference from mmpose 1.3's ``AssociativeEmbeddingHead.loss``, on purpose:
there the per-instance ``keypoint_weights`` of all images are concatenated
to (sum N_b, K) and handed to the heatmap loss as if they were (B, K), which
only works with one person per image; here any number of people per image,
including none, trains.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmpose.models.heads import AssociativeEmbeddingHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor


@MODELS.register_module()
class ViTPoseAEHead(AssociativeEmbeddingHead):
    """AE head for bottom-up ViTPose.

    Args:
        in_channels (int): Backbone width C of the (B, C, H/16, W/16) map.
        num_keypoints (int): K.
        tag_dim (int): L, tag channels per keypoint.
        deconv_out_channels (tuple[int]): Deconvolution widths (each one
            doubles the resolution).
        deconv_kernel_sizes (tuple[int]): Their kernel sizes.
        keypoint_loss (dict): Heatmap loss, called as ``(pred, gt, None,
            mask)`` with (B, K, H, W) maps and a (B, 1, H, W) mask.
        tag_loss (dict): Tag loss, called as ``(tags, keypoint_indices)``.
        decoder (dict, optional): The codec used for decoding.
        init_cfg (dict, optional): Initialisation config.
        **kwargs: Other arguments of mmpose's ``AssociativeEmbeddingHead``.
    """

    def __init__(self,
                 in_channels: int,
                 num_keypoints: int,
                 tag_dim: int = 1,
                 deconv_out_channels: Sequence[int] = (256, 256),
                 deconv_kernel_sizes: Sequence[int] = (4, 4),
                 keypoint_loss: ConfigType = dict(
                     type='KeypointMSELoss', use_target_weight=False),
                 tag_loss: ConfigType = dict(
                     type='ViTPoseAELoss', loss_weight=1e-3),
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_keypoints=num_keypoints,
            tag_dim=tag_dim,
            deconv_out_channels=deconv_out_channels,
            deconv_kernel_sizes=deconv_kernel_sizes,
            keypoint_loss=keypoint_loss,
            tag_loss=tag_loss,
            decoder=decoder,
            init_cfg=init_cfg,
            **kwargs)

    def output_description(self) -> str:
        """What the final layer holds, for the checkpoint fit messages
        (:func:`vitpose_mm.checkpoint.fit_state_dict`'s ``head_note``): K
        heatmaps and K * L tag maps in one (K + K * L)-channel layer."""
        return (f'predicts {self.num_keypoints} keypoints with '
                f'tag_dim={self.tag_dim}')

    def predict(self, feats, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}):
        """mmpose's ``AssociativeEmbeddingHead.predict``, with its
        single-scale, no-flip path fixed.

        There mmpose asserts a list where every backbone returns a tuple,
        and never restores the heatmaps to the image size, so with
        ``restore_heatmap_size=True`` (our configs, mmpose's AE config) the
        decoder reads 1/4-resolution maps as input-size ones and every
        keypoint lands 4x too close to the origin. Here that path upsamples
        heatmaps and tags to ``img_shape`` (bilinear, as mmpose's flip path
        does) before decoding. Flip and multi-scale test are mmpose's.
        """
        if (test_cfg.get('flip_test', False)
                or test_cfg.get('multiscale_test', False)):
            return super().predict(feats, batch_data_samples, test_cfg)
        heatmaps, tags = self.forward(feats)
        if test_cfg.get('restore_heatmap_size', False):
            img_shape = batch_data_samples[0].metainfo['img_shape']
            if any(d.metainfo['img_shape'] != img_shape
                   for d in batch_data_samples):
                raise ValueError('restore_heatmap_size needs one image size '
                                 'per batch (val batch_size=1)')
            align = test_cfg.get('align_corners', False)
            heatmaps, tags = (F.interpolate(
                t, size=tuple(img_shape), mode='bilinear',
                align_corners=align) for t in (heatmaps, tags))
        preds = self.decode((heatmaps, tags))
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=h, tags=t) for h, t in
                           zip(heatmaps.detach(), tags.detach())]
        return preds

    def loss(self,
             feats: Sequence[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Heatmap, pull and push losses of a batch.

        Each data sample needs ``gt_fields.heatmaps`` (K, H, W),
        ``gt_fields.heatmap_mask`` ((1,) H, W) and
        ``gt_instance_labels.keypoint_indices`` (N, K, 2) (see
        :class:`~vitpose_mm.codecs.ViTPoseAssociativeEmbedding`).

        Returns:
            dict: ``loss_kpt``, ``loss_pull``, ``loss_push`` (scalars).

        Raises:
            KeyError: If a data sample lacks ``keypoint_indices`` (a
                pipeline with mmpose's ``AssociativeEmbedding`` codec).
        """
        pred_heatmaps, pred_tags = self.forward(feats)
        if not self.tag_per_keypoint:
            pred_tags = pred_tags.repeat((1, self.num_keypoints, 1, 1))
        gt_heatmaps = torch.stack(
            [d.gt_fields.heatmaps for d in batch_data_samples])
        masks = torch.stack([
            d.gt_fields.heatmap_mask for d in batch_data_samples
        ]).to(pred_heatmaps.dtype)
        if masks.dim() == 3:  # (B, H, W) -> (B, 1, H, W)
            masks = masks[:, None]
        labels = [d.gt_instance_labels for d in batch_data_samples]
        if any('keypoint_indices' not in lab for lab in labels):
            raise KeyError(
                'gt_instance_labels.keypoint_indices is missing: encode the '
                "targets with codec type='ViTPoseAssociativeEmbedding'")
        loss_kpt = self.loss_module.keypoint_loss(pred_heatmaps, gt_heatmaps,
                                                  None, masks)
        loss_pull, loss_push = self.loss_module.tag_loss(
            pred_tags, [lab.keypoint_indices for lab in labels])
        return dict(loss_kpt=loss_kpt, loss_pull=loss_pull,
                    loss_push=loss_push)
