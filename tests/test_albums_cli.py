"""The `album` commands as a user runs them: real processes, one-line errors, items never deleted."""
import pytest
from test_cli import Cli, one_line_error

MP4 = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40


@pytest.fixture
def cli(tmp_path):
    run = Cli(tmp_path)
    assert run('init', config=False).returncode == 0
    return run


def add_items(cli, tmp_path, count):
    ids = []
    for n in range(count):
        source = tmp_path / ('clip%d.mp4' % n)
        source.write_bytes(MP4 + bytes([n]))
        done = cli('content', 'add', str(source), '--title', 'clip %d' % n)
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())
    return ids


def listing(cli):
    return [line.split('\t') for line in cli('album', 'list').stdout.splitlines()]


@pytest.mark.slow
def test_album_add_makes_the_album_then_adds_remove_takes_out_and_rm_keeps_the_items(cli, tmp_path):
    ids = add_items(cli, tmp_path, 3)
    made = cli('album', 'add', '2024 Summer trip', ids[0], ids[1])
    assert made.returncode == 0 and 'album 2024 Summer trip created' in made.stderr and '2 items added' in made.stderr
    album_id = made.stdout.strip()
    assert listing(cli) == [['2024 Summer trip', 'made', '2', album_id]]
    again = cli('album', 'add', '2024 Summer trip', ids[1], ids[2])
    assert again.stdout.strip() == album_id and '1 item added' in again.stderr and 'created' not in again.stderr
    removed = cli('album', 'remove', '2024 Summer trip', ids[0])
    assert removed.returncode == 0 and '1 item removed' in removed.stderr
    assert listing(cli)[0][2] == '2'
    gone = cli('album', 'rm', '2024 Summer trip')
    assert gone.returncode == 0 and 'its 2 items stay in the library' in gone.stderr and gone.stdout == ''
    assert listing(cli) == []
    assert all(item_id in cli('content', 'list').stdout for item_id in ids)


@pytest.mark.slow      # several real command-line processes
def test_album_errors_are_one_line_and_name_the_unknown_ids(cli, tmp_path):
    ids = add_items(cli, tmp_path, 1)
    error = one_line_error(cli('album', 'add', 'Trip', ids[0], 'nope-nope-nope-nope', 'alice:' + 'x' * 22), 1)
    assert 'nope-nope-nope-nope' in error and 'alice:' + 'x' * 22 in error
    assert listing(cli) == []                              # nothing was made of a refused command
    assert 'no album named Trip' in one_line_error(cli('album', 'remove', 'Trip', ids[0]), 1)
    assert 'no album named Trip' in one_line_error(cli('album', 'rm', 'Trip'), 1)
    assert 'album name' in one_line_error(cli('album', 'add', '   ', ids[0]), 1)
    assert one_line_error(cli('album', 'add', 'Trip'), 2)        # no ids: usage


@pytest.mark.slow      # several real command-line processes
def test_group_and_key_rules_may_name_albums(cli):
    assert cli('group', 'add', 'grandparents', '--allow', 'album:2024 Summer trip').returncode == 0
    assert 'grandparents\talbum:2024 Summer trip' in cli('group', 'list').stdout
    made = cli('key', 'create', 'alice', '--allow', 'album:Holidays/2024', 'tag:beach')
    assert made.returncode == 0 and made.stdout.startswith('pt_')
    assert 'album:Holidays/2024 tag:beach' in cli('key', 'list').stdout
    assert 'album name' in one_line_error(cli('group', 'add', 'bad', '--allow', 'album:'), 1)
