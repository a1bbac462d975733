"""The command-line options of video pose estimation, shared by
``vitpose-runtime`` and ``python -m vitpose_mm.tools.demo``: identities
(:mod:`.tracking`), the detector interval and smoothing
(:mod:`.smoothing`)."""
import argparse
from typing import Optional

from .smoothing import BETA, MIN_CUTOFF
from .tracking import METHODS


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --tracker, --track-seconds, --det-interval, --pose-conf-thr,
    --smooth, --smooth-min-cutoff and --smooth-beta to ``parser`` (or an
    argument group)."""
    parser.add_argument('--tracker', choices=list(METHODS), default=None,
                        help='identities: pose (default for videos and '
                        'cameras), bytetrack (boxes only), none (off)')
    parser.add_argument('--track-seconds', type=float, default=1.0,
                        help='a hidden person keeps their id this long '
                        '(%(default)s s)')
    parser.add_argument('--det-interval', type=_positive_int, default=1,
                        help='run the detector every N-th frame (and when '
                        'a person is lost); boxes from the keypoints '
                        'between (%(default)s)')
    parser.add_argument('--pose-conf-thr', type=float, default=0.3,
                        help='mean keypoint score a tracked person needs '
                        'where the detector did not find them '
                        '(%(default)s)')
    parser.add_argument('--smooth', action='store_true',
                        help='One-Euro filter each tracked keypoint')
    parser.add_argument('--smooth-min-cutoff', type=float,
                        default=MIN_CUTOFF,
                        help='One-Euro cutoff at rest, Hz (%(default)s)')
    parser.add_argument('--smooth-beta', type=float, default=BETA,
                        help='One-Euro speed coefficient, 1/px '
                        '(%(default)s)')


def video_options_error(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with the video options (a usage error), or None."""
    if args.tracker == 'none' and (args.det_interval > 1 or args.smooth):
        return ('--det-interval > 1 and --smooth follow tracks: drop '
                '--tracker none')
    if args.det_interval > 1 and args.tracker == 'bytetrack':
        return ('--det-interval > 1 needs the pose tracker (--tracker '
                'pose)')
    if not args.track_seconds > 0:
        return f'--track-seconds must be > 0, got {args.track_seconds}'
    if not args.smooth_min_cutoff > 0 or not args.smooth_beta >= 0:
        return ('--smooth-min-cutoff must be > 0 and --smooth-beta >= 0, '
                f'got {args.smooth_min_cutoff} and {args.smooth_beta}')
    return None


def refuse_on_images(args: argparse.Namespace, kind: str,
                     streams: str = 'videos and cameras') -> None:
    """--tracker / --det-interval / --smooth are for sequences of frames.

    Raises:
        ValueError: One of them is given for an image (``kind`` 'image')
            or a folder of images (the message names the input).
    """
    given = [flag for flag, on in (('--tracker', args.tracker is not None),
                                   ('--det-interval', args.det_interval != 1),
                                   ('--smooth', args.smooth)) if on]
    if given:
        what = 'an image' if kind == 'image' else 'a folder of images'
        raise ValueError(f'{" / ".join(given)}: for {streams} only; '
                         f'{args.input} is {what}, whose people are found '
                         'image by image')


def tracker_options(args: argparse.Namespace, fps: float) -> dict:
    """The :class:`.tracking.PoseTracker` keyword arguments of the
    options."""
    return dict(method=args.tracker or 'pose', det_interval=args.det_interval,
                fps=fps, track_seconds=args.track_seconds, smooth=args.smooth,
                min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta,
                conf_thr=args.pose_conf_thr)
