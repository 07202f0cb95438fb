"""Check that a file is a usable PIFuHD checkpoint, in a child process (run as a script, not imported).

Usage: ``python _verify_worker.py <file> <json list: paths to prepend> <json list: paths to append> full|read``

Loads the file through the backend's safe loader (``backend.checkpoint.read_checkpoint``) and, with ``full``,
builds the network from it (every tensor read and shape-checked). Doing this here keeps torch and the
1.5 GB of weights out of Blender's process. Prints one line ``PIFUHD-VERIFY {json}``; exit code 0 when the
file is good, 2 when it is not a usable checkpoint, 3 when the backend or its dependencies cannot be imported.
"""
import json
import sys

MARK = "PIFUHD-VERIFY "


def _say(**message) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list) -> int:
    path, prepend, append, mode = argv[1], json.loads(argv[2]), json.loads(argv[3]), argv[4]
    sys.path[:0] = prepend
    sys.path.extend(append)
    try:
        from backend.checkpoint import build_network, read_checkpoint
        from backend.errors import CheckpointError
    except ImportError as err:
        _say(ok=False, kind="unavailable", message=f"{type(err).__name__}: {err}")
        return 3
    try:
        ckpt = read_checkpoint(path)
        params = sum(int(t.numel()) for t in ckpt.state_dict.values())
        if mode == "full":
            build_network(ckpt)
    except CheckpointError as err:
        _say(ok=False, kind="invalid", message=str(err))
        return 2
    except MemoryError:
        _say(ok=False, kind="unavailable", message="not enough memory to load the model for checking")
        return 3
    _say(ok=True, params=params)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
