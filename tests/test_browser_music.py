"""An album of songs in a real browser: Debian's Chromium driven by Playwright against a real `serve`.

Three short tagged MP3s with a cover in one folder are scanned and probed; "Play all" on the album page
plays track 2 when track 1 ends, Next and Previous step through the queue, and the Media Session names
the song and its cover. Screenshots at 1280 and 360 px go to /tmp/shots-music/.
"""
import os

import pytest
from test_browser import ARGS, CHROMIUM, ROOT, browser, cli, home_config, require_tools, served, sign_in  # noqa: F401 (fixtures)
from test_music import make_record

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-music'


@pytest.fixture
def music_node(tmp_path):
    require_tools()
    config, port = home_config(tmp_path)
    make_record(str(tmp_path / 'media' / 'Nina Vale' / 'Blue Hour'), seconds=1.5)
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    cli(config, 'scan')
    with served(config, port) as base:
        yield base


def signed_in(browser, base, width, height):
    return sign_in(browser, base, 'mia', 'mia-password', width, height)


def open_album(page, base):
    """The album page once the media worker has read every song's tags (it starts with `serve`)."""
    for _ in range(60):
        page.goto(base + '/albums')
        link = page.query_selector('a[href^="/albums/"]:has-text("Blue Hour")')
        if link:
            link.click()
            page.wait_for_url('**/albums/*')
            titles = {row.inner_text() for row in page.query_selector_all('.track-title')}
            if titles == {'Morning', 'Noon', 'Night'}:      # each title from its tags, not its file name
                return
        page.wait_for_timeout(500)
    raise AssertionError('the album never showed its three tracks by their tags')


def playing(page):
    return page.evaluate('''() => { const audio = document.querySelector(".queue-bar audio");
        const row = document.querySelector(".tracklist li.queue-current .track-title");
        const meta = navigator.mediaSession.metadata;
        return {src: audio.src, time: audio.currentTime, paused: audio.paused, row: row && row.textContent,
                title: meta && meta.title, art: meta ? meta.artwork.map(a => a.src) : []}; }''')


def wait_for_song(page, title):
    page.wait_for_function('''title => { const now = document.querySelector(".queue-bar .queue-now");
        const audio = document.querySelector(".queue-bar audio");
        return now && now.textContent.startsWith(title) && audio.currentTime > 0.2; }''', arg=title, timeout=20000)


def test_play_all_plays_the_next_track_when_one_ends_and_steps_both_ways(music_node, browser):
    os.makedirs(SHOTS, exist_ok=True)
    page = signed_in(browser, music_node, 1280, 800)
    open_album(page, music_node)
    assert [row.inner_text() for row in page.query_selector_all('.track-title')] == ['Morning', 'Noon', 'Night']
    ids = page.eval_on_selector_all('.tracklist li', 'rows => rows.map(row => row.dataset.id)')
    page.click('button:has-text("Play all")')
    wait_for_song(page, 'Morning')
    first = playing(page)
    assert first['src'].endswith('/media/' + ids[0]) and first['row'] == 'Morning'
    assert first['title'] == 'Morning' and first['art'] and '/thumb/' in first['art'][0]
    wait_for_song(page, 'Noon')                         # track 1 ended, track 2 plays by itself
    second = playing(page)
    assert second['src'].endswith('/media/' + ids[1]) and not second['paused'] and second['row'] == 'Noon'
    assert second['title'] == 'Noon'
    page.screenshot(path=os.path.join(SHOTS, 'album-1280.png'), full_page=True)
    page.click('.queue-bar button[aria-label="Next song"]')
    wait_for_song(page, 'Night')
    assert playing(page)['row'] == 'Night'
    page.click('.queue-bar button[aria-label="Previous song"]')
    wait_for_song(page, 'Noon')
    assert playing(page)['src'].endswith('/media/' + ids[1])
    page.click('.queue-bar button[aria-label="Next song"]')
    wait_for_song(page, 'Night')
    page.click('.queue-bar button[aria-label="Next song"]')     # the end of the queue: repeat is off
    assert playing(page)['row'] == 'Night'
    page.click('.queue-bar button:has-text("Repeat off")')
    assert page.inner_text('.queue-bar [data-mode]') == 'Repeat all'
    page.click('.queue-bar button[aria-label="Next song"]')     # repeat all: back to the first
    wait_for_song(page, 'Morning')
    sizes = page.eval_on_selector_all('.queue-bar button, .tracklist button, .queue-actions button',
                                      'all => all.map(b => [b.getBoundingClientRect().width, '
                                      'b.getBoundingClientRect().height])')
    assert sizes and all(width >= 44 and height >= 44 for width, height in sizes)


def test_a_phone_shows_the_track_list_and_a_songs_cover(music_node, browser):
    os.makedirs(SHOTS, exist_ok=True)
    page = signed_in(browser, music_node, 360, 740)
    open_album(page, music_node)
    page.focus('button:has-text("Shuffle")')       # the keyboard alone starts the queue
    page.keyboard.press('Enter')
    page.wait_for_function('() => { const a = document.querySelector(".queue-bar audio"); '
                           'return a && a.currentTime > 0.2; }', timeout=20000)
    assert page.evaluate('() => window.privtubeQueue.shuffle') is True
    width = page.evaluate('() => document.documentElement.scrollWidth')
    assert width <= 360
    page.screenshot(path=os.path.join(SHOTS, 'album-360.png'))      # the bar where a phone shows it
    page.click('.track-title >> nth=0')
    page.wait_for_url('**/watch/*')
    cover = page.query_selector('.song-cover')
    assert cover and cover.evaluate('img => img.naturalWidth') > 0
    assert page.evaluate('() => navigator.mediaSession.metadata.title') == 'Morning'
    assert 'Blue Hour' in page.inner_text('.song-by')
    page.screenshot(path=os.path.join(SHOTS, 'watch-360.png'), full_page=True)
    wide = signed_in(browser, music_node, 1280, 800)
    wide.goto(page.url)
    wide.screenshot(path=os.path.join(SHOTS, 'watch-1280.png'), full_page=True)
    wide.goto(music_node + '/search?q=nina')
    assert wide.query_selector('button:has-text("Play all")')     # search results play as a queue too
    wide.screenshot(path=os.path.join(SHOTS, 'search-1280.png'), full_page=True)
