"""A portrait photo in Chromium: drawn at its own shape on a laptop and a phone, from its preview.

A phone photo stored sideways (EXIF orientation 6) is scanned by a real `serve`, whose media worker makes its
thumbnail and preview; the watch page must show it upright at its aspect ratio and load the preview, not the
original.
"""
import os
import sqlite3
import time

import pytest
from media_samples import make_photo
from test_browser import ARGS, CHROMIUM, ROOT, browser, cli, home_config, require_tools, served, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-photos'
UPRIGHT = (2400, 3200)      # as shown; stored 3200x2400 and turned by its EXIF orientation


@pytest.fixture
def photo_node(tmp_path):
    """(base URL, the photo's item id) of a serving node whose worker has made the photo's preview."""
    require_tools()
    config, port = home_config(tmp_path, '[store]\nscan_minutes = 0\n')
    os.makedirs(tmp_path / 'media', exist_ok=True)
    make_photo(tmp_path / 'media', 'IMG_20240714_101500.jpg', UPRIGHT, 6)
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    cli(config, 'scan')
    with served(config, port) as base:
        yield base, preview_made(str(tmp_path / 'privtube.db'))


def preview_made(database, seconds=60):
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        with sqlite3.connect(database, timeout=10) as db:
            row = db.execute('SELECT id FROM item WHERE preview = 1').fetchone()
        if row:
            return row[0]
        time.sleep(0.2)
    raise AssertionError('the worker made no preview')




@pytest.mark.parametrize('width, height', [(1280, 800), (360, 740)])
def test_portrait_photo_keeps_its_shape_and_loads_the_preview(photo_node, browser, width, height):
    base, item_id = photo_node
    page = sign_in(browser, base, 'mia', 'mia-password', width, height)
    asked = []
    page.on('request', lambda request: asked.append(request.url))
    page.goto(base + '/watch/' + item_id)
    page.wait_for_function('() => { const p = document.getElementById("player"); '
                           'return p.complete && p.naturalWidth > 0; }', timeout=20000)
    box = page.evaluate('() => { const r = document.getElementById("player").getBoundingClientRect(); '
                        'const p = document.getElementById("player"); '
                        'return {width: r.width, height: r.height, natural: [p.naturalWidth, p.naturalHeight]}; }')
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, 'watch-portrait-%d.png' % width), full_page=True)
    assert abs(box['width'] / box['height'] - UPRIGHT[0] / UPRIGHT[1]) <= 0.02 * UPRIGHT[0] / UPRIGHT[1], box
    assert box['natural'] == [1440, 1920]        # the preview, upright, not the 3200x2400 original
    assert box['height'] <= height * 0.8 + 1 and box['width'] <= width
    assert any(url.endswith('/preview/' + item_id) for url in asked)
    assert not any('/media/' + item_id in url for url in asked), asked
    upright = page.evaluate('''() => { const p = document.getElementById("player");
        const c = document.createElement("canvas"); c.width = p.naturalWidth; c.height = p.naturalHeight;
        const g = c.getContext("2d"); g.drawImage(p, 0, 0);
        const top = g.getImageData(c.width / 8, c.height / 8, 1, 1).data;
        return top[0] > 200 && top[2] < 60; }''')
    assert upright, 'the red quarter of the photo is not at its top left: it is shown turned'
    assert page.get_attribute('text=Original', 'href') == '/media/' + item_id
    assert page.evaluate('() => document.documentElement.scrollWidth') <= width
