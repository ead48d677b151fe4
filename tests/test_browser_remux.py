"""In Chromium against a real `serve`: an H.264/AAC film in an MKV file, which browsers cannot open, is
rewrapped in the background and then plays and seeks on its watch page; an HEVC film's page says in plain
words why it does not play (screenshots at 1280 and 360 px in /tmp/shots-remux/)."""
import os
import sqlite3
import subprocess

import pytest
from test_browser import ARGS, CHROMIUM, ROOT, browser, cli, home_config, require_tools, served, sign_in  # noqa: F401 (fixtures)
from test_remux import make_video

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-remux'


@pytest.fixture
def remux_node(tmp_path):
    """A real `serve` over a media folder holding an H.264/AAC MKV (with subtitles) and an HEVC MKV."""
    require_tools()
    media = tmp_path / 'media'
    media.mkdir()
    make_video(media / 'Lake film.mkv', seconds=10)
    encoders = subprocess.run(['ffmpeg', '-hide_banner', '-encoders'], capture_output=True, text=True).stdout
    if 'libx265' in encoders:
        make_video(media / 'Phone film.mkv', seconds=2, video='libx265')
    config, port = home_config(tmp_path)
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    cli(config, 'scan')
    with served(config, port) as base:
        yield base, items_by_title(str(tmp_path / 'privtube.db'))


def items_by_title(database):
    with sqlite3.connect(database) as db:
        return dict(db.execute('SELECT title, id FROM item').fetchall())


def plays_and_seeks(page):
    """The page's 10 s film plays muted, then plays on from 7 s after a seek there."""
    page.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    page.wait_for_function('() => document.getElementById("player").currentTime > 0.5', timeout=20000)
    assert page.evaluate('() => document.getElementById("player").duration') > 9
    page.evaluate('() => { document.getElementById("player").currentTime = 7; }')
    page.wait_for_function('() => { const v = document.getElementById("player");'
                           ' return !v.seeking && v.currentTime > 7.3; }', timeout=20000)
    assert page.evaluate('() => document.getElementById("player").currentTime') < 9.9   # played from 7


def test_an_h264_mkv_plays_and_seeks_after_it_is_rewrapped(remux_node, browser):
    base, items = remux_node
    page = sign_in(browser, base, 'mia', 'mia-password')
    page.goto(base + '/watch/' + items['Lake film'])
    if page.query_selector('#unplayable'):       # still being read or prepared (serve has just started)
        assert 'you can download it' in page.inner_text('#unplayable')
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, 'preparing-360.png'), full_page=True)
    # probed, then rewrapped in the background: the page reloads itself once the copy is ready
    page.wait_for_selector('video#player', timeout=90000)
    assert page.get_attribute('video#player', 'src') == '/play/' + items['Lake film']
    plays_and_seeks(page)


def test_an_hevc_mkv_page_explains_in_plain_words(remux_node, browser):
    base, items = remux_node
    if 'Phone film' not in items:
        pytest.skip("this ffmpeg has no HEVC encoder")
    os.makedirs(SHOTS, exist_ok=True)
    for width, height in ((1280, 800), (360, 740)):
        page = sign_in(browser, base, 'mia', 'mia-password')
        page.set_viewport_size({'width': width, 'height': height})
        page.goto(base + '/watch/' + items['Phone film'])
        wait_for_reason(page, base, items['Phone film'])
        text = page.inner_text('#unplayable')
        assert 'HEVC (H.265) video' in text and 'VLC' in text and 'Download the file' in text
        assert 'x-matroska' not in text and 'container' not in text
        page.screenshot(path=os.path.join(SHOTS, 'hevc-%d.png' % width), full_page=True)


def wait_for_reason(page, base, item_id, tries=30):
    """Reload until the page shows the file's reason (it is probed a moment after serve starts)."""
    for _ in range(tries):
        if 'HEVC' in page.inner_text('#unplayable'):
            return
        page.wait_for_timeout(1000)
        page.goto(base + '/watch/' + item_id)
    raise AssertionError('the page never named the codec')
