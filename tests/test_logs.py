"""Quiet, useful logs and the version (README, "Logs"): `--version`, the log's format and levels, one line
for a created or upgraded database, and no queue warnings when a page's thumbnails arrive together."""
import concurrent.futures
import logging
import os
import re
import subprocess
import sys
import threading
import time

import pytest
import requests
from conftest import login_token, write_config
from media_samples import make_photo
from test_browser import served
from test_serve import free_port

import privtube_db
import privtube_logs
from privtube_version import VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG_LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ')


def privtube(*args, stdin=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py')] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_version_is_alone_on_stdout():
    done = privtube('--version')
    assert (done.returncode, done.stdout, done.stderr) == (0, VERSION + '\n', '')


def test_setup_py_reads_the_same_version_without_importing_the_node():
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'setup.py'), '--version'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == VERSION


def test_the_changelog_starts_with_this_release():
    with open(os.path.join(ROOT, 'CHANGELOG.md'), encoding='utf-8') as fh:
        releases = re.findall(r'^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d\d-\d\d$', fh.read(), re.M)
    assert releases[0] == VERSION
    assert '0.1.0' in releases


def test_a_bad_log_level_is_a_usage_error():
    done = privtube('serve', '--log-level', 'loud')
    assert done.returncode == 2
    assert done.stderr.startswith('privtube: error: argument --log-level') and 'Traceback' not in done.stderr


def test_the_log_level_is_taken_before_the_command_or_after_serve():
    import privtube
    commands = (['serve'], ['serve', '--log-level', 'debug'], ['--log-level', 'error', 'serve'],
                ['--log-level', 'debug', 'scan'])
    levels = [privtube.build_parser().parse_args(argv).log_level for argv in commands]
    assert levels == [None, 'debug', 'error', 'debug']       # None: the command's default (info for serve)


def test_a_global_log_level_shows_the_schema_steps_of_another_command(tmp_path):
    for home in ('quiet', 'loud'):
        (tmp_path / home).mkdir()
    quiet, loud = write_config(tmp_path / 'quiet'), write_config(tmp_path / 'loud')
    quiet = privtube('--config', quiet, 'user', 'list')
    assert (quiet.returncode, quiet.stderr) == (0, '')           # other commands log warnings only
    loud = privtube('--log-level', 'debug', '--config', loud, 'user', 'list')
    lines = loud.stderr.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), loud.stderr
    assert sum('schema step' in line for line in lines) == len(privtube_db.MIGRATIONS)
    assert not any(' peewee: ' in line for line in lines)     # not every SQL statement


def test_an_upgrade_logs_one_line_and_each_step_at_debug(tmp_path, caplog):
    path = str(tmp_path / 'node.db')
    privtube_db.Database(path, target=3).close()
    caplog.set_level(logging.DEBUG, logger='privtube.db')
    privtube_db.Database(path).close()
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert info == ['database %s upgraded from schema 3 to %d' % (path, privtube_db.SCHEMA_VERSION)]
    steps = [r for r in caplog.records if r.levelno == logging.DEBUG and 'schema step' in r.getMessage()]
    assert len(steps) == len([step for step in privtube_db.MIGRATIONS if step > 3])
    caplog.clear()
    privtube_db.Database(path).close()
    assert caplog.records == []          # nothing to say about a database that is up to date


class Sleeper:
    """A Waitress task that holds its worker thread for `seconds`."""

    def __init__(self, seconds):
        self.seconds, self.done = seconds, threading.Event()

    def service(self):
        time.sleep(self.seconds)
        self.done.set()

    def cancel(self):
        self.done.set()


def test_requests_that_wait_for_a_worker_thread_are_warned_of_once(caplog):
    watch = privtube_logs.WaitWatch(1, slow=0.1)
    tasks = [Sleeper(0.25) for _ in range(3)]
    try:
        with caplog.at_level(logging.DEBUG):
            for task in tasks:
                watch.add_task(task)
            assert all(task.done.wait(5) for task in tasks)
    finally:
        watch.shutdown()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and 'waited 0.1 s or more' in warnings[0] and '[server] threads = 1' in warnings[0]
    assert any(r.name == 'waitress.queue' and r.levelno == logging.DEBUG for r in caplog.records)


@pytest.mark.slow
def test_a_page_of_forty_thumbnails_logs_no_queue_warning(tmp_path):
    """Forty thumbnails asked at once (a proxy speaking HTTP/2 to the browser opens a connection for each)
    with the default four worker threads: Waitress used to log "Task queue depth is N" for them."""
    port, config = free_port(), str(tmp_path / 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = home\n[server]\nport = %d\n' % port)
    os.makedirs(str(tmp_path / 'media'))
    for number in range(40):
        make_photo(tmp_path / 'media', 'photo%02d.jpg' % number, (64, 48))
    assert privtube('--config', config, 'user', 'add', 'ann', '--password-stdin', stdin='ann-password\n') \
        .returncode == 0
    log_path = str(tmp_path / 'serve.log')
    with open(log_path, 'w') as log, served(config, port, log) as base:
        assert privtube('--config', config, 'scan').returncode == 0
        browser = signed_in(base, 'ann', 'ann-password')
        ids = wait_for_thumbnails(browser, config, base)
        assert len(ids) == 40
        with concurrent.futures.ThreadPoolExecutor(len(ids)) as pool:
            answers = list(pool.map(lambda item_id: thumbnail(browser.cookies, base, item_id), ids))
        assert answers == [(200, 'image/jpeg')] * len(ids)
    with open(log_path, encoding='utf-8') as fh:
        lines = fh.read().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert not [line for line in lines if 'WARNING' in line or 'queue' in line or 'waited' in line], lines
    assert sum('privtube.db' in line for line in lines) == 0     # the database was made by `user add`, quietly


def signed_in(base, name, password):
    session = requests.Session()
    token = login_token(session.get(base + '/login', timeout=10).text)
    answer = session.post(base + '/login', data={'username': name, 'password': password, 'csrf': token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    return session


def wait_for_thumbnails(session, config, base, deadline=90):
    """The ids of the node's items once the media worker has made a thumbnail of each."""
    listing = privtube('--config', config, 'content', 'list')
    ids = [line.split('\t')[0] for line in listing.stdout.splitlines()]
    end = time.time() + deadline
    while time.time() < end:
        if all(thumbnail(session.cookies, base, item_id) == (200, 'image/jpeg') for item_id in ids):
            return ids
        time.sleep(0.5)
    raise AssertionError('the media worker did not make the thumbnails in %d s' % deadline)


def thumbnail(cookies, base, item_id):
    """One request on its own connection, as each of many parallel ones is."""
    answer = requests.get(base + '/thumb/' + item_id, cookies=cookies, timeout=20)
    return answer.status_code, answer.headers.get('Content-Type', '').split(';')[0]


def test_the_first_start_logs_one_line_for_the_new_database(tmp_path):
    port, config = free_port(), str(tmp_path / 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = home\n[server]\nport = %d\n' % port)
    log_path = str(tmp_path / 'serve.log')
    with open(log_path, 'w') as log, served(config, port, log):
        pass
    with open(log_path, encoding='utf-8') as fh:
        lines = fh.read().splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines
    database = [line for line in lines if 'privtube.db' in line]
    assert len(database) == 1 and database[0].endswith(
        'INFO privtube.db: database created at %s (schema %d)'
        % (str(tmp_path / 'privtube.db'), privtube_db.SCHEMA_VERSION)), lines
    assert any('INFO privtube.app: privtube %s node' % VERSION in line for line in lines)
