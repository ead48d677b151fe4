"""The home page's "New since your last visit" row in a real browser against a real `serve`: photos found by
a scan while it runs appear for the person who may see them, at 1280 and 360 px wide (screenshots in
/tmp/shots-news/), and a reload keeps the row."""
import io
import os
import sqlite3

import pytest
from PIL import Image
from test_browser import browser, cli, home_config, require_tools, served, sign_in  # noqa: F401 (fixture)

import privtube_news

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-news'


def photo(path, colour):
    out = io.BytesIO()
    Image.new('RGB', (320, 240), colour).save(out, 'JPEG')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())


def let_a_visit_pass(database):
    """Every recorded time moves more than a visit's gap into the past, as if the person had gone away."""
    gap = privtube_news.VISIT_GAP + 1
    with sqlite3.connect(database) as db:
        db.execute('UPDATE news_reader SET last_seen_home = last_seen_home - ?, '
                   'previous_visit = previous_visit - ?', (gap, gap))
        db.execute('UPDATE item_arrival SET arrived = arrived - ?', (gap,))


@pytest.fixture
def home(tmp_path):
    require_tools()
    config, port = home_config(tmp_path)
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    photo(tmp_path / 'media' / 'old.jpg', (90, 90, 90))
    cli(config, 'scan')
    with served(config, port) as base:
        yield base, config, tmp_path


def test_new_photos_appear_in_the_row_at_both_widths(home, browser):  # noqa: F811
    base, config, folder = home
    os.makedirs(SHOTS, exist_ok=True)
    page = sign_in(browser, base, 'mia', 'mia-password', 1280, 800)
    assert page.locator('section.news').count() == 0          # a first visit
    for number, colour in enumerate([(200, 40, 40), (40, 160, 60), (40, 80, 200), (220, 180, 30)]):
        photo(folder / 'media' / 'summer' / ('Summer %d.jpg' % (number + 1)), colour)
    cli(config, 'scan')
    let_a_visit_pass(str(folder / 'privtube.db'))
    page.reload()
    row = page.locator('section.news')
    assert row.locator('h2').inner_text() == 'New since your last visit'
    assert 'This home added 4 photos' in row.inner_text()
    titles = row.locator('.cards .title').all_inner_texts()
    assert sorted(titles) == ['Summer 1', 'Summer 2', 'Summer 3', 'Summer 4']     # not the older photo
    page.screenshot(path=SHOTS + '/home-1280.png', full_page=True)
    page.set_viewport_size({'width': 360, 'height': 740})
    page.reload()                                              # the same visit: the row stays
    assert page.locator('section.news .cards li').count() == 4
    assert page.evaluate('document.documentElement.scrollWidth') <= 360
    page.screenshot(path=SHOTS + '/home-360.png', full_page=True)
    page.goto(base + '/account')
    page.screenshot(path=SHOTS + '/account-360.png', full_page=True)
