"""A share link in a real browser (Chromium through Playwright, a real `serve`): the owner makes it on the
watch page, a fresh browser context with no account plays the video, cannot reach another item, and
sees that the link no longer works once expired or revoked. Screenshots go to /tmp/shots-shares/."""
import os
import re
import sqlite3
import subprocess

import pytest
from test_browser import browser, make_video, node_url, sign_in  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = '/tmp/shots-shares'
SIZES = {'1280': {'width': 1280, 'height': 800}, '360': {'width': 360, 'height': 740}}


def make_other_video(path):
    """A second short video, unlike make_video's (the node refuses a file it already has)."""
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi',
                    '-i', 'testsrc2=duration=2:size=320x240:rate=25',
                    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', str(path)],
                   check=True, timeout=120)


def upload(page, path, title, album=''):
    page.click('text=Upload')
    page.set_input_files('input[name=file]', str(path))
    page.fill('input[name=title]', title)
    page.fill('input[name=new_album]', album)
    page.click('#upload button[type=submit]')
    page.wait_for_url('**/watch/*')
    return page.url.rsplit('/', 1)[1]


def shoot(browser, url, name):  # noqa: F811
    """The page at both widths; neither scrolls sideways."""
    os.makedirs(SHOTS, exist_ok=True)
    for label, size in SIZES.items():
        context = browser.new_context(viewport=size)
        page = context.new_page()
        page.goto(url)
        page.screenshot(path='%s/%s-%s.png' % (SHOTS, name, label), full_page=True)
        width = page.evaluate('() => document.documentElement.scrollWidth')
        assert width <= size['width'], '%s scrolls sideways at %s px (%d)' % (name, label, width)
        context.close()


def test_a_share_link_plays_in_a_fresh_browser_reaches_nothing_else_and_dies_when_expired_or_revoked(
        node_url, browser, tmp_path):  # noqa: F811
    shared_video, other_video = tmp_path / 'Lake.mp4', tmp_path / 'Other.mp4'
    make_video(shared_video)
    make_other_video(other_video)
    admin = sign_in(browser, node_url, 'admin', 'admin-password')
    other_id = upload(admin, other_video, 'Not for strangers')
    shared_id = upload(admin, shared_video, 'Lakeside picnic')

    admin.click('text=Share link')
    admin.wait_for_url('**/shares/new?item=*')
    shoot_signed_in(admin, 'new')
    admin.click('button:has-text("Make the link")')
    link = admin.input_value('#share-link')
    assert re.fullmatch(re.escape(node_url) + r'/s/[A-Za-z0-9_-]{43}', link), link
    admin.click('.share-made .share-copy')
    admin.wait_for_selector('.share-made .share-copy:has-text("Copied")')
    shoot_signed_in(admin, 'made')

    stranger = browser.new_context(viewport=SIZES['1280']).new_page()   # no session, no cookies
    stranger.goto(link)
    assert 'Shared with you via privtube' in stranger.inner_text('header')
    assert stranger.inner_text('h1') == 'Lakeside picnic'
    assert stranger.locator('a[href^="/watch/"], a[href^="/search"], #comments').count() == 0
    stranger.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    stranger.wait_for_function('() => document.getElementById("player").currentTime > 0.5', timeout=20000)
    shoot(browser, link, 'item')

    stranger.goto('%s/item/%s' % (link, other_id))
    assert stranger.inner_text('h1') == 'This link does not work'
    assert 'Not for strangers' not in stranger.content()
    stranger.goto('%s/watch/%s' % (node_url, other_id))
    assert '/login' in stranger.url
    answer = stranger.request.get('%s/media/%s' % (node_url, shared_id), max_redirects=0)
    assert answer.status == 303

    admin.goto('%s/shares/new?item=%s' % (node_url, shared_id))
    admin.fill('input[name=days]', '1')
    admin.click('button:has-text("Make the link")')
    expiring = admin.input_value('#share-link')
    stranger.goto(expiring)
    assert stranger.inner_text('h1') == 'Lakeside picnic'
    with sqlite3.connect(str(tmp_path / 'privtube.db')) as db:      # a day later, as the node sees it
        db.execute('UPDATE share SET expires = created - 1 WHERE id = 2')
    stranger.reload()
    assert stranger.inner_text('h1') == 'This link does not work'
    admin.goto(node_url + '/shares')
    assert 'expired' in admin.inner_text('table.shares')
    shoot_signed_in(admin, 'shares')
    admin.click('text=Revoke')
    admin.click('button:has-text("Revoke the link")')
    admin.wait_for_url('**/shares')
    assert 'revoked' in admin.inner_text('table.shares')

    stranger.goto(link)
    assert stranger.inner_text('h1') == 'This link does not work'
    assert 'Lakeside picnic' not in stranger.content()
    shoot(browser, link, 'gone')


