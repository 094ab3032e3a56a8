"""Interactive terminals on the real engine: a TTY, both ways, resizable."""

import time

import pytest

from labs.runtime import RuntimeFailure, Terminal, terminal_open

pytestmark = pytest.mark.docker


def read_until(terminal: Terminal, marker: bytes, timeout: float = 10) -> bytes:
    """Everything the terminal prints until ``marker`` shows up (fails after ``timeout``)."""
    output = b""
    deadline = time.monotonic() + timeout
    while marker not in output:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{marker!r} never came; got {output[-500:]!r}"
        data = terminal.read(timeout=min(remaining, 0.5))
        assert data != b"", f"the stream ended before {marker!r}; got {output[-500:]!r}"
        output += data or b""
    return output


def shell(sandbox, **kwargs) -> Terminal:
    return terminal_open(
        container_id=sandbox.containers["toolbox"],
        command=["bash", "--norc", "--noprofile"],
        user="learner",
        workdir="/home/learner",
        environment={"PS1": "$ "},
        **kwargs,
    )


def test_echo_round_trip_through_a_tty(sandbox):
    with shell(sandbox) as terminal:
        terminal.write(b"echo $((6 * 7)) $TERM $(whoami) $PWD; tty\r")
        output = read_until(terminal, b"/dev/pts/")

    assert b"42 xterm-256color learner /home/learner" in output
    assert b"not a tty" not in output


def test_resize_is_what_the_shell_sees(sandbox):
    with shell(sandbox, cols=100, rows=30) as terminal:
        terminal.write(b"stty size\r")
        assert b"30 100" in read_until(terminal, b"30 100")
        terminal.resize(cols=132, rows=43)
        terminal.write(b"stty size\r")
        assert b"43 132" in read_until(terminal, b"43 132")
        with pytest.raises(ValueError):
            terminal.resize(cols=0, rows=10)


def test_the_stream_ends_when_the_process_exits(sandbox):
    terminal = shell(sandbox)
    terminal.write(b"exit 3\r")
    deadline = time.monotonic() + 10
    while terminal.read(timeout=0.5) != b"":
        assert time.monotonic() < deadline, "the stream never ended"
    assert terminal.exit_code() == 3
    terminal.close()
    terminal.close()  # idempotent
    with pytest.raises(RuntimeFailure):
        terminal.write(b"echo too late\r")
    assert terminal.read_nowait() == b""


def test_output_is_non_blocking_and_pasted_input_arrives_whole(sandbox):
    with shell(sandbox) as terminal:
        read_until(terminal, b"$ ")
        while terminal.read_nowait() is not None:  # drain: then nothing is waiting
            pass
        assert terminal.read_nowait() is None
        paste = b"x" * 3000
        terminal.write(b"cat > /tmp/pasted <<'EOF'\r" + paste + b"\rEOF\rwc -c < /tmp/pasted\r")
        assert b"3001" in read_until(terminal, b"3001")


def test_a_container_that_is_gone_is_a_runtime_failure(docker_engine):
    with pytest.raises(RuntimeFailure):
        terminal_open(container_id="0" * 64, command=["bash"], user="learner")
