"""Films in a real browser (Chromium through Playwright, a real `serve`): a film resumes after a reload
where it was left, its sidecar subtitles load as cues, and the home page continues it."""
import os
import subprocess
import time

import pytest
from test_browser import ARGS, CHROMIUM, browser, cli, home_config, require_tools, served, sign_in  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOTS = '/tmp/shots-films'
SRT = ('1\n00:00:00,000 --> 00:00:30,000\nHello from the subtitles\n\n'
       '2\n00:00:10,000 --> 00:00:14,000\n<i>Later</i> line\n')

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def make_film(folder):
    os.makedirs(folder, exist_ok=True)
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi',
                    '-i', 'testsrc=duration=30:size=320x180:rate=10',
                    '-f', 'lavfi', '-i', 'sine=frequency=440:duration=30', '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
                    '-c:a', 'aac', '-shortest', '-movflags', '+faststart', os.path.join(folder, 'Lake trip.mp4')],
                   check=True, timeout=120)
    with open(os.path.join(folder, 'Lake trip.en.srt'), 'w', encoding='utf-8') as fh:
        fh.write(SRT)


@pytest.fixture
def node_url(tmp_path):
    require_tools()
    config, port = home_config(tmp_path)
    make_film(str(tmp_path / 'media' / 'Films'))
    cli(config, 'user', 'add', 'mia', '--password-stdin', stdin='mia-password\n')
    cli(config, 'scan')
    with served(config, port) as base:
        yield base


def signed_in(browser, base, width, height):
    return sign_in(browser, base, 'mia', 'mia-password', width, height)


def open_film(page, base):
    """The film's watch page, once the media worker has probed it (its subtitles are listed then)."""
    for _ in range(60):
        page.goto(base + '/')
        if page.locator('a[data-kind=video]').count():
            page.click('a[data-kind=video] >> nth=0')
            page.wait_for_url('**/watch/*')
            if page.locator('#player track').count():
                return
        time.sleep(0.5)
    raise AssertionError('the film was not probed in time')


def test_a_film_resumes_after_a_reload_and_its_subtitles_load(node_url, browser):
    os.makedirs(SHOTS, exist_ok=True)
    page = signed_in(browser, node_url, 1280, 800)
    open_film(page, node_url)
    page.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    page.wait_for_function('() => document.getElementById("player").currentTime > 0.3', timeout=20000)
    with page.expect_response(lambda answer: answer.url.endswith('/position') and answer.status == 200):
        page.evaluate('() => { document.getElementById("player").currentTime = 14; }')    # seeked: reported
    page.evaluate('() => document.getElementById("player").pause()')
    page.reload()
    page.wait_for_function('() => document.getElementById("player").currentTime >= 13.5', timeout=20000)
    assert page.evaluate('() => document.getElementById("player").currentTime') < 16

    page.evaluate('() => { document.getElementById("player").textTracks[0].mode = "showing"; }')
    page.wait_for_function('() => { const t = document.getElementById("player").textTracks[0];'
                           ' return t.cues && t.cues.length > 1; }', timeout=20000)
    first = page.evaluate('() => document.getElementById("player").textTracks[0].cues[0].text')
    assert first == 'Hello from the subtitles'
    assert page.evaluate('() => document.getElementById("player").textTracks[0].label') == 'English'
    page.screenshot(path=os.path.join(SHOTS, 'watch-1280.png'))

    page.goto(node_url + '/')
    row = page.locator('section.continue')
    assert 'Lake trip' in row.inner_text()
    assert row.locator('progress.resume').count() == 1
    assert page.locator('section.continue .duration').inner_text() == '0:30'
    page.screenshot(path=os.path.join(SHOTS, 'home-1280.png'), full_page=True)

    phone = signed_in(browser, node_url, 360, 740)
    assert 'Lake trip' in phone.locator('section.continue').inner_text()    # the position is the person's
    phone.screenshot(path=os.path.join(SHOTS, 'home-360.png'), full_page=True)
    assert phone.evaluate('() => document.documentElement.scrollWidth') <= 360
    phone.click('section.continue a[data-kind=video]')
    phone.wait_for_url('**/watch/*')
    phone.wait_for_function('() => document.getElementById("player").currentTime >= 13.5', timeout=20000)
    phone.screenshot(path=os.path.join(SHOTS, 'watch-360.png'))

    phone.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    phone.wait_for_function('() => !document.getElementById("player").paused', timeout=20000)
    with phone.expect_response(lambda answer: answer.url.endswith('/position') and answer.json()['finished']):
        phone.evaluate('() => { document.getElementById("player").currentTime = 29.5; }')    # plays to the end
    phone.goto(node_url + '/')
    assert phone.locator('section.continue').count() == 0        # finished: nothing to continue
    assert phone.locator('.cards .watched').first.inner_text() == 'Watched'
    phone.screenshot(path=os.path.join(SHOTS, 'home-watched-360.png'), full_page=True)


def test_the_buttons_take_a_film_out_of_continue_watching_and_mark_it_in_place(node_url, browser):
    os.makedirs(SHOTS, exist_ok=True)
    page = signed_in(browser, node_url, 1280, 800)
    open_film(page, node_url)
    with page.expect_response(lambda answer: answer.url.endswith('/position') and answer.status == 200):
        page.evaluate('() => { const v = document.getElementById("player"); v.muted = true; v.play();'
                      ' v.currentTime = 12; }')
    page.goto(node_url + '/')
    button = page.locator('section.continue .leave-continue button')
    box = button.bounding_box()
    assert box['width'] >= 44 and box['height'] >= 44
    page.screenshot(path=os.path.join(SHOTS, 'continue-button-1280.png'))
    phone = signed_in(browser, node_url, 360, 740)
    phone.screenshot(path=os.path.join(SHOTS, 'continue-button-360.png'))
    phone.close()
    page.evaluate('() => { window.stayed = true; }')
    with page.expect_response(lambda answer: '/continue/' in answer.url and answer.status == 200):
        button.click()
    page.wait_for_function('() => !document.querySelector("section.continue")')
    assert page.evaluate('() => window.stayed') is True                  # in place: no page load
    page.reload()
    assert page.locator('section.continue').count() == 0

    page.click('a[data-kind=video] >> nth=0')
    page.wait_for_url('**/watch/*')
    page.evaluate('() => { window.stayed = true; }')
    with page.expect_response(lambda answer: answer.url.endswith('/watched') and answer.status == 200):
        page.click('.mark-watched button')
    page.wait_for_function('() => document.querySelector(".mark-watched button").textContent'
                           ' === "Mark as not watched"')
    assert page.evaluate('() => window.stayed') is True
    assert page.locator('.mark-watched .watched-state').inner_text() == 'Watched'
    page.screenshot(path=os.path.join(SHOTS, 'marked-watched-1280.png'))
    page.reload()
    assert page.locator('.mark-watched button').inner_text() == 'Mark as not watched'
    page.goto(node_url + '/')
    assert page.locator('.cards .watched').first.inner_text() == 'Watched'
