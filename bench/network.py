#!/usr/bin/env python3
"""Network benchmark: registry sync, the media gateway, and slow browsers through a node.

    python bench/network.py                 # 100,000 items and a 1 GiB remote item
    python bench/network.py --items 20000 --size-mib 256

Two real `serve` processes on loopback: alice (the origin) and bob (the reader). It measures, in one run,
1. bob's first sync of alice's 100,000 items (time, and the syncing process's memory growth), a sync of
   the unchanged peer, and a sync after 100 items changed; each sync runs in a fresh process, as `sync` does;
2. one 1 GiB remote item fetched through bob's gateway (following its windows, as a browser does) vs
   directly from alice's API;
3. 32 slow browsers streaming the remote item through bob (4 threads) while bob's pages are timed.
Targets: first sync <= 20 s and <= 60 MB growth; unchanged <= 50 ms; 100 changed <= 300 ms;
gateway/direct >= 0.5; every stream receives data; page p99 < 100 ms.
"""
import argparse
import http.client
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import common  # noqa: E402

import privtube_config  # noqa: E402
from privtube_app import Node  # noqa: E402

HOST, MIB = '127.0.0.1', 1024 * 1024

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--items', type=int, default=100_000)
    parser.add_argument('--size-mib', type=int, default=1024)
    return parser.parse_args()


def make_origin(folder, args):
    """alice's node: N items in the database, one real large file, and a key for bob."""
    port = common.free_port()
    os.makedirs(folder)
    config = common.write_config(folder, 'alice', port)
    node = Node(privtube_config.load(config))
    rng = random.Random(3)
    common.populate(node, args.items, common.vocabulary(5000, rng), rng)
    common.make_media_file(os.path.join(folder, 'media'), args.size_mib)
    big = node.store.items.create(os.path.join(folder, 'media', common.FILE_NAME), 'The big film', ['family'])
    _, bob_key = node.accounts.create_key('bob', ['*'])
    _, script_key = node.accounts.create_key('script', ['*'])
    node.close()
    return {'config': config, 'port': port, 'bob_key': bob_key, 'script_key': script_key, 'big_id': big.id,
            'file': os.path.join(folder, 'media', common.FILE_NAME)}


def change_items(origin, count):
    node = Node(privtube_config.load(origin['config']))
    Item = node.database.Item
    for item in list(Item.select().where(Item.origin == 'local').limit(count)):   # read, then write
        node.store.items.edit(item, title=item.title + ' (edited)')
    node.close()


def sign_in(port):
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request('GET', '/login')
    form = conn.getresponse()
    token = re.search(r'name="csrf" value="([^"]*)"', form.read().decode()).group(1)
    conn.request('POST', '/login', body='username=ann&password=ann-password&csrf=' + token,
                 headers={'Content-Type': 'application/x-www-form-urlencoded',
                          'Cookie': form.getheader('Set-Cookie').split(';', 1)[0]})
    response = conn.getresponse()
    response.read()
    conn.close()
    cookie = response.getheader('Set-Cookie').split(';', 1)[0]
    return {'Cookie': cookie}


