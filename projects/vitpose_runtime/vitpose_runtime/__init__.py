"""ViTPose with numpy, OpenCV and onnxruntime only.

``Estimator(det_onnx, pose_onnx)(image) -> instances``: YOLOX people
(:mod:`.detector`), UDP crops and an exported ViTPose / ViTPose+ model
(:mod:`.pose`), the original DARK-UDP decode (:mod:`.decode`). No torch,
mmcv, mmengine, mmdet or mmpose at run time.

Videos: ``Estimator(...).tracker(fps=...)`` gives a frame-by-frame
:class:`PoseTracker` (track ids, a detector interval, One-Euro smoothing:
:mod:`.tracking`, :mod:`.smoothing`); :class:`VideoReader` reads video
files robustly (:mod:`.video`).
"""
from .decode import dark_udp_decode, flip_back
from .detector import YoloxDetector
from .draw import render
from .estimator import Estimator, read_image, to_instances
from .pose import PoseModel
from .tracking import PoseTracker, TrackedFrame
from .video import VideoReader

__version__ = '0.1.0'
__all__ = ['Estimator', 'PoseModel', 'PoseTracker', 'TrackedFrame',
           'VideoReader', 'YoloxDetector', 'dark_udp_decode', 'flip_back',
           'read_image', 'render', 'to_instances']
