"""Associative-embedding tag loss for any number of people per image.

The pull / push losses of Newell et al., "Associative Embedding" (NIPS'17,
Sec. 3), as mmpose 0.x's ``AELoss`` (the code base of the original
ViTPose) computes them, batched:

- pull: for each person n with visible keypoints V_n, the mean over
  k in V_n and the L tag channels of (t_nk - mean_n)^2, averaged over
  the people of the image;
- push: ``0.5 * sum_{i != j} exp(-||mean_i - mean_j||^2) / (N (N - 1))``
  over the N people of the image (0 with fewer than two).

Differences from mmpose 1.3's ``AssociativeEmbeddingLoss``, on purpose:
the diagonal i == j is left out of the push sum as in 0.x (1.3 adds
exp(0) = 1 per person, so perfectly separated tags still cost
1 / (N - 1)); the losses are averaged over the images of the batch, not
summed, so the weight does not depend on the batch size; and there is no
Python loop over images, people or keypoints.
"""
from typing import List, Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence


@MODELS.register_module()
class ViTPoseAELoss(nn.Module):
    """Pull and push losses of associative embedding, batched.

    Args:
        loss_weight (float): Weight of both losses.
        push_loss_factor (float): Extra factor of the push loss (0.5 counts
            each unordered pair once, as mmpose 0.x).
    """

    def __init__(self, loss_weight: float = 1.0,
                 push_loss_factor: float = 0.5) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.push_loss_factor = push_loss_factor

    def forward(self, tags: Tensor,
                keypoint_indices: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Mean pull and push losses over the images of a batch.

        Args:
            tags (Tensor): (B, L * K, H, W) tag maps, channel ``l * K + k``
                for tag dimension l of keypoint k (mmpose's layout).
            keypoint_indices (list[Tensor]): B tensors (N_b, K, 2) of
                ``[y * W + x, visible]`` (the codec's ``keypoint_indices``);
                N_b may be 0.

        Returns:
            tuple[Tensor, Tensor]: Scalar pull and push losses.

        Raises:
            ValueError: If the list length differs from B or the keypoint
                count K does not divide the channels.
        """
        B, C, H, W = tags.shape
        if len(keypoint_indices) != B:
            raise ValueError(f'{len(keypoint_indices)} keypoint_indices for '
                             f'a batch of {B} tag maps')
        K = keypoint_indices[0].shape[1]
        if C % K:
            raise ValueError(f'tag maps have {C} channels, not a multiple '
                             f'of {K} keypoints')
        L = C // K
        # (B, N, K, 2), padded people have visible == 0.
        ind = pad_sequence([i.to(tags.device).long() for i in
                            keypoint_indices], batch_first=True)
        if ind.shape[1] == 0:
            zero = tags.sum() * 0
            return zero, zero
        vis = ind[..., 1] > 0  # (B, N, K)
        pos = torch.where(vis, ind[..., 0], 0).clamp(0, H * W - 1)
        # (B, K, H*W, L) -> tag of every person's keypoints: (B, N, K, L)
        flat = tags.reshape(B, L, K, H * W).permute(0, 2, 3, 1)
        b = torch.arange(B, device=tags.device)[:, None, None]
        k = torch.arange(K, device=tags.device)[None, None, :]
        kpt_tags = flat[b, k, pos]
        m = vis.to(tags.dtype)[..., None]  # (B, N, K, 1)
        count = m.sum(dim=(2, 3))  # (B, N) visible keypoints per person
        person = count > 0
        mean = (kpt_tags * m).sum(2) / count.clamp(min=1)[..., None]
        pull = ((kpt_tags - mean[:, :, None])**2 * m).sum(dim=(2, 3)) / (
            count.clamp(min=1) * L)  # (B, N)
        num = person.sum(1).to(tags.dtype)  # (B,) people per image
        pull = (pull * person).sum(1) / num.clamp(min=1)
        diff = (mean[:, :, None] - mean[:, None]).pow(2).sum(-1)  # (B, N, N)
        N = mean.shape[1]
        pairs = (person[:, :, None] & person[:, None]
                 & ~torch.eye(N, dtype=torch.bool, device=tags.device))
        push = (torch.exp(-diff) * pairs).sum(dim=(1, 2)) / (
            num * (num - 1)).clamp(min=1)
        return (pull.mean() * self.loss_weight,
                push.mean() * self.loss_weight * self.push_loss_factor)