def fetch_following_windows(port, target, headers, size, buffer, original):
    """Read the whole item with `Range: bytes=N-` requests, as a browser follows short 206 answers.

    The first bytes of every answer are compared with the file at that offset (`original`, open): a
    gateway that mixed up its windows would be caught without hashing the whole GiB."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    received, started = 0, time.perf_counter()
    while received < size:
        conn.request('GET', target, headers=dict(headers, Range='bytes=%d-' % received))
        response = conn.getresponse()
        if response.status != 206:
            raise RuntimeError('%s answered %d' % (target, response.status))
        length = int(response.getheader('Content-Length'))
        view, got = memoryview(buffer), 0
        while got < length:
            count = response.readinto(view[:min(len(buffer), length - got)])
            if not count:
                raise RuntimeError('short read')
            if got == 0 and bytes(view[:64]) != os.pread(original.fileno(), min(64, count), received):
                raise RuntimeError('%s sent wrong bytes at offset %d' % (target, received))
            got += count
        received += got
    conn.close()
    return received / MIB / (time.perf_counter() - started)


def pages_under_slow_streams(port, target, headers):
    """32 slow browsers stream the remote item while bob's pages are timed; (streams with data, ms)."""
    streams, stop_event = [], threading.Event()
    reader = threading.Thread(target=common.drive_slow_streams, args=(streams, stop_event), daemon=True)
    times = []
    try:
        streams += [common.SlowStream(port, target, headers) for _ in range(common.SLOW_CLIENTS)]
        reader.start()
        time.sleep(1.0)
        for n in range(200):
            path = '/' if n % 2 else '/search?q=film'
            started = time.perf_counter()
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request('GET', path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                raise RuntimeError('%s answered %d' % (path, response.status))
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    finally:
        stop_event.set()
        reader.join(timeout=5)
        for one in streams:
            one.close()
    return sum(1 for one in streams if one.received_data()), times


def run(args, folder):
    origin = make_origin(os.path.join(folder, 'alice'), args)
    reader = common.make_reader(os.path.join(folder, 'bob'), origin)
    processes = []
    try:
        processes.append(common.start_serve(origin['config'], origin['port']))
        first = common.timed_sync(reader['config'])
        unchanged = common.timed_sync(reader['config'])
        change_items(origin, 100)
        changed = common.timed_sync(reader['config'])
        processes.append(common.start_serve(reader['config'], reader['port']))
        cookie = sign_in(reader['port'])
        size = args.size_mib * MIB
        buffer = bytearray(4 * MIB)
        direct_target = '/api/v1/content/%s/media' % origin['big_id']
        key = {'Authorization': 'Bearer ' + origin['script_key']}
        gateway_target = '/media/alice:%s' % origin['big_id']
        rounds, cpu = [], {'direct': [], 'gateway': []}
        alice, bob = processes[0].pid, processes[1].pid
        with open(origin['file'], 'rb') as original:
            for _ in range(3):
                direct = with_cpu(cpu['direct'], (alice, bob), fetch_following_windows, origin['port'],
                                  direct_target, key, size, buffer, original)
                through = with_cpu(cpu['gateway'], (alice, bob), fetch_following_windows, reader['port'],
                                   gateway_target, cookie, size, buffer, original)
                rounds.append((direct, through))
        receiving, page_ms = pages_under_slow_streams(reader['port'], gateway_target, cookie)
    finally:
        for process in processes:
            common.stop(process)
    return first, unchanged, changed, rounds, cpu, receiving, page_ms


def process_cpu(pid):
    """CPU seconds (user + system) the process `pid` has used so far."""
    with open('/proc/%d/stat' % pid) as fh:
        fields = fh.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def with_cpu(record, pids, work, *args):
    """Run `work`, appending the CPU seconds alice, bob and this client used meanwhile to `record`."""
    before = [process_cpu(pid) for pid in pids] + [time.process_time()]
    result = work(*args)
    after = [process_cpu(pid) for pid in pids] + [time.process_time()]
    record.append([b - a for a, b in zip(before, after)])
    return result


def cpu_line(samples, size_mib):
    """Mean CPU seconds per GiB of alice, bob and the client."""
    per_gib = [sum(column) / len(samples) * 1024 / size_mib for column in zip(*samples)]
    return 'alice %.2f, bob %.2f, client %.2f (total %.2f)' % (*per_gib, sum(per_gib))


def report(args, first, unchanged, changed, rounds, cpu, receiving, page_ms):
    ratios = sorted(through / direct for direct, through in rounds)
    ratio = ratios[len(ratios) // 2]
    p50, p99 = common.percentile(page_ms, 0.5), common.percentile(page_ms, 0.99)
    rows = [
        ('first sync of %d items (s)' % args.items, '%.1f' % first['seconds'], '<= 20', first['seconds'] <= 20),
        ('memory growth of the syncing process (MiB)', '%.1f' % first['growth_mib'], '<= 60',
         first['growth_mib'] <= 60),
        ('sync of the unchanged peer (ms)', '%.1f' % (unchanged['seconds'] * 1000), '<= 50',
         unchanged['seconds'] <= 0.05),
        ('sync after 100 items changed (ms)', '%.1f' % (changed['seconds'] * 1000), '<= 300',
         changed['seconds'] <= 0.3),
        ('%d MiB: gateway / direct throughput (median of 3)' % args.size_mib, '%.2f' % ratio, '>= 0.5',
         ratio >= 0.5),
        ('slow browsers receiving data', '%d/%d' % (receiving, common.SLOW_CLIENTS), 'all',
         receiving == common.SLOW_CLIENTS),
        ('bob page p50 / p99 meanwhile (ms)', '%.1f / %.1f' % (p50, p99), 'p99 < 100', p99 < 100),
    ]
    print('privtube network benchmark (127.0.0.1, %d CPUs)' % os.cpu_count())
    print('  direct vs gateway MiB/s per round: %s' % ', '.join('%.0f vs %.0f' % r for r in rounds))
    print('  CPU s per GiB direct:  %s' % cpu_line(cpu['direct'], args.size_mib))
    print('  CPU s per GiB gateway: %s' % cpu_line(cpu['gateway'], args.size_mib))
    print('  syncs: %s | %s | %s' % (first['message'], unchanged['message'], changed['message']))
    for name, value, target, ok in rows:
        print('%-50s %14s %10s  %s' % (name, value, target, 'PASS' if ok else 'FAIL'))
    return all(row[3] for row in rows)


def main():
    args = parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-net-')
    try:
        results = run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if report(args, *results) else 1


if __name__ == '__main__':
    sys.exit(main())
