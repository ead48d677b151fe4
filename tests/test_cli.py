"""The command line as a user runs it: real processes, exit codes, stdout only for machine output."""
import os
import sqlite3
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Cli:
    def __init__(self, folder):
        self.folder = folder
        self.config = str(folder / 'config.ini')

    def __call__(self, *args, stdin=None, config=True):
        argv = [sys.executable, os.path.join(ROOT, 'privtube.py')] + (['--config', self.config] if config else [])
        done = subprocess.run(argv + list(args), input=stdin, capture_output=True, text=True, cwd=str(self.folder),
                              timeout=60)
        assert 'Traceback' not in done.stderr, done.stderr
        return done


@pytest.fixture
def cli(tmp_path):
    run = Cli(tmp_path)
    assert run('init', config=False).returncode == 0
    return run


def one_line_error(done, status):
    assert done.returncode == status
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('privtube: error:'), done.stderr
    return lines[0]


def test_init_writes_config_and_refuses_to_overwrite(cli, tmp_path):
    assert (tmp_path / 'config.ini').read_text().startswith('# privtube node configuration')
    assert 'already exists' in one_line_error(cli('init', config=False), 1)


@pytest.mark.slow      # several real command-line processes
def test_user_lifecycle(cli):
    assert cli('user', 'add', 'ann', '--password-stdin', stdin='correct horse\n').returncode == 0
    assert cli('user', 'add', 'root', '--admin', '--password-stdin', stdin='battery staple\n').returncode == 0
    listing = cli('user', 'list').stdout
    assert 'ann\tmember\tmembers' in listing and 'root\tadmin\tmembers' in listing
    assert cli('user', 'passwd', 'ann', '--password-stdin', stdin='another secret\n').returncode == 0
    assert cli('user', 'rm', 'ann').returncode == 0
    assert 'ann' not in cli('user', 'list').stdout


@pytest.mark.slow      # several real command-line processes
def test_user_errors_are_one_line(cli):
    cli('user', 'add', 'ann', '--password-stdin', stdin='correct horse\n')
    assert 'already exists' in one_line_error(cli('user', 'add', 'ann', '--password-stdin', stdin='x' * 10), 1)
    assert 'at least 8' in one_line_error(cli('user', 'add', 'bo', '--password-stdin', stdin='short\n'), 1)
    assert 'no group' in one_line_error(cli('user', 'add', 'cy', '--group', 'nope', '--password-stdin',
                                            stdin='long enough\n'), 1)
    assert 'user name' in one_line_error(cli('user', 'add', '../evil', '--password-stdin', stdin='long enough\n'), 1)
    assert 'no user' in one_line_error(cli('user', 'rm', 'ghost'), 1)
    assert '--password-stdin' in one_line_error(cli('user', 'add', 'dee', stdin=''), 2)


@pytest.mark.slow      # several real command-line processes
def test_groups(cli):
    assert cli('group', 'add', 'kids', '--allow', 'tag:cartoons', 'origin:alice').returncode == 0
    assert 'kids\ttag:cartoons origin:alice' in cli('group', 'list').stdout
    assert 'members\t*' in cli('group', 'list').stdout
    assert 'rule' in one_line_error(cli('group', 'add', 'bad', '--allow', 'everything'), 1)
    assert cli('user', 'add', 'kid', '--group', 'kids', '--password-stdin', stdin='long enough\n').returncode == 0
    assert 'kid\tmember\tkids' in cli('user', 'list').stdout
    assert cli('group', 'rm', 'kids').returncode == 0


@pytest.mark.slow      # several real command-line processes
def test_key_create_prints_key_alone_and_peer_line_on_stderr(cli):
    done = cli('key', 'create', 'bob', '--allow', 'tag:family')
    assert done.returncode == 0
    key = done.stdout.strip()
    assert done.stdout == key + '\n' and key.startswith('pt_') and len(key) > 40
    assert 'peer add' in done.stderr and key in done.stderr
    assert 'Other homes cannot reach' in done.stderr and 'public_url' in done.stderr     # none is set
    assert 'bob\ttag:family\t-' in cli('key', 'list').stdout
    assert key not in cli('key', 'list').stdout
    assert cli('key', 'revoke', 'bob').returncode == 0
    assert 'no key' in one_line_error(cli('key', 'revoke', 'bob'), 1)


def test_key_needs_a_rule(cli):
    one_line_error(cli('key', 'create', 'bob'), 2)


@pytest.mark.slow      # several real command-line processes
def test_content_add_list_edit_rm(cli, tmp_path):
    film = tmp_path / 'film.mp4'
    film.write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'f' * 1000)
    done = cli('content', 'add', str(film), '--title', 'Our film', '--tag', 'family', '--private')
    item_id = done.stdout.strip()
    assert done.returncode == 0 and done.stdout == item_id + '\n' and len(item_id) >= 22
    assert '%s\tprivate\tvideo/mp4\tfamily\tOur film' % item_id in cli('content', 'list').stdout
    assert cli('content', 'edit', item_id, '--shared', '--title', 'Renamed', '--tag', 'a', '--tag', 'b').returncode == 0
    assert '%s\tshared\tvideo/mp4\ta,b\tRenamed' % item_id in cli('content', 'list').stdout
    assert cli('content', 'rm', item_id).returncode == 0
    assert cli('content', 'list').stdout == ''
    assert 'no item' in one_line_error(cli('content', 'rm', item_id), 1)


