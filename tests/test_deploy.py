"""The deployment files (README: "Run it at boot", "Docker") name what exists: the systemd unit passes
`systemd-analyze verify`, and the image's entrypoint, health check, volumes and compose file agree with the
node's config and routes. Building and running the image is `.ci/docker-check`'s job (minutes, not seconds)."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, write_config
from test_browser import served
from test_serve import free_port

import privtube_config

UNIT = os.path.join(ROOT, 'privtube.service')
DOCKERFILE = os.path.join(ROOT, 'Dockerfile')
COMPOSE = os.path.join(ROOT, 'compose.yaml')
ENTRYPOINT = os.path.join(ROOT, 'docker-entrypoint.sh')
INSTALL_DIR = '/opt/privtube'


def read(path):
    with open(path, encoding='utf-8') as fh:
        return fh.read()


def unit_service():
    """The unit's [Service] section (systemd allows repeated keys: each value kept, in order)."""
    values = {}
    section = read(UNIT).split('\n[Service]\n', 1)[1].split('\n[', 1)[0]
    for entry in section.splitlines():
        if '=' in entry and not entry.startswith('#'):
            key, _, value = entry.partition('=')
            values.setdefault(key, []).append(value)
    return values


def installed_copy(tmp_path):
    """The unit with its install folder moved into tmp_path, where its ExecStart really exists."""
    install = tmp_path / INSTALL_DIR.lstrip('/')
    (install / '.venv' / 'bin').mkdir(parents=True)
    os.symlink(sys.executable, install / '.venv' / 'bin' / 'python')
    shutil.copy(os.path.join(ROOT, 'privtube.py'), install / 'privtube.py')
    unit = tmp_path / 'privtube.service'
    unit.write_text(read(UNIT).replace(INSTALL_DIR, str(install)))
    return unit


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if shutil.which('systemd-analyze') is None:     # CI must have it: .ci/run installs systemd
        if os.environ.get('CI'):
            pytest.fail('CI must install systemd (see .ci/run)')
        pytest.skip('systemd-analyze is not installed')
    unit = installed_copy(tmp_path)
    done = subprocess.run(['systemd-analyze', 'verify', str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if 'privtube' in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr


def test_unit_runs_the_first_commands_venv_hardened():
    service = unit_service()
    assert service['ExecStart'] == ['%s/.venv/bin/python %s/privtube.py serve' % (INSTALL_DIR, INSTALL_DIR)]
    assert service['User'] == ['privtube'] and service['KillSignal'] == ['SIGTERM']
    for key, value in [('ProtectSystem', 'strict'), ('NoNewPrivileges', 'yes'), ('Restart', 'on-failure'),
                       ('ProtectHome', 'yes'), ('PrivateTmp', 'yes')]:
        assert service[key] == [value], key


def test_unit_may_write_where_the_readmes_config_keeps_database_and_media(tmp_path):
    """ReadWritePaths must hold the database (with its caches and lock) and the media folder of the config
    that README "Run it at boot" writes (`init`, then its `sed` line, run here on a copy), or the node
    fails on a read-only file system."""
    service = unit_service()
    config_path = dict(item.split('=', 1) for item in service['Environment'])['PRIVTUBE_CONFIG']
    section = read(os.path.join(ROOT, 'README.md')).split('## Run it at boot', 1)[1].split('\n## ', 1)[0]
    sed = next(line.strip() for line in section.splitlines() if line.strip().startswith('sed -i'))
    copy = tmp_path / 'config.ini'
    copy.write_text(privtube_config.commented_template())
    subprocess.run(['sh', '-c', sed.replace(config_path, str(copy))], check=True, timeout=30)
    config = privtube_config.load(str(copy))
    database = os.path.join(os.path.dirname(config_path), os.path.relpath(config.get('registry', 'database'),
                                                                          tmp_path))
    writable = service['ReadWritePaths'][0].split()
    for folder in (os.path.dirname(database), config.get('store', 'media_dir')):
        assert any(folder == w or folder.startswith(w + '/') for w in writable), (folder, writable)
    assert config.get('store', 'media_dir') != str(tmp_path / 'media')     # the sed line changed it
    assert service['WorkingDirectory'] == [os.path.dirname(config_path)]


def run_entrypoint(tmp_path, *command, **extra):
    env = dict(os.environ, **extra, PRIVTUBE_CONFIG=str(tmp_path / 'config' / 'config.ini'),
               PRIVTUBE_DATA=str(tmp_path / 'data'), PRIVTUBE_MEDIA=str(tmp_path / 'media'),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    return subprocess.run(['sh', ENTRYPOINT, *command], capture_output=True, text=True, env=env, timeout=60)


def test_entrypoint_writes_a_config_for_the_containers_folders_once(tmp_path):
    done = run_entrypoint(tmp_path, 'echo', 'served')  # the real image runs `privtube serve` here
    assert done.returncode == 0 and done.stdout == 'served\n', done.stderr
    config = privtube_config.load(str(tmp_path / 'config' / 'config.ini'), must_exist=True)
    assert config.get('server', 'host') == '0.0.0.0' and config.get('server', 'port') == 8080
    assert config.get('registry', 'database') == str(tmp_path / 'data' / 'privtube.db')
    assert config.get('store', 'media_dir') == str(tmp_path / 'media')
    assert not config.warnings
    (tmp_path / 'config' / 'config.ini').write_text('[server]\nport = 9000\n')
    assert run_entrypoint(tmp_path, 'true').returncode == 0
    assert privtube_config.load(str(tmp_path / 'config' / 'config.ini')).get('server', 'port') == 9000


def test_entrypoint_takes_the_first_address_from_the_environment(tmp_path):
    """`.ci/docker-check` runs the image on the host's network: a loopback address and a free port."""
    assert run_entrypoint(tmp_path, 'true', PRIVTUBE_HOST='127.0.0.1', PRIVTUBE_PORT='9123').returncode == 0
    config = privtube_config.load(str(tmp_path / 'config' / 'config.ini'))
    assert (config.get('server', 'host'), config.get('server', 'port')) == ('127.0.0.1', 9123)


def dockerfile_instruction(name):
    found = re.findall(r'^%s ((?:.*\\\n)*.*)$' % name, read(DOCKERFILE), re.M)
    assert found, name
    return found[-1]


def test_image_checks_health_on_the_nodes_healthz(tmp_path):
    """The HEALTHCHECK's own command, run against a node serving on the port its config names."""
    check = json.loads(re.search(r'CMD (\[.+\])', dockerfile_instruction('HEALTHCHECK')).group(1))
    assert check[0] == 'python3' and '/healthz' in check[-1]
    port = free_port()
    config_path = write_config(tmp_path, '[server]\nport = %d\n' % port)
    code = check[-1].replace('/opt/privtube', ROOT)
    env = dict(os.environ, PRIVTUBE_CONFIG=config_path)
    with served(config_path, port):
        assert subprocess.run([sys.executable, '-c', code], env=env, timeout=30).returncode == 0
    assert subprocess.run([sys.executable, '-c', code], env=env, timeout=30).returncode != 0


def test_image_volumes_are_the_entrypoints_folders_and_composes():
    volumes = set(re.findall(r'"(/\w+)"', dockerfile_instruction('VOLUME')))
    assert volumes == {'/config', '/data', '/media'}
    assert 'PRIVTUBE_CONFIG=/config/config.ini' in dockerfile_instruction('ENV')
    entry = read(ENTRYPOINT)
    assert '${PRIVTUBE_DATA:-/data}' in entry and '${PRIVTUBE_MEDIA:-/media}' in entry
    compose = read(COMPOSE)
    mounted = set(re.findall(r'^\s+- \S+:(/\w+)(?::r[ow])?$', compose, re.M))
    assert mounted == volumes
    assert '"8080:8080"' in compose and 'restart: unless-stopped' in compose


def test_image_stops_with_sigterm_and_runs_serve_as_pid_1():
    assert dockerfile_instruction('STOPSIGNAL') == 'SIGTERM'
    assert dockerfile_instruction('CMD') == '["privtube", "serve"]'
    assert read(ENTRYPOINT).rstrip().endswith('exec "$@"')


def test_image_never_copies_the_ca_bundle_into_a_layer():
    """The CA bundle is a BuildKit secret mounted for pip's step only (README: "Docker")."""
    text = read(DOCKERFILE)
    assert '--mount=type=secret,id=pip_ca' in text and 'ca-certificates.crt' not in text.split('FROM', 1)[1]
    assert not re.search(r'^(COPY|ADD|ENV)\b.*(pip_ca|PIP_CERT)', text, re.M)
