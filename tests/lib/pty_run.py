#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal of COLSxROWS, as a terminal user
would, and writes everything it printed there to OUT (escape sequences
included). Usage: pty_run.py COLS ROWS OUT COMMAND ARGS...; exits with the
command's exit status. With PTY_ANSWER set, that text and a newline are
typed once the command printed PTY_PROMPT (a question it asks)."""
import fcntl
import os
import pty
import struct
import sys
import termios


def main():
    cols, rows, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    pid, fd = pty.fork()
    if pid == 0:
        # the size is set before the command starts, so its first frame sees it
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.execvp(sys.argv[4], sys.argv[4:])
    answer, prompt = os.environ.get("PTY_ANSWER"), os.environ.get("PTY_PROMPT", "")
    seen = b""
    with open(out, "wb") as f:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            f.write(data)
            f.flush()
            seen += data
            if answer is not None and prompt.encode() in seen:
                os.write(fd, answer.encode() + b"\n")
                answer = None
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


main()
