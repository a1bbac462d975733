"""The demo when its output folder is in use (issue 20 item 6): a second
run on a folder another run holds is refused in one line naming the
folder, before any model is loaded and without writing there; the lock
goes with its holder, also when that is killed with SIGKILL.

The holder is a real process holding ``vitpose_runtime.output_lock`` on
the folder, as a running demo does (a second real demo racing the first
one's frames would make the test depend on this machine's speed).
"""
import json
import signal
import subprocess
import sys

from tests.tools.test_demo import IMG_A, _load, _pose_args, _run_cli
from tests.tools.test_demo import images, pose  # noqa: F401

HOLD = ('import sys, time; from vitpose_runtime.output_lock import '
        'lock_output_dir; lock = lock_output_dir(sys.argv[1]); '
        'print("held", flush=True); time.sleep(120)')


def hold(folder):
    """A process holding the folder's lock (started, lock taken)."""
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(folder)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == 'held\n'
    return proc


def test_second_run_on_a_folder_in_use_is_refused(pose, images,  # noqa
                                                  tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'earlier.json').write_text('[]')  # the first run's file
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({IMG_A: [[280, 45, 500, 380, 0.9]]}))
    args = ['--input', images, '--bboxes', boxes, '--no-render',
            *_pose_args(pose, out)]
    holder = hold(out)
    try:
        code, log = _run_cli(args)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert code == 1, log
    assert log.strip().splitlines()[-1] == (
        f'error: output folder {out} is in use by another run (process '
        f'{holder.pid}); wait for it or choose another --output-dir')
    assert sorted(p.name for p in out.iterdir()) == ['.vitpose.lock',
                                                     'earlier.json']
    # killed with SIGKILL, the holder left the folder free
    code, log = _run_cli(args)
    assert code == 0, log
    assert len(_load(out / '000000000785.json')) == 1
    assert _load(out / 'earlier.json') == []
