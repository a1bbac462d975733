"""The One-Euro filter: an adaptive low-pass filter for noisy positions.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass
Filter for Noisy Input in Interactive Systems", CHI 2012 (their Algorithm
1). Each value is smoothed by an exponential filter whose cutoff frequency
grows with the value's (smoothed) speed, so slow motion is smoothed hard
(no jitter) and fast motion little (no lag):

- ``alpha(fc) = 1 / (1 + tau / Te)``, ``tau = 1 / (2 pi fc)``, ``Te`` the
  time since the last sample (seconds);
- ``dx = (x - x_hat_prev) / Te``, smoothed with the fixed cutoff
  ``d_cutoff`` (1 Hz, the paper's value);
- ``fc = min_cutoff + beta * |dx_hat|``;
- ``x_hat = alpha(fc) x + (1 - alpha(fc)) x_hat_prev``.

Every element of the array (e.g. each keypoint's x and y) is filtered on
its own, as the paper filters each scalar signal. mmpose 0.x shipped the
same filter (``mmpose/core/post_processing/one_euro_filter.py``); this one
is vectorised and counts time in seconds, so its parameters do not depend
on the frame rate.
"""
import math
from typing import Optional

import numpy as np

#: Defaults chosen on the composite clips of benchmarks/video_tracking.py
#: with the tiny main-job ViTPose: keypoint jitter -32 % at -1 % keypoint
#: error on both clips (and -50 % / -16 % on ground truth plus 5 px
#: noise). A precise pose model (2 px noise) lags behind with them (+55 %
#: error): beta 0.1 suits it (-36 % / +2 %). See the README's "Video and
#: tracking" section. Hz, and 1 / pixel.
MIN_CUTOFF = 1.0
BETA = 0.03
D_CUTOFF = 1.0


def _alpha(cutoff, dt: float):
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of an array of values (module docstring).

    Args:
        min_cutoff (float): Cutoff frequency at rest, Hz (> 0): lower means
            smoother still positions, more lag.
        beta (float): Speed coefficient, 1 / (value unit): higher means
            less lag in fast motion (>= 0).
        d_cutoff (float): Cutoff of the speed estimate, Hz (> 0).

    Raises:
        ValueError: A cutoff <= 0 or beta < 0 (the message names it).
    """

    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF) -> None:
        for name, value in (('min_cutoff', min_cutoff),
                            ('d_cutoff', d_cutoff)):
            if not value > 0:
                raise ValueError(f'One-Euro {name} must be > 0 Hz, got '
                                 f'{value}')
        if not beta >= 0:
            raise ValueError(f'One-Euro beta must be >= 0, got {beta}')
        self.min_cutoff, self.beta, self.d_cutoff = (float(min_cutoff),
                                                     float(beta),
                                                     float(d_cutoff))
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes unchanged."""
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter one sample.

        Args:
            x (np.ndarray): The values, any shape (e.g. (K, 2) keypoints in
                pixels); the shape must stay the same between resets.
            t (float): Its time in seconds, increasing.

        Returns:
            np.ndarray: The smoothed values, float64, the shape of ``x``.

        Raises:
            ValueError: ``x`` changed shape, or ``t`` did not increase.
        """
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f'One-Euro: sample of shape {x.shape} after '
                             f'{self._x.shape}; reset() between tracks')
        dt = t - self._t
        if not dt > 0:
            raise ValueError(f'One-Euro: time {t} s is not after {self._t} s')
        a_d = _alpha(self.d_cutoff, dt)
        dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        a = _alpha(self.min_cutoff + self.beta * np.abs(dx), dt)
        self._x = a * x + (1 - a) * self._x
        self._dx, self._t = dx, t
        return self._x.copy()