def shoot_signed_in(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    for label, size in SIZES.items():
        page.set_viewport_size(size)
        page.screenshot(path='%s/%s-%s.png' % (SHOTS, name, label), full_page=True)
        width = page.evaluate('() => document.documentElement.scrollWidth')
        assert width <= size['width'], '%s scrolls sideways at %s px (%d)' % (name, label, width)


def test_a_password_link_opens_with_its_password_throttles_guesses_and_an_album_link_shows_a_grid(
        node_url, browser, tmp_path):  # noqa: F811
    video = tmp_path / 'Garden.mp4'
    make_video(video)
    admin = sign_in(browser, node_url, 'admin', 'admin-password')
    item_id = upload(admin, video, 'Garden party', album='Summer')
    admin.click('text=Share link')
    admin.fill('input[name=password]', 'grandma-knows')
    admin.check('input[name=allow_download]')
    admin.click('button:has-text("Make the link")')
    link = admin.input_value('#share-link')

    friend = browser.new_context(viewport=SIZES['360']).new_page()
    friend.goto(link)
    assert friend.inner_text('h1') == 'This link has a password'
    assert 'Garden party' not in friend.content()
    shoot(browser, link, 'password')
    friend.fill('input[name=password]', 'grandma-knows')
    friend.click('button:has-text("Open")')
    friend.wait_for_selector('h1:has-text("Garden party")')
    assert friend.locator('a:has-text("Download")').count() == 1
    friend.evaluate('() => { const v = document.getElementById("player"); v.muted = true; return v.play(); }')
    friend.wait_for_function('() => document.getElementById("player").currentTime > 0.3', timeout=20000)

    guesser = browser.new_context(viewport=SIZES['360']).new_page()   # the password cookie is not theirs
    guesser.goto(link)
    for attempt in range(5):
        guesser.fill('input[name=password]', 'guess-number-%d' % attempt)
        guesser.click('button:has-text("Open")')
        guesser.wait_for_selector('text=That is not the password of this link.')
    guesser.fill('input[name=password]', 'grandma-knows')
    guesser.click('button:has-text("Open")')
    guesser.wait_for_selector('text=Too many wrong passwords')
    assert 'Garden party' not in guesser.content()

    # the album the video is in, shared without a password: a grid whose cards open the items
    admin.goto(node_url + '/albums')
    admin.click('text=Summer')
    admin.click('text=Share link')
    admin.click('button:has-text("Make the link")')
    album_link = admin.input_value('#share-link')
    visitor = browser.new_context(viewport=SIZES['360']).new_page()
    visitor.goto(album_link)
    assert visitor.inner_text('h1') == 'Summer'
    shoot(browser, album_link, 'album')
    visitor.click('text=Garden party')
    visitor.wait_for_url('**/item/' + item_id)
    assert visitor.inner_text('h1') == 'Garden party'
    assert visitor.locator('a:has-text("Back to the album")').count() == 1
