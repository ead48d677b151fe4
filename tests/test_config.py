"""Configuration: defaults, layering, unknown keys, bad values, relative paths."""
import os

import pytest

import privtube_config as cfg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(tmp_path, text):
    path = tmp_path / 'config.ini'
    path.write_text(text)
    return str(path)


def test_defaults_work_without_a_file(tmp_path):
    config = cfg.load(str(tmp_path / 'absent.ini'))
    assert config.get('server', 'port') == 8080
    assert config.get('store', 'media_dir') == str(tmp_path / 'media')
    assert config.get('registry', 'database') == str(tmp_path / 'privtube.db')


def test_paths_are_relative_to_the_config_folder(tmp_path):
    config = cfg.load(write(tmp_path, '[store]\nmedia_dir = ../films\n'))
    assert config.get('store', 'media_dir') == str(tmp_path.parent / 'films')


def test_file_values_override_defaults(tmp_path):
    config = cfg.load(write(tmp_path, '[server]\nport = 9999\nthreads = 2\n[node]\nname = alice\n'))
    assert (config.get('server', 'port'), config.get('server', 'threads'), config.node_name) == (9999, 2, 'alice')


def test_unknown_sections_and_keys_are_named(tmp_path):
    config = cfg.load(write(tmp_path, '[server]\nprot = 1\n[nonsense]\na = b\n'))
    assert any('[server] prot' in w for w in config.warnings)
    assert any('[nonsense]' in w for w in config.warnings)


@pytest.mark.parametrize('text, named', [
    ('[server]\nport = eighty\n', '[server] port'),
    ('[server]\nport = 70000\n', '[server] port'),
    ('[server]\nthreads = 0\n', '[server] threads'),
    ('[store]\nmax_upload_mb = -5\n', '[store] max_upload_mb'),
    ('[node]\npublic_url = ftp://x\n', '[node] public_url'),
    ('[peer:bob]\nurl = nothing\nkey = k\n', '[peer:bob]'),
    ('[peer:bob]\nurl = http://bob.lan\n', '[peer:bob]'),
    ('[server\nport = 1\n', 'cannot read'),
])
def test_bad_value_names_option_and_file(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(path)
    assert named in str(caught.value) and path in str(caught.value)


def test_shipped_config_is_the_init_template():
    with open(os.path.join(ROOT, 'config.ini'), encoding='utf-8') as fh:
        assert fh.read() == cfg.commented_template()


def test_template_parses_to_the_defaults(tmp_path):
    config = cfg.load(write(tmp_path, cfg.commented_template()))
    assert config.warnings == []
    assert config.get('server', 'port') == 8080
