"""Engine-side bootstrap, passed to the interpreter with ``-c`` inside the sandbox.

It installs an audit hook that turns any attempt to use the network (an internet socket, a name
lookup, connect/bind/send) into a marker on fd 3 and an immediate exit, so that the loader can
report "network denied" precisely. The hook is a diagnostic, not the barrier: the empty network
namespace is what actually denies the network. It also marks allocation failures (``MemoryError``, a
failed torch allocation); the run's cgroup, which OOM-kills past ``memory_mb``, is what actually
limits memory. Then it runs the entrypoint (``sys.argv[1]``) as ``__main__`` with the engine folder
on ``sys.path``.
"""

import os
import sys
import types


def _enclava_bootstrap() -> None:
    import runpy

    def report(kind: str, detail: str) -> None:
        try:
            os.write(3, f"{kind}:{detail}\n".encode())
        except OSError:
            pass

    watched = {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "socket.__new__":
            if len(args) > 1 and args[1] != 1:  # only AF_UNIX (1) stays allowed
                report("network", event)
                os._exit(87)
        elif event in watched:
            sock = args[0] if args else None
            if getattr(sock, "family", None) == 1:
                return
            report("network", event)
            os._exit(87)

    sys.addaudithook(hook)
    entry = sys.argv[1]

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: types.TracebackType | None
    ) -> None:
        """The traceback from the engine's own first frame on: the bootstrap's and runpy's frames
        would only hide, in the customer's failure detail, where the engine failed."""
        import traceback

        start = tb
        while start is not None and start.tb_frame.f_code.co_filename != entry:
            start = start.tb_next
        traceback.print_exception(kind, value, start or tb)

    sys.excepthook = excepthook
    sys.argv = [entry]
    sys.path[0] = os.path.dirname(entry)
    try:
        runpy.run_path(entry, run_name="__main__")
    except MemoryError:
        report("memory", "MemoryError")
        raise
    except RuntimeError as exc:
        text = str(exc).lower()
        if (
            "can't allocate memory" in text
            or "not enough memory" in text
            or "out of memory" in text
        ):
            report("memory", "allocation")
        raise


_enclava_bootstrap()
