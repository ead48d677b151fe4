"""What the CI checks share (.ci/debian-check, .ci/docker-check, .ci/boot-check): timed steps, one failure
type, loopback HTTP, Debian's docker client. Only the Python standard library: they run on the system's
python3."""
import socket
import subprocess
import time
import urllib.error
import urllib.request

DOCKER = '/usr/bin/docker'      # Debian's client has BuildKit built in; a newer docker on PATH wants buildx
BASE = 'debian:bookworm-slim'   # made by .ci/docker-check, built on by .ci/boot-check
CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'    # the host's, from Debian's ca-certificates


class CheckFailed(Exception):
    pass


def docker(*args, check=True, **kwargs):
    """`docker ARGS` by Debian's client: its output; CheckFailed naming the command when it fails."""
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise CheckFailed('docker %s failed: %s' % (args[0], done.stderr.strip()[-2000:]))
    return done.stdout.strip()


def step(title):
    """Decorator: print the step, run it, print how long it took."""
    def wrap(work):
        def run(*args):
            print('== %s' % title, flush=True)
            start = time.monotonic()
            result = work(*args)
            print('   done in %.1f s' % (time.monotonic() - start), flush=True)
            return result
        return run
    return wrap


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def http(url, headers=None, timeout=5):
    """(status, headers, body) of a GET; HTTP errors are answers too."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def wait_until(what, test, seconds):
    """Poll `test` until it is true; connection errors count as not yet."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if test():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise CheckFailed('%s: not within %d s' % (what, seconds))


def run_main(name, main):
    """Run a check's main: a failure is one line and exit status 1."""
    import subprocess
    import sys
    try:
        main()
    except (CheckFailed, subprocess.CalledProcessError) as error:
        print('%s FAILED: %s' % (name, error), file=sys.stderr)
        sys.exit(1)
