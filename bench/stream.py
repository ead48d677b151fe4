#!/usr/bin/env python3
"""Streaming benchmark: privtube's ranged media API side by side with nginx, on loopback.

Run it on demand from the repository root (it is not part of the test suite):

    python bench/stream.py                  # a 1 GiB file, 5 rounds
    python bench/stream.py --size-mib 256   # smaller and quicker

In one run it measures
1. throughput and server CPU seconds per GiB of `Range: bytes=0-` on one large file, fetched from a real
   `python privtube.py serve` (threads = 4) and from nginx (`sendfile on`, as a stock install has it), by
   the same raw-socket client, rounds alternating;
2. 32 clients holding slow ranged streams open while /healthz is polled (its p50 and p99 latency);
3. the idle resident memory of `serve` a few seconds after start-up, before any request.
All traffic goes to 127.0.0.1; servers run from a temporary folder that is removed at the end.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (  # noqa: E402
    FILE_NAME,
    HOST,
    MIB,
    SLOW_CLIENTS,
    SlowStream,
    drive_slow_streams,
    free_port,
    make_media_file,
    percentile,
    request_bytes,
    resident_mib,
    stop,
)

NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
GIB = 1024 ** 3
CLOCK_TICK = os.sysconf('SC_CLK_TCK')
HEALTH_POLLS = 200
FETCH_SECONDS = 300   # a full fetch slower than this counts as a failure

TARGETS = {'throughput': 1.0, 'cpu': 1.5, 'health_p99_ms': 50.0, 'idle_rss_mib': 45.0}


def parse_args():
    parser = argparse.ArgumentParser(description='privtube vs nginx streaming benchmark (loopback).')
    parser.add_argument('--size-mib', type=int, default=1024, help='size of the streamed file (default 1024)')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds per server (default 5)')
    parser.add_argument('--keep', action='store_true', help='keep the temporary folder (for profiling)')
    return parser.parse_args()


# --- setting up ------------------------------------------------------------------------------------


def write_privtube_config(folder, port):
    path = os.path.join(folder, 'config.ini')
    with open(path, 'w', encoding='utf-8') as fh:
        fh.write('[node]\nname = bench\n[server]\nhost = %s\nport = %d\nthreads = 4\n'
                 '[store]\nmedia_dir = media\n[registry]\ndatabase = privtube.db\n' % (HOST, port))
    return path


def privtube_cli(config, *args):
    """Run one privtube command to completion; return its standard output."""
    command = [sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(args), done.stderr.strip()))
    return done.stdout.strip()


def start_logged(command, log_path):
    """Start `command` with its output going to `log_path`."""
    with open(log_path, 'wb') as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=ROOT)


def wait_for_log(path, text, process, timeout=30):
    """Wait until `text` appears in the log at `path` (a server announcing itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError('server exited early; see %s' % path)
        with open(path, encoding='utf-8', errors='replace') as fh:
            if text in fh.read():
                return
        time.sleep(0.05)
    raise RuntimeError('%r not seen in %s within %ds' % (text, path, timeout))


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError('server exited early')
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('port %d did not open within %ds' % (port, timeout))


NGINX_CONF = '''daemon off;
master_process off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log;
events { worker_connections 256; }
http {
    sendfile on;
    tcp_nopush on;
    access_log off;
    types { video/mp4 mp4; }
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen %(host)s:%(port)d;
        root %(root)s;
    }
}
'''


def start_nginx(folder, port, media_dir):
    """nginx as a single foreground process (it is its own worker) serving `media_dir`."""
    conf = os.path.join(folder, 'nginx.conf')
    with open(conf, 'w', encoding='utf-8') as fh:
        fh.write(NGINX_CONF % {'dir': folder, 'host': HOST, 'port': port, 'root': media_dir})
    command = [NGINX, '-p', folder, '-e', os.path.join(folder, 'nginx-error.log'), '-c', conf]
    process = start_logged(command, os.path.join(folder, 'nginx.log'))
    wait_for_port(port, process)
    return process


def start_privtube(folder, config):
    process = start_logged([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, 'serve'],
                           os.path.join(folder, 'serve.log'))
    wait_for_log(os.path.join(folder, 'serve.log'), 'serving on', process)
    return process


# --- reading /proc ---------------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a whole process (all its threads), in seconds."""
    with open('/proc/%d/stat' % pid) as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def server_pids(pid):
    """The process itself plus its children (nginx workers, were a master process running)."""
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as fh:
            return [pid] + [int(child) for child in fh.read().split()]
    except OSError:
        return [pid]


def total_cpu(pids):
    return sum(cpu_seconds(pid) for pid in pids)


# --- the client ------------------------------------------------------------------------------------


def read_head(sock):
    """(status, content length, body bytes already read) of the response on `sock`."""
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError('connection closed inside the response head: %r' % data[:200])
        data += chunk
    head, body = data.split(b'\r\n\r\n', 1)
    lines = head.decode('latin-1').split('\r\n')
    fields = dict(line.lower().split(': ', 1) for line in lines[1:])
    return int(lines[0].split()[1]), int(fields.get('content-length', '-1')), body


def fetch(port, target, headers, buffer, byte_range='bytes=0-'):
    """Fetch one ranged response, its body read into `buffer`; return (body bytes, seconds)."""
    view = memoryview(buffer)
    with socket.create_connection((HOST, port), timeout=30) as sock:
        started = time.perf_counter()
        sock.sendall(request_bytes(port, target, headers, byte_range))
        status, length, body = read_head(sock)
        if status != 206:
            raise RuntimeError('%s answered %d, not 206' % (target, status))
        received, deadline = len(body), started + FETCH_SECONDS
        while received < length and time.perf_counter() < deadline:
            count = sock.recv_into(view)
            if not count:
                break
            received += count
        seconds = time.perf_counter() - started
    if received != length:
        raise RuntimeError('%s: got %d of %d bytes' % (target, received, length))
    return received, seconds


def measure_once(server, buffer):
    """One full fetch from `server`: MiB/s and server CPU seconds per GiB."""
    before = total_cpu(server['pids'])
    size, seconds = fetch(server['port'], server['target'], server['headers'], buffer)
    used = total_cpu(server['pids']) - before
    return {'mib_s': size / MIB / seconds, 'cpu_per_gib': used / (size / GIB)}


def throughput_rounds(servers, rounds):
    """Alternate full fetches between the servers; {name: [measurements]}."""
    buffer = bytearray(4 * MIB)
    results = {name: [] for name in servers}
    for _ in range(rounds):
        for name, server in servers.items():
            results[name].append(measure_once(server, buffer))
    return results


# --- slow streams and /healthz ---------------------------------------------------------------------


def health_latencies_ms(port, polls):
    """Time `polls` sequential GET /healthz, each on a new connection."""
    times = []
    for _ in range(polls):
        started = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request('GET', '/healthz')
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError('/healthz answered %d' % response.status)
        finally:
            conn.close()
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return times


def slow_streams_with_health(server):
    """Hold 32 slow streams open while polling /healthz; (streams that got data, latencies in ms)."""
    streams, stop_event = [], threading.Event()
    reader = threading.Thread(target=drive_slow_streams, args=(streams, stop_event), daemon=True)
    try:
        streams += [SlowStream(server['port'], server['target'], server['headers']) for _ in range(SLOW_CLIENTS)]
        reader.start()
        time.sleep(0.5)
        latencies = health_latencies_ms(server['port'], HEALTH_POLLS)
        time.sleep(0.3)
    finally:
        stop_event.set()
        if reader.is_alive():
            reader.join(timeout=5)
        for stream in streams:
            stream.close()
    return sum(1 for stream in streams if stream.received_data()), latencies


# --- the run ---------------------------------------------------------------------------------------

def catalog_item_id(port, headers):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request('GET', '/api/v1/catalog', headers=headers)
        response = conn.getresponse()
        page = json.loads(response.read())
    finally:
        conn.close()
    if response.status != 200 or not page.get('items'):
        raise RuntimeError('catalog answered %d: %r' % (response.status, page))
    return page['items'][0]['id']


def prepare_privtube(folder, size_mib):
    """A config, a key and the indexed file; returns (config path, port, Authorization headers)."""
    port = free_port()
    config = write_privtube_config(folder, port)
    make_media_file(os.path.join(folder, 'media'), size_mib)
    token = privtube_cli(config, 'key', 'create', 'bench', '--allow', '*').splitlines()[-1]
    privtube_cli(config, 'scan')
    return config, port, {'Authorization': 'Bearer ' + token}


def run(args, folder):
    config, port, headers = prepare_privtube(folder, args.size_mib)
    processes = []
    try:
        serve = start_privtube(folder, config)
        processes.append(serve)
        time.sleep(3)
        idle_rss = resident_mib(serve.pid)
        item_id = catalog_item_id(port, headers)
        nginx_port = free_port()
        processes.append(start_nginx(folder, nginx_port, os.path.join(folder, 'media')))
        servers = {
            'privtube': {'port': port, 'target': '/api/v1/content/%s/media' % item_id, 'headers': headers,
                         'pids': [serve.pid]},
            'nginx': {'port': nginx_port, 'target': '/' + FILE_NAME, 'headers': {},
                      'pids': server_pids(processes[1].pid)},
        }
        for server in servers.values():   # warm both up with a small range
            fetch(server['port'], server['target'], server['headers'], bytearray(MIB), 'bytes=0-1023')
        results = throughput_rounds(servers, args.rounds)
        receiving, latencies = slow_streams_with_health(servers['privtube'])
        still_running = serve.poll() is None
    finally:
        for process in processes:
            stop(process)
    return {'results': results, 'receiving': receiving, 'latencies': latencies, 'idle_rss': idle_rss,
            'alive': still_running}


# --- the report ------------------------------------------------------------------------------------

def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def paired_ratio(results, figure):
    """Median of the per-round privtube/nginx ratios: rounds alternate, so drifts in machine load cancel."""
    pairs = zip(results['privtube'], results['nginx'])
    return statistics.median(ours[figure] / theirs[figure] if theirs[figure] else float('inf')
                             for ours, theirs in pairs)


def comparison_rows(results, figure, label, best, passes, target):
    """A 'best' row (informative) and a 'median' row judged on the paired ratio."""
    ours, theirs = [r[figure] for r in results['privtube']], [r[figure] for r in results['nginx']]
    number = '%.0f' if figure == 'mib_s' else '%.3f'
    best_ratio = best(ours) / best(theirs) if best(theirs) else float('inf')
    ratio = paired_ratio(results, figure)
    return [('%s best' % label, number % best(ours), number % best(theirs), '%.2f' % best_ratio, '', ''),
            ('%s median' % label, number % statistics.median(ours), number % statistics.median(theirs),
             '%.2f' % ratio, target, verdict(passes(ratio)))]


def throughput_rows(results):
    limit = TARGETS['throughput']
    return comparison_rows(results, 'mib_s', 'throughput MiB/s', max, lambda r: r >= limit, '>= %.1f' % limit)


def cpu_rows(results):
    limit = TARGETS['cpu']
    return comparison_rows(results, 'cpu_per_gib', 'server CPU s/GiB', min, lambda r: r <= limit, '<= %.1f' % limit)


def other_rows(report):
    p50, p99 = percentile(report['latencies'], 0.5), percentile(report['latencies'], 0.99)
    receiving = report['receiving']
    return [
        ('slow streams receiving data', '%d/%d' % (receiving, SLOW_CLIENTS), '', '', '%d/%d' % (
            SLOW_CLIENTS, SLOW_CLIENTS), verdict(receiving == SLOW_CLIENTS)),
        ('/healthz p50 under load (ms)', '%.1f' % p50, '', '', '', ''),
        ('/healthz p99 under load (ms)', '%.1f' % p99, '', '', '< %.0f' % TARGETS['health_p99_ms'],
         verdict(p99 < TARGETS['health_p99_ms'])),
        ('idle VmRSS of serve (MiB)', '%.1f' % report['idle_rss'], '', '', '<= %.0f' % TARGETS['idle_rss_mib'],
         verdict(report['idle_rss'] <= TARGETS['idle_rss_mib'])),
        ('serve still running at the end', 'yes' if report['alive'] else 'NO', '', '', 'yes',
         verdict(report['alive'])),
    ]


def print_rounds(results):
    for name, rounds in results.items():
        figures = ', '.join('%.0f MiB/s %.3f s/GiB' % (r['mib_s'], r['cpu_per_gib']) for r in rounds)
        print('  %-8s rounds: %s' % (name, figures))


def print_report(args, report):
    header = ('measure', 'privtube', 'nginx', 'ratio', 'target', 'result')
    rows = throughput_rows(report['results']) + cpu_rows(report['results']) + other_rows(report)
    print('privtube streaming benchmark: %d MiB file, %d alternating rounds, %d CPUs, 127.0.0.1'
          % (args.size_mib, args.rounds, os.cpu_count()))
    print_rounds(report['results'])
    print()
    line = '%-32s %10s %10s %7s %8s  %s'
    print(line % header)
    print('-' * 78)
    for row in rows:
        print(line % row)
    print('(ratio on a median row: the median of per-round privtube/nginx ratios; CPU is utime+stime)')
    return all(row[5] in ('PASS', '') for row in rows)


def main():
    args = parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-bench-')
    try:
        report = run(args, folder)
    finally:
        if args.keep:
            print('kept %s' % folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if print_report(args, report) else 1


if __name__ == '__main__':
    sys.exit(main())
