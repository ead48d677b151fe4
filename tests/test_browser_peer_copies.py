"""In Chromium against two real `serve` processes: alice's H.264/AAC MKV, rewrapped for browsers at her
node, plays and seeks on bob's watch page through his gateway (screenshots in /tmp/shots-remux/)."""
import os
import re
import sqlite3
import time

import pytest
from test_browser import ARGS, CHROMIUM, browser, require_tools, sign_in  # noqa: F401 (fixtures)
from test_browser_remux import plays_and_seeks
from test_network_sockets import Home
from test_remux import make_video

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-remux'


def wait_for_copy(home, title, seconds=90):
    """alice's item id once her node has made its browser copy (probed, then rewrapped in the background)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        with sqlite3.connect(str(home.folder / 'privtube.db')) as db:
            row = db.execute('SELECT id, remux FROM item WHERE title = ?', (title,)).fetchone()
        if row and row[1] == 'ready':
            return row[0]
        time.sleep(0.5)
    raise AssertionError('alice never made the copy')


@pytest.fixture
def homes(tmp_path):
    require_tools()
    alice, bob = Home(tmp_path, 'alice'), Home(tmp_path, 'bob')
    make_video(alice.folder / 'media' / 'Lake film.mkv', seconds=10)
    alice.cli('scan')
    try:
        alice.start()
        item_id = wait_for_copy(alice, 'Lake film')
        made = alice.cli('key', 'create', 'bob', '--allow', '*')
        bob.cli('peer', 'add', 'alice', alice.base, '--key', made.stdout.strip())
        assert 'alice\tok' in bob.cli('sync').stdout
        bob.cli('user', 'add', 'ann', '--password-stdin', stdin='ann-password\n')
        bob.start()
        yield bob, 'alice:' + item_id
    finally:
        bob.stop()
        alice.stop()


def test_bobs_page_plays_and_seeks_alices_mkv(homes, browser):
    bob, item_id = homes
    os.makedirs(SHOTS, exist_ok=True)
    for width, height in ((1280, 800), (360, 740)):
        page = sign_in(browser, bob.base, 'ann', 'ann-password')
        page.set_viewport_size({'width': width, 'height': height})
        page.goto(bob.base + '/watch/' + item_id)
        assert page.get_attribute('video#player', 'src') == '/play/' + item_id
        assert not page.query_selector('#unplayable')
        plays_and_seeks(page)
        assert re.search('from alice|alice', page.inner_text('main'))
        page.screenshot(path=os.path.join(SHOTS, 'peer-copy-%d.png' % width), full_page=True)
        page.close()
