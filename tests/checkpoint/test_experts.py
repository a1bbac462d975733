"""The ViTPose+ dataset/expert idea: name/index -> expert, the fc2 layout."""
import numpy as np
import pytest
import torch

from vitpose_mm.checkpoint.experts import (RELEASED_DATASETS, fold_expert,
                                           resolve_dataset, unfold_expert)
from vitpose_mm.models.layers import MoEMlp

NAMES = ('coco', 'mpii', 'ap10k')


@pytest.mark.parametrize('dataset, expected', [
    ('coco', 0), ('ap10k', 2), (1, 1), (np.int64(2), 2)])
def test_resolve_dataset_by_name_or_index(dataset, expected):
    assert resolve_dataset(dataset, NAMES) == expected


@pytest.mark.parametrize('dataset, names, kwargs, match', [
    ('lsp', NAMES, {}, r"Unknown dataset 'lsp'; choose from \['coco', "
     r"'mpii', 'ap10k'\]"),
    ('lsp', NAMES, dict(holder='this model'),
     r"Unknown dataset 'lsp'; this model has \['coco', 'mpii', 'ap10k'\]"),
    (3, NAMES, {}, r'dataset index 3 out of range \[0, 3\) for the 3 '
     r"datasets \['coco', 'mpii', 'ap10k'\]"),
    (-1, None, dict(count=6), r'dataset index -1 out of range \[0, 6\) for '
     r'the 6 datasets\Z'),
    ('coco', None, dict(count=6), "Cannot find dataset 'coco' by name"),
    (True, NAMES, {}, 'dataset must be a name or an index, got True'),
    (1.0, NAMES, dict(what='shared_from'),
     'shared_from must be a name or an index, got 1.0'),
])
def test_resolve_dataset_refuses_with_one_line(dataset, names, kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_dataset(dataset, names, **kwargs)


def test_released_order():
    assert RELEASED_DATASETS == ('coco', 'aic', 'mpii', 'ap10k', 'apt36k',
                                 'wholebody')


def test_fold_and_unfold_are_inverse():
    shared, expert = torch.randn(5, 7), torch.randn(3, 7)
    dense = fold_expert(shared, expert)
    assert torch.equal(dense[:5], shared) and torch.equal(dense[5:], expert)
    back = unfold_expert(dense, 3)
    assert torch.equal(back[0], shared) and torch.equal(back[1], expert)
    bias = fold_expert(torch.zeros(5), torch.ones(3))
    assert bias.tolist() == [0.] * 5 + [1.] * 3
    with pytest.raises(ValueError, match=r'expert \(3, 6\) under the shared '
                       r'fc2 \(5, 7\)'):
        fold_expert(shared, torch.randn(3, 6))
    with pytest.raises(ValueError, match='part_features=9 does not fit a fc2 '
                       'with 8 rows'):
        unfold_expert(dense, 9)


def test_dense_mlp_equals_the_moe_ffn_for_its_dataset():
    torch.manual_seed(0)
    moe = MoEMlp(16, 32, num_expert=3, part_features=4).eval()
    x = torch.randn(2, 5, 16)
    for e in range(3):
        index = torch.full((2, ), e)
        dense = moe.dense_mlp(e).eval()
        torch.testing.assert_close(dense(x), moe(x, index), rtol=0,
                                   atol=1e-6)
        weight, bias = moe.dense_fc2(e)
        assert torch.equal(weight[12:], moe.experts[e].weight)
        assert torch.equal(bias[:12], moe.fc2.bias)
    with pytest.raises(ValueError, match=r'expert 3 out of range \[0, 3\)'):
        moe.dense_mlp(3)
