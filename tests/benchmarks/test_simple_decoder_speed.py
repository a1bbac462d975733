"""``benchmarks/simple_decoder_speed.py`` times both decoders and reports
that they agree (a small run)."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'benchmarks'))
import simple_decoder_speed  # noqa: E402


def test_both_decoders_timed_and_equal(capsys):
    simple_decoder_speed.main(['--channels', '32', '--keypoints', '3',
                               '--batch', '2', '--input', '64', '48',
                               '--repeats', '2'])
    out = capsys.readouterr().out
    err = float(re.search(r'max rel. difference (\S+)', out).group(1))
    assert err < 1e-5
    rows = re.findall(r'^\| (unfolded|folded) \| ([\d.]+) \| ([\d.]+) \|$',
                      out, re.M)
    assert [r[0] for r in rows] == ['unfolded', 'folded']
    assert float(rows[0][2]) == 1.0