@pytest.mark.slow      # several real command-line processes
def test_content_errors(cli, tmp_path):
    assert 'no such file' in one_line_error(cli('content', 'add', str(tmp_path / 'nope.mp4')), 1)
    assert 'no user' in one_line_error(cli('content', 'add', str(tmp_path / 'config.ini'), '--owner', 'x'), 1)
    assert 'no item' in one_line_error(cli('content', 'edit', 'AAAAAAAAAAAAAAAAAAAAAA', '--title', 'x'), 1)
    film = tmp_path / 'film.mp4'
    film.write_bytes(b'\x00\x00\x00\x18ftypmp42')
    item_id = cli('content', 'add', str(film)).stdout.strip()
    assert 'title' in one_line_error(cli('content', 'edit', item_id, '--title', ' '), 1)
    assert 'tag' in one_line_error(cli('content', 'edit', item_id, '--tag', 'a,b'), 1)


def test_scan_reports_a_summary(cli, tmp_path):
    (tmp_path / 'media').mkdir(exist_ok=True)
    (tmp_path / 'media' / 'a.mp3').write_bytes(b'ID3' + b'\x00' * 50)
    done = cli('scan')
    assert done.returncode == 0 and '1 added' in done.stdout


def test_backup_is_a_consistent_copy(cli, tmp_path):
    cli('key', 'create', 'bob', '--allow', '*')
    done = cli('backup', str(tmp_path / 'copy.db'))
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / 'copy.db')
    conn = sqlite3.connect(str(tmp_path / 'copy.db'))
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    assert conn.execute('SELECT name FROM apikey').fetchall() == [('bob',)]
    conn.close()
    assert 'already exists' in one_line_error(cli('backup', str(tmp_path / 'copy.db')), 1)


@pytest.mark.parametrize('argv', [[], ['nonsense'], ['user'], ['user', 'frobnicate'], ['serve', '--port', 'x'],
                                  ['content', 'edit'], ['key', 'create', 'k', '--allow']])
def test_usage_errors_exit_2_with_one_line(cli, argv):
    one_line_error(cli(*argv), 2)


def test_bad_config_value_exits_2_naming_option_and_file(cli, tmp_path):
    (tmp_path / 'config.ini').write_text('[server]\nport = many\n')
    line = one_line_error(cli('key', 'list'), 2)
    assert '[server] port' in line and str(tmp_path / 'config.ini') in line


def test_missing_config_given_explicitly_is_an_error(tmp_path):
    done = Cli(tmp_path)('--config', str(tmp_path / 'nope.ini'), 'key', 'list', config=False)
    one_line_error(done, 2)


def test_unknown_config_key_is_warned_by_name(cli, tmp_path):
    with open(tmp_path / 'config.ini', 'a') as fh:
        fh.write('\n[nonsense]\nprot = 1\n')
    done = cli('key', 'list')
    assert done.returncode == 0 and '[nonsense]' in done.stderr


def test_help_works(cli):
    done = cli('--help')
    assert done.returncode == 0 and 'serve' in done.stdout


@pytest.mark.slow      # several real command-line processes
def test_content_edit_and_tag_change_several_items_at_once_or_none(cli, tmp_path):
    ids = []
    for name in ('one', 'two', 'three'):
        film = tmp_path / ('%s.mp4' % name)
        film.write_bytes(b'\x00\x00\x00\x18ftypmp42' + name.encode() * 20)
        ids.append(cli('content', 'add', str(film), '--tag', 'old').stdout.strip())
    assert cli('content', 'edit', ids[0], ids[1], '--private').returncode == 0
    listing = cli('content', 'list').stdout
    assert listing.count('\tprivate\t') == 2 and '%s\tshared' % ids[2] in listing
    done = cli('content', 'tag', *ids, '--add', 'summer', 'beach', '--remove', 'old')
    assert done.returncode == 0 and done.stdout == ''
    assert 'Added tags summer, beach to 3 items.' in done.stderr and 'Removed tag old from 3 items.' in done.stderr
    assert cli('content', 'list').stdout.count('\tbeach,summer\t') == 3
    # an unknown id among them: nothing changes
    assert 'no item' in one_line_error(cli('content', 'tag', ids[0], 'A' * 22, '--add', 'x'), 1)
    assert 'no item' in one_line_error(cli('content', 'edit', ids[2], 'A' * 22, '--private'), 1)
    listing = cli('content', 'list').stdout
    assert '\tx' not in listing and '%s\tshared' % ids[2] in listing
    assert one_line_error(cli('content', 'tag', ids[0]), 2)


@pytest.mark.slow      # several real command-line processes
def test_invite_create_prints_a_link_and_refuses_unknown_groups(cli):
    assert cli('group', 'add', 'family', '--allow', 'tag:family').returncode == 0
    made = cli('invite', 'create', '--group', 'family', '--days', '3')
    assert made.returncode == 0
    link = made.stdout.strip()
    assert link.startswith('http://127.0.0.1:8080/invite?token=') and len(link.split('token=')[1]) >= 43
    assert 'no group named nope' in one_line_error(cli('invite', 'create', '--group', 'nope'), 1)
    assert '1 to 90 days' in one_line_error(cli('invite', 'create', '--days', '91'), 1)
    with open(cli.config) as fh:
        text = fh.read()
    with open(cli.config, 'w') as fh:
        fh.write(text.replace('# public_url =', 'public_url = https://home.example.org/', 1))
    assert cli('invite', 'create').stdout.startswith('https://home.example.org/invite?token=')


@pytest.mark.slow      # several real command-line processes
def test_user_commands_take_names_in_any_case(cli):
    assert cli('user', 'add', 'Grandma', '--password-stdin', stdin='correct horse\n').returncode == 0
    assert 'already exists' in one_line_error(cli('user', 'add', 'grandma', '--password-stdin',
                                                  stdin='correct horse\n'), 1)
    assert cli('user', 'passwd', 'GRANDMA', '--password-stdin', stdin='another secret\n').returncode == 0
    assert cli('user', 'rm', 'grandma').returncode == 0
    assert 'Grandma' not in cli('user', 'list').stdout
